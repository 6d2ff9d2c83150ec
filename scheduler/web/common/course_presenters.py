"""A course, a plan and their visits as the API and the pages show them."""
from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _

from scheduler.domain import courses as planner
from scheduler.domain.availability import Slot
from scheduler.domain.course_progress import progress
from scheduler.domain.courses import PlannedVisit
from scheduler.domain.patient_details import N_
from scheduler.models import Appointment, Course
from scheduler.services.courses import series as courses
from scheduler.web.common.calendar_urls import course_ics_url, patient_feed_url
from scheduler.web.common.presenters import external_url, local_iso, slot_json

# Why a visit is not at its preferred day and time (the planner's reason codes).
REASONS = {
    planner.TIME_TAKEN: N_("The preferred time was taken; this is the nearest open time that day."),
    planner.TIME_SKIPPED: N_("The preferred time does not exist that day (the clocks spring forward)."),
    planner.TIME_REPEATED: N_("The preferred time happens twice that day (the clocks fall back)."),
    planner.DAY_CLOSED: N_("The clinic is closed on the preferred day."),
    planner.DAY_NOT_WORKING: N_("The provider does not work on the preferred day."),
    planner.DAY_FULL: N_("No open time on the preferred day."),
    planner.DAY_PAST: N_("The preferred day has already passed."),
    planner.TOO_CLOSE: N_("The preferred day is too close to another visit."),
}
OTHER_PROVIDER = N_("Another provider takes this visit.")
NO_OTHER_DAY = N_("No other day of that week is open and keeps the gap.")


def reason_text(visit: PlannedVisit) -> str | None:
    parts = []
    if visit.reason == planner.DAY_CLOSED and visit.closure:
        parts.append(_("Closed: %(closure)s", closure=visit.closure))
    elif visit.reason:
        parts.append(_(REASONS[visit.reason]))
    if visit.other_provider:
        parts.append(_(OTHER_PROVIDER))
    if visit.status == planner.UNPLACEABLE:
        parts.append(_(NO_OTHER_DAY))
    return " ".join(parts) or None


def planned_visit_json(visit: PlannedVisit) -> dict:
    return {
        "number": visit.number,
        "week": visit.week,
        "preferred_date": visit.day.isoformat(),
        "start": local_iso(visit.start) if visit.start else None,
        "end": local_iso(visit.end) if visit.end else None,
        "provider_id": visit.provider_id,
        "status": visit.status,
        "reason": reason_text(visit),
    }


def plan_json(plan: list[PlannedVisit]) -> dict:
    return {"status": "preview", "visits": [planned_visit_json(v) for v in plan], "ics_url": None, "feed_url": None}


def booked_visit_json(visit: Appointment, tokens: dict[int, str] | None = None) -> dict:
    answer = {
        "number": visit.visit_number,
        "appointment_id": visit.id,
        "start": local_iso(visit.starts_at),
        "end": local_iso(visit.ends_at),
        "provider_id": visit.provider_id,
        "status": visit.status,
        "reason": visit.cancel_reason or None,
    }
    if tokens and visit.id in tokens:
        answer["manage_url"] = external_url("patient.manage.show", token=tokens[visit.id])
    return answer


def course_json(course: Course, tokens: dict[int, str] | None = None) -> dict:
    visits = courses.visits_of(course)
    counts = progress(v.status for v in visits)
    return {
        "id": course.id,
        "status": course.status,
        "patient_id": course.patient_id,
        "provider_id": course.provider_id,
        "service": course.service.slug,
        "evaluation_id": course.evaluation_id,
        "first_date": course.first_day.isoformat(),
        "weeks": course.weeks,
        "visits_per_week": course.visits_per_week,
        "counts": {"attended": counts.attended, "no_show": counts.no_show, "cancelled": counts.cancelled,
                   "remaining": counts.remaining},
        "visits": [booked_visit_json(v, tokens) for v in visits],
        "ics_url": course_ics_url(course),
        "feed_url": patient_feed_url(course.patient),
    }


def make_up_json(options, course: Course) -> list[dict]:
    duration = timedelta(minutes=course.service.duration_minutes)
    return [slot_json(Slot(start, start + duration, provider_id)) for start, provider_id in options]


def ordinals(visits: list[Appointment]) -> dict[int, tuple[int, int]]:
    """"Visit K of M" for each live visit (cancelled ones are not counted), by date."""
    live = [v for v in visits if v.status != "cancelled"]
    return {v.id: (i, len(live)) for i, v in enumerate(live, 1)}
