"""Changing how long a visit lasts (the desk drags its end on the calendar). The same
checks and pattern as staff_appointments.move: locked row, working hours, the database's
overlap check in a savepoint, audit, events with cause="staff". A change of length alone is
not a move: the time the patient was told stays, so no notice goes out."""
from __future__ import annotations

from datetime import timedelta

from scheduler.extensions import db
from scheduler.models import Appointment, Patient
from scheduler.services import events
from scheduler.services.appointments.booking_input import parse_start
from scheduler.services.appointments.rules import AUDIT_FIELDS, NOT_OPEN, PATIENT_BUSY, lock_visit, overlapping_visit
from scheduler.services.availability.staff_times import require_fit, staff_alternatives
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import AlreadyBooked, ChangeNotAllowed, SlotUnavailable, ValidationFailed
from scheduler.services.common.write_guard import flush_in_savepoint

SHORTEST = timedelta(minutes=5)
LONGEST = timedelta(hours=8)


def resize(appointment: Appointment, raw_end: object, *, actor: audit.Actor) -> Appointment:
    """Give an open visit a new end (same start, same provider). Commits."""
    try:
        lock_visit(appointment)
        if not appointment.is_open:
            raise ChangeNotAllowed("not_open", NOT_OPEN)
        try:
            end = parse_start(raw_end)
        except ValidationFailed as exc:
            raise ValidationFailed({"end": exc.fields["start"]}) from None
        length = end - appointment.starts_at
        if length < SHORTEST or length > LONGEST:
            raise ValidationFailed({"end": "A visit lasts between 5 minutes and 8 hours."})
        if end == appointment.ends_at:
            raise ValidationFailed({"end": "That is already the end of this appointment."})
        if appointment.starts_at <= now():
            raise ValidationFailed({"end": "A visit that has begun keeps its length."})
        blocks_until = end + timedelta(minutes=appointment.service.buffer_minutes)
        require_fit(appointment.provider_id, appointment.starts_at, end, blocks_until,
                    ignore_appointment_id=appointment.id)
        if overlapping_visit(Patient.id == appointment.patient_id, appointment.starts_at, end, appointment.id):
            raise AlreadyBooked(PATIENT_BUSY)
        before = audit.snapshot(appointment, AUDIT_FIELDS)

        def change() -> None:
            appointment.ical_sequence += 1
            appointment.ends_at = end
            appointment.blocks_until = blocks_until
            appointment.updated_at = now()

        if not flush_in_savepoint(change):
            raise SlotUnavailable([])
        audit.record(actor, "appointment.resized", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
        events.appointment_resized(appointment, cause="staff")
        events.visit_changed(appointment)
        db.session.commit()
    except SlotUnavailable as conflict:
        db.session.rollback()
        conflict.alternatives = staff_alternatives(
            appointment.service, [appointment.provider_id], appointment.starts_at,
            ignore_appointment_id=appointment.id,
        )
        raise
    except Exception:
        db.session.rollback()
        raise
    return appointment
