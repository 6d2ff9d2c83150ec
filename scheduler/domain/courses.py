"""Planning a course of care: a prescription and everyone's busy times in, a plan out.

Pure: no Flask, no clock (the earliest allowed start is passed in), no database.

The course runs in blocks of seven days starting on its first day ("week 1" is the first
day and the six after it), so every week has each weekday once and holds exactly
`visits_per_week` visits, placed or reported unplaceable. Each visit is placed by the
first rule that works:

1. its preferred weekday, at the preferred time (or the earliest open time of the window);
2. the nearest open time inside the window that day (the working day when only a time was
   given);
3. another day of the same week that keeps the minimum gap to every other visit;
4. steps 1-3 with another provider, when that is allowed;
5. else it is unplaceable, with the reason.

Times are clinic wall times expanded day by day and turned into instants on each day, so
a 09:00 course stays at 09:00 local across a daylight-saving change. A preferred time the
change skips or repeats that day is not guessed at: the visit is placed by the next rule
and says why.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .availability import Closures, ProviderSchedule, working_intervals
from .intervals import BusyIndex, Interval
from .visit_fit import misfit
from .wall_time import WallTimeError, is_missing, to_instant, window_closing, window_opening

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Spread over Monday to Friday when no weekdays are given.
DEFAULT_WEEKDAYS = {1: (0,), 2: (0, 3), 3: (0, 2, 4), 4: (0, 1, 3, 4), 5: (0, 1, 2, 3, 4)}

AS_REQUESTED = "as_requested"
MOVED = "moved"
UNPLACEABLE = "unplaceable"

# Why a visit is not where it was asked for (the web layer words them).
TIME_TAKEN = "time_taken"                # another time the same day
TIME_SKIPPED = "time_skipped"            # the preferred time does not exist that day (DST)
TIME_REPEATED = "time_repeated"          # the preferred time happens twice that day (DST)
DAY_CLOSED = "day_closed"                # the clinic is closed on the preferred day
DAY_NOT_WORKING = "day_not_working"      # the provider does not work (or is off) that day
DAY_FULL = "day_full"                    # no open time in the window that day
DAY_PAST = "day_past"                    # the preferred day is already over
TOO_CLOSE = "too_close"                  # the preferred day breaks the gap to another visit


class PrescriptionInvalid(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class Prescription:
    first_day: date
    weeks: int
    visits_per_week: int
    weekdays: tuple[int, ...] = ()          # Monday = 0; empty: spread over the week
    preferred_time: time | None = None
    window: tuple[time, time] | None = None
    min_gap_days: int = 1
    allow_other_provider: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.weeks <= 52 or not 1 <= self.visits_per_week <= 7:
            raise ValueError("weeks or visits per week out of range")
        if self.weekdays and (len(set(self.weekdays)) != self.visits_per_week
                              or any(not 0 <= d <= 6 for d in self.weekdays)):
            raise ValueError("give one distinct weekday per visit of the week")
        if self.window is not None and self.window[1] <= self.window[0]:
            raise ValueError("the window must end after it starts")
        if self.min_gap_days < 0:
            raise ValueError("the gap cannot be negative")

    @property
    def days_of_week(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.weekdays))) if self.weekdays else DEFAULT_WEEKDAYS.get(
            self.visits_per_week, tuple(range(self.visits_per_week))
        )


@dataclass(frozen=True)
class Fixed:
    """A visit already booked (extending a course, offering a make-up): kept as it is,
    counted for the gap and never overlapped."""

    start: datetime
    blocks_until: datetime


@dataclass(frozen=True)
class Calendar:
    """What the planner knows about the clinic: the providers it may use (the course's
    own first, then the others in the order to try), their schedules, closures."""

    schedules: tuple[ProviderSchedule, ...]
    closures: Closures
    tz: ZoneInfo
    duration: timedelta
    buffer: timedelta = timedelta(0)
    step: timedelta = timedelta(minutes=15)
    not_before: datetime | None = None      # nothing starts earlier (now, for staff)
    patient_busy: tuple[Interval, ...] = ()  # the patient's other visits


@dataclass(frozen=True, order=True)
class PlannedVisit:
    number: int
    week: int                                # 1-based
    day: date                                # the day it was asked for
    start: datetime | None = field(default=None, compare=False)
    end: datetime | None = field(default=None, compare=False)
    provider_id: int | None = field(default=None, compare=False)
    status: str = field(default=AS_REQUESTED, compare=False)
    # Why it is not at the preferred day and time (None when it is); for an unplaceable
    # visit, why its preferred day would not do (and no other day of the week would either).
    reason: str | None = field(default=None, compare=False)
    other_provider: bool = field(default=False, compare=False)
    # The closure's name when a closure on the preferred day moved it ("Christmas Day").
    closure: str | None = field(default=None, compare=False)


def week_days(first_day: date, week: int) -> list[date]:
    """The seven days of a course week (1-based)."""
    start = first_day + timedelta(days=7 * (week - 1))
    return [start + timedelta(days=i) for i in range(7)]


class _Planner:
    def __init__(self, prescription: Prescription, calendar: Calendar, fixed: Sequence[Fixed]) -> None:
        self.rx = prescription
        self.cal = calendar
        self.busy = {s.provider_id: BusyIndex(s.busy) for s in calendar.schedules}
        # The course's own visits (and the patient's others) as [start, blocks_until).
        self.own: list[Interval] = [Interval(f.start, f.blocks_until) for f in fixed]
        self.own_days: list[date] = [self._day(f.start) for f in fixed]
        self.patient = BusyIndex(calendar.patient_busy)

    def _day(self, instant: datetime) -> date:
        return instant.astimezone(self.cal.tz).date()

    # --- one candidate -----------------------------------------------------------------

    def _free(self, schedule: ProviderSchedule, start: datetime) -> bool:
        """Open at `start`: inside the provider's hours and clear of everything busy."""
        end = start + self.cal.duration
        if misfit(schedule, start, end, end + self.cal.buffer, tz=self.cal.tz, closures=self.cal.closures,
                  busy=self.busy[schedule.provider_id]) is not None:
            return False
        return self._clear(schedule, start)

    def _clear(self, schedule: ProviderSchedule, start: datetime) -> bool:
        """Clear of the provider's busy times, the patient's visits and the course's own
        (hours already known to fit)."""
        end = start + self.cal.duration
        blocks = end + self.cal.buffer
        if self.cal.not_before is not None and start < self.cal.not_before:
            return False
        if not self.busy[schedule.provider_id].is_free_between(start, blocks):
            return False
        if not self.patient.is_free_between(start, end):
            return False
        return not any(own.start < blocks and start < own.end for own in self.own)

    def _keeps_gap(self, day: date, others: Sequence[date] = ()) -> bool:
        gap = self.rx.min_gap_days
        return all(abs((day - other).days) >= gap for other in [*self.own_days, *others])

    def _window_on(self, day: date) -> Interval | None:
        if self.rx.window is None:
            return None
        opens = window_opening(day, self.rx.window[0], self.cal.tz)
        closes = window_closing(day, self.rx.window[1], self.cal.tz)
        return Interval(opens, closes) if closes > opens else None

    def _candidates(self, schedule: ProviderSchedule, day: date) -> list[datetime]:
        """Open starts that day on the working grid, inside the preferred window if any."""
        limit = self._window_on(day) if self.rx.window else None
        if self.rx.window and limit is None:
            return []
        starts = []
        for working in working_intervals(schedule, day, self.cal.tz, self.cal.closures):
            start = working.start
            while start + self.cal.duration <= working.end:
                inside = limit is None or (limit.start <= start and start + self.cal.duration <= limit.end)
                if inside and self._clear(schedule, start):
                    starts.append(start)
                start += self.cal.step
        return starts

    def _preferred_instant(self, day: date) -> tuple[datetime | None, str | None]:
        if self.rx.preferred_time is None:
            return None, None
        try:
            return to_instant(day, self.rx.preferred_time, self.cal.tz), None
        except WallTimeError:
            local = datetime.combine(day, self.rx.preferred_time, tzinfo=self.cal.tz)
            return None, TIME_SKIPPED if is_missing(local) else TIME_REPEATED

    def _on_day(self, schedule: ProviderSchedule, day: date) -> tuple[datetime | None, str | None]:
        """(start, None) at the preferred time; (start, reason) at the nearest other open
        time that day; (None, why not) when nothing that day will do."""
        wanted, dst_reason = self._preferred_instant(day)
        if wanted is not None and self._in_window(day, wanted) and self._free(schedule, wanted):
            return wanted, None
        candidates = self._candidates(schedule, day)
        if not candidates:
            return None, self._why_not(schedule, day)
        if wanted is None and dst_reason is None:
            return candidates[0], None  # only a window was asked for: its earliest open time
        # A skipped time is measured from when the clocks jumped, a repeated one from its second pass.
        target = wanted or window_opening(day, self.rx.preferred_time, self.cal.tz)
        best = min(candidates, key=lambda s: (abs(s - target), s))
        return best, dst_reason or TIME_TAKEN

    def _in_window(self, day: date, start: datetime) -> bool:
        limit = self._window_on(day)
        if self.rx.window is None:
            return True
        return limit is not None and limit.start <= start and start + self.cal.duration <= limit.end

    def _why_not(self, schedule: ProviderSchedule, day: date) -> str:
        if self.cal.closures.closed_on(day):
            return DAY_CLOSED
        if self.cal.not_before is not None and day < self._day(self.cal.not_before):
            return DAY_PAST
        if not working_intervals(schedule, day, self.cal.tz, self.cal.closures):
            return DAY_NOT_WORKING
        if self.cal.not_before is not None and day == self._day(self.cal.not_before):
            end_of_work = max(w.end for w in working_intervals(schedule, day, self.cal.tz, self.cal.closures))
            if end_of_work <= self.cal.not_before:
                return DAY_PAST
        return DAY_FULL

    # --- one visit ---------------------------------------------------------------------

    def place(self, number: int, week: int, day: date, days: list[date], later_targets: list[date]) -> PlannedVisit:
        visit = PlannedVisit(number, week, day)
        first_reason: str | None = None
        for index, schedule in enumerate(self.cal.schedules):
            if index > 0 and not self.rx.allow_other_provider:
                break
            placed, reason = self._place_with(schedule, day, days, later_targets)
            first_reason = first_reason or reason
            if placed is not None:
                reason = first_reason if index > 0 else reason
                self._take(placed)
                return replace(
                    visit, start=placed, end=placed + self.cal.duration, provider_id=schedule.provider_id,
                    status=AS_REQUESTED if reason is None and index == 0 else MOVED, reason=reason,
                    other_provider=index > 0, closure=self._closure_named(reason, day),
                )
        return replace(visit, status=UNPLACEABLE, reason=first_reason, closure=self._closure_named(first_reason, day))

    def _closure_named(self, reason: str | None, day: date) -> str | None:
        return self.cal.closures.name_on(day) if reason == DAY_CLOSED else None

    def _place_with(self, schedule, day, days, later_targets) -> tuple[datetime | None, str | None]:
        day_reason = None
        if self._keeps_gap(day):
            start, reason = self._on_day(schedule, day)
            if start is not None:
                return start, reason
            day_reason = reason
        else:
            day_reason = TOO_CLOSE
        # Another day of the same week: nearest first (later before earlier on a tie);
        # first keeping the gap to the week's remaining preferred days too, then not.
        others = sorted((d for d in days if d != day), key=lambda d: (abs((d - day).days), d < day))
        for respect_later in (True, False):
            for other in others:
                if not self._keeps_gap(other, later_targets if respect_later else ()):
                    continue
                start, _reason = self._on_day(schedule, other)
                if start is not None:
                    return start, day_reason
        return None, day_reason

    def _take(self, start: datetime) -> None:
        self.own.append(Interval(start, start + self.cal.duration + self.cal.buffer))
        self.own_days.append(self._day(start))


def plan_course(
    prescription: Prescription,
    calendar: Calendar,
    *,
    first_week: int = 1,
    first_number: int = 1,
    fixed: Sequence[Fixed] = (),
) -> list[PlannedVisit]:
    """Plan weeks first_week .. prescription.weeks (1-based), numbering visits from
    first_number in date order. `fixed` visits are kept and never overlapped."""
    if not calendar.schedules:
        raise ValueError("a course needs at least its own provider")
    planner = _Planner(prescription, calendar, fixed)
    visits: list[PlannedVisit] = []
    number = first_number
    for week in range(first_week, prescription.weeks + 1):
        days = week_days(prescription.first_day, week)
        targets = [d for d in days if d.weekday() in prescription.days_of_week]
        week_visits = []
        for i, day in enumerate(targets):
            week_visits.append(planner.place(number, week, day, days, targets[i + 1:]))
            number += 1
        visits.extend(_renumbered(week_visits))
    return visits


def _renumbered(week_visits: list[PlannedVisit]) -> list[PlannedVisit]:
    """Within a week, placed visits are numbered in date order (a visit moved past the
    next one swaps numbers with it); unplaceable ones keep their slot after them."""
    numbers = sorted(v.number for v in week_visits)
    ordered = sorted(week_visits, key=lambda v: (v.start is None, v.start.timestamp() if v.start else 0, v.number))
    return [replace(v, number=n) for v, n in zip(ordered, numbers, strict=True)]


def make_up_options(
    prescription: Prescription,
    calendar: Calendar,
    *,
    week: int,
    last_week: int,
    fixed: Sequence[Fixed],
    count: int = 3,
) -> list[tuple[datetime, int]]:
    """Open times for a make-up visit: up to `count` in the same course week (one a day,
    keeping the gap to every other visit), then the first one after the course's last
    week. Returns (start, provider_id) pairs, the same week's first."""
    planner = _Planner(prescription, calendar, fixed)
    schedules = calendar.schedules if prescription.allow_other_provider else calendar.schedules[:1]

    def first_open(day: date) -> tuple[datetime, int] | None:
        """The first provider's open time that day, if the day keeps the gap."""
        if not planner._keeps_gap(day):
            return None
        for schedule in schedules:
            start, _reason = planner._on_day(schedule, day)
            if start is not None:
                return start, schedule.provider_id
        return None

    options: list[tuple[datetime, int]] = []
    for day in week_days(prescription.first_day, week):
        if len(options) >= count:
            break
        if found := first_open(day):
            options.append(found)
    for extra_week in (last_week + 1, last_week + 2):
        for day in week_days(prescription.first_day, extra_week):
            if found := first_open(day):
                return [*options, found]
    return options
    return options
