"""What a patient's private link can do to an appointment: find it, cancel it, move it."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentLink, AppointmentStatus, Patient, Provider
from scheduler.services import events
from scheduler.services.appointments.booking_input import check_timing, parse_provider_id, parse_start
from scheduler.services.appointments.rules import (
    ALREADY_BOOKED,
    AUDIT_FIELDS,
    alternatives_near,
    clean_reason,
    free_candidates,
    lock_visit,
    moved_times,
    overlapping_visit,
)
from scheduler.services.availability.open_times import bookable_providers
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import (
    AlreadyBooked,
    ChangeNotAllowed,
    NotFound,
    SlotUnavailable,
    ValidationFailed,
)
from scheduler.services.common.tokens import manage_secret_hash
from scheduler.services.common.write_guard import flush_in_savepoint


def appointment_for_token(token: str) -> Appointment:
    """The appointment of a private link: the one made at booking, or one a message carried.
    Reads only."""
    token_hash = manage_secret_hash(token)
    appointment = None
    if token_hash is not None:
        appointment = db.session.scalar(
            select(Appointment).where(Appointment.manage_token_hash == token_hash)
        )
        if appointment is None:
            appointment = db.session.scalar(
                select(Appointment).join(AppointmentLink, AppointmentLink.appointment_id == Appointment.id)
                .where(AppointmentLink.token_hash == token_hash)
            )
    if appointment is None:
        raise NotFound("This link is not valid or has expired.")
    return appointment


def online_change_deadline(appointment: Appointment) -> datetime:
    """The last moment the patient may still change the visit online (the service's
    cancellation window before it). Reads only."""
    return appointment.starts_at - timedelta(hours=appointment.service.cancel_window_hours)


def can_change_online(appointment: Appointment) -> bool:
    """Whether the patient may still cancel or move the visit through their link. Reads only."""
    return appointment.is_open and now() < online_change_deadline(appointment)


def _require_changeable(appointment: Appointment) -> None:
    if not appointment.is_open:
        raise ChangeNotAllowed("not_open", N_("This appointment can no longer be changed online."))
    if now() >= online_change_deadline(appointment):
        raise ChangeNotAllowed(
            "inside_window", N_("It is too close to your visit to change it online. Please call us.")
        )


def cancel(appointment: Appointment, *, reason: str = "", actor: audit.Actor = audit.PATIENT_LINK) -> None:
    """Cancel an open appointment. Patients are held to the service's cancellation window.
    Commits."""
    lock_visit(appointment)
    if actor.kind in (audit.PATIENT_LINK.kind,):
        _require_changeable(appointment)
    elif not appointment.is_open:
        raise ChangeNotAllowed("not_open", N_("This appointment can no longer be changed online."))
    clean = clean_reason(reason)
    before = audit.snapshot(appointment, AUDIT_FIELDS)
    moment = now()
    appointment.status = AppointmentStatus.CANCELLED.value
    appointment.cancelled_at = moment
    appointment.cancel_reason = clean
    appointment.ical_sequence += 1
    appointment.updated_at = moment
    audit.record(actor, "appointment.cancelled", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
    events.appointment_cancelled(appointment, cause=events.cause_for(actor))
    events.visit_changed(appointment)
    db.session.commit()


def other_providers(appointment: Appointment) -> list[Provider]:
    """Who else the patient may move this visit to online: providers taking online bookings,
    for a service booked online, and never a visit of a course (its provider plans it).
    Reads only."""
    if not appointment.service.online_bookable or appointment.course_id is not None:
        return []
    return [p for p in bookable_providers(online_only=True) if p.id != appointment.provider_id]


def _new_provider(appointment: Appointment, raw_provider_id: object) -> Provider:
    if raw_provider_id in (None, "", appointment.provider_id, str(appointment.provider_id)):
        return appointment.provider
    provider_id = parse_provider_id(raw_provider_id)
    chosen = [p for p in other_providers(appointment) if p.id == provider_id]
    if not chosen:
        raise ValidationFailed({"provider_id": N_("Unknown provider.")})
    return chosen[0]


def reschedule(
    appointment: Appointment,
    raw_start: object,
    *,
    provider_id: object = None,
    actor: audit.Actor = audit.PATIENT_LINK,
) -> None:
    """Move an open appointment to another open time, with the same provider unless
    `provider_id` names another one the patient may choose. Commits."""
    lock_visit(appointment)
    _require_changeable(appointment)
    start = parse_start(raw_start)
    provider = _new_provider(appointment, provider_id)
    service = appointment.service
    if start == appointment.starts_at and provider.id == appointment.provider_id:
        raise ValidationFailed({"start": N_("That is already the time of your appointment.")})
    check_timing(service, start)
    providers = [provider]
    # The visit keeps its own length (one the desk lengthened stays so), and the check uses it.
    ends_at, blocks_until = moved_times(appointment, start)
    own_length = (ends_at - start, blocks_until - ends_at)
    before = audit.snapshot(appointment, AUDIT_FIELDS)
    previous_start = appointment.starts_at

    def move() -> None:
        # Read first: after a rolled-back attempt this reloads the row before anything is set.
        appointment.ical_sequence += 1
        appointment.provider_id = provider.id
        appointment.starts_at = start
        appointment.ends_at = ends_at
        appointment.blocks_until = blocks_until
        appointment.moved_from = previous_start
        appointment.updated_at = now()

    try:
        if overlapping_visit(Patient.id == appointment.patient_id, start, ends_at, appointment.id):
            raise AlreadyBooked(ALREADY_BOOKED)
        free_candidates(service, providers, start, ignore_appointment_id=appointment.id, length=own_length)
        moved = flush_in_savepoint(move)
    except Exception:
        db.session.rollback()
        raise
    if not moved:
        db.session.rollback()
        raise SlotUnavailable(alternatives_near(service, providers, start, appointment.id))
    audit.record(actor, "appointment.rescheduled", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
    events.appointment_moved(appointment, cause=events.cause_for(actor))
    events.visit_changed(appointment)
    db.session.commit()
