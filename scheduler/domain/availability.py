"""Open slots from working hours, breaks, time off, closures, bookings and booking rules.

Everything is planned in the clinic's wall time and compared as UTC instants, so a
09:00 opening stays 09:00 local on both sides of a daylight-saving change.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache, partial
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .intervals import BusyIndex, Interval
from .wall_time import window_closing, window_opening


@dataclass(frozen=True)
class WeeklyWindow:
    """A working window on a weekday (Monday = 0), in wall time, optionally dated."""

    weekday: int
    start: time
    end: time
    valid_from: date | None = None
    valid_to: date | None = None

    def applies_on(self, day: date) -> bool:
        if day.weekday() != self.weekday:
            return False
        if self.valid_from is not None and day < self.valid_from:
            return False
        return self.valid_to is None or day <= self.valid_to


@dataclass(frozen=True)
class ProviderSchedule:
    provider_id: int
    windows: tuple[WeeklyWindow, ...]
    # Time off and the blocks of existing appointments ([start, end + buffer))
    busy: tuple[Interval, ...] = ()


@dataclass(frozen=True)
class BookingRules:
    duration: timedelta
    buffer: timedelta = timedelta(0)
    step: timedelta = timedelta(minutes=15)
    min_notice: timedelta = timedelta(0)
    # Whole clinic-local days: 60 means "through the end of the day 60 days from today", so
    # the last day on offer is bookable all day, whatever the time it is now.
    max_advance_days: int = 60

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0) or self.step <= timedelta(0):
            raise ValueError("duration and step must be positive")
        if self.buffer < timedelta(0) or self.min_notice < timedelta(0) or self.max_advance_days < 0:
            raise ValueError("buffer, notice and advance cannot be negative")


def last_bookable_day(now: datetime, tz: ZoneInfo, max_advance_days: int) -> date:
    """The last clinic-local date a visit may start on."""
    return now.astimezone(tz).date() + timedelta(days=max_advance_days)


class Slot(NamedTuple):
    """An open time of one provider. A tuple, because a six-week answer holds thousands:
    built and sorted (by start, then end, then provider) at C speed."""

    start: datetime
    end: datetime
    provider_id: int


# Slot((start, end, provider_id)) without the Python-level __new__ a NamedTuple has: the
# slot search builds thousands.
_new_slot = partial(tuple.__new__, Slot)


@dataclass(frozen=True)
class Closures:
    """Clinic-wide closed days: inclusive (first, last) local-date ranges."""

    ranges: tuple[tuple[date, date], ...] = ()

    def closed_on(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.ranges)


def days_between(first_day: date, last_day: date) -> Iterable[date]:
    day = first_day
    while day <= last_day:
        yield day
        day += timedelta(days=1)


def working_intervals(
    schedule: ProviderSchedule, day: date, tz: ZoneInfo, closures: Closures
) -> list[Interval]:
    if closures.closed_on(day):
        return []
    return _windows_on(day, WeeklyHours.of(schedule.windows).on(day.weekday()), tz)


@dataclass(frozen=True)
class WeeklyHours:
    """A schedule's windows grouped by weekday once, instead of testing every window on every day."""

    by_weekday: dict[int, tuple[WeeklyWindow, ...]]

    @classmethod
    def of(cls, windows: Iterable[WeeklyWindow]) -> WeeklyHours:
        grouped: dict[int, list[WeeklyWindow]] = defaultdict(list)
        for window in windows:
            grouped[window.weekday].append(window)
        return cls({weekday: tuple(found) for weekday, found in grouped.items()})

    def on(self, weekday: int) -> tuple[WeeklyWindow, ...]:
        return self.by_weekday.get(weekday, ())


def _windows_on(day: date, windows: Sequence[WeeklyWindow], tz: ZoneInfo) -> list[Interval]:
    """The day's windows as instants, sorted; `windows` are that weekday's."""
    intervals = []
    for window in windows:
        if (window.valid_from is not None and day < window.valid_from) or (
            window.valid_to is not None and day > window.valid_to
        ):
            continue
        # On a changeover night the edges are chosen so the window keeps only wall
        # times inside [start, end); a window made only of skipped or repeated times
        # comes out empty.
        interval = _window_on(day, window.start, window.end, tz)
        if interval is not None:
            intervals.append(interval)
    if len(intervals) > 1:
        intervals.sort()
    return intervals


@lru_cache(maxsize=4096)
def _window_on(day: date, opens: time, closes: time, tz: ZoneInfo) -> Interval | None:
    """One window's instants on one day; shared by every provider with the same hours."""
    start = window_opening(day, opens, tz)
    end = window_closing(day, closes, tz)
    return Interval(start, end) if end > start else None


def find_slots(
    schedules: Sequence[ProviderSchedule],
    rules: BookingRules,
    *,
    tz: ZoneInfo,
    now: datetime,
    first_day: date,
    last_day: date,
    closures: Closures = Closures(),
) -> list[Slot]:
    """Every bookable slot between two clinic-local dates (inclusive), sorted by start.

    A slot is [start, start + duration) inside one working window; the time it blocks,
    [start, start + duration + buffer), must not touch anything busy. Starts are stepped
    from the window's opening, no earlier than now + notice, on a day no later than the
    last bookable day.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    earliest = now + rules.min_notice
    last_day = min(last_day, last_bookable_day(now, tz, rules.max_advance_days))
    open_days = [day for day in days_between(first_day, last_day) if not closures.closed_on(day)]
    # Each day's windows, worked out once for all providers with the same hours.
    plans: dict[tuple[WeeklyWindow, ...], list[DayPlan]] = {}
    slots: list[Slot] = []
    for schedule in schedules:
        plan = plans.get(schedule.windows)
        if plan is None:
            plan = plans[schedule.windows] = _day_plans(schedule.windows, open_days, tz, rules.duration)
        slots.extend(_provider_slots(plan, schedule.provider_id, rules, BusyIndex(schedule.busy), earliest))
    slots.sort()  # every slot is as long as the service, so (start, end, provider) is (start, provider)
    return slots


class DayPlan(NamedTuple):
    """One day's working windows as (opening, last possible start) instants, sorted."""

    windows: list[tuple[datetime, datetime]]
    overlapping: bool  # two windows overlap: a start must be offered once


def _day_plans(
    windows: tuple[WeeklyWindow, ...], days: list[date], tz: ZoneInfo, duration: timedelta
) -> list[DayPlan]:
    hours = WeeklyHours.of(windows)
    plans = []
    for day in days:
        weekday_windows = hours.on(day.weekday())
        if not weekday_windows:
            continue
        intervals = _windows_on(day, weekday_windows, tz)
        edges = [(w.start, w.end - duration) for w in intervals if w.start <= w.end - duration]
        if edges:
            overlapping = any(later.start < earlier.end for earlier, later in zip(intervals, intervals[1:], strict=False))
            plans.append(DayPlan(edges, overlapping))
    return plans


def _provider_slots(
    plans: list[DayPlan], provider_id: int, rules: BookingRules, busy: BusyIndex, earliest: datetime
) -> list[Slot]:
    """One provider's open starts, found gap by gap: a bisect per window, then a walk along
    the busy stretches; every start in a free stretch is computed, not tested one by one."""
    step, duration = rules.step, rules.duration
    blocked = duration + rules.buffer
    busy_starts, busy_ends = busy.starts, busy.ends
    count = len(busy_ends)
    slots: list[Slot] = []
    for windows, overlapping in plans:
        out = [] if overlapping else slots
        for first, last in windows:
            if first < earliest:
                # Jump to the first step at or after `earliest`, keeping the window's alignment.
                first += -(-(earliest - first) // step) * step
                if first > last:
                    continue
            i = bisect_right(busy_ends, first)  # the first busy stretch ending after `first`
            start = first
            while start <= last:
                while i < count and busy_ends[i] <= start:
                    i += 1
                if i < count and busy_starts[i] < start + blocked:
                    # Blocked by stretch i: the next candidate is the first step at or after its end.
                    start = first + -(-(busy_ends[i] - first) // step) * step
                    continue
                # Free from `start` until stretch i begins: every step whose block ends by then.
                upto = last if i == count else min(last, busy_starts[i] - blocked)
                steps = (upto - start) // step + 1
                out.extend([_new_slot((s, s + duration, provider_id)) for s in [start + k * step for k in range(steps)]])
                start += steps * step
        if overlapping:
            slots.extend(dict.fromkeys(out))  # overlapping windows offer a start once
    return slots


def one_per_start(slots: Iterable[Slot], preference: Sequence[int] = ()) -> list[Slot]:
    """For "first available": one slot per start time.

    Where several providers are free at the same time, the one earliest in `preference`
    wins (the services layer passes the least busy first, to spread the work); providers
    not named there come after, by id.
    """
    rank = {provider_id: i for i, provider_id in enumerate(preference)}
    chosen: dict[datetime, Slot] = {}
    for slot in slots:
        current = chosen.get(slot.start)
        key = (rank.get(slot.provider_id, len(rank)), slot.provider_id)
        if current is None or key < (rank.get(current.provider_id, len(rank)), current.provider_id):
            chosen[slot.start] = slot
    return sorted(chosen.values())


def nearest(slots: Iterable[Slot], target: datetime, count: int = 3) -> list[Slot]:
    """The open slots closest in time to what was asked for (offered after a conflict)."""
    return sorted(sorted(slots, key=lambda s: (abs(s.start - target), s.start))[:count])
