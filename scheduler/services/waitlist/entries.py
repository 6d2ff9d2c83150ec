"""The waitlist: a patient who found nothing suitable joins with their preferences (service,
provider or any, a date range, days of the week, time of day) and can leave through a private
link. One place per patient and service: joining again updates the preferences and keeps the
place in line (offers go out in order of joining)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from scheduler.domain.patient_details import N_, DetailsInvalid, check_patient_details
from scheduler.extensions import db
from scheduler.models import Patient, Service, TimeOfDay, WaitlistEntry, WaitlistStatus
from scheduler.services.appointments.booking_input import (
    choose_providers,
    collect_errors,
    find_service,
    parse_provider_id,
)
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import NotFound, ValidationFailed
from scheduler.services.common.parsing import parse_iso_day
from scheduler.services.common.tokens import manage_secret_hash, manage_token_for, new_secret, sha256_hex
from scheduler.services.patients.identity import find_or_create_patient

LONGEST_WAIT_DAYS = 120
AUDIT_FIELDS = ("status", "service_id", "provider_id", "earliest_day", "latest_day", "weekdays", "time_of_day")


@dataclass(frozen=True)
class Joined:
    entry: WaitlistEntry
    leave_token: str
    created: bool


def _json_integer(raw: object) -> int | None:
    """3, or 3.0 (an integer to JSON Schema too); never true or "3"."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    return int(raw) if isinstance(raw, float) and raw.is_integer() else None


def _weekdays(raw: object, fields: dict[str, str]) -> str:
    if raw == []:  # left out or empty: any day (null is not a list of days)
        return ""
    days = [_json_integer(d) for d in raw] if isinstance(raw, list) else [None]
    if not all(d is not None and 0 <= d <= 6 for d in days):
        fields["weekdays"] = N_("Days of the week as numbers, Monday = 0 to Sunday = 6.")
        return ""
    return ",".join(str(d) for d in sorted(set(days)))


@dataclass(frozen=True)
class Preferences:
    service: Service
    provider_id: int | None
    earliest_day: date
    latest_day: date
    weekdays: str
    time_of_day: str


def _preferences(data: dict, fields: dict[str, str], *, online: bool) -> Preferences | None:
    """What the patient waits for, checked; None (with messages in `fields`) when not valid."""
    service = collect_errors(fields, find_service, data.get("service"), online=online)
    provider_id = collect_errors(fields, parse_provider_id, data.get("provider_id"))
    if "provider_id" not in fields and provider_id is not None:
        collect_errors(fields, choose_providers, provider_id, online=online)
    # Dates are checked with the booking pages' own messages (already in both languages).
    first = parse_iso_day(data.get("earliest_date"), "earliest_date", fields)
    last = parse_iso_day(data.get("latest_date"), "latest_date", fields)
    today = now().astimezone(clinic_tz()).date()
    if first and first < today:
        fields["earliest_date"] = N_("That time has already passed.")
    if first and last and last < first:
        fields["latest_date"] = N_("The end date must not be before the start date.")
    elif first and last and last > today + timedelta(days=LONGEST_WAIT_DAYS):
        fields["latest_date"] = N_("That time is too far ahead to book yet.")
    weekdays = _weekdays(data.get("weekdays", []), fields)
    time_of_day = data.get("time_of_day", TimeOfDay.ANY.value)
    if not isinstance(time_of_day, str) or time_of_day not in {t.value for t in TimeOfDay}:
        fields["time_of_day"] = N_("Use any, morning or afternoon.")
    if fields:
        return None
    return Preferences(service, provider_id, first, last, weekdays, time_of_day)


def join(data: dict, *, language: str = "en", actor: audit.Actor = audit.PATIENT_WEB, online: bool = True) -> Joined:
    """A patient joins from the pages or the API (their details in data["patient"]). Commits.
    Raises ValidationFailed with a message per field."""
    fields: dict[str, str] = {}
    wanted = _preferences(data, fields, online=online)
    patient = data.get("patient")
    try:
        details = check_patient_details(patient if isinstance(patient, dict) else {})
    except DetailsInvalid as exc:
        fields.update(exc.fields)  # named as in the booking API
    if fields:
        raise ValidationFailed(fields)
    try:
        person = find_or_create_patient(details, language, actor)
        return _place(person, wanted, actor=actor, source="online" if online else "desk")
    except Exception:
        db.session.rollback()
        raise


def add_for_patient(patient: Patient, data: dict, *, actor: audit.Actor) -> Joined:
    """The front desk puts a patient it knows on the waitlist (any active service, also those
    not bookable online). Commits. Raises ValidationFailed with a message per field."""
    fields: dict[str, str] = {}
    wanted = _preferences(data, fields, online=False)
    if fields:
        raise ValidationFailed(fields)
    try:
        return _place(patient, wanted, actor=actor, source="desk")
    except Exception:
        db.session.rollback()
        raise


def _place(person: Patient, wanted: Preferences, *, actor: audit.Actor, source: str) -> Joined:
    """One place per patient and service: joining again updates the preferences and keeps the
    place in line. Commits."""
    entry = db.session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.patient_id == person.id,
            WaitlistEntry.service_id == wanted.service.id,
            WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]),
        )
    )
    created = entry is None
    before = None if created else audit.snapshot(entry, AUDIT_FIELDS)
    moment = now()
    if created:
        entry = WaitlistEntry(patient_id=person.id, service_id=wanted.service.id, status=WaitlistStatus.WAITING.value,
                              source=source, note="", created_at=moment)
        db.session.add(entry)
    entry.provider_id = wanted.provider_id
    entry.earliest_day, entry.latest_day = wanted.earliest_day, wanted.latest_day
    entry.weekdays, entry.time_of_day = wanted.weekdays, wanted.time_of_day
    secret = new_secret()  # a new link each time; the last one given works
    entry.leave_token_hash = sha256_hex(secret)
    entry.updated_at = moment
    db.session.flush()
    audit.record(actor, "waitlist.joined" if created else "waitlist.updated", entry, before,
                 audit.snapshot(entry, AUDIT_FIELDS))
    db.session.commit()
    return Joined(entry, manage_token_for(secret), created)


def waiting() -> list[WaitlistEntry]:
    """Everyone waiting or holding an offer, in the order offers go out (joining first).
    Reads only."""
    return list(db.session.scalars(
        select(WaitlistEntry)
        .options(joinedload(WaitlistEntry.patient), joinedload(WaitlistEntry.service))
        .where(WaitlistEntry.status.in_([WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value]))
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).unique())


def entry_for_token(token: str) -> WaitlistEntry:
    """The waitlist entry a leave link names; NotFound otherwise. Reads only."""
    token_hash = manage_secret_hash(token)
    entry = None
    if token_hash is not None:
        entry = db.session.scalar(select(WaitlistEntry).where(WaitlistEntry.leave_token_hash == token_hash))
    if entry is None:
        raise NotFound("This link is not valid or has expired.")
    return entry


def leave(entry: WaitlistEntry, *, actor: audit.Actor = audit.PATIENT_LINK) -> WaitlistEntry:
    """Off the waitlist (again is harmless). Commits."""
    if entry.status in (WaitlistStatus.WAITING.value, WaitlistStatus.OFFERED.value):
        before = audit.snapshot(entry, AUDIT_FIELDS)
        entry.status = WaitlistStatus.REMOVED.value
        entry.updated_at = now()
        audit.record(actor, "waitlist.left", entry, before, audit.snapshot(entry, AUDIT_FIELDS))
        db.session.commit()
    return entry
