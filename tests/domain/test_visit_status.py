"""The status steps a visit may take now (the rule behind the desk's buttons and set_status)."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from scheduler.domain.visit_status import NOT_THAT_STEP, NOT_YET_BEGUN, NOT_YET_THE_DAY, next_steps, why_not

DENVER = ZoneInfo("America/Denver")
STARTS = datetime(2026, 12, 1, 16, tzinfo=UTC)  # Tuesday 09:00 in Denver


def test_check_in_on_the_day_and_no_show_once_begun():
    day_before = datetime(2026, 12, 1, 6, 59, tzinfo=UTC)  # Monday 23:59
    assert [(s.status, s.reason) for s in next_steps("booked", STARTS, day_before, DENVER)] == [
        ("confirmed", None), ("checked_in", NOT_YET_THE_DAY), ("no_show", NOT_YET_THE_DAY)]
    morning = datetime(2026, 12, 1, 7, tzinfo=UTC)  # Tuesday 00:00
    assert [s.reason for s in next_steps("confirmed", STARTS, morning, DENVER)] == [None, NOT_YET_BEGUN]
    assert all(s.allowed for s in next_steps("confirmed", STARTS, STARTS, DENVER))
    assert why_not("checked_in", "no_show", STARTS, STARTS, DENVER) == NOT_THAT_STEP
    assert next_steps("completed", STARTS, STARTS, DENVER) == []
