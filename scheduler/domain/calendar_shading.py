"""What the desk calendar shades behind the visits: hours a provider does not work (breaks,
evenings, days off), their time off, and clinic closures. Pure: instants in, instants out."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .availability import Closures, ProviderSchedule, days_between, working_intervals
from .intervals import Interval, merge, subtract
from .wall_time import to_instant_lenient


@dataclass(frozen=True)
class Shade:
    provider_id: int
    start: datetime
    end: datetime
    kind: str  # "off_hours", "time_off" or "closure"
    label: str = ""


def day_span(day: date, tz: ZoneInfo) -> Interval:
    """A clinic-local day as instants (23 or 25 hours long on a changeover day)."""
    return Interval(to_instant_lenient(day, time(0), tz), to_instant_lenient(day + timedelta(days=1), time(0), tz))


def off_hours(schedule: ProviderSchedule, first_day: date, last_day: date, tz: ZoneInfo) -> list[Shade]:
    """The parts of each day outside the provider's working windows: breaks, mornings,
    evenings and whole days off. Closed days are left to `closures` (one shade, one label)."""
    shades = []
    for day in days_between(first_day, last_day):
        working = working_intervals(schedule, day, tz, Closures())
        for gap in subtract(day_span(day, tz), working):
            shades.append(Shade(schedule.provider_id, gap.start, gap.end, "off_hours"))
    return shades


def working_span(schedules: Iterable[ProviderSchedule], first_day: date, last_day: date) -> tuple[time, time] | None:
    """The earliest opening and the latest closing, in wall time, of any working window that
    applies on a day of the range (the hours the calendar's grid must show); None without any."""
    opens: list[time] = []
    closes: list[time] = []
    for schedule in schedules:
        for window in schedule.windows:
            if any(window.applies_on(day) for day in days_between(first_day, last_day)):
                opens.append(window.start)
                closes.append(window.end)
    return (min(opens), max(closes)) if opens else None


def time_off(provider_id: int, periods: Iterable[tuple[datetime, datetime, str]], first_day: date,
             last_day: date, tz: ZoneInfo) -> list[Shade]:
    """Time off clipped to the days shown; overlapping periods merge (their first reason)."""
    shown = Interval(day_span(first_day, tz).start, day_span(last_day, tz).end)
    shades = []
    for start, end, reason in sorted(periods):
        start, end = max(start, shown.start), min(end, shown.end)
        if end > start:
            shades.append(Shade(provider_id, start, end, "time_off", reason))
    merged = merge(Interval(s.start, s.end) for s in shades)
    return [
        Shade(provider_id, part.start, part.end, "time_off", next(s.label for s in shades if part.contains(Interval(s.start, s.end))))
        for part in merged
    ]


def closures(provider_ids: Iterable[int], ranges: Iterable[tuple[date, date, str]], first_day: date,
             last_day: date, tz: ZoneInfo) -> list[Shade]:
    """Each closed day shaded for every provider shown."""
    ids = list(provider_ids)
    shades = []
    for first, last, name in ranges:
        for day in days_between(max(first, first_day), min(last, last_day)):
            span = day_span(day, tz)
            shades.extend(Shade(pid, span.start, span.end, "closure", name) for pid in ids)
    return shades
