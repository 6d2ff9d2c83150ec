"""Openings: time that may have freed up for the waitlist (a visit cancelled or moved away,
a closure or time off lifted), recorded in the freeing change's own transaction through
events.py. The worker offers each opening in turn (offers.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from scheduler.extensions import db
from scheduler.models import OpeningStatus, WaitlistOpening
from scheduler.services.common.clock import clinic_tz, now


def opening_freed(provider_id: int | None, starts_at: datetime, ends_at: datetime, cause: str) -> None:
    """Time that may have freed up (provider None: whoever works then).
    In the caller's transaction."""
    moment = now()
    if ends_at <= moment or ends_at <= starts_at:
        return
    db.session.add(WaitlistOpening(provider_id=provider_id, starts_at=max(starts_at, moment), ends_at=ends_at,
                                   cause=cause, status=OpeningStatus.OPEN.value, created_at=moment))


def days_freed(provider_id: int | None, first_day: date, last_day: date, cause: str) -> None:
    """Whole clinic days (a closure lifted) as an opening. In the caller's transaction."""
    tz = clinic_tz()
    start = datetime.combine(first_day, datetime.min.time(), tz)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tz)
    opening_freed(provider_id, start, end, cause)
