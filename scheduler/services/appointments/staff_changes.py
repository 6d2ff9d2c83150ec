"""What the front desk and the therapists do to any appointment: move, cancel, set status.

Staff are not held to a service's minimum notice or online booking horizon, nor to the
patient's cancellation window, but they may not book into the past or outside the
provider's working hours. Every change is one transaction under the database's overlap
check, audited with the staff user, and told to events.py with cause="staff".
"""
from __future__ import annotations

from scheduler.domain import visit_status
from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, Patient, Provider
from scheduler.services import events
from scheduler.services.appointments.booking_input import collect_errors, parse_provider_id, parse_start
from scheduler.services.appointments.rules import (
    AUDIT_FIELDS,
    NOT_OPEN,
    PATIENT_BUSY,
    clean_reason,
    lock_visit,
    moved_times,
    overlapping_visit,
)
from scheduler.services.availability.staff_times import check_staff_timing, require_fit, staff_alternatives
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import AlreadyBooked, ChangeNotAllowed, SlotUnavailable, ValidationFailed
from scheduler.services.common.write_guard import flush_in_savepoint

CAUSE = "staff"

B, CF, CI, CO, NS, CA = (s.value for s in AppointmentStatus)
# What the status endpoint accepts (cancelling has its own, with a reason).
STATUS_CHOICES = (CF, CI, CO, NS)


def status_steps(appointment: Appointment) -> list[visit_status.StatusStep]:
    """The status steps the visit has now, each with the reason it cannot be taken yet (the
    rule set_status applies, for the desk's buttons). Reads only."""
    return visit_status.next_steps(appointment.status, appointment.starts_at, now(), clinic_tz())


def _provider(raw: object, fields: dict[str, str]) -> Provider | None:
    provider_id = collect_errors(fields, parse_provider_id, raw)
    if "provider_id" in fields or provider_id is None:
        if "provider_id" not in fields:
            fields["provider_id"] = N_("Unknown provider.")
        return None
    provider = db.session.get(Provider, provider_id)
    if provider is None or not provider.active:
        fields["provider_id"] = N_("Unknown provider.")
        return None
    return provider


def target_provider(appointment: Appointment, raw_provider_id: object) -> Provider:
    """The provider a move goes to: the same one unless another is named (checked). Reads only."""
    if raw_provider_id in (None, ""):
        return appointment.provider
    fields: dict[str, str] = {}
    provider = _provider(raw_provider_id, fields)
    if fields:
        raise ValidationFailed(fields)
    return provider


def move(appointment: Appointment, raw_start: object, *, provider_id: object = None, actor: audit.Actor) -> Appointment:
    """Move one open appointment (and only it) to another time and/or provider. Commits."""
    try:
        lock_visit(appointment)
        if not appointment.is_open:
            raise ChangeNotAllowed("not_open", NOT_OPEN)
        fields: dict[str, str] = {}
        start = collect_errors(fields, parse_start, raw_start)
        provider = collect_errors(fields, target_provider, appointment, provider_id)
        if start is not None:
            collect_errors(fields, check_staff_timing, start)
        if not fields and start == appointment.starts_at and provider.id == appointment.provider_id:
            fields["start"] = N_("That is already the time of this appointment.")
        if fields:
            raise ValidationFailed(fields)
        end, blocks_until = moved_times(appointment, start)
        require_fit(provider.id, start, end, blocks_until, ignore_appointment_id=appointment.id)
        if overlapping_visit(Patient.id == appointment.patient_id, start, end, appointment.id):
            raise AlreadyBooked(PATIENT_BUSY)
        before = audit.snapshot(appointment, AUDIT_FIELDS)
        previous_start = appointment.starts_at

        def change() -> None:
            # Read first: after a rolled-back attempt this reloads the row before anything is set.
            appointment.ical_sequence += 1
            appointment.moved_from = previous_start
            appointment.provider_id = provider.id
            appointment.starts_at = start
            appointment.ends_at = end
            appointment.blocks_until = blocks_until
            appointment.updated_at = now()

        if not flush_in_savepoint(change):
            raise SlotUnavailable([])
        audit.record(actor, "appointment.moved", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
        events.appointment_moved(appointment, cause=CAUSE)
        events.visit_changed(appointment)
        db.session.commit()
    except SlotUnavailable as conflict:
        db.session.rollback()
        if not conflict.alternatives:
            conflict.alternatives = staff_alternatives(
                appointment.service, [provider.id], start, ignore_appointment_id=appointment.id
            )
        raise
    except Exception:
        db.session.rollback()
        raise
    return appointment


def cancel_in_transaction(appointment: Appointment, reason: str, *, actor: audit.Actor) -> None:
    """Cancel an open visit, audited and told to events, without the checks `cancel` makes (a
    course cancels many visits in one transaction). In the caller's transaction."""
    before = audit.snapshot(appointment, AUDIT_FIELDS)
    moment = now()
    appointment.status = CA
    appointment.cancelled_at = moment
    appointment.cancel_reason = reason
    appointment.ical_sequence += 1
    appointment.updated_at = moment
    audit.record(actor, "appointment.cancelled", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
    events.appointment_cancelled(appointment, cause=CAUSE)


def cancel(appointment: Appointment, reason: object = "", *, actor: audit.Actor) -> Appointment:
    """Cancel an open appointment, whenever it is (no cancellation window for staff). Commits."""
    try:
        lock_visit(appointment)
        if not appointment.is_open:
            raise ChangeNotAllowed("not_open", NOT_OPEN)
        clean = clean_reason(reason)
        cancel_in_transaction(appointment, clean, actor=actor)
        events.visit_changed(appointment)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return appointment


def set_status(appointment: Appointment, status: object, *, actor: audit.Actor) -> Appointment:
    """Confirm, check in, complete or mark a no-show, one sensible step at a time. Commits."""
    known = {s.value for s in AppointmentStatus}
    if not isinstance(status, str) or status not in known:
        raise ValidationFailed({"status": N_("Unknown status.")})
    if status == CA:
        return cancel(appointment, "", actor=actor)
    try:
        lock_visit(appointment)
        moment = now()
        refused = visit_status.why_not(appointment.status, status, appointment.starts_at, moment, clinic_tz())
        if refused is not None:
            raise ValidationFailed({"status": refused})
        before = audit.snapshot(appointment, AUDIT_FIELDS)
        appointment.status = status
        if status == CF:
            appointment.confirmed_at = moment
        elif status == CI:
            appointment.checked_in_at = moment
        appointment.updated_at = moment
        audit.record(actor, f"appointment.{status}", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
        if status == CF:
            events.appointment_confirmed(appointment, cause=CAUSE)
        events.visit_changed(appointment)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return appointment
