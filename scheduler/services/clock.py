"""The one place that reads the clock (tests set CLOCK to a callable)."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def now() -> datetime:
    override = current_app.config.get("CLOCK")
    return override() if override else datetime.now(UTC)


def clinic_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
