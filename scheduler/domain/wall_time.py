"""Clinic wall time <-> instants, refusing times that a DST change skips or repeats."""
from __future__ import annotations

import math
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


def window_opening(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Where a working window opening at `at` starts, so it holds no wall time before `at`.

    A skipped time opens when the clocks jump forward; a repeated one on its second pass.
    """
    return _window_edge(day, at, tz, fold=1)


def window_closing(day: date, at: time, tz: ZoneInfo) -> datetime:
    """Where a working window closing at `at` ends, so it holds no wall time at or after `at`.

    A skipped time closes when the clocks jump forward; a repeated one on its first pass.
    """
    return _window_edge(day, at, tz, fold=0)


def _window_edge(day: date, at: time, tz: ZoneInfo, *, fold: int) -> datetime:
    local = datetime.combine(day, at, tzinfo=tz)
    if is_missing(local):
        return _end_of_gap(local)
    return local.replace(fold=fold).astimezone(UTC)


def _end_of_gap(local: datetime) -> datetime:
    """The instant the clocks jumped over the skipped wall time `local` (whole seconds)."""
    tz = local.tzinfo
    first, second = local.replace(fold=0).astimezone(UTC), local.replace(fold=1).astimezone(UTC)
    low, high = math.floor(min(first, second).timestamp()), math.ceil(max(first, second).timestamp())
    after = datetime.fromtimestamp(high, tz).utcoffset()
    while high - low > 1:  # `low` shows the old offset, `high` the new one
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()
