"""Turning domain results into what pages and JSON show (clinic-local, ISO with offset)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, url_for

from scheduler.domain.availability import OpenTimes, Slot, from_micros
from scheduler.models import Appointment
from scheduler.services.common.clock import clinic_tz, now


def local_iso(instant: datetime, tz: ZoneInfo | None = None) -> str:
    return instant.astimezone(tz or clinic_tz()).isoformat()


def slot_json(slot: Slot, tz: ZoneInfo | None = None) -> dict:
    """A slot for the API; pass `tz` when serialising many (a six-week answer has thousands)."""
    tz = tz or clinic_tz()
    return {"start": local_iso(slot.start, tz), "end": local_iso(slot.end, tz), "provider_id": slot.provider_id}


def slots_json_text(times: OpenTimes, tz: ZoneInfo) -> str:
    """Open slots as a JSON array of slot_json objects, written directly from the search's
    integers: a six-week answer holds thousands, and building a datetime and a dict for each
    only to encode them again cost more than the search. Providers free at the same time sit
    side by side, so each time is formatted once. ISO instants and integers need no escaping."""
    tails = {}  # '<provider id>}' for each provider
    parts = []
    previous = None
    head = ""
    for start, provider_id in times.starts:
        if start != previous:
            previous = start
            head = _slot_head(start, times.duration, tz)
        tail = tails.get(provider_id)
        if tail is None:
            tail = tails[provider_id] = f"{int(provider_id)}}}"
        parts.append(head + tail)
    return "[" + ",".join(parts) + "]"


@lru_cache(maxsize=16384)
def _slot_head(start: int, duration: int, tz: ZoneInfo) -> str:
    """The same times are asked for again and again: format each once per process."""
    begins = from_micros(start)
    ends = begins + timedelta(microseconds=duration)
    return f'{{"start":"{begins.astimezone(tz).isoformat()}","end":"{ends.astimezone(tz).isoformat()}","provider_id":'


def today_local() -> date:
    return now().astimezone(clinic_tz()).date()


# Dates outside these years are refused like malformed ones: nothing is bookable there, and
# date arithmetic near date.min / date.max would overflow.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2999, 12, 31)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_day(raw: str | None, default: date) -> date | None:
    """A YYYY-MM-DD date, the default when absent, None when malformed or out of range.

    Only the extended calendar form: date.fromisoformat alone would also take 20261201 and
    2026-W49-2."""
    if raw in (None, ""):
        return default
    if not isinstance(raw, str) or not _ISO_DAY.fullmatch(raw):
        return None
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if EARLIEST_DAY <= parsed <= LATEST_DAY else None


@dataclass(frozen=True)
class DayWindow:
    """The days one page of the day picker shows, and where "earlier" and "later" lead."""

    first: date
    last: date
    previous: date | None
    next: date | None

    @classmethod
    def starting(cls, first: date, length: int, earliest: date, latest: date) -> DayWindow:
        """`earliest` is today; `latest` the last day the service can be booked."""
        # A page past the horizon shows the last bookable days instead of empty weeks.
        first = max(earliest, min(first, latest - timedelta(days=length - 1)))
        back = first - timedelta(days=length)
        forward = first + timedelta(days=length)
        return cls(
            first=first,
            last=first + timedelta(days=length - 1),
            previous=max(back, earliest) if first > earliest else None,
            next=forward if forward <= latest else None,
        )


def external_url(endpoint: str, **values) -> str:
    """Links that leave the site (emails, texts, API answers) use the public base URL."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for(endpoint, **values)


def appointment_json(appointment: Appointment, token: str) -> dict:
    return {
        "id": appointment.id,
        "status": appointment.status,
        "start": local_iso(appointment.starts_at),
        "end": local_iso(appointment.ends_at),
        "provider_id": appointment.provider_id,
        "manage_url": external_url("patient.manage.show", token=token),
        "ics_url": external_url("patient.manage.calendar", token=token),
    }
