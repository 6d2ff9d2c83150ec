"""Where a course's calendar file and a patient's private feed live.

The routes that serve these paths are scheduler/web/api/courses.py (the course's file, for
staff) and scheduler/web/patient/feeds.py; answers that mention them (the staff course API,
the course pages) call these two functions.
"""
from __future__ import annotations

from flask import current_app

from scheduler.models import Course, Patient
from scheduler.services.calendars import files as calendar_feeds


def _base() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def course_ics_url(course: Course) -> str:
    """The course's .ics for staff (bearer token): GET /api/v1/staff/courses/<id>.ics"""
    return f"{_base()}/api/v1/staff/courses/{course.id}.ics"


def patient_feed_url(patient: Patient) -> str:
    """The patient's private feed of every visit (/feeds/patients/<token>.ics); the feed key
    is made the first time it is asked for (services/calendar_feeds.py)."""
    return calendar_feeds.patient_feed_url(patient)
