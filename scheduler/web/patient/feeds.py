"""Calendar feeds and course files: patients' private feeds, providers' staff feeds, and a
course's visits for the patient (by any of its visits' private links) and for staff (API token).

Read-only GETs: no forms, so nothing here needs a CSRF exemption. The secret-link routes
share the manage link's rate limit, so guessing feed links is as slow as guessing those.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, g, jsonify

from scheduler.extensions import db
from scheduler.models import Course
from scheduler.services.calendars import files as calendar_feeds
from scheduler.services.common.errors import NotFound
from scheduler.services.staff.access import may_see
from scheduler.web.api.public import staff_token_required
from scheduler.web.common.limits import manage_limit
from scheduler.web.common.presenters import external_url

feeds = Blueprint("feeds", __name__)


def ics_response(body: bytes, filename: str) -> Response:
    """A calendar file: private to whoever holds the link, never kept by shared caches."""
    return Response(
        body,
        content_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


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
    body = calendar_feeds.course_calendar_bytes(course, manage_url=external_url("manage.show", token=token))
    return ics_response(body, "course.ics")


@feeds.app_template_global("patient_feed_webcal_url")
def patient_feed_webcal_url(patient) -> str:
    """For the patient's private page: their feed as webcal:// (made the first time)."""
    return calendar_feeds.patient_webcal_url(patient)


@feeds.get("/api/v1/staff/courses/<int:course_id>.ics")
@staff_token_required
def staff_course(course_id: int):
    course = db.session.get(Course, course_id)
    if course is None:
        return jsonify({"error": "not_found", "message": "No such course."}), 404
    if not may_see(g.staff_user, course.provider_id):
        return jsonify({"error": "forbidden", "message": "This course belongs to another provider."}), 403
    return ics_response(calendar_feeds.course_calendar_bytes(course), f"course-{course.id}.ics")
