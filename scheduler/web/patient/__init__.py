"""Patients' pages: booking, private links, the waitlist, calendar feeds (no sign-in; links
and rate limits guard them)."""
