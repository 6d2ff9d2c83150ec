"""Closing the clinic (a closure: whole days) or a provider's diary (time off: wall times).

Adding either first lists the open visits inside it; saving can cancel them in the same
transaction, each told to the patient through events (cause "staff"). Lifting either frees
its time for the waitlist. One transaction per change, audited.

Cancelling visits puts this above appointments/, so it is not part of clinic/, which every
booking reads (the clinic's details)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from scheduler.domain.calendar_shading import day_span
from scheduler.domain.patient_details import N_, has_control_chars
from scheduler.domain.wall_time import WallTimeError, to_instant
from scheduler.extensions import db
from scheduler.models import OPEN_STATUSES, Appointment, Closure, Provider, TimeOff
from scheduler.services import events
from scheduler.services.appointments.staff_changes import cancel_in_transaction
from scheduler.services.clinic import settings as clinic_settings
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.common.parsing import parse_iso_day, parse_optional_flag, row_id

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
    preview = parse_optional_flag(data, "preview", fields)
    cancel = parse_optional_flag(data, "cancel_affected", fields)
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
    """data: provider_id, start, end (clinic wall times), reason, preview, cancel_affected.
    A preview reads only; saving commits, as a closure does. Commits."""
    fields: dict[str, str] = {}
    raw_provider = data.get("provider_id")
    provider_id = row_id(raw_provider)
    provider = db.session.get(Provider, provider_id) if provider_id is not None else None
    if provider is None:
        fields["provider_id"] = "Unknown provider."
    start = _wall_instant(data.get("start"), "start", fields)
    end = _wall_instant(data.get("end"), "end", fields)
    if start and end and end <= start:
        fields["end"] = "The end must be after the start."
    reason = _reason(data.get("reason"), fields, required=False)
    preview = parse_optional_flag(data, "preview", fields)
    cancel = parse_optional_flag(data, "cancel_affected", fields)
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


def lift(row: Closure | TimeOff, actor: audit.Actor) -> None:
    """Lifting a closure or time off: the time it blocked may suit someone on the waitlist,
    then the row goes as any setting's does. Commits."""
    if isinstance(row, Closure):
        events.closure_lifted(row)
    else:
        events.time_off_lifted(row)
    clinic_settings.remove(row, actor)


def today_local() -> date:
    """Today in clinic time. Reads only."""
    return now().astimezone(clinic_tz()).date()


def upcoming(days: int = 365) -> tuple[list[Closure], list[TimeOff]]:
    """Closures not over yet, and time off meeting the next `days` days, soonest first.
    Reads only."""
    today = today_local()
    closures = db.session.scalars(select(Closure).where(Closure.last_day >= today).order_by(Closure.first_day)).all()
    off = db.session.scalars(
        select(TimeOff).where(TimeOff.ends_at >= day_span(today, clinic_tz()).start,
                              TimeOff.starts_at < day_span(today + timedelta(days=days), clinic_tz()).end)
        .order_by(TimeOff.starts_at)
    ).all()
    return list(closures), list(off)
