"""Booking an appointment: the checks, the one transaction, the audit.

Double booking is stopped by the database, not by the check here: on PostgreSQL an
exclusion constraint refuses an overlapping row (SQLSTATE 23P01), on SQLite every write
transaction begins IMMEDIATE so the check and the insert cannot interleave.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from scheduler.domain.patient_details import PatientDetails, check_patient_details
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, BookingSource, Patient, Provider, Service
from scheduler.services import events
from scheduler.services.appointments.booking_input import (
    check_timing,
    choose_providers,
    collect_errors,
    find_service,
    parse_provider_id,
    parse_start,
)
from scheduler.services.appointments.rules import (
    ALREADY_BOOKED,
    AUDIT_FIELDS,
    alternatives_near,
    free_candidates,
    one_patient_at_a_time,
)
from scheduler.services.availability.open_times import MAX_BLOCK
from scheduler.services.clinic.versions import current_version_id
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import AlreadyBooked, SlotUnavailable, ValidationFailed
from scheduler.services.common.tokens import manage_token_for, new_secret, sha256_hex
from scheduler.services.common.write_guard import DEADLOCK_RETRIES, is_deadlock, is_overlap_violation
from scheduler.services.patients.identity import (
    PATIENT_BY_PERSON,
    SAME_PERSON,
    adopt_or_create,
    kept_record,
    same_person_params,
)


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    manage_token: str


def commit_keeping_values() -> None:
    """Commit without expiring the objects just written: every column of the new rows was
    set here (or by a Python-side default), and the answer shows them at once, so reloading
    them would only read back what was sent. Commits."""
    session = db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


# The booking's own check, built once: a live visit of the same person (any of their
# records) overlapping the new one.
_PERSON_OVERLAPPING_VISIT = (
    select(Appointment.id)
    .join(Patient, Patient.id == Appointment.patient_id)
    .where(
        SAME_PERSON,
        Appointment.status != AppointmentStatus.CANCELLED.value,
        Appointment.starts_at < bindparam("visit_end", type_=Appointment.starts_at.type),
        Appointment.starts_at > bindparam("earliest_start", type_=Appointment.starts_at.type),
        Appointment.ends_at > bindparam("visit_start", type_=Appointment.ends_at.type),
    )
    .limit(1)
)
# The person's record (as find_person finds it) and, in the same round trip, that check.
# Without a record there is no visit of theirs either.
_PERSON_AND_OVERLAPPING_VISIT = PATIENT_BY_PERSON.add_columns(
    _PERSON_OVERLAPPING_VISIT.correlate(None).scalar_subquery()
)


def person_and_overlapping_visit(
    details: PatientDetails, start: datetime, end: datetime
) -> tuple[Patient | None, int | None]:
    """The record these details name, if any (before merges are followed), and the id of the
    person's live visit overlapping [start, end), if any: overlapping_visit(same_person(details),
    start, end) and find_person(details) in one statement. Reads only."""
    params = {**same_person_params(details), "visit_start": start, "visit_end": end, "earliest_start": start - MAX_BLOCK}
    row = db.session.execute(_PERSON_AND_OVERLAPPING_VISIT, params).first()
    return (row[0], row[1]) if row is not None else (None, None)


@dataclass(frozen=True)
class BookingRequest:
    """What a booking request asks for, checked."""

    service: Service
    providers: list[Provider]
    start: datetime
    details: PatientDetails
    preferred_provider_id: object  # as sent: "first available" offers whoever the patient was shown


def read_request(data: dict, *, online: bool) -> BookingRequest:
    """The request's fields, checked; ValidationFailed with every problem at once. Reads only."""
    fields: dict[str, str] = {}
    service = collect_errors(fields, find_service, data.get("service"), online=online)
    provider_id = collect_errors(fields, parse_provider_id, data.get("provider_id"))
    providers = None
    if "provider_id" not in fields:
        providers = collect_errors(fields, choose_providers, provider_id, online=online)
    start = collect_errors(fields, parse_start, data.get("start"))
    patient = data.get("patient")
    # Anything but an object counts as no details at all: every field gets its message.
    details = collect_errors(fields, check_patient_details, patient if isinstance(patient, dict) else {},
                             email_optional_with_texts=True)
    if service is not None and start is not None:
        collect_errors(fields, check_timing, service, start)
    if fields:
        raise ValidationFailed(fields)
    return BookingRequest(service, providers, start, details, data.get("preferred_provider_id"))


def book(
    data: dict,
    *,
    online: bool,
    source: BookingSource = BookingSource.ONLINE,
    actor: audit.Actor = audit.PATIENT_WEB,
    language: str = "en",
) -> Booked:
    """Book one appointment from raw input (a form or a JSON body). Commits.

    When the database refuses the visit, the whole transaction starts again: a deadlock
    (40P01) says nothing about the slot, and an overlap (23P01) means another booking took
    that provider a moment ago, which a fresh read of the day sees (another provider free
    then, or a 409 with alternatives). Starting again costs nothing while nothing goes wrong,
    where a savepoint around the insert would cost two round trips on every booking."""
    request = read_request(data, online=online)
    deadlocks = overlaps = 0
    while True:
        try:
            return _book_once(request, source, actor, language)
        except SlotUnavailable as conflict:
            db.session.rollback()
            if not conflict.alternatives:
                conflict.alternatives = alternatives_near(request.service, request.providers, request.start)
            raise
        except IntegrityError as error:
            db.session.rollback()
            if not is_overlap_violation(error):
                raise
            overlaps += 1
            if overlaps > len(request.providers):  # each read said free, each insert was refused
                raise SlotUnavailable(alternatives_near(request.service, request.providers, request.start)) from None
        except DBAPIError as error:
            db.session.rollback()
            deadlocks += 1
            if not is_deadlock(error) or deadlocks > DEADLOCK_RETRIES:
                raise
        except Exception:
            db.session.rollback()
            raise


def _book_once(request: BookingRequest, source: BookingSource, actor: audit.Actor, language: str) -> Booked:
    """One try at the booking's transaction; commits."""
    service, start, details = request.service, request.start, request.details
    one_patient_at_a_time(details.phone_e164)
    ends_at = start + timedelta(minutes=service.duration_minutes)
    found, existing = person_and_overlapping_visit(details, start, ends_at)
    if existing is not None:
        raise AlreadyBooked(ALREADY_BOOKED, existing)
    candidates = free_candidates(service, request.providers, start)
    # "First available" books whoever the patient was shown, if they are still free.
    preferred = str(request.preferred_provider_id)
    chosen = next((slot for slot in candidates if str(slot.provider_id) == preferred), candidates[0])
    # Read before a new patient is added, so that one flush writes the patient and the visit.
    version_id = current_version_id()
    patient, patient_change = adopt_or_create(kept_record(found), details, language)
    moment = now()
    secret = new_secret()
    appointment = Appointment(
        patient=patient,
        provider_id=chosen.provider_id,
        service_id=service.id,
        starts_at=start,
        ends_at=ends_at,
        blocks_until=ends_at + timedelta(minutes=service.buffer_minutes),
        status=AppointmentStatus.BOOKED.value,
        source=source.value,
        patient_note=details.note,
        manage_token_hash=sha256_hex(secret),
        clinic_info_version_id=version_id,
        created_at=moment,
        updated_at=moment,
    )
    db.session.add(appointment)
    db.session.flush()  # the database has the last word on overlaps (see book)
    events.appointment_booked(appointment, cause=events.cause_for(actor))
    trail = [audit.entry(actor, "appointment.booked", appointment, None, audit.snapshot(appointment, AUDIT_FIELDS))]
    if patient_change is not None:
        trail.insert(0, audit.entry(actor, patient_change.action, patient, patient_change.before, patient_change.after))
    audit.record_all(trail)
    commit_keeping_values()
    return Booked(appointment, manage_token_for(secret))
