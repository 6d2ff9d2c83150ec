"""The day picker's counts: open start times per clinic-local day, from the search's integers."""
from __future__ import annotations

from datetime import UTC, date, datetime

from scheduler.domain.availability import OpenTimes, to_micros
from scheduler.services.availability.open_times import open_days

HOUR = 3_600_000_000  # microseconds


def test_each_time_counts_once_on_its_clinic_day(app):
    eight = to_micros(datetime(2026, 12, 1, 15, tzinfo=UTC))  # 08:00 in Denver (UTC-7)
    late = to_micros(datetime(2026, 12, 2, 6, 30, tzinfo=UTC))  # still 23:30 on 1 December in Denver
    beyond = to_micros(datetime(2026, 12, 4, 16, tzinfo=UTC))  # after the last day asked for
    times = OpenTimes([(eight, 1), (eight, 2), (late, 1), (beyond, 2)], HOUR)
    assert open_days(times, date(2026, 11, 30), date(2026, 12, 2)) == {
        date(2026, 11, 30): 0,
        date(2026, 12, 1): 2,  # two providers free at eight are one time
        date(2026, 12, 2): 0,
    }
    assert open_days(OpenTimes([], 0), date(2026, 12, 1), date(2026, 12, 1)) == {date(2026, 12, 1): 0}
