"""A course's progress from its visits' statuses: counts and the course status (pure)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PLANNED = "planned"
ACTIVE = "active"
COMPLETED = "completed"
CANCELLED = "cancelled"

ATTENDED_STATUSES = frozenset({"checked_in", "completed"})
REMAINING_STATUSES = frozenset({"booked", "confirmed"})


@dataclass(frozen=True)
class Progress:
    attended: int
    no_show: int
    cancelled: int
    remaining: int

    @property
    def total(self) -> int:
        return self.attended + self.no_show + self.cancelled + self.remaining


def progress(statuses: Iterable[str]) -> Progress:
    statuses = list(statuses)
    return Progress(
        attended=sum(s in ATTENDED_STATUSES for s in statuses),
        no_show=statuses.count("no_show"),
        cancelled=statuses.count("cancelled"),
        remaining=sum(s in REMAINING_STATUSES for s in statuses),
    )


def course_status(current: str, counts: Progress) -> str:
    """planned (booked, nothing happened yet) -> active (a visit was attended or missed)
    -> completed (no visit left to come). A cancelled course stays cancelled; a course
    whose every visit was cancelled before any took place is cancelled too."""
    if current == CANCELLED:
        return CANCELLED
    happened = counts.attended + counts.no_show
    if counts.remaining == 0 and counts.total:
        return COMPLETED if happened else CANCELLED
    return ACTIVE if happened else PLANNED
