"""Clinic settings an admin changes: weekly hours with validity dates, services, providers.
One transaction per change, audited. Closures and time off, which can cancel the visits they
hit, are closures/closing.py's."""
from __future__ import annotations

from datetime import date, datetime, time

from scheduler.extensions import db
from scheduler.models import Closure, Provider, Service, TimeOff, WorkingHours
from scheduler.services.common import audit
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.common.parsing import parse_flag, parse_iso_day, row_id


def _clock_time(raw: object, name: str, fields: dict[str, str]) -> time | None:
    try:
        return time.fromisoformat(str(raw))
    except ValueError:
        fields[name] = "Use a time such as 08:00."
        return None


def add_hours(data: dict, *, actor: audit.Actor) -> WorkingHours:
    """One weekly window (several a day make the breaks), optionally valid between dates.
    Commits."""
    fields: dict[str, str] = {}
    raw_provider = data.get("provider_id")
    provider_id = row_id(raw_provider)
    provider = db.session.get(Provider, provider_id) if provider_id is not None else None
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


def remove(row: Closure | TimeOff | WorkingHours, actor: audit.Actor) -> None:
    """Ending a working window, or (for closures/closing.lift, which first frees its time for
    the waitlist) a closure or time off: the row goes, the audit keeps every column. Commits."""
    before = {c.name: getattr(row, c.name) for c in row.__table__.columns}
    before = {k: v.isoformat() if isinstance(v, (date, datetime, time)) else v for k, v in before.items()}
    audit.record(actor, f"{row.__tablename__}.removed", row, before, None)
    db.session.delete(row)
    db.session.commit()


SERVICE_NUMBERS = {
    "duration_minutes": (5, 480), "buffer_minutes": (0, 120), "min_notice_minutes": (0, 10080),
    "max_advance_days": (1, 730), "cancel_window_hours": (0, 168), "slot_step_minutes": (5, 120),
}
SERVICE_FIELDS = ("name", "online_bookable", "active", *SERVICE_NUMBERS)


def update_service(service: Service, data: dict, *, actor: audit.Actor) -> None:
    """A service's name, length, buffer, start-time step, notice, booking horizon,
    cancellation window and whether it is bookable online and active. Commits."""
    fields: dict[str, str] = {}
    values = {}
    for name, (low, high) in SERVICE_NUMBERS.items():
        raw = str(data.get(name, "")).strip()
        if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
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
    service.online_bookable = parse_flag(data.get("online_bookable"), "online_bookable", fields)
    service.active = parse_flag(data.get("active"), "active", fields)
    for key, value in values.items():
        setattr(service, key, value)
    audit.record(actor, "service.updated", service, before, audit.snapshot(service, SERVICE_FIELDS))
    db.session.commit()


PROVIDER_FIELDS = ("name", "title", "colour", "active", "accepts_online_booking")


def save_provider(provider: Provider | None, data: dict, *, actor: audit.Actor) -> Provider:
    """Add a provider (provider=None) or change one: name, title, colour, active, online.
    Commits."""
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
    provider.active = parse_flag(data.get("active"), "active", fields)
    provider.accepts_online_booking = parse_flag(data.get("accepts_online_booking"), "accepts_online_booking", fields)
    db.session.flush()
    audit.record(actor, "provider.saved", provider, before, audit.snapshot(provider, PROVIDER_FIELDS))
    db.session.commit()
    return provider
