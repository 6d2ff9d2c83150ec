"""Half-open intervals: the overlap rule, merge, subtract and the busy index."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.intervals import BusyIndex, Interval, merge, subtract

T0 = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iv(a: int, b: int) -> Interval:
    return Interval(at(a), at(b))


def minutes_of(intervals) -> set[int]:
    """The covered minutes: exact for intervals on whole-minute edges."""
    covered: set[int] = set()
    for interval in intervals:
        start = (interval.start - T0) // timedelta(minutes=1)
        end = (interval.end - T0) // timedelta(minutes=1)
        covered.update(range(start, end))
    return covered


# ----------------------------------------------------------------- examples


def test_empty_or_reversed_interval_is_refused():
    with pytest.raises(ValueError):
        iv(10, 10)
    with pytest.raises(ValueError):
        iv(10, 9)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 60), (60, 120), False),  # touching: 9:00-10:00 and 10:00-11:00
        ((60, 120), (0, 60), False),
        ((0, 60), (59, 120), True),
        ((0, 60), (10, 20), True),  # inside
        ((10, 20), (0, 60), True),  # around
        ((0, 60), (0, 60), True),
        ((0, 60), (61, 70), False),
        ((0, 1), (0, 1), True),
    ],
)
def test_overlap_is_half_open(a, b, expected):
    assert iv(*a).overlaps(iv(*b)) is expected
    assert iv(*b).overlaps(iv(*a)) is expected


def test_contains():
    assert iv(0, 60).contains(iv(0, 60))
    assert iv(0, 60).contains(iv(15, 45))
    assert not iv(0, 60).contains(iv(15, 61))
    assert not iv(10, 60).contains(iv(9, 20))


def test_merge_joins_overlapping_and_touching_but_not_gapped():
    assert merge([iv(60, 120), iv(0, 30), iv(30, 45), iv(100, 110), iv(121, 130)]) == [
        iv(0, 45),
        iv(60, 120),
        iv(121, 130),
    ]
    assert merge([]) == []
    assert merge([iv(0, 100), iv(10, 20)]) == [iv(0, 100)]


def test_subtract_examples():
    base = iv(0, 480)  # 08:00-16:00
    assert subtract(base, []) == [base]
    assert subtract(base, [iv(240, 300)]) == [iv(0, 240), iv(300, 480)]  # lunch
    assert subtract(base, [iv(-60, 30), iv(450, 600)]) == [iv(30, 450)]  # clipped at both ends
    assert subtract(base, [iv(-10, 0), iv(480, 500)]) == [base]  # touching holes take nothing
    assert subtract(base, [iv(-10, 500)]) == []
    assert subtract(base, [iv(0, 480)]) == []
    assert subtract(base, [iv(100, 200), iv(150, 250), iv(250, 260)]) == [iv(0, 100), iv(260, 480)]


def test_busy_index_examples():
    index = BusyIndex([iv(60, 120), iv(180, 240)])
    assert index.is_free(iv(0, 60))  # ends as the busy block starts
    assert index.is_free(iv(120, 180))  # fits exactly in the gap
    assert not index.is_free(iv(119, 180))
    assert not index.is_free(iv(120, 181))
    assert not index.is_free(iv(0, 300))  # spans everything
    assert not index.is_free(iv(70, 80))
    assert index.is_free(iv(240, 1000))
    assert BusyIndex([]).is_free(iv(0, 10))


# --------------------------------------------------------------- properties



@st.composite
def intervals(draw, lo: int = -200, hi: int = 200, max_len: int = 60):
    start = draw(st.integers(min_value=lo, max_value=hi - 1))
    length = draw(st.integers(min_value=1, max_value=max_len))
    return iv(start, min(start + length, hi))


interval_lists = st.lists(intervals(), max_size=12)


@settings(max_examples=300, deadline=None)
@given(interval_lists)
def test_merge_is_sorted_disjoint_non_touching_and_covers_the_union(items):
    merged = merge(items)
    for left, right in zip(merged, merged[1:], strict=False):
        assert left.end < right.start  # sorted, and neither overlapping nor touching
    assert minutes_of(merged) == minutes_of(items)
    # Every input lies inside exactly one merged interval.
    for item in items:
        assert sum(m.contains(item) for m in merged) == 1
    assert merge(merged) == merged


@settings(max_examples=300, deadline=None)
@given(intervals(max_len=200), interval_lists)
def test_subtract_keeps_exactly_what_the_holes_miss(base, holes):
    free = subtract(base, holes)
    for part in free:
        assert base.contains(part)
        assert not any(part.overlaps(hole) for hole in holes)
    for left, right in zip(free, free[1:], strict=False):
        assert left.end < right.start
    base_minutes = minutes_of([base])
    hole_minutes = minutes_of(holes) & base_minutes
    assert minutes_of(free) | hole_minutes == base_minutes
    assert not minutes_of(free) & hole_minutes


@settings(max_examples=300, deadline=None)
@given(interval_lists, st.lists(intervals(), min_size=1, max_size=10))
def test_busy_index_agrees_with_brute_force(busy, candidates):
    index = BusyIndex(busy)
    for candidate in candidates:
        assert index.is_free(candidate) == (not any(candidate.overlaps(b) for b in busy))


@settings(max_examples=200, deadline=None)
@given(interval_lists)
def test_busy_index_at_every_edge(busy):
    # Candidates starting/ending exactly on the busy edges are where off-by-one bugs live.
    index = BusyIndex(busy)
    points = sorted({b.start for b in busy} | {b.end for b in busy})
    for a in points:
        for length in (1, 15, 60):
            candidate = Interval(a, a + timedelta(minutes=length))
            assert index.is_free(candidate) == (not any(candidate.overlaps(b) for b in busy))
            before = Interval(a - timedelta(minutes=length), a)
            assert index.is_free(before) == (not any(before.overlaps(b) for b in busy))
