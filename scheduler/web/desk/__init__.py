"""The staff's pages (session cookie, roles, CSRF): the day sheet, calendar, patients,
courses, waitlist, messages, settings."""
