"""The pure course planner: placement rules, daylight saving, and properties (hypothesis)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.availability import Closures, ProviderSchedule, WeeklyWindow, working_intervals
from scheduler.domain.courses import (
    AS_REQUESTED,
    DAY_CLOSED,
    DAY_FULL,
    DAY_NOT_WORKING,
    MOVED,
    TIME_SKIPPED,
    TIME_TAKEN,
    TOO_CLOSE,
    UNPLACEABLE,
    Calendar,
    Fixed,
    Prescription,
    make_up_options,
    plan_course,
    week_days,
)
from scheduler.domain.intervals import Interval

DENVER = ZoneInfo("America/Denver")
HOURS = tuple(WeeklyWindow(d, s, e) for d in range(5) for s, e in ((time(8), time(12)), (time(13), time(17))))
MAIN, OTHER = 1, 2


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=DENVER).astimezone(UTC)


def calendar(busy=(), other_busy=(), closures=(), not_before=None, **extra) -> Calendar:
    return Calendar(
        schedules=(ProviderSchedule(MAIN, HOURS, tuple(busy)), ProviderSchedule(OTHER, HOURS, tuple(other_busy))),
        closures=Closures(tuple((d, d) for d in closures)),
        tz=DENVER,
        duration=timedelta(minutes=45),
        buffer=timedelta(minutes=15),
        not_before=not_before,
        **extra,
    )


def rx(**fields) -> Prescription:
    base = dict(first_day=date(2026, 12, 7), weeks=6, visits_per_week=3, weekdays=(0, 2, 4), preferred_time=time(9))
    base.update(fields)
    return Prescription(**base)


def test_an_open_calendar_gives_every_visit_as_requested():
    visits = plan_course(rx(), calendar())
    assert [v.number for v in visits] == list(range(1, 19))
    assert all(v.status == AS_REQUESTED and v.reason is None and v.provider_id == MAIN for v in visits)
    assert [v.start.astimezone(DENVER).strftime("%a %H:%M") for v in visits[:3]] == ["Mon 09:00", "Wed 09:00", "Fri 09:00"]
    assert {v.week for v in visits} == set(range(1, 7))


def test_a_nine_oclock_course_stays_at_nine_across_the_spring_change():
    visits = plan_course(rx(first_day=date(2027, 3, 1), weeks=4, weekdays=(1, 3), visits_per_week=2), calendar())
    assert {v.start.astimezone(DENVER).time() for v in visits} == {time(9)}
    offsets = {v.day: v.start.astimezone(DENVER).utcoffset() for v in visits}
    assert offsets[date(2027, 3, 11)] == timedelta(hours=-7) and offsets[date(2027, 3, 16)] == timedelta(hours=-6)
    assert visits[3].start == datetime(2027, 3, 11, 16, tzinfo=UTC) and visits[4].start == datetime(2027, 3, 16, 15, tzinfo=UTC)


def test_a_taken_time_moves_to_the_nearest_open_time_that_day():
    wednesday = date(2026, 12, 9)
    visits = plan_course(rx(weeks=1), calendar(busy=[Interval(local(wednesday, 9), local(wednesday, 10))]))
    moved = visits[1]
    assert (moved.status, moved.reason, moved.day) == (MOVED, TIME_TAKEN, wednesday)
    # 08:00 (ends 08:45, clear by 09:00) and 10:00 are equally near: the earlier wins.
    assert moved.start == local(wednesday, 8)


def test_a_window_without_a_time_takes_its_earliest_open_time():
    monday = date(2026, 12, 7)
    visits = plan_course(rx(weeks=1, preferred_time=None, window=(time(8), time(11))),
                         calendar(busy=[Interval(local(monday, 8), local(monday, 9))]))
    assert visits[0].start == local(monday, 9) and visits[0].status == AS_REQUESTED
    assert visits[1].start == local(date(2026, 12, 9), 8)


def test_a_closed_day_moves_to_another_day_of_the_same_week_keeping_the_gap():
    christmas = date(2026, 12, 25)
    visits = plan_course(rx(first_day=date(2026, 12, 21), weeks=1), calendar(closures=[christmas]))
    third = visits[2]
    assert (third.status, third.reason) == (MOVED, DAY_CLOSED)
    assert third.start == local(date(2026, 12, 24), 9)  # Thursday: a day after Wednesday's visit


def test_a_gap_of_two_days_is_kept_when_a_visit_moves():
    # Wednesday full: with a gap of two days, Thursday (three from Monday) takes the visit;
    # Friday is then too close, and no other working day of the week is two days from both.
    wednesday = date(2026, 12, 9)
    full = [Interval(local(wednesday, 8), local(wednesday, 17))]
    visits = plan_course(rx(weeks=1, min_gap_days=2), calendar(busy=full))
    assert (visits[1].status, visits[1].reason) == (MOVED, DAY_FULL)
    assert visits[1].start == local(date(2026, 12, 10), 9)
    assert (visits[2].status, visits[2].reason) == (UNPLACEABLE, TOO_CLOSE)
    with_gap_one = plan_course(rx(weeks=1, min_gap_days=1), calendar(busy=full))
    assert with_gap_one[1].status == MOVED and with_gap_one[1].start.astimezone(DENVER).date() == date(2026, 12, 10)
    assert [v.number for v in with_gap_one] == [1, 2, 3]


def test_another_provider_only_when_allowed():
    week = week_days(date(2026, 12, 7), 1)
    away = [Interval(local(week[0], 0), local(week[6], 23))]
    alone = plan_course(rx(weeks=1), calendar(busy=away))
    assert [v.status for v in alone] == [UNPLACEABLE] * 3 and alone[0].reason == DAY_FULL
    shared = plan_course(rx(weeks=1, allow_other_provider=True), calendar(busy=away))
    assert all(v.provider_id == OTHER and v.other_provider and v.status == MOVED for v in shared)
    assert shared[0].start == local(week[0], 9)


def test_a_provider_who_does_not_work_that_day():
    hours = tuple(w for w in HOURS if w.weekday != 2)
    cal = Calendar((ProviderSchedule(MAIN, hours),), Closures(), DENVER, timedelta(minutes=45))
    visits = plan_course(rx(weeks=1), cal)
    assert visits[1].reason == DAY_NOT_WORKING and visits[1].start.astimezone(DENVER).weekday() == 3


def test_a_preferred_time_skipped_by_the_spring_change_is_not_guessed():
    sunday = date(2027, 3, 14)
    night = tuple(WeeklyWindow(6, time(0), time(6)) for _ in range(1))
    cal = Calendar((ProviderSchedule(MAIN, night),), Closures(), DENVER, timedelta(minutes=45))
    visits = plan_course(Prescription(sunday, 1, 1, (6,), time(2, 30)), cal)
    assert visits[0].reason == TIME_SKIPPED and visits[0].status == MOVED
    assert visits[0].start == datetime(2027, 3, 14, 9, tzinfo=UTC)  # 03:00 MDT, when the clocks jumped


def test_nothing_before_not_before_and_fixed_visits_are_respected():
    monday = date(2026, 12, 7)
    visits = plan_course(rx(weeks=1), calendar(not_before=local(monday, 10)))
    assert visits[0].start >= local(monday, 10) and visits[0].status == MOVED
    fixed = [Fixed(local(date(2026, 12, 16), 9), local(date(2026, 12, 16), 10))]
    extended = plan_course(rx(weeks=3), calendar(), first_week=2, first_number=4, fixed=fixed)
    assert [v.number for v in extended] == list(range(4, 10))
    assert all(v.start.astimezone(DENVER).date() != date(2026, 12, 16) for v in extended)


def test_make_up_options_in_the_same_week_then_after_the_end():
    week = week_days(date(2026, 12, 7), 1)
    kept = [Fixed(local(week[0], 9), local(week[0], 10)), Fixed(local(week[4], 9), local(week[4], 10))]
    options = make_up_options(rx(weeks=2), calendar(), week=1, last_week=2, fixed=kept)
    days = [start.astimezone(DENVER).date() for start, _p in options]
    assert days[:3] == [week[1], week[2], week[3]] and len(days) == 4
    assert days[3] == date(2026, 12, 21)  # the first day after the course's two weeks
    assert all(p == MAIN for _s, p in options)


# --- properties ------------------------------------------------------------------------------

BASE = date(2026, 10, 26)  # a Monday; runs across the 2026-11-01 fall change


@st.composite
def scenarios(draw):
    first_day = BASE + timedelta(days=draw(st.integers(0, 13)))
    visits_per_week = draw(st.integers(1, 5))
    weekdays = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=visits_per_week, max_size=visits_per_week)))) \
        if draw(st.booleans()) else ()
    timing = draw(st.sampled_from(["time", "window"]))
    prescription = Prescription(
        first_day=first_day,
        weeks=draw(st.integers(1, 4)),
        visits_per_week=visits_per_week,
        weekdays=weekdays,
        preferred_time=time(draw(st.integers(7, 17)), draw(st.sampled_from([0, 15, 30, 45]))) if timing == "time" else None,
        window=(time(draw(st.integers(7, 10))), time(draw(st.integers(11, 18)))) if timing == "window" else None,
        min_gap_days=draw(st.integers(0, 2)),
        allow_other_provider=draw(st.booleans()),
    )
    span_days = 7 * prescription.weeks + 14

    def busy_list():
        items = []
        for _ in range(draw(st.integers(0, 25))):
            start = datetime.combine(BASE, time(0), tzinfo=UTC) + timedelta(minutes=15 * draw(st.integers(0, span_days * 96)))
            items.append(Interval(start, start + timedelta(minutes=draw(st.sampled_from([30, 60, 90, 240, 600])))))
        return tuple(items)

    closures = tuple((d, d) for d in {BASE + timedelta(days=draw(st.integers(0, span_days))) for _ in range(draw(st.integers(0, 3)))})
    cal = Calendar(
        schedules=(ProviderSchedule(MAIN, HOURS, busy_list()), ProviderSchedule(OTHER, HOURS[2:], busy_list())),
        closures=Closures(closures),
        tz=DENVER,
        duration=timedelta(minutes=draw(st.sampled_from([30, 45, 60]))),
        buffer=timedelta(minutes=draw(st.sampled_from([0, 10, 15]))),
        step=timedelta(minutes=draw(st.sampled_from([15, 30]))),
        not_before=datetime.combine(BASE, time(15), tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 100))),
        patient_busy=busy_list(),
    )
    return prescription, cal


@settings(max_examples=120, deadline=None)
@given(scenarios())
def test_plans_keep_every_rule(scenario):
    prescription, cal = scenario
    visits = plan_course(prescription, cal)
    assert visits == plan_course(prescription, cal)  # deterministic
    assert [(v.start, v.provider_id, v.status, v.reason) for v in visits] == \
        [(v.start, v.provider_id, v.status, v.reason) for v in plan_course(prescription, cal)]
    assert [v.number for v in visits] == list(range(1, len(visits) + 1))
    schedules = {s.provider_id: s for s in cal.schedules}
    placed = [v for v in visits if v.start is not None]
    for week in range(1, prescription.weeks + 1):
        of_week = [v for v in visits if v.week == week]
        assert len(of_week) == prescription.visits_per_week
        days = week_days(prescription.first_day, week)
        for v in of_week:
            if v.start is not None:
                assert days[0] <= v.start.astimezone(DENVER).date() <= days[-1]
    for v in placed:
        assert v.end - v.start == cal.duration and v.start >= cal.not_before
        assert v.provider_id == MAIN or prescription.allow_other_provider
        assert v.status in (AS_REQUESTED, MOVED) and (v.status == AS_REQUESTED) == (v.reason is None and not v.other_provider)
        schedule = schedules[v.provider_id]
        day = v.start.astimezone(DENVER).date()
        assert not cal.closures.closed_on(day)
        assert any(w.start <= v.start and v.end <= w.end for w in working_intervals(schedule, day, DENVER, cal.closures))
        blocks = Interval(v.start, v.end + cal.buffer)
        assert not any(blocks.overlaps(b) for b in schedule.busy)
        assert not any(Interval(v.start, v.end).overlaps(b) for b in cal.patient_busy)
        if prescription.window:
            start_local, end_local = v.start.astimezone(DENVER).time(), v.end.astimezone(DENVER).time()
            assert prescription.window[0] <= start_local and end_local <= prescription.window[1]
        if v.status == AS_REQUESTED and prescription.preferred_time:
            assert v.start.astimezone(DENVER).time() == prescription.preferred_time and day == v.day
    for a in placed:
        for b in placed:
            if a is b:
                continue
            assert not Interval(a.start, a.end + cal.buffer).overlaps(Interval(b.start, b.end + cal.buffer))
            gap = abs((a.start.astimezone(DENVER).date() - b.start.astimezone(DENVER).date()).days)
            assert gap >= prescription.min_gap_days
    starts = [v.start for v in visits if v.start is not None]
    assert starts == sorted(starts)
    for v in visits:
        if v.status == UNPLACEABLE:
            assert v.start is None and v.reason


@pytest.mark.parametrize("bad", [
    dict(weeks=0), dict(weeks=53), dict(visits_per_week=0), dict(weekdays=(0, 0, 2)), dict(weekdays=(0, 2)),
    dict(window=(time(11), time(8))), dict(min_gap_days=-1), dict(weekdays=(0, 2, 7)),
])
def test_impossible_prescriptions_are_refused(bad):
    with pytest.raises(ValueError):
        rx(**bad)


def test_a_visit_moved_off_a_closed_day_names_the_closure():
    christmas = date(2026, 12, 25)
    named = Calendar(**{**calendar().__dict__, "closures": Closures(((christmas, christmas),), ("Christmas Day",))})
    visits = plan_course(rx(first_day=date(2026, 12, 21), weeks=1), named)
    assert (visits[2].reason, visits[2].closure) == (DAY_CLOSED, "Christmas Day")
    assert visits[0].closure is None
