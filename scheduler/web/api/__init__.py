"""The JSON API v1 (bearer tokens for staff, private links for patients).

base.py holds the parent blueprint, /api/v1, with what every part shares; each other module
is one part, a child blueprint named after it (scheduler/web/__init__.py nests them):
public (services, open times, bookings), waitlist, staff (appointments, patients), courses,
settings (closures). openapi/ describes them all.
"""
