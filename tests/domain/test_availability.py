"""Worked examples for the pure slot finder: hours across DST, buffers, breaks, rules."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.availability import (
    BookingRules,
    Closures,
    ProviderSchedule,
    Slot,
    WeeklyWindow,
    find_open_times,
    find_slots,
    from_micros,
    nearest,
    one_per_start,
    to_micros,
)
from scheduler.domain.intervals import Interval
from scheduler.domain.wall_time import to_instant

DENVER = ZoneInfo("America/Denver")
MONDAY = date(2026, 11, 30)  # the frozen clock's day
TUE, THU, SUN = 1, 3, 6


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return to_instant(day, time(hh, mm), DENVER)


def window(weekday: int, start: str, end: str, **validity) -> WeeklyWindow:
    return WeeklyWindow(weekday, time.fromisoformat(start), time.fromisoformat(end), **validity)


def rules(duration: int = 60, max_advance_days: int = 60, **kw) -> BookingRules:
    """Durations in minutes; the advance limit in whole days."""
    return BookingRules(duration=timedelta(minutes=duration), max_advance_days=max_advance_days,
                        **{k: timedelta(minutes=v) for k, v in kw.items()})


NO_CLOSURES = Closures()


def slots_for(windows, rule, first_day, last_day=None, *, busy=(), now=None, closures=NO_CLOSURES, provider_id=1):
    """One provider's slots; `now` defaults to the day before, far from any notice limit."""
    schedule = ProviderSchedule(provider_id, tuple(windows), tuple(busy))
    return find_slots(
        [schedule],
        rule,
        tz=DENVER,
        now=now or datetime.combine(first_day - timedelta(days=1), time(0), tzinfo=UTC),
        first_day=first_day,
        last_day=last_day or first_day,
        closures=closures,
    )


def wall(slot_time: datetime) -> str:
    return slot_time.astimezone(DENVER).strftime("%H:%M")


def starts(slots) -> list[str]:
    return [wall(s.start) for s in slots]


# ------------------------------------------------------------ DST changes


@pytest.mark.parametrize(
    ("first_day", "last_day", "offsets"),
    [
        # Fall back on Sunday 2026-11-01: -06:00 before, -07:00 after.
        (date(2026, 10, 27), date(2026, 11, 5), [-6, -6, -7, -7]),
        # Spring forward on Sunday 2027-03-14: -07:00 before, -06:00 after.
        (date(2027, 3, 9), date(2027, 3, 18), [-7, -7, -6, -6]),
    ],
)
def test_tue_thu_nine_oclock_stays_nine_oclock_across_the_change(first_day, last_day, offsets):
    slots = slots_for(
        [window(TUE, "09:00", "12:00"), window(THU, "09:00", "12:00")], rules(60, step=60), first_day, last_day
    )
    first_of_day: dict[date, Slot] = {}
    for slot in slots:
        first_of_day.setdefault(slot.start.astimezone(DENVER).date(), slot)
    assert [d.weekday() for d in first_of_day] == [TUE, THU, TUE, THU]
    for slot, offset in zip(first_of_day.values(), offsets, strict=True):
        assert wall(slot.start) == "09:00"
        assert slot.start.astimezone(DENVER).utcoffset() == timedelta(hours=offset)
        assert slot.start.hour == 9 - offset  # the UTC hour moves instead
    assert len(slots) == 4 * 3  # 09:00, 10:00, 11:00 on each of the four days


def test_a_window_ending_in_the_skipped_hour_ends_when_the_clocks_jump():
    # 01:00-02:30 on 2027-03-14: 02:00-02:59 never happen, so only 01:00-01:59 MST is working time.
    slots = slots_for([window(SUN, "01:00", "02:30")], rules(30, step=30), date(2027, 3, 14))
    assert starts(slots) == ["01:00", "01:30"]
    assert slots[-1].end == datetime(2027, 3, 14, 9, 0, tzinfo=UTC)  # 03:00 MDT, the jump
    # The opening side: 02:30-04:00 starts at the jump, 03:00 MDT.
    slots = slots_for([window(SUN, "02:30", "04:00")], rules(30, step=30), date(2027, 3, 14))
    assert starts(slots) == ["03:00", "03:30"]


def test_a_window_opening_in_the_repeated_hour_starts_on_its_second_pass():
    # 01:30-03:00 on 2026-11-01: 01:00-01:59 happen twice; opening on the first pass would
    # let the 01:00-01:29 of the second pass (before the opening) into the window.
    slots = slots_for([window(SUN, "01:30", "03:00")], rules(30, step=30), date(2026, 11, 1))
    assert starts(slots) == ["01:30", "02:00", "02:30"]
    assert slots[0].start.astimezone(DENVER).utcoffset() == timedelta(hours=-7)
    # A window across the whole repeated hour holds it twice (real time is 5 hours).
    slots = slots_for([window(SUN, "00:00", "04:00")], rules(60, step=60), date(2026, 11, 1))
    assert starts(slots) == ["00:00", "01:00", "01:00", "02:00", "03:00"]
    assert len({s.start for s in slots}) == 5


# ----------------------------------------------------- buffers and breaks


def test_sixty_minute_service_with_fifteen_minute_buffer_next_to_an_appointment():
    # An existing 11:00-12:00 appointment of a service with a 15-minute buffer blocks until 12:15.
    busy = [Interval(local(MONDAY, 11), local(MONDAY, 12, 15))]
    slots = slots_for([window(0, "09:00", "17:00")], rules(60, buffer=15, step=15), MONDAY, busy=busy)
    got = starts(slots)
    # 09:45 blocks 09:45-11:00 and just touches the appointment; 10:00 would block until 11:15.
    assert "09:45" in got and "10:00" not in got
    assert not any("10:00" <= s < "12:15" for s in got)
    assert got[got.index("09:45") + 1] == "12:15"  # first start once the block is over
    assert got[-1] == "16:00"  # ends at closing; its buffer may run past it
    for slot in slots:
        assert slot.end - slot.start == timedelta(minutes=60)
        assert not Interval(slot.start, slot.end + timedelta(minutes=15)).overlaps(busy[0])


def test_busy_edges_a_microsecond_apart_are_told_apart():
    """The search counts in whole microseconds: an edge one microsecond either side of a step
    moves the free starts exactly, and a `now` with microseconds keeps the window's alignment."""
    tick = timedelta(microseconds=1)
    day = [window(0, "09:00", "12:00")]
    ends_early = [Interval(local(MONDAY, 9), local(MONDAY, 10) - tick)]
    ends_late = [Interval(local(MONDAY, 9), local(MONDAY, 10) + tick)]
    assert starts(slots_for(day, rules(60, step=15), MONDAY, busy=ends_early))[0] == "10:00"
    assert starts(slots_for(day, rules(60, step=15), MONDAY, busy=ends_late))[0] == "10:15"
    begins_late = [Interval(local(MONDAY, 11) + tick, local(MONDAY, 12))]
    begins_early = [Interval(local(MONDAY, 11) - tick, local(MONDAY, 12))]
    assert starts(slots_for(day, rules(60, step=15), MONDAY, busy=begins_late))[-1] == "10:00"
    assert starts(slots_for(day, rules(60, step=15), MONDAY, busy=begins_early))[-1] == "09:45"
    now = local(MONDAY, 9, 30) + tick
    assert starts(slots_for(day, rules(60, step=15), MONDAY, now=now))[0] == "09:45"
    assert starts(slots_for(day, rules(60, step=15), MONDAY, now=now - tick))[0] == "09:30"


def test_open_times_are_the_slots_as_integers():
    """What the JSON answer is written from is what find_slots says, provider by provider."""
    busy = [Interval(local(MONDAY, 10), local(MONDAY, 10, 50))]
    schedules = [
        ProviderSchedule(7, (window(0, "09:00", "12:00"),), tuple(busy)),
        ProviderSchedule(3, (window(0, "09:30", "11:00"), window(0, "10:00", "12:00")), ()),
    ]
    asked = dict(tz=DENVER, now=local(MONDAY, 8), first_day=MONDAY, last_day=MONDAY)
    times = find_open_times(schedules, rules(30, step=15), **asked)
    slots = find_slots(list(reversed(schedules)), rules(30, step=15), **asked)
    assert times.slots() == slots
    assert times.duration == 30 * 60 * 1_000_000
    assert [(from_micros(start), provider) for start, provider in times.starts] == [(s.start, s.provider_id) for s in slots]
    # Equal starts sit side by side in order of provider; the overlapping windows offer each start once.
    assert [p for start, p in times.starts if start == to_micros(local(MONDAY, 9, 30))] == [3, 7]
    assert len([1 for _, p in times.starts if p == 3]) == len({start for start, p in times.starts if p == 3})


def test_buffer_is_kept_before_an_appointment_but_not_required_before_closing():
    busy = [Interval(local(MONDAY, 12), local(MONDAY, 13))]
    slots = slots_for([window(0, "10:00", "13:00")], rules(45, buffer=15, step=15), MONDAY, busy=busy)
    # 10:00 blocks until 11:00; 11:00 blocks 11:00-12:00 and touches the busy hour; 11:15 would hit it.
    assert starts(slots) == ["10:00", "10:15", "10:30", "10:45", "11:00"]


def test_lunch_break_is_respected():
    windows = [window(0, "08:00", "12:00"), window(0, "13:00", "17:00")]
    slots = slots_for(windows, rules(45, step=15), MONDAY)
    got = starts(slots)
    assert got[0] == "08:00"
    assert "11:15" in got and "11:30" not in got  # 11:30 would run into lunch
    assert got[got.index("11:15") + 1] == "13:00"
    assert got[-1] == "16:15"
    lunch = Interval(local(MONDAY, 12), local(MONDAY, 13))
    assert not any(Interval(s.start, s.end).overlaps(lunch) for s in slots)


def test_time_off_and_closures():
    windows = [window(d, "09:00", "11:00") for d in range(5)]
    time_off = [Interval(local(date(2026, 12, 1), 9), local(date(2026, 12, 1), 10))]
    closures = Closures(((date(2026, 12, 2), date(2026, 12, 3)),))
    slots = slots_for(windows, rules(60, step=60), MONDAY, date(2026, 12, 4), busy=time_off, closures=closures)
    by_day = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(DENVER).date(), []).append(wall(slot.start))
    assert by_day == {
        date(2026, 11, 30): ["09:00", "10:00"],
        date(2026, 12, 1): ["10:00"],
        date(2026, 12, 4): ["09:00", "10:00"],
    }


def test_schedule_change_by_validity_dates():
    windows = [
        window(0, "09:00", "10:00", valid_to=date(2026, 11, 30)),
        window(0, "14:00", "15:00", valid_from=date(2026, 12, 7)),
    ]
    slots = slots_for(windows, rules(60), MONDAY, date(2026, 12, 7))
    assert [s.start for s in slots] == [local(MONDAY, 9), local(date(2026, 12, 7), 14)]


def test_overlapping_windows_offer_each_start_once():
    slots = slots_for([window(0, "09:00", "11:00"), window(0, "10:00", "12:00")], rules(60, step=30), MONDAY)
    assert starts(slots) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


# ------------------------------------------------------------ booking rules


def test_notice_rounds_up_to_the_windows_steps():
    now = local(MONDAY, 8) + timedelta(minutes=7, seconds=30)
    slots = slots_for([window(0, "09:00", "12:00")], rules(30, step=15, min_notice=120), MONDAY, now=now)
    assert starts(slots)[0] == "10:15"  # 10:07:30 is the earliest; steps count from 09:00


def test_notice_exactly_on_a_step_keeps_that_step():
    now = local(MONDAY, 8)
    slots = slots_for([window(0, "09:00", "12:00")], rules(30, step=15, min_notice=120), MONDAY, now=now)
    assert starts(slots)[0] == "10:00"


def test_steps_count_from_the_window_opening():
    slots = slots_for([window(0, "09:10", "11:00")], rules(30, step=20), MONDAY)
    assert starts(slots) == ["09:10", "09:30", "09:50", "10:10", "10:30"]


def test_max_advance_counts_whole_days_and_nothing_in_the_past():
    now = local(MONDAY, 10)
    rule = rules(60, step=60, max_advance_days=2)  # through the end of Wednesday
    slots = slots_for([window(d, "09:00", "12:00") for d in range(7)], rule, MONDAY, date(2026, 12, 4), now=now)
    assert slots[0].start == local(MONDAY, 10)  # starting right now is not "before now"
    # The last day is offered whole, even before the time of day it is now.
    assert [s.start for s in slots if s.start.astimezone(DENVER).date() == date(2026, 12, 2)] == [
        local(date(2026, 12, 2), 9), local(date(2026, 12, 2), 10), local(date(2026, 12, 2), 11)]
    assert slots[-1].start == local(date(2026, 12, 2), 11)
    assert slots_for([window(0, "09:00", "12:00")], rules(60, step=60, max_advance_days=0), MONDAY,
                     now=local(MONDAY, 8))  # zero days: today only


def test_rules_refuse_nonsense():
    with pytest.raises(ValueError):
        rules(0)
    with pytest.raises(ValueError):
        rules(30, step=0)
    with pytest.raises(ValueError):
        rules(30, buffer=-5)
    with pytest.raises(ValueError):
        rules(30, min_notice=-1)
    with pytest.raises(ValueError):
        rules(30, max_advance_days=-1)


def test_now_must_be_aware():
    with pytest.raises(ValueError, match="timezone-aware"):
        slots_for([window(0, "09:00", "10:00")], rules(60), MONDAY, now=datetime(2026, 11, 30, 8, 0))


# ------------------------------------------------ first available, nearest


def two_providers():
    one = ProviderSchedule(1, (window(0, "09:00", "12:00"),), (Interval(local(MONDAY, 10), local(MONDAY, 11)),))
    two = ProviderSchedule(2, (window(0, "10:00", "13:00"),))
    return find_slots(
        [two, one], rules(60, step=60), tz=DENVER, now=local(MONDAY, 8), first_day=MONDAY, last_day=MONDAY
    )


def test_find_slots_lists_every_provider_sorted_by_start():
    slots = two_providers()
    assert [(wall(s.start), s.provider_id) for s in slots] == [
        ("09:00", 1),
        ("10:00", 2),
        ("11:00", 1),
        ("11:00", 2),
        ("12:00", 2),
    ]


def test_one_per_start_keeps_one_provider_per_time():
    slots = two_providers()
    picked = one_per_start(slots)
    assert [(wall(s.start), s.provider_id) for s in picked] == [
        ("09:00", 1),
        ("10:00", 2),
        ("11:00", 1),  # both free: without a preference, the lower id
        ("12:00", 2),
    ]
    assert one_per_start(reversed(slots)) == picked  # input order does not matter
    assert one_per_start([]) == []


def test_one_per_start_follows_the_preference():
    picked = one_per_start(two_providers(), preference=[2, 1])
    assert [(wall(s.start), s.provider_id) for s in picked] == [
        ("09:00", 1),  # only provider 1 is free then
        ("10:00", 2),
        ("11:00", 2),
        ("12:00", 2),
    ]


def at_nine(*offsets: int) -> list[Slot]:
    base = local(MONDAY, 9)
    return [
        Slot(base + timedelta(minutes=m), base + timedelta(minutes=m + 30), 1) for m in offsets
    ]


def test_nearest_picks_the_closest_and_returns_them_in_time_order():
    slots = at_nine(0, 30, 60, 120, 300)  # 09:00 09:30 10:00 11:00 14:00
    target = local(MONDAY, 10, 10)
    assert starts(nearest(slots, target)) == ["09:30", "10:00", "11:00"]
    assert starts(nearest(slots, target, count=1)) == ["10:00"]
    assert starts(nearest(slots, target, count=10)) == ["09:00", "09:30", "10:00", "11:00", "14:00"]
    assert nearest([], target) == []


def test_nearest_breaks_ties_towards_the_earlier_time():
    slots = at_nine(60, 0, 30)
    assert starts(nearest(slots, local(MONDAY, 9, 45), count=1)) == ["09:30"]
    assert starts(nearest(slots, local(MONDAY, 9, 45), count=2)) == ["09:30", "10:00"]


def test_touching_windows_are_one_stretch():
    # 13:00-17:00 and 17:00-20:00 are one afternoon: a 45-minute visit may start at 16:45.
    slots = slots_for([window(0, "13:00", "17:00"), window(0, "17:00", "20:00")], rules(45, step=15), MONDAY)
    assert "16:45" in starts(slots) and "16:30" in starts(slots)
    assert starts(slots)[0] == "13:00" and starts(slots)[-1] == "19:15"


def test_a_visit_fits_across_the_edge_where_two_windows_meet():
    from scheduler.domain.availability import working_intervals
    from scheduler.domain.visit_fit import OUTSIDE_HOURS, misfit

    schedule = ProviderSchedule(1, (window(0, "13:00", "17:00"), window(0, "17:00", "20:00")))
    assert working_intervals(schedule, MONDAY, DENVER, NO_CLOSURES) == [Interval(local(MONDAY, 13), local(MONDAY, 20))]
    start = local(MONDAY, 16, 45)
    assert misfit(schedule, start, start + timedelta(minutes=45), start + timedelta(minutes=45),
                  tz=DENVER, closures=NO_CLOSURES) is None
    late = local(MONDAY, 19, 30)
    assert misfit(schedule, late, late + timedelta(minutes=45), late + timedelta(minutes=45),
                  tz=DENVER, closures=NO_CLOSURES) == OUTSIDE_HOURS
