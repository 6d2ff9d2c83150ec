"""Staff API for courses of care: preview and book, read, extend, cancel, change visits, and
a course's calendar file."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from scheduler.extensions import db
from scheduler.models import Course
from scheduler.services.calendars import files as calendar_feeds
from scheduler.services.common import audit
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.courses import prescription as course_input
from scheduler.services.courses import series as courses
from scheduler.services.courses.series import FollowingConflict, PlanConflict
from scheduler.services.staff.access import may_act_for, may_plan, may_see
from scheduler.web.api.base import json_body, require, staff_token_required
from scheduler.web.common.calendar_files import ics_response
from scheduler.web.common.course_presenters import course_json, make_up_json, plan_json

courses_api = Blueprint("courses", __name__)


# Only course plans raise these (services/courses/series.py): handled here, not on the parent.
@courses_api.errorhandler(PlanConflict)
def _plan_conflict(exc: PlanConflict):
    return jsonify({
        "error": "slot_unavailable",
        "message": "A visit of the plan was taken meanwhile; nothing was booked. Here is a fresh plan.",
        "taken": exc.taken,
        "plan": plan_json(exc.plan),
    }), 409


@courses_api.errorhandler(FollowingConflict)
def _following_conflict(exc: FollowingConflict):
    return jsonify({
        "error": "slot_unavailable",
        "message": "Some visits cannot move to that time; nothing was moved.",
        "taken": exc.taken,
    }), 409


def _course(course_id: int):
    course = courses.get_course(course_id)
    require(may_act_for(g.staff_user, course.provider_id))
    return course


def _optional_body() -> dict:
    """A cancellation's body: none (no reason) or the documented object, nothing else."""
    return json_body("CancelRequest") if request.get_data() else {}


@courses_api.post("/staff/courses")
@staff_token_required
def plan_or_book():
    body = json_body("CourseRequest")
    try:
        parsed = course_input.parse_course_request(body)
    except ValidationFailed:
        # A provider's token may plan only for their own calendar, whatever else is wrong.
        provider = body.get("provider_id")
        if isinstance(provider, int) and not isinstance(provider, bool):
            require(may_act_for(g.staff_user, provider))
        raise
    require(may_plan(g.staff_user, parsed))
    if parsed.preview:
        return jsonify(plan_json(courses.preview(parsed)))
    booked = courses.book(parsed, actor=audit.actor_for(g.staff_user))
    return jsonify(course_json(booked.course, booked.tokens)), 201


@courses_api.get("/staff/courses/<int:course_id>")
@staff_token_required
def show(course_id: int):
    return jsonify(course_json(_course(course_id)))


@courses_api.post("/staff/courses/<int:course_id>/extend")
@staff_token_required
def extend(course_id: int):
    course = _course(course_id)
    booked = courses.extend(course, json_body("ExtendRequest").get("weeks"), actor=audit.actor_for(g.staff_user))
    return jsonify(course_json(course, booked.tokens))


@courses_api.post("/staff/courses/<int:course_id>/cancel")
@staff_token_required
def cancel_rest(course_id: int):
    course = _course(course_id)
    courses.cancel_rest(course, _optional_body().get("reason", ""), actor=audit.actor_for(g.staff_user))
    return jsonify(course_json(course))


@courses_api.post("/staff/courses/<int:course_id>/visits/<int:number>/cancel")
@staff_token_required
def cancel_visit(course_id: int, number: int):
    course = _course(course_id)
    _visit, options = courses.cancel_visit(course, number, _optional_body().get("reason", ""), actor=audit.actor_for(g.staff_user))
    return jsonify({**course_json(course), "make_up": make_up_json(options, course)})


@courses_api.post("/staff/courses/<int:course_id>/make-up")
@staff_token_required
def make_up(course_id: int):
    course = _course(course_id)
    body = json_body("MakeUpRequest")
    provider = body.get("provider_id")
    named = course_input.whole_number(provider)  # as the booking reads it: 2.0 is provider 2
    if named is not None:
        require(may_act_for(g.staff_user, named))
    booked = courses.book_make_up(course, body.get("start"), provider, actor=audit.actor_for(g.staff_user))
    return jsonify(course_json(course, booked.tokens)), 201


@courses_api.post("/staff/courses/<int:course_id>/visits/<int:number>/reschedule-following")
@staff_token_required
def reschedule_following(course_id: int, number: int):
    course = _course(course_id)
    courses.reschedule_following(course, number, json_body("FollowingRequest").get("time"), actor=audit.actor_for(g.staff_user))
    return jsonify(course_json(course))


@courses_api.get("/staff/courses/<int:course_id>.ics")
@staff_token_required
def calendar(course_id: int):
    """Every visit of the course, cancelled ones included, for the clinic's own calendars."""
    course = db.session.get(Course, course_id)
    if course is None:
        return jsonify({"error": "not_found", "message": "No such course."}), 404
    if not may_see(g.staff_user, course.provider_id):
        return jsonify({"error": "forbidden", "message": "This course belongs to another provider."}), 403
    return ics_response(calendar_feeds.course_calendar_bytes(course), f"course-{course.id}.ics")
