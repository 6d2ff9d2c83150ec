"""Clinic wall time <-> instants around the America/Denver daylight-saving changes."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.wall_time import (
    WallTimeError,
    is_ambiguous,
    is_missing,
    local_day,
    to_instant,
    to_instant_lenient,
    window_closing,
    window_opening,
)

DENVER = ZoneInfo("America/Denver")
FALL_BACK = date(2026, 11, 1)  # 02:00 MDT -> 01:00 MST: 01:00-01:59 happen twice
SPRING_FORWARD = date(2027, 3, 14)  # 02:00 MST -> 03:00 MDT: 02:00-02:59 do not exist


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_missing_time_is_refused():
    with pytest.raises(WallTimeError, match="does not exist"):
        to_instant(SPRING_FORWARD, time(2, 30), DENVER)
    with pytest.raises(WallTimeError):
        to_instant(SPRING_FORWARD, time(2, 0), DENVER)
    with pytest.raises(WallTimeError):
        to_instant(SPRING_FORWARD, time(2, 59), DENVER)


def test_ambiguous_time_is_refused():
    with pytest.raises(WallTimeError, match="happens twice"):
        to_instant(FALL_BACK, time(1, 30), DENVER)
    with pytest.raises(WallTimeError):
        to_instant(FALL_BACK, time(1, 0), DENVER)
    with pytest.raises(WallTimeError):
        to_instant(FALL_BACK, time(1, 59), DENVER)


def test_wall_time_error_is_a_value_error():
    # Callers that catch ValueError for bad input also catch this.
    assert issubclass(WallTimeError, ValueError)


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        # Fall back: -06:00 (MDT) before, -07:00 (MST) after.
        (date(2026, 10, 31), time(9, 0), utc(2026, 10, 31, 15, 0)),
        (FALL_BACK, time(0, 59), utc(2026, 11, 1, 6, 59)),
        (FALL_BACK, time(2, 0), utc(2026, 11, 1, 9, 0)),
        (FALL_BACK, time(9, 0), utc(2026, 11, 1, 16, 0)),
        (date(2026, 11, 3), time(9, 0), utc(2026, 11, 3, 16, 0)),
        # Spring forward: -07:00 before, -06:00 after.
        (date(2027, 3, 11), time(9, 0), utc(2027, 3, 11, 16, 0)),
        (SPRING_FORWARD, time(1, 59), utc(2027, 3, 14, 8, 59)),
        (SPRING_FORWARD, time(3, 0), utc(2027, 3, 14, 9, 0)),
        (SPRING_FORWARD, time(9, 0), utc(2027, 3, 14, 15, 0)),
        (date(2027, 3, 16), time(9, 0), utc(2027, 3, 16, 15, 0)),
        (date(2026, 11, 30), time(0, 0), utc(2026, 11, 30, 7, 0)),
        (date(2026, 11, 30), time(23, 59), utc(2026, 12, 1, 6, 59)),
    ],
)
def test_normal_times_convert_on_both_sides_of_a_change(day, at, expected):
    instant = to_instant(day, at, DENVER)
    assert instant == expected
    assert instant.utcoffset() == timedelta(0)
    assert instant.astimezone(DENVER).replace(tzinfo=None) == datetime.combine(day, at)
    assert to_instant_lenient(day, at, DENVER) == expected
    assert local_day(instant, DENVER) == day


def test_nine_oclock_keeps_its_wall_time_but_changes_offset():
    before = to_instant(date(2026, 10, 29), time(9, 0), DENVER).astimezone(DENVER)
    after = to_instant(date(2026, 11, 3), time(9, 0), DENVER).astimezone(DENVER)
    assert (before.hour, before.minute) == (after.hour, after.minute) == (9, 0)
    assert before.utcoffset() == timedelta(hours=-6)
    assert after.utcoffset() == timedelta(hours=-7)


@pytest.mark.parametrize("day", [date(2026, 10, 31), FALL_BACK, date(2026, 11, 2), SPRING_FORWARD, date(2027, 3, 15)])
def test_every_minute_of_the_day_against_a_brute_force_count(day):
    """A wall time converts iff it occurs exactly once that day, and then round-trips."""
    # Count how often each local wall time occurs by walking the UTC minutes around the day.
    occurrences: Counter[datetime] = Counter()
    instant = datetime.combine(day, time(0), tzinfo=UTC) - timedelta(hours=2)
    stop = datetime.combine(day, time(0), tzinfo=UTC) + timedelta(hours=34)
    while instant < stop:
        occurrences[instant.astimezone(DENVER).replace(tzinfo=None)] += 1
        instant += timedelta(minutes=1)
    refused = 0
    for minute in range(24 * 60):
        at = time(minute // 60, minute % 60)
        wall = datetime.combine(day, at)
        local = wall.replace(tzinfo=DENVER)
        assert is_missing(local) == (occurrences[wall] == 0)
        if occurrences[wall] != 0:
            assert is_ambiguous(local) == (occurrences[wall] == 2)
        if occurrences[wall] == 1:
            converted = to_instant(day, at, DENVER)
            assert converted.astimezone(DENVER).replace(tzinfo=None) == wall
        else:
            refused += 1
            with pytest.raises(WallTimeError):
                to_instant(day, at, DENVER)
    assert refused == (60 if day in (FALL_BACK, SPRING_FORWARD) else 0)


def test_lenient_takes_the_first_pass_of_a_repeated_time():
    assert to_instant_lenient(FALL_BACK, time(1, 30), DENVER) == utc(2026, 11, 1, 7, 30)  # 01:30 MDT


def test_lenient_moves_a_skipped_time_forward():
    moved = to_instant_lenient(SPRING_FORWARD, time(2, 30), DENVER)
    assert moved.astimezone(DENVER).date() == SPRING_FORWARD
    assert moved.astimezone(DENVER).time() >= time(3, 0)
    assert to_instant_lenient(SPRING_FORWARD, time(1, 59), DENVER) < moved


def test_local_day_near_midnight():
    # 05:30 UTC on Dec 1 is still Nov 30 in El Paso.
    assert local_day(utc(2026, 12, 1, 5, 30), DENVER) == date(2026, 11, 30)
    assert local_day(utc(2026, 12, 1, 7, 0), DENVER) == date(2026, 12, 1)


# Window edges: a working window keeps only the wall times inside [opening, closing).


def test_a_skipped_edge_is_the_moment_the_clocks_jump():
    jump = utc(2027, 3, 14, 9, 0)  # 02:00 MST == 03:00 MDT
    for at in (time(2, 0), time(2, 30), time(2, 59, 59)):
        assert window_opening(SPRING_FORWARD, at, DENVER) == jump
        assert window_closing(SPRING_FORWARD, at, DENVER) == jump


def test_a_repeated_edge_opens_on_the_second_pass_and_closes_on_the_first():
    assert window_opening(FALL_BACK, time(1, 30), DENVER) == utc(2026, 11, 1, 8, 30)  # 01:30 MST
    assert window_closing(FALL_BACK, time(1, 30), DENVER) == utc(2026, 11, 1, 7, 30)  # 01:30 MDT


@pytest.mark.parametrize("day", [date(2026, 10, 31), FALL_BACK, SPRING_FORWARD, date(2027, 3, 15)])
def test_window_edges_keep_only_wall_times_inside_the_window(day):
    """Brute force over 30-minute marks: every minute in [opening, closing) reads a wall time
    of that day inside [start, end), and every ordinary edge is exact."""
    marks = [time(h, m) for h in range(5) for m in (0, 30)] + [time(9, 0), time(17, 30)]
    for start in marks:
        for end in marks:
            if end <= start:
                continue
            opening = window_opening(day, start, DENVER)
            closing = window_closing(day, end, DENVER)
            instant = opening
            while instant < closing:
                local = instant.astimezone(DENVER)
                assert local.date() == day and start <= local.time() < end, (start, end, local)
                instant += timedelta(minutes=1)
            for at, edge in ((start, opening), (end, closing)):
                try:
                    assert edge == to_instant(day, at, DENVER)
                except WallTimeError:
                    pass
