"""Appointments: booking one (online, API, desk), changing it (the patient's link, the staff),
its length, the day sheet. `rules.py` holds what every change to a visit shares."""
