"""Clinic settings an admin changes: closures and time off (with the visits they hit),
weekly hours with validity dates, services, providers. One transaction per change, audited.

Adding a closure or time off first lists the open visits inside it; saving can cancel them in
the same transaction, each told to the patient through events (cause "staff")."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from scheduler.domain.calendar_shading import day_span
from scheduler.domain.patient_details import N_, has_control_chars
from scheduler.domain.wall_time import WallTimeError, to_instant
from scheduler.extensions import db
from scheduler.models import OPEN_STATUSES, Appointment, Closure, Provider, Service, TimeOff, WorkingHours
from scheduler.services import events
from scheduler.services.appointments.staff_changes import cancel_in_transaction
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.common.parsing import parse_iso_day

REASON_MAX = 120


@dataclass(frozen=True)
class Blocked:
    """What a closure or time off would be: its span and the open visits inside it."""

    affected: list[Appointment]
    saved: Closure | TimeOff | None = None
    cancelled: tuple[int, ...] = ()


def _open_visits(start: datetime, end: datetime, provider_id: int | None = None) -> list[Appointment]:
    query = (
        select(Appointment)
        .options(joinedload(Appointment.patient), joinedload(Appointment.provider), joinedload(Appointment.service))
        .where(
            Appointment.status.in_([s.value for s in OPEN_STATUSES]),
            Appointment.starts_at < end,
            Appointment.ends_at > start,
        )
        .order_by(Appointment.starts_at, Appointment.provider_id)
    )
    if provider_id is not None:
        query = query.where(Appointment.provider_id == provider_id)
    return list(db.session.scalars(query))


def _reason(raw: object, fields: dict[str, str], *, required: bool) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        fields["reason"] = "Please enter text."
        return ""
    text = " ".join(raw.split())
    if required and not text:
        fields["reason"] = "Say why the clinic is closed (shown to staff; patients are told it is closed)."
    elif len(raw) > REASON_MAX:
        # The reason as sent, as the API document counts it (not after joining spaces).
        fields["reason"] = f"Please keep it under {REASON_MAX} characters."
    elif has_control_chars(raw, allow_newlines=True):
        fields["reason"] = N_("The reason contains characters that are not allowed.")
    return text


def _flag(raw: object, name: str, fields: dict[str, str]) -> bool:
    if raw in (None, "", "false", "0", "off"):  # None: an unticked box, left out of the form
        return False
    if raw in (True, "true", "1", "on"):
        return True
    if raw is False:
        return False
    fields[name] = "Must be true or false."
    return False


def _optional_flag(data: dict, name: str, fields: dict[str, str]) -> bool:
    """A flag that may be left out (false); given, it is true or false, never null."""
    if name in data and data[name] is None:
        fields[name] = "Must be true or false."
        return False
    return _flag(data.get(name, False), name, fields)


def _cancel_all(visits: list[Appointment], reason: str, actor: audit.Actor) -> tuple[int, ...]:
    for visit in visits:
        cancel_in_transaction(visit, reason, actor=actor)
        events.visit_changed(visit)
    return tuple(v.id for v in visits)


def closure(data: dict, *, actor: audit.Actor) -> Blocked:
    """data: start_date, end_date (inclusive, clinic-local), reason, preview, cancel_affected.
    A preview changes nothing. Saving adds the closure (availability offers nothing on those
    days from then on) and, with cancel_affected, cancels the open visits it hits. Commits."""
    fields: dict[str, str] = {}
    first = parse_iso_day(data.get("start_date"), "start_date", fields)
    last = parse_iso_day(data.get("end_date"), "end_date", fields)
    if first and last and last < first:
        fields["end_date"] = "The last day must not be before the first."
    elif first and last and (last - first).days > 366:
        fields["end_date"] = "Close at most a year at a time."
    reason = _reason(data.get("reason"), fields, required=True)
    preview = _optional_flag(data, "preview", fields)
    cancel = _optional_flag(data, "cancel_affected", fields)
    if fields:
        raise ValidationFailed(fields)
    tz = clinic_tz()
    affected = _open_visits(day_span(first, tz).start, day_span(last, tz).end)
    if preview:
        return Blocked(affected)
    try:
        row = Closure(first_day=first, last_day=last, name=reason)
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "closure.added", row, None, {"first_day": first.isoformat(), "last_day": last.isoformat(),
                                                         "name": reason})
        cancelled = _cancel_all(affected, f"Clinic closed: {reason}", actor) if cancel else ()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return Blocked(affected, row, cancelled)


def _wall_instant(raw: object, name: str, fields: dict[str, str]) -> datetime | None:
    if not isinstance(raw, str) or not raw.strip():
        fields[name] = "Required, as a date and time."
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        fields[name] = "Use a date and time, for example 2026-12-01T13:00."
        return None
    if parsed.tzinfo is not None:
        return parsed
    try:
        return to_instant(parsed.date(), parsed.time(), clinic_tz())
    except WallTimeError:
        fields[name] = "That local time is skipped or repeated by a daylight-saving change."
        return None


def time_off(data: dict, *, actor: audit.Actor) -> Blocked:
    """data: provider_id, start, end (clinic wall times), reason, preview, cancel_affected."""
    fields: dict[str, str] = {}
    raw_provider = data.get("provider_id")
    provider = db.session.get(Provider, int(raw_provider)) if str(raw_provider).isdigit() else None
    if provider is None:
        fields["provider_id"] = "Unknown provider."
    start = _wall_instant(data.get("start"), "start", fields)
    end = _wall_instant(data.get("end"), "end", fields)
    if start and end and end <= start:
        fields["end"] = "The end must be after the start."
    reason = _reason(data.get("reason"), fields, required=False)
    preview = _optional_flag(data, "preview", fields)
    cancel = _optional_flag(data, "cancel_affected", fields)
    if fields:
        raise ValidationFailed(fields)
    affected = _open_visits(start, end, provider.id)
    if preview:
        return Blocked(affected)
    try:
        row = TimeOff(provider_id=provider.id, starts_at=start, ends_at=end, reason=reason)
        db.session.add(row)
        db.session.flush()
        audit.record(actor, "time_off.added", row, None, audit.snapshot(row, ("provider_id", "starts_at", "ends_at", "reason")))
        cancelled = _cancel_all(affected, f"Provider unavailable{': ' + reason if reason else ''}", actor) if cancel else ()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return Blocked(affected, row, cancelled)


def remove(row: Closure | TimeOff | WorkingHours, actor: audit.Actor) -> None:
    """Lifting a closure or time off, or ending a working window. Commits."""
    before = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    before = {k: v.isoformat() if isinstance(v, (date, datetime, time)) else v for k, v in before.items()}
    audit.record(actor, f"{row.__tablename__}.removed", row, before, None)
    from scheduler.services.waitlist import (
        openings as waitlist_openings,  # the days it blocked may suit someone on the waitlist
    )

    if isinstance(row, Closure):
        waitlist_openings.days_freed(None, row.first_day, row.last_day, "closure_removed")
    elif isinstance(row, TimeOff):
        waitlist_openings.opening_freed(row.provider_id, row.starts_at, row.ends_at, "time_off_removed")
    db.session.delete(row)
    db.session.commit()


def _clock_time(raw: object, name: str, fields: dict[str, str]) -> time | None:
    try:
        return time.fromisoformat(str(raw))
    except ValueError:
        fields[name] = "Use a time such as 08:00."
        return None


def add_hours(data: dict, *, actor: audit.Actor) -> WorkingHours:
    """One weekly window (several a day make the breaks), optionally valid between dates."""
    fields: dict[str, str] = {}
    raw_provider = data.get("provider_id")
    provider = db.session.get(Provider, int(raw_provider)) if str(raw_provider).isdigit() else None
    if provider is None:
        fields["provider_id"] = "Unknown provider."
    weekday = int(data["weekday"]) if str(data.get("weekday")) in {str(d) for d in range(7)} else None
    if weekday is None:
        fields["weekday"] = "Choose a day of the week."
    start = _clock_time(data.get("start_time"), "start_time", fields)
    end = _clock_time(data.get("end_time"), "end_time", fields)
    if start and end and end <= start:
        fields["end_time"] = "The end must be after the start."
    valid_from = parse_iso_day(data.get("valid_from"), "valid_from", fields, required=False)
    valid_to = parse_iso_day(data.get("valid_to"), "valid_to", fields, required=False)
    if valid_from and valid_to and valid_to < valid_from:
        fields["valid_to"] = "The last day must not be before the first."
    if fields:
        raise ValidationFailed(fields)
    row = WorkingHours(provider_id=provider.id, weekday=weekday, start_time=start, end_time=end,
                       valid_from=valid_from, valid_to=valid_to)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "working_hours.added", row, None,
                 audit.snapshot(row, ("provider_id", "weekday", "start_time", "end_time", "valid_from", "valid_to")))
    db.session.commit()
    return row


SERVICE_NUMBERS = {
    "duration_minutes": (5, 480), "buffer_minutes": (0, 120), "min_notice_minutes": (0, 10080),
    "max_advance_days": (1, 730), "cancel_window_hours": (0, 168), "slot_step_minutes": (5, 120),
}
SERVICE_FIELDS = ("name", "online_bookable", "active", *SERVICE_NUMBERS)


def update_service(service: Service, data: dict, *, actor: audit.Actor) -> None:
    fields: dict[str, str] = {}
    values = {}
    for name, (low, high) in SERVICE_NUMBERS.items():
        raw = str(data.get(name, "")).strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            fields[name] = f"A whole number from {low} to {high}."
        else:
            values[name] = int(raw)
    name = " ".join(str(data.get("name", "")).split())
    if not name or len(name) > 120:
        fields["name"] = "Give the service a name (at most 120 characters)."
    if fields:
        raise ValidationFailed(fields)
    before = audit.snapshot(service, SERVICE_FIELDS)
    service.name = name
    service.online_bookable = _flag(data.get("online_bookable"), "online_bookable", fields)
    service.active = _flag(data.get("active"), "active", fields)
    for key, value in values.items():
        setattr(service, key, value)
    audit.record(actor, "service.updated", service, before, audit.snapshot(service, SERVICE_FIELDS))
    db.session.commit()


PROVIDER_FIELDS = ("name", "title", "colour", "active", "accepts_online_booking")


def save_provider(provider: Provider | None, data: dict, *, actor: audit.Actor) -> Provider:
    """Add a provider (provider=None) or change one: name, title, colour, active, online."""
    fields: dict[str, str] = {}
    name = " ".join(str(data.get("name", "")).split())
    if not name or len(name) > 120:
        fields["name"] = "Give the provider a name (at most 120 characters)."
    colour = str(data.get("colour", "#2f6f9f")).strip()
    if len(colour) != 7 or colour[0] != "#" or any(c not in "0123456789abcdefABCDEF" for c in colour[1:]):
        fields["colour"] = "A colour such as #2f6f9f."
    if fields:
        raise ValidationFailed(fields)
    before = audit.snapshot(provider, PROVIDER_FIELDS) if provider else None
    if provider is None:
        provider = Provider(name=name)
        db.session.add(provider)
    provider.name = name
    provider.title = " ".join(str(data.get("title", "")).split())[:120]
    provider.colour = colour.lower()
    provider.active = _flag(data.get("active"), "active", fields)
    provider.accepts_online_booking = _flag(data.get("accepts_online_booking"), "accepts_online_booking", fields)
    db.session.flush()
    audit.record(actor, "provider.saved", provider, before, audit.snapshot(provider, PROVIDER_FIELDS))
    db.session.commit()
    return provider


def today_local() -> date:
    return now().astimezone(clinic_tz()).date()


def upcoming(days: int = 365) -> tuple[list[Closure], list[TimeOff]]:
    today = today_local()
    closures = db.session.scalars(select(Closure).where(Closure.last_day >= today).order_by(Closure.first_day)).all()
    off = db.session.scalars(
        select(TimeOff).where(TimeOff.ends_at >= day_span(today, clinic_tz()).start,
                              TimeOff.starts_at < day_span(today + timedelta(days=days), clinic_tz()).end)
        .order_by(TimeOff.starts_at)
    ).all()
    return list(closures), list(off)
