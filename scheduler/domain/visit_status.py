"""Which status steps a visit may take now, and why not when it may not: the one rule the
status change checks and the desk's buttons show (pure: a status, instants and the zone in,
steps out). Strings are only marked (N_); the layer that shows them translates them."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from .patient_details import N_

BOOKED, CONFIRMED, CHECKED_IN, COMPLETED, NO_SHOW = "booked", "confirmed", "checked_in", "completed", "no_show"

# The only sensible steps from each status, in the order the desk offers them.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    BOOKED: (CONFIRMED, CHECKED_IN, NO_SHOW),
    CONFIRMED: (CHECKED_IN, NO_SHOW),
    CHECKED_IN: (COMPLETED,),
}
# Statuses that say the visit took place (or did not): never set before the visit's day.
ON_THE_DAY = frozenset({CHECKED_IN, COMPLETED, NO_SHOW})

NOT_THAT_STEP = N_("An appointment cannot go from this status to that one.")
NOT_YET_THE_DAY = N_("This can only be recorded on the day of the visit or later.")
NOT_YET_BEGUN = N_("A visit can be marked missed only once its time has begun.")


class StatusStep(NamedTuple):
    status: str
    reason: str | None  # None when the step may be taken now

    @property
    def allowed(self) -> bool:
        return self.reason is None


def why_not(current: str, wanted: str, starts_at: datetime, now: datetime, tz: ZoneInfo) -> str | None:
    """None when a visit in `current` starting at `starts_at` may go to `wanted` at `now`,
    else the reason it may not (marked for translation)."""
    if wanted not in TRANSITIONS.get(current, ()):
        return NOT_THAT_STEP
    if wanted in ON_THE_DAY and now.astimezone(tz).date() < starts_at.astimezone(tz).date():
        return NOT_YET_THE_DAY
    if wanted == NO_SHOW and now < starts_at:
        return NOT_YET_BEGUN
    return None


def next_steps(current: str, starts_at: datetime, now: datetime, tz: ZoneInfo) -> list[StatusStep]:
    """The steps a visit in `current` has, each with the reason it cannot be taken yet (if any)."""
    return [StatusStep(wanted, why_not(current, wanted, starts_at, now, tz)) for wanted in TRANSITIONS.get(current, ())]
