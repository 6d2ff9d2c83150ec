"""Open slots from working hours, breaks, time off, closures, bookings and booking rules.

Everything is planned in the clinic's wall time and compared as UTC instants, so a
09:00 opening stays 09:00 local on both sides of a daylight-saving change.
"""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, partial
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .intervals import Interval, merge
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
    """Clinic-wide closed days: inclusive (first, last) local-date ranges, and the closures'
    names in the same order when known ("Christmas Day")."""

    ranges: tuple[tuple[date, date], ...] = ()
    names: tuple[str, ...] = ()

    def closed_on(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.ranges)

    def name_on(self, day: date) -> str | None:
        """The name of the closure on that day, if it has one."""
        for (first, last), name in zip(self.ranges, self.names, strict=False):
            if first <= day <= last and name:
                return name
        return None


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
    """The day's working stretches as instants, sorted; `windows` are that weekday's.

    Windows that touch or overlap are one stretch (13:00-17:00 and 17:00-20:00 are
    13:00-20:00), so a visit may run across the edge where one window meets the next."""
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
    return merge(intervals) if len(intervals) > 1 else intervals


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

    A slot is [start, start + duration) inside one working stretch (windows that touch or
    overlap joined); the time it blocks, [start, start + duration + buffer), must not touch
    anything busy. Starts are stepped from the stretch's opening, no earlier than now + notice, on a day no later than the
    last bookable day.
    """
    return find_open_times(
        schedules, rules, tz=tz, now=now, first_day=first_day, last_day=last_day, closures=closures
    ).slots()


# The search counts in whole microseconds since the Unix epoch (timedelta's own resolution, so
# nothing is rounded): a six-week answer holds thousands of starts, and integers from range()
# cost a fraction of datetimes built one by one.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def to_micros(instant: datetime) -> int:
    return (instant - EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    """The instant in UTC, as the search's datetimes have always been."""
    return EPOCH + timedelta(microseconds=micros)


class OpenTimes(NamedTuple):
    """The open slots as integers: (start, provider id) pairs sorted by start then provider,
    starts in microseconds since the epoch; every slot lasts `duration` microseconds."""

    starts: list[tuple[int, int]]
    duration: int

    def slots(self) -> list[Slot]:
        duration = timedelta(microseconds=self.duration)
        instants: dict[int, tuple[datetime, datetime]] = {}  # providers free at once share a time
        slots = []
        for start, provider_id in self.starts:
            edges = instants.get(start)
            if edges is None:
                begins = from_micros(start)
                edges = instants[start] = (begins, begins + duration)
            slots.append(_new_slot((*edges, provider_id)))
        return slots


def find_open_times(
    schedules: Sequence[ProviderSchedule],
    rules: BookingRules,
    *,
    tz: ZoneInfo,
    now: datetime,
    first_day: date,
    last_day: date,
    closures: Closures = Closures(),
) -> OpenTimes:
    """find_slots, as integers: what the JSON answer is written from without a datetime per slot."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    earliest = to_micros(now + rules.min_notice)
    last_day = min(last_day, last_bookable_day(now, tz, rules.max_advance_days))
    open_days = [day for day in days_between(first_day, last_day) if not closures.closed_on(day)]
    duration = rules.duration // _MICROSECOND
    step = rules.step // _MICROSECOND
    blocked = duration + rules.buffer // _MICROSECOND
    # Each day's windows, worked out once for all providers with the same hours.
    plans: dict[tuple[WeeklyWindow, ...], list[DayPlan]] = {}
    starts: list[tuple[int, int]] = []
    for schedule in sorted(schedules, key=_provider_id):
        plan = plans.get(schedule.windows)
        if plan is None:
            plan = plans[schedule.windows] = _day_plans(schedule.windows, open_days, tz, duration)
        busy_starts, busy_ends = busy_edges(schedule.busy)
        starts.extend(_provider_starts(plan, schedule.provider_id, step, blocked, busy_starts, busy_ends, earliest))
    # By start alone: the sort is stable and the providers came in order of id, so equal starts
    # stay ordered by provider, and comparing one integer costs a third of comparing pairs.
    starts.sort(key=_start)
    return OpenTimes(starts, duration)


_provider_id = attrgetter("provider_id")
_start = itemgetter(0)


def busy_edges(busy: Iterable[Interval]) -> tuple[list[int], list[int]]:
    """The merged cover of the busy intervals (touching ones joined, as BusyIndex does) as
    parallel lists of start and end microseconds, sorted."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted((to_micros(b.start), to_micros(b.end)) for b in busy):
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


class DayPlan(NamedTuple):
    """One day's working stretches as (opening, last possible start) microseconds, sorted;
    windows that touch or overlap are joined into one stretch first."""

    windows: list[tuple[int, int]]


def _day_plans(windows: tuple[WeeklyWindow, ...], days: list[date], tz: ZoneInfo, duration: int) -> list[DayPlan]:
    hours = WeeklyHours.of(windows)
    plans = []
    for day in days:
        weekday_windows = hours.on(day.weekday())
        if not weekday_windows:
            continue
        edges = sorted(
            found for window in weekday_windows
            if (window.valid_from is None or day >= window.valid_from)
            and (window.valid_to is None or day <= window.valid_to)
            and (found := _window_micros(day, window.start, window.end, tz)) is not None
        )
        stretches: list[tuple[int, int]] = []
        for opens, closes in edges:  # the same joining as intervals.merge, on integers
            if stretches and opens <= stretches[-1][1]:
                if closes > stretches[-1][1]:
                    stretches[-1] = (stretches[-1][0], closes)
            else:
                stretches.append((opens, closes))
        usable = [(opens, closes - duration) for opens, closes in stretches if opens <= closes - duration]
        if usable:
            plans.append(DayPlan(usable))
    return plans


@lru_cache(maxsize=4096)
def _window_micros(day: date, opens: time, closes: time, tz: ZoneInfo) -> tuple[int, int] | None:
    """_window_on in microseconds: (opening, closing), None when the window is empty that day."""
    interval = _window_on(day, opens, closes, tz)
    return None if interval is None else (to_micros(interval.start), to_micros(interval.end))


def _provider_starts(
    plans: list[DayPlan],
    provider_id: int,
    step: int,
    blocked: int,
    busy_starts: list[int],
    busy_ends: list[int],
    earliest: int,
) -> list[tuple[int, int]]:
    """One provider's open starts, found gap by gap: a bisect per window, then a walk along
    the busy stretches; the starts of a free stretch come from one range(), not one by one.
    `blocked` is the visit plus its buffer: the time a start must find free."""
    count = len(busy_ends)
    provider = repeat(provider_id)  # zip() stops at the end of each range without taking more
    starts: list[tuple[int, int]] = []
    for plan in plans:
        for first, last in plan.windows:
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
                free = range(start, upto + 1, step)
                starts.extend(zip(free, provider, strict=False))
                start = free[-1] + step
    return starts


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
