"""Adapters to the outside world: calendars, SMS, email."""
