"""Closures and time off: the clinic closed for whole days, a provider away for some hours.
Saving one can cancel the visits it hits; lifting one frees its time for the waitlist."""
