"""JSON API v1: public booking endpoints, and staff endpoints behind bearer tokens."""
from __future__ import annotations

import json
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import select

from scheduler.domain.availability import WeeklyWindow
from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, BookingSource, Service
from scheduler.services.appointments import booking, booking_input
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.appointments.day_sheet import appointments_on
from scheduler.services.availability.open_times import bookable_hours, bookable_providers, open_times_of
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import (
    AlreadyBooked,
    ChangeNotAllowed,
    NotFound,
    SlotUnavailable,
    ValidationFailed,
)
from scheduler.services.operations.health import check_health
from scheduler.services.staff.access import visible_providers
from scheduler.services.staff.accounts import user_for_api_token
from scheduler.services.waitlist import entries as waitlist
from scheduler.web.api.openapi.document import openapi_document, unknown_fields
from scheduler.web.common.limits import booking_limit, manage_limit
from scheduler.web.common.presenters import (
    appointment_json,
    external_url,
    local_iso,
    parse_day,
    slot_json,
    slots_json_text,
    today_local,
)
from scheduler.web.common.site import current_language

api = Blueprint("api", __name__, url_prefix="/api/v1")


def validation_error(fields: dict[str, str]):
    return jsonify({"error": "validation_failed", "fields": {k: _(v) for k, v in fields.items()}}), 422


@api.errorhandler(ValidationFailed)
def _validation_failed(exc: ValidationFailed):
    return validation_error(exc.fields)


@api.errorhandler(SlotUnavailable)
def _slot_unavailable(exc: SlotUnavailable):
    return jsonify({"error": "slot_unavailable", "alternatives": [slot_json(s) for s in exc.alternatives]}), 409


@api.errorhandler(AlreadyBooked)
def _already_booked(exc: AlreadyBooked):
    return jsonify({"error": "already_booked", "message": _(exc.message)}), 409


@api.errorhandler(ChangeNotAllowed)
def _change_not_allowed(exc: ChangeNotAllowed):
    return jsonify({"error": exc.reason, "message": _(exc.message)}), 409


@api.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return jsonify({"error": "not_found", "message": _("This link is not valid or has expired.")}), 404


def json_body(schema_name: str) -> dict:
    """The request's JSON object, holding only the fields its documented schema names."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"body": N_("Send a JSON object with Content-Type: application/json.")})
    unknown = unknown_fields(body, schema_name)
    if unknown:
        raise ValidationFailed({key: N_("Unknown field.") for key in unknown})
    return body


@api.get("/health")
def health():
    """503 only when the database does not answer; the worker and outbox are reported for a
    monitor (status "degraded") without taking this instance out of rotation."""
    report = check_health(current_app.config["WORKER_STALE_SECONDS"])
    if not report.database_ok:
        return jsonify({"status": "unavailable", "database": "unreachable"}), 503
    degraded = report.worker_stale or bool(report.problems)
    return jsonify({
        "status": "degraded" if degraded else "ok",
        "database": "ok",
        "worker": {"stale": report.worker_stale, "stale_after_seconds": current_app.config["WORKER_STALE_SECONDS"],
                   "jobs": report.jobs},
        "outbox": report.outbox,
        "problems": report.problems,
    })


@api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@api.get("/services")
def services():
    rows = db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.id))
    return jsonify(
        [
            {"slug": s.slug, "name": s.name, "duration_minutes": s.duration_minutes, "online_bookable": s.online_bookable}
            for s in rows
        ]
    )


@api.get("/providers")
def providers():
    return jsonify([{"id": p.id, "name": p.name} for p in bookable_providers(online_only=True)])


def _parse_date_param(name: str, fields: dict[str, str]):
    raw = request.args.get(name)
    if not raw:
        fields[name] = N_("Required, as YYYY-MM-DD.")
        return None
    parsed = parse_day(raw, None)
    if parsed is None:
        fields[name] = N_("Use a date as YYYY-MM-DD.")
    return parsed


def _asked_provider_hours() -> dict[int, tuple[WeeklyWindow, ...]] | None:
    """The weekly hours of the providers asked for (every one bookable online, or the one
    named); None when the one named is not bookable online."""
    try:
        provider_id = booking_input.parse_provider_id(request.args.get("provider"))
    except ValidationFailed:
        return None
    hours = bookable_hours(online_only=True, provider_id=provider_id)
    return None if provider_id is not None and not hours else hours


@api.get("/availability")
def availability():
    fields: dict[str, str] = {}
    service = None
    try:
        service = booking_input.find_service(request.args.get("service"), online=True)
    except ValidationFailed as exc:
        fields.update(exc.fields)
    hours = _asked_provider_hours()
    if hours is None:
        fields["provider"] = N_("Unknown provider.")
    first = _parse_date_param("start", fields)
    last = _parse_date_param("end", fields)
    if first and last:
        if last < first:
            fields["end"] = N_("The end date must not be before the start date.")
        elif (last - first).days + 1 > current_app.config["API_MAX_RANGE_DAYS"]:
            fields["end"] = N_("Ask for at most 62 days at a time.")
    if fields:
        return validation_error(fields)
    times = open_times_of(service, hours, first, last)
    timezone = json.dumps(current_app.config["CLINIC_TIMEZONE"])
    body = f'{{"timezone":{timezone},"slots":{slots_json_text(times, clinic_tz())}}}'
    return current_app.response_class(body, mimetype="application/json")


def _unauthorized():
    response = jsonify({"error": "unauthorized", "message": "A valid bearer token is required."})
    response.headers["WWW-Authenticate"] = 'Bearer realm="staff"'
    return response, 401


def _bearer_user():
    """(sent a token, its user or None)."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if not header:
        return False, None
    return True, user_for_api_token(token.strip()) if scheme.lower() == "bearer" else None


@api.post("/bookings")
@booking_limit
def create_booking():
    """Public; a staff token is optional and, when sent, names who booked in the audit trail.
    A token that does not work is refused rather than ignored, so a client is never recorded
    as someone else without noticing."""
    sent_token, user = _bearer_user()
    if sent_token and user is None:
        return _unauthorized()
    actor = audit.actor_for(user) if user is not None else audit.API_CLIENT
    body = json_body("BookingRequest")
    booked = booking.book(body, online=True, source=BookingSource.API, actor=actor, language=current_language())
    return jsonify(appointment_json(booked.appointment, booked.manage_token)), 201


def _booking_detail(appointment: Appointment, token: str) -> dict:
    return {
        **appointment_json(appointment, token),
        "service": appointment.service.slug,
        "provider_name": appointment.provider.name,
        "can_change_online": appointment_changes.can_change_online(appointment),
        "change_deadline": local_iso(appointment_changes.online_change_deadline(appointment)),
    }


@api.get("/bookings/<token>")
@manage_limit
def get_booking(token: str):
    appointment = appointment_changes.appointment_for_token(token)
    return jsonify(_booking_detail(appointment, token))


@api.post("/bookings/<token>/cancel")
@manage_limit
def cancel_booking(token: str):
    appointment = appointment_changes.appointment_for_token(token)
    body = json_body("CancelRequest") if request.get_data() else {}  # no body: no reason; any other body: an object
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed({"reason": N_("Please enter text.")})
    appointment_changes.cancel(appointment, reason=reason)
    return jsonify(_booking_detail(appointment, token))


@api.post("/bookings/<token>/reschedule")
@manage_limit
def reschedule_booking(token: str):
    appointment = appointment_changes.appointment_for_token(token)
    appointment_changes.reschedule(appointment, json_body("RescheduleRequest").get("start"))
    return jsonify(_booking_detail(appointment, token))


# --- staff API (bearer token) ---------------------------------------------------------


def staff_token_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        _sent, user = _bearer_user()
        if user is None:
            return _unauthorized()
        g.staff_user = user
        return view(*args, **kwargs)

    return wrapper


@api.get("/staff/appointments")
@staff_token_required
def staff_appointments():
    """The day's appointments (clinic-local date), for the front desk's own tools; a
    provider's token sees only their own."""
    raw = request.args.get("date")
    day = parse_day(raw, today_local()) if raw != "" else None  # absent: today; empty: a mistake
    if day is None:
        return validation_error({"date": N_("Use a date as YYYY-MM-DD.")})
    rows = appointments_on(day, visible_providers(g.staff_user))
    return jsonify(
        {
            "date": day.isoformat(),
            "appointments": [
                {
                    "id": a.id,
                    "status": a.status,
                    "start": local_iso(a.starts_at),
                    "end": local_iso(a.ends_at),
                    "provider_id": a.provider_id,
                    "service": a.service.slug,
                    "patient_name": a.patient.full_name,
                    "source": a.source,
                }
                for a in rows
            ],
        }
    )



# --- the waitlist ---------------------------------------------------------------------


def _waitlist_json(entry, token: str | None = None) -> dict:
    answer = {"id": entry.id, "status": entry.status}
    if token is not None:
        answer["leave_url"] = external_url("api.leave_waitlist", token=token)
    return answer


@api.post("/waitlist")
@booking_limit
def join_waitlist():
    """Join (or, for the same patient and service, update) the waitlist: 201 new, 200 updated."""
    joined = waitlist.join(json_body("WaitlistRequest"), language=current_language())
    return jsonify(_waitlist_json(joined.entry, joined.leave_token)), 201 if joined.created else 200


@api.post("/waitlist/<token>/leave")
@manage_limit
def leave_waitlist(token: str):
    return jsonify(_waitlist_json(waitlist.leave(waitlist.entry_for_token(token))))
