"""Calendar feeds and course files behind private links: patients' feeds, providers' staff
feeds, and a course's visits for the patient (by any of its visits' private links). The
staff's course file, behind an API token, is the API's (scheduler/web/api/courses.py).

Read-only GETs: no forms, so nothing here needs a CSRF exemption. The secret-link routes
share the manage link's rate limit, so guessing feed links is as slow as guessing those.
"""
from __future__ import annotations

from flask import Blueprint, abort

from scheduler.services.calendars import files as calendar_feeds
from scheduler.services.common.errors import NotFound
from scheduler.web.common.calendar_files import ics_response
from scheduler.web.common.limits import manage_limit
from scheduler.web.common.presenters import external_url

feeds = Blueprint("feeds", __name__)


@feeds.get("/feeds/patients/<token>.ics")
@manage_limit
def patient_feed(token: str):
    try:
        patient = calendar_feeds.patient_for_feed_token(token)
    except NotFound:
        abort(404)
    return ics_response(calendar_feeds.patient_feed_bytes(patient), "appointments.ics")


@feeds.get("/feeds/providers/<token>.ics")
@manage_limit
def provider_feed(token: str):
    try:
        provider = calendar_feeds.provider_for_feed_token(token)
    except NotFound:
        abort(404)
    return ics_response(calendar_feeds.provider_feed_bytes(provider), "schedule.ics")


@feeds.get("/feeds/courses/<token>.ics")
@manage_limit
def patient_course(token: str):
    """Any valid private link of one of the course's visits opens the whole course."""
    try:
        course, _visit = calendar_feeds.course_for_manage_token(token)
    except NotFound:
        abort(404)
    body = calendar_feeds.course_calendar_bytes(course, manage_url=external_url("patient.manage.show", token=token))
    return ics_response(body, "course.ics")


@feeds.app_template_global("patient_feed_webcal_url")
def patient_feed_webcal_url(patient) -> str:
    """For the patient's private page: their feed as webcal:// (made the first time)."""
    return calendar_feeds.patient_webcal_url(patient)
