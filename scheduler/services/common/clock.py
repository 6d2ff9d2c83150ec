"""The one place that reads the clock (tests set CLOCK to a callable)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def now() -> datetime:
    """The current instant (UTC), or the test clock's. Reads only."""
    override = current_app.config.get("CLOCK")
    return override() if override else datetime.now(UTC)


def clock_function() -> Callable[[], datetime]:
    """The clock itself, for code running where there is no app context (sending threads).
    Reads only."""
    return current_app.config.get("CLOCK") or _utc_now


def _utc_now() -> datetime:
    return datetime.now(UTC)


def clinic_tz() -> ZoneInfo:
    """The clinic's time zone (CLINIC_TIMEZONE). Reads only."""
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
