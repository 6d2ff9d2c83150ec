"""Clinic wall time <-> instants, refusing times that a DST change skips or repeats."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo


class WallTimeError(ValueError):
    """A local time that does not exist (spring forward) or occurs twice (fall back)."""


def is_missing(local: datetime) -> bool:
    round_trip = local.astimezone(UTC).astimezone(local.tzinfo)
    return round_trip.replace(tzinfo=None) != local.replace(tzinfo=None)


def is_ambiguous(local: datetime) -> bool:
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def to_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a wall time in the clinic; a skipped or repeated time is refused."""
    local = datetime.combine(day, at, tzinfo=tz)
    if is_missing(local):
        raise WallTimeError(f"{day} {at:%H:%M} does not exist in {tz.key} (clocks spring forward)")
    if is_ambiguous(local):
        raise WallTimeError(f"{day} {at:%H:%M} happens twice in {tz.key} (clocks fall back)")
    return local.astimezone(UTC)


def to_instant_lenient(day: date, at: time, tz: ZoneInfo) -> datetime:
    """For window edges: a skipped time moves forward, a repeated one takes its first pass."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()
