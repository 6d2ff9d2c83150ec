"""The public JSON API: health, the OpenAPI document, the clinic's services, providers and
open times, booking, and a booking's private link (see, cancel, move). No sign-in: rate
limits guard booking and the links; a staff token is optional when booking."""
from __future__ import annotations

import json

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select

from scheduler.domain.availability import WeeklyWindow
from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, BookingSource, Service
from scheduler.services.appointments import booking, booking_input
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.availability.open_times import bookable_hours, bookable_providers, open_times_of
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.operations.health import check_health
from scheduler.web.api.base import bearer_user, json_body, unauthorized, validation_error
from scheduler.web.api.openapi.document import openapi_document
from scheduler.web.common.limits import booking_limit, manage_limit
from scheduler.web.common.presenters import appointment_json, local_iso, parse_day, slots_json_text
from scheduler.web.common.site import current_language

public_api = Blueprint("public", __name__)


@public_api.get("/health")
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


@public_api.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@public_api.get("/services")
def services():
    rows = db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.id))
    return jsonify(
        [
            {"slug": s.slug, "name": s.name, "duration_minutes": s.duration_minutes, "online_bookable": s.online_bookable}
            for s in rows
        ]
    )


@public_api.get("/providers")
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


@public_api.get("/availability")
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


@public_api.post("/bookings")
@booking_limit
def create_booking():
    """Public; a staff token is optional and, when sent, names who booked in the audit trail.
    A token that does not work is refused rather than ignored, so a client is never recorded
    as someone else without noticing."""
    sent_token, user = bearer_user()
    if sent_token and user is None:
        return unauthorized()
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


@public_api.get("/bookings/<token>")
@manage_limit
def get_booking(token: str):
    appointment = appointment_changes.appointment_for_token(token)
    return jsonify(_booking_detail(appointment, token))


@public_api.post("/bookings/<token>/cancel")
@manage_limit
def cancel_booking(token: str):
    appointment = appointment_changes.appointment_for_token(token)
    body = json_body("CancelRequest") if request.get_data() else {}  # no body: no reason; any other body: an object
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise ValidationFailed({"reason": N_("Please enter text.")})
    appointment_changes.cancel(appointment, reason=reason)
    return jsonify(_booking_detail(appointment, token))


@public_api.post("/bookings/<token>/reschedule")
@manage_limit
def reschedule_booking(token: str):
    appointment = appointment_changes.appointment_for_token(token)
    appointment_changes.reschedule(appointment, json_body("RescheduleRequest").get("start"))
    return jsonify(_booking_detail(appointment, token))
