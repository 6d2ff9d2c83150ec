"""What every change to a visit shares: the fields its audit records, the checks (the
patient's other visits, the time still open, one booking per patient at a time), the row
lock, the cancel reason, the messages a refused change shows and the nearest other times.

This module imports neither events.py nor any use case, so every booking and change (and
the waitlist, the courses, inbound texts) can import it without a cycle.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select, text

from scheduler.domain.availability import Slot, nearest
from scheduler.domain.patient_details import N_, has_control_chars
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, Patient, Provider, Service
from scheduler.services.availability.open_times import (
    MAX_BLOCK,
    load_closures,
    load_schedules_both_ways,
    open_slots,
    rules_for,
    slots_from,
)
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import SlotUnavailable, ValidationFailed

# What the audit trail records of a visit before and after each change.
AUDIT_FIELDS = (
    "status", "starts_at", "ends_at", "provider_id", "service_id", "patient_id", "source",
    "cancel_reason",
)
ALTERNATIVE_DAYS_BEFORE = 2
ALTERNATIVE_DAYS_AFTER = 7
REASON_MAX = 200

NOT_AN_OPEN_TIME = N_("That is not an open time. Please pick one of the times shown.")
ALREADY_BOOKED = N_(
    "You already have an appointment at that time. Your confirmation has the link to see it, or call us."
)
PATIENT_BUSY = N_("The patient already has another visit at that time.")
NOT_OPEN = N_("This appointment is cancelled or already past; it cannot be changed.")


def moved_times(appointment: Appointment, start: datetime) -> tuple[datetime, datetime]:
    """The end and the blocked-until of `appointment` moved to `start`: a move keeps the
    visit's own length and buffer (a visit the desk lengthened or shortened stays so), and
    every check of the move uses them. Reads only."""
    return start + (appointment.ends_at - appointment.starts_at), start + (appointment.blocks_until - appointment.starts_at)


def lock_visit(appointment: Appointment) -> None:
    """Re-read the row under FOR UPDATE (PostgreSQL) so two changes to one appointment
    cannot both pass the checks; SQLite's IMMEDIATE transaction already serialises writers.
    In the caller's transaction (the lock lasts until it ends)."""
    db.session.refresh(appointment, with_for_update=True)


def one_patient_at_a_time(phone_e164: str) -> None:
    """Serialise bookings for one phone number (a double-pressed "Book" on two providers).

    PostgreSQL: a transaction-scoped advisory lock; SQLite's IMMEDIATE transaction already
    lets one booking through at a time.
    In the caller's transaction (the lock lasts until it ends).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"patient:{phone_e164}"})


def overlapping_visit(patient_filter, start: datetime, end: datetime, ignore_id: int | None = None):
    """A live visit of the patient overlapping [start, end) (buffers are the provider's, not theirs).
    Reads only."""
    query = (
        select(Appointment.id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            patient_filter,
            Appointment.status != AppointmentStatus.CANCELLED.value,
            Appointment.starts_at < end,
            Appointment.starts_at > start - MAX_BLOCK,  # keeps the index range tight
            Appointment.ends_at > start,
        )
        .limit(1)
    )
    if ignore_id is not None:
        query = query.where(Appointment.id != ignore_id)
    return db.session.scalar(query)


def free_candidates(
    service: Service, providers: list[Provider], start: datetime, *, ignore_appointment_id: int | None = None,
    length: tuple[timedelta, timedelta] | None = None,
) -> list[Slot]:
    """Providers free at exactly `start`; if none, say whether it was taken or never open.
    `length` (duration, buffer) replaces the service's: a visit moved with its own length.

    Reads the day once (windows, busy times, closures); "taken" and "never open" are told
    apart from the same rows. Reads only."""
    rules = None
    if length is not None:
        rules = replace(rules_for(service), duration=length[0], buffer=length[1])
    day = start.astimezone(clinic_tz()).date()
    ids = [p.id for p in providers]
    if not ids:
        raise ValidationFailed({"start": NOT_AN_OPEN_TIME})
    booked, unbooked = load_schedules_both_ways(ids, day, day, ignore_appointment_id=ignore_appointment_id)
    closures = load_closures(day, day)
    matching = [s for s in slots_from(service, booked, day, day, closures, rules=rules) if s.start == start]
    if matching:
        return matching
    if any(s.start == start for s in slots_from(service, unbooked, day, day, closures, rules=rules)):
        raise SlotUnavailable(alternatives_near(service, providers, start, ignore_appointment_id))
    raise ValidationFailed({"start": NOT_AN_OPEN_TIME})


def alternatives_near(
    service: Service, providers: list[Provider], start: datetime, ignore_appointment_id: int | None = None
) -> list[Slot]:
    """The open times nearest `start`, from two days before to a week after. Reads only."""
    day = start.astimezone(clinic_tz()).date()
    slots = open_slots(
        service,
        providers,
        day - timedelta(days=ALTERNATIVE_DAYS_BEFORE),
        day + timedelta(days=ALTERNATIVE_DAYS_AFTER),
        ignore_appointment_id=ignore_appointment_id,
    )
    return nearest(slots, start)


def clean_reason(reason: object) -> str:
    """A cancel reason as staff read it: text, at most REASON_MAX characters, no control
    characters but newlines, runs of spaces joined; ValidationFailed otherwise. Reads only."""
    if not isinstance(reason, str):  # null too: the document says text (or no reason at all)
        raise ValidationFailed({"reason": N_("Please enter text.")})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({"reason": N_("Please keep the reason under 200 characters.")})
    if has_control_chars(reason, allow_newlines=True):
        # The same rule as a booking's note: no BEL, no bidi overrides in what staff read.
        raise ValidationFailed({"reason": N_("The reason contains characters that are not allowed.")})
    return " ".join(reason.split())
