"""Calendars: the desk calendar's data, and `.ics` files with the secret feed links."""
