"""The staff's pages (session cookie, roles, CSRF): the day sheet, calendar, patients,
courses, waitlist, messages, settings.

`desk` is the parent of each module's blueprint (scheduler/web/__init__.py nests them), so
every endpoint here is named `desk.<module>.<view>`."""
from __future__ import annotations

from flask import Blueprint

desk = Blueprint("desk", __name__)
