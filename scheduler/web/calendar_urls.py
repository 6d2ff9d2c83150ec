"""Where a course's calendar file and a patient's private feed live.

The feed routes (scheduler/web/feeds.py and scheduler/integrations/ical.py) serve these
exact paths; answers that mention them (the staff course API, the course pages) call these
two functions, so the URL shapes are defined once.
"""
from __future__ import annotations

from flask import current_app

from ..models import Course, Patient


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def course_ics_url(course: Course) -> str:
    """The course's .ics for staff (bearer token): GET /api/v1/staff/courses/<id>.ics"""
    return f"{_base()}/api/v1/staff/courses/{course.id}.ics"


def patient_feed_url(patient: Patient, token: str | None = None) -> str | None:
    """The patient's private feed, /feeds/patients/<token>.ics: only the holder of the
    token (handed out once, only its hash is stored) can name it, so without one there is
    no URL to give."""
    if not token:
        return None
    return f"{_base()}/feeds/patients/{token}.ics"
