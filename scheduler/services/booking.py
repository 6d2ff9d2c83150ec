"""Booking, cancelling and moving appointments: the checks, the one transaction, the audit.

Double booking is stopped by the database, not by the check here: on PostgreSQL an
exclusion constraint refuses an overlapping row (SQLSTATE 23P01), on SQLite every write
transaction begins IMMEDIATE so the check and the insert cannot interleave.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ..domain.availability import Slot, nearest
from ..domain.patient_details import N_, DetailsInvalid, check_patient_details
from ..domain.wall_time import WallTimeError, to_instant
from ..extensions import db
from ..models import Appointment, AppointmentStatus, BookingSource, Patient, Provider, Service
from . import audit
from .availability import bookable_providers, open_slots
from .clock import clinic_tz, now
from .errors import AlreadyBooked, ChangeNotAllowed, NotFound, SlotUnavailable, ValidationFailed
from .patients import find_or_create_patient
from .tokens import manage_secret_hash, manage_token_for, new_secret, sha256_hex

AUDIT_FIELDS = (
    "status", "starts_at", "ends_at", "provider_id", "service_id", "patient_id", "source",
    "cancel_reason",
)
ALTERNATIVE_DAYS_BEFORE = 2
ALTERNATIVE_DAYS_AFTER = 7


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    manage_token: str


def parse_start(raw: object) -> datetime:
    """An ISO-8601 instant; without an offset it is read as clinic wall time."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed({"start": N_("Please choose a time.")})
    try:
        parsed = datetime.fromisoformat(raw.strip())
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: e.g. 9999-12-31T23:00-12:00 is past datetime.max
        raise ValidationFailed({"start": N_("That is not a valid date and time.")}) from None
    try:
        return to_instant(parsed.date(), parsed.time(), clinic_tz())
    except WallTimeError:
        raise ValidationFailed(
            {"start": N_("That local time is skipped or repeated by a daylight-saving change.")}
        ) from None
    except OverflowError:
        raise ValidationFailed({"start": N_("That is not a valid date and time.")}) from None


def parse_provider_id(raw: object) -> int | None:
    """None means "first available"."""
    if raw in (None, "", "any"):
        return None
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        # int() would quietly turn true into provider 1 and 1.5 into provider 1
        raise ValidationFailed({"provider_id": N_("Unknown provider.")})
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed({"provider_id": N_("Unknown provider.")}) from None


def find_service(slug: object, *, online: bool) -> Service:
    service = None
    if isinstance(slug, str):
        service = db.session.scalar(select(Service).where(Service.slug == slug, Service.active.is_(True)))
    if service is None:
        raise ValidationFailed({"service": N_("Unknown service.")})
    if online and not service.online_bookable:
        raise ValidationFailed({"service": N_("This service cannot be booked online. Please call us.")})
    return service


def choose_providers(provider_id: int | None, *, online: bool) -> list[Provider]:
    providers = bookable_providers(online_only=online)
    if provider_id is None:
        return providers
    chosen = [p for p in providers if p.id == provider_id]
    if not chosen:
        raise ValidationFailed({"provider_id": N_("Unknown provider.")})
    return chosen


def _collect(fields: dict[str, str], fn, *args, **kwargs):
    """Run one check; on failure add its messages to `fields` and return None."""
    try:
        return fn(*args, **kwargs)
    except ValidationFailed as exc:
        fields.update(exc.fields)
    except DetailsInvalid as exc:
        fields.update(exc.fields)
    return None


def check_timing(service: Service, start: datetime) -> None:
    moment = now()
    if start <= moment:
        raise ValidationFailed({"start": N_("That time has already passed.")})
    if start < moment + timedelta(minutes=service.min_notice_minutes):
        raise ValidationFailed({"start": N_("That time is too soon to book online. Please call us.")})
    if start > moment + timedelta(days=service.max_advance_days):
        raise ValidationFailed({"start": N_("That time is too far ahead to book yet.")})


def _candidates(
    service: Service, providers: list[Provider], start: datetime, *, ignore_appointment_id: int | None = None
) -> list[Slot]:
    """Providers free at exactly `start`; if none, say whether it was taken or never open."""
    day = start.astimezone(clinic_tz()).date()
    slots = open_slots(service, providers, day, day, ignore_appointment_id=ignore_appointment_id)
    matching = [s for s in slots if s.start == start]
    if matching:
        return matching
    unbooked = open_slots(service, providers, day, day, include_booked=True)
    if any(s.start == start for s in unbooked):
        raise SlotUnavailable(alternatives_near(service, providers, start, ignore_appointment_id))
    raise ValidationFailed({"start": N_("That is not an open time. Please pick one of the times shown.")})


def alternatives_near(
    service: Service, providers: list[Provider], start: datetime, ignore_appointment_id: int | None = None
) -> list[Slot]:
    day = start.astimezone(clinic_tz()).date()
    slots = open_slots(
        service,
        providers,
        day - timedelta(days=ALTERNATIVE_DAYS_BEFORE),
        day + timedelta(days=ALTERNATIVE_DAYS_AFTER),
        ignore_appointment_id=ignore_appointment_id,
    )
    return nearest(slots, start)


OVERLAP_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"
DEADLOCK_RETRIES = 5


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def is_overlap_violation(error: IntegrityError) -> bool:
    return _sqlstate(error) == OVERLAP_VIOLATION


def _flush_in_savepoint(change: Callable[[], None]) -> bool:
    """Apply `change` and flush it in a savepoint; False when the database refuses an overlap.

    Two transactions writing overlapping rows at the same instant can each find the other's
    uncommitted row in the exclusion-constraint check and wait for it; PostgreSQL then aborts
    one of them with a deadlock (40P01). That says nothing about the slot, so roll back to the
    savepoint (the other writer goes on) and try again: the retry waits for the other writer
    and gets the real answer, the row or 23P01.
    """
    deadlocks = 0
    while True:
        try:
            with db.session.begin_nested():
                change()
                db.session.flush()
            return True
        except IntegrityError as error:
            if is_overlap_violation(error):
                return False
            raise
        except DBAPIError as error:
            deadlocks += 1
            if _sqlstate(error) != DEADLOCK_DETECTED or deadlocks > DEADLOCK_RETRIES:
                raise


def _insert_first_free(appointment: Appointment, candidates: list[Slot]) -> bool:
    """Try each free provider in a savepoint; the database has the last word on overlaps."""
    for slot in candidates:
        appointment.provider_id = slot.provider_id
        if _flush_in_savepoint(lambda: db.session.add(appointment)):
            return True
    return False


ALREADY_BOOKED = N_(
    "You already have an appointment at that time. Your confirmation has the link to see it, or call us."
)


def _one_patient_at_a_time(phone_e164: str) -> None:
    """Serialise bookings for one phone number (a double-pressed "Book" on two providers).

    PostgreSQL: a transaction-scoped advisory lock; SQLite's IMMEDIATE transaction already
    lets one booking through at a time.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"patient:{phone_e164}"})


def _overlapping_visit(patient_filter, start: datetime, end: datetime, ignore_id: int | None = None):
    """A live visit of the patient overlapping [start, end) (buffers are the provider's, not theirs)."""
    query = (
        select(Appointment.id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            patient_filter,
            Appointment.status != AppointmentStatus.CANCELLED.value,
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
        .limit(1)
    )
    if ignore_id is not None:
        query = query.where(Appointment.id != ignore_id)
    return db.session.scalar(query)


def _same_person(details) -> object:
    """The match find_or_create_patient uses: same mobile number and same name."""
    return (
        (Patient.phone_e164 == details.phone_e164)
        & (func.lower(Patient.first_name) == details.first_name.lower())
        & (func.lower(Patient.last_name) == details.last_name.lower())
    )


def book(
    data: dict,
    *,
    online: bool,
    source: BookingSource = BookingSource.ONLINE,
    actor: audit.Actor = audit.PATIENT_WEB,
    language: str = "en",
) -> Booked:
    """Book one appointment from raw input (a form or a JSON body). Commits."""
    fields: dict[str, str] = {}
    service = _collect(fields, find_service, data.get("service"), online=online)
    provider_id = _collect(fields, parse_provider_id, data.get("provider_id"))
    providers = None
    if "provider_id" not in fields:
        providers = _collect(fields, choose_providers, provider_id, online=online)
    start = _collect(fields, parse_start, data.get("start"))
    patient = data.get("patient")
    # Anything but an object counts as no details at all: every field gets its message.
    details = _collect(fields, check_patient_details, patient if isinstance(patient, dict) else {})
    if service is not None and start is not None:
        _collect(fields, check_timing, service, start)
    if fields:
        raise ValidationFailed(fields)

    try:
        _one_patient_at_a_time(details.phone_e164)
        ends_at = start + timedelta(minutes=service.duration_minutes)
        if _overlapping_visit(_same_person(details), start, ends_at) is not None:
            raise AlreadyBooked(ALREADY_BOOKED)
        candidates = _candidates(service, providers, start)
        preferred = data.get("preferred_provider_id")
        # "First available" books whoever the patient was shown, if they are still free.
        candidates.sort(key=lambda slot: str(slot.provider_id) != str(preferred))
        patient = find_or_create_patient(details, language)
        moment = now()
        secret = new_secret()
        appointment = Appointment(
            patient=patient,
            service_id=service.id,
            starts_at=start,
            ends_at=ends_at,
            blocks_until=ends_at + timedelta(minutes=service.buffer_minutes),
            status=AppointmentStatus.BOOKED.value,
            source=source.value,
            patient_note=details.note,
            manage_token_hash=sha256_hex(secret),
            created_at=moment,
            updated_at=moment,
        )
        if not _insert_first_free(appointment, candidates):
            raise SlotUnavailable([])
        audit.record(actor, "appointment.booked", appointment, None, audit.snapshot(appointment, AUDIT_FIELDS))
        db.session.commit()
    except SlotUnavailable as conflict:
        db.session.rollback()
        if not conflict.alternatives:
            conflict.alternatives = alternatives_near(service, providers, start)
        raise
    except Exception:
        db.session.rollback()
        raise
    return Booked(appointment, manage_token_for(secret))


def appointment_for_token(token: str) -> Appointment:
    token_hash = manage_secret_hash(token)
    appointment = None
    if token_hash is not None:
        appointment = db.session.scalar(
            select(Appointment).where(Appointment.manage_token_hash == token_hash)
        )
    if appointment is None:
        raise NotFound("This link is not valid or has expired.")
    return appointment


def online_change_deadline(appointment: Appointment) -> datetime:
    return appointment.starts_at - timedelta(hours=appointment.service.cancel_window_hours)


def can_change_online(appointment: Appointment) -> bool:
    return appointment.is_open and now() < online_change_deadline(appointment)


def _lock(appointment: Appointment) -> None:
    """Re-read the row under FOR UPDATE (PostgreSQL) so two changes to one appointment
    cannot both pass the checks; SQLite's IMMEDIATE transaction already serialises them."""
    db.session.refresh(appointment, with_for_update=True)


def _require_changeable(appointment: Appointment) -> None:
    if not appointment.is_open:
        raise ChangeNotAllowed("not_open", N_("This appointment can no longer be changed online."))
    if now() >= online_change_deadline(appointment):
        raise ChangeNotAllowed(
            "inside_window", N_("It is too close to your visit to change it online. Please call us.")
        )


def cancel(appointment: Appointment, *, reason: str = "", actor: audit.Actor = audit.PATIENT_LINK) -> None:
    """Cancel an open appointment. Patients are held to the service's cancellation window."""
    _lock(appointment)
    if actor.kind in (audit.PATIENT_LINK.kind,):
        _require_changeable(appointment)
    elif not appointment.is_open:
        raise ChangeNotAllowed("not_open", N_("This appointment can no longer be changed online."))
    if len(reason) > 200:
        raise ValidationFailed({"reason": N_("Please keep the reason under 200 characters.")})
    before = audit.snapshot(appointment, AUDIT_FIELDS)
    moment = now()
    appointment.status = AppointmentStatus.CANCELLED.value
    appointment.cancelled_at = moment
    appointment.cancel_reason = " ".join(reason.split())
    appointment.ical_sequence += 1
    appointment.updated_at = moment
    audit.record(actor, "appointment.cancelled", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
    db.session.commit()


def reschedule(appointment: Appointment, raw_start: object, *, actor: audit.Actor = audit.PATIENT_LINK) -> None:
    """Move an open appointment to another open time with the same provider. Commits."""
    _lock(appointment)
    _require_changeable(appointment)
    start = parse_start(raw_start)
    service = appointment.service
    if start == appointment.starts_at:
        raise ValidationFailed({"start": N_("That is already the time of your appointment.")})
    check_timing(service, start)
    providers = [appointment.provider]
    before = audit.snapshot(appointment, AUDIT_FIELDS)

    def move() -> None:
        # Read first: after a rolled-back attempt this reloads the row before anything is set.
        appointment.ical_sequence += 1
        appointment.starts_at = start
        appointment.ends_at = start + timedelta(minutes=service.duration_minutes)
        appointment.blocks_until = appointment.ends_at + timedelta(minutes=service.buffer_minutes)
        appointment.updated_at = now()

    try:
        ends_at = start + timedelta(minutes=service.duration_minutes)
        if _overlapping_visit(Patient.id == appointment.patient_id, start, ends_at, appointment.id):
            raise AlreadyBooked(ALREADY_BOOKED)
        _candidates(service, providers, start, ignore_appointment_id=appointment.id)
        moved = _flush_in_savepoint(move)
    except Exception:
        db.session.rollback()
        raise
    if not moved:
        db.session.rollback()
        raise SlotUnavailable(alternatives_near(service, providers, start, appointment.id))
    audit.record(actor, "appointment.rescheduled", appointment, before, audit.snapshot(appointment, AUDIT_FIELDS))
    db.session.commit()
