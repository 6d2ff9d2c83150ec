"""Who a freed time is offered to, and in what order (pure: no clock, no database).

A waiting patient wants a time when it falls in their date range, on one of their days of
the week (none given: any day) and in their part of the day (morning: starts before noon,
clinic time). Among those who want it, patients in an active course come first for a time
in one of their course's weeks (a week with one of its visits), then everyone in order of
joining.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

NOON_HOUR = 12


@dataclass(frozen=True)
class Preferences:
    earliest_day: date
    latest_day: date
    weekdays: str  # "0,2,4" (Monday = 0); "" for any day
    time_of_day: str  # any, morning, afternoon


def wants(prefs: Preferences, local_start: datetime) -> bool:
    """`local_start` in clinic time."""
    day = local_start.date()
    if not prefs.earliest_day <= day <= prefs.latest_day:
        return False
    if prefs.weekdays and str(day.weekday()) not in prefs.weekdays.split(","):
        return False
    if prefs.time_of_day == "morning":
        return local_start.hour < NOON_HOUR
    if prefs.time_of_day == "afternoon":
        return local_start.hour >= NOON_HOUR
    return True


def week_of(day: date) -> date:
    """The Monday starting the day's week."""
    return day - timedelta(days=day.weekday())


def in_course_week(day: date, course_visit_days: list[date]) -> bool:
    return week_of(day) in {week_of(d) for d in course_visit_days}


def offer_order(course_week: bool, joined_at: datetime, entry_id: int) -> tuple:
    """Sort key: course patients for a time in their course's week, then first come."""
    return (not course_week, joined_at, entry_id)
