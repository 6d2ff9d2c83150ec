"""Patients: who a booking belongs to (`identity`), the desk's directory, records and history."""
