"""Patients' pages: booking, private links, the waitlist, calendar feeds (no sign-in; links
and rate limits guard them).

`patient` is the parent of each module's blueprint (scheduler/web/__init__.py nests them), so
every endpoint here is named `patient.<module>.<view>`."""
from __future__ import annotations

from flask import Blueprint

patient = Blueprint("patient", __name__)
