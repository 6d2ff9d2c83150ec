"""Does one visit fit a provider's day? The single check shared by staff moves and the
course planner (pure: schedules and instants in, a reason out)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from .availability import Closures, ProviderSchedule, working_intervals
from .intervals import BusyIndex

CLOSED = "closed"
OUTSIDE_HOURS = "outside_hours"
BUSY = "busy"


def misfit(
    schedule: ProviderSchedule,
    start: datetime,
    end: datetime,
    blocks_until: datetime,
    *,
    tz: ZoneInfo,
    closures: Closures,
    busy: BusyIndex | None = None,
) -> str | None:
    """None when [start, end) lies inside one working window of the provider's clinic day
    and [start, blocks_until) touches nothing busy; else CLOSED, OUTSIDE_HOURS or BUSY.

    Pass `busy` to reuse an index built once for many checks (the planner does)."""
    day = start.astimezone(tz).date()
    if closures.closed_on(day):
        return CLOSED
    windows = working_intervals(schedule, day, tz, closures)
    if not any(window.start <= start and end <= window.end for window in windows):
        return OUTSIDE_HOURS
    index = busy if busy is not None else BusyIndex(schedule.busy)
    if not index.is_free_between(start, blocks_until):
        return BUSY
    return None
