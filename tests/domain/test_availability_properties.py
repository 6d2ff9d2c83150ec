"""Property-based checks of find_slots over random schedules, bookings, closures and rules.

Ranges are drawn around both America/Denver daylight-saving changes (Sunday 2026-11-01 and
Sunday 2027-03-14) and working windows are often drawn across the small hours, so window
edges that a change skips or repeats are exercised too.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.domain.availability import (
    BookingRules,
    Closures,
    ProviderSchedule,
    Slot,
    WeeklyWindow,
    find_slots,
)
from scheduler.domain.intervals import Interval
from scheduler.domain.wall_time import WallTimeError, to_instant

DENVER = ZoneInfo("America/Denver")
DST_DAYS = (date(2026, 11, 1), date(2027, 3, 14))
# Starts of the drawn ranges: the week of each change, and an ordinary week.
ANCHORS = (date(2026, 10, 27), date(2027, 3, 9), date(2026, 11, 24))
MINUTE = timedelta(minutes=1)

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def clock(mark: int) -> time:
    return time(mark // 60, mark % 60)


# ---------------------------------------------------------------- strategies

# Window edges on 5-minute marks; half the draws land between 00:30 and 03:30 where
# the changes happen.
edge_marks = st.one_of(st.integers(0, 287).map(lambda m: m * 5), st.integers(6, 42).map(lambda m: m * 5))


@st.composite
def weekday_windows(draw, weekday: int, first_day: date, last_day: date) -> list[WeeklyWindow]:
    """1-3 windows with breaks between them, sometimes an extra overlapping one, sometimes one
    cut in two touching windows (13:00-17:00 and 17:00-20:00), sometimes dated."""
    count = draw(st.integers(1, 3))
    marks = sorted(draw(st.sets(edge_marks, min_size=2 * count, max_size=2 * count)))
    pairs = [(marks[i], marks[i + 1]) for i in range(0, len(marks), 2)]
    if draw(st.integers(0, 9)) == 0:  # a second row that overlaps the first one
        start, end = pairs[0]
        pairs.append((start + (end - start) // 2 if end - start >= 10 else start, min(end + 60, 1435)))
    if draw(st.integers(0, 4)) == 0 and pairs[0][1] - pairs[0][0] >= 10:  # two windows that touch
        start, end = pairs.pop(0)
        cut = start + 5 * draw(st.integers(1, (end - start) // 5 - 1))
        pairs[:0] = [(start, cut), (cut, end)]
    windows = []
    for start, end in pairs:
        if end <= start:
            continue
        valid_from = valid_to = None
        if draw(st.integers(0, 5)) == 0:
            valid_from = first_day + timedelta(days=draw(st.integers(-3, 8)))
        if draw(st.integers(0, 5)) == 0:
            valid_to = first_day + timedelta(days=draw(st.integers(-3, 8)))
        windows.append(WeeklyWindow(weekday, clock(start), clock(end), valid_from, valid_to))
    return windows


@st.composite
def scenarios(draw):
    first_day = draw(st.sampled_from(ANCHORS)) + timedelta(days=draw(st.integers(0, 6)))
    last_day = first_day + timedelta(days=draw(st.integers(0, 8)))
    span_start = datetime.combine(first_day, time(0), tzinfo=UTC) - timedelta(hours=12)
    span_minutes = ((last_day - first_day).days + 2) * 24 * 60

    provider_ids = draw(st.lists(st.integers(1, 99), min_size=1, max_size=3, unique=True))
    schedules = []
    for provider_id in provider_ids:
        windows: list[WeeklyWindow] = []
        for weekday in range(7):
            if draw(st.integers(0, 4)) > 0:  # most weekdays are working days
                windows.extend(draw(weekday_windows(weekday, first_day, last_day)))
        busy = []
        for _ in range(draw(st.integers(0, 8))):
            start = span_start + minutes(draw(st.integers(0, span_minutes)))
            if draw(st.integers(0, 5)) == 0:  # time off: hours to days
                length = minutes(draw(st.integers(60, 3 * 24 * 60)))
            else:  # an appointment's block: duration + buffer
                length = minutes(draw(st.integers(1, 180)))
            busy.append(Interval(start, start + length))
        schedules.append(ProviderSchedule(provider_id, tuple(windows), tuple(busy)))

    closure_ranges = []
    for _ in range(draw(st.integers(0, 2))):
        first = first_day + timedelta(days=draw(st.integers(-2, 9)))
        closure_ranges.append((first, first + timedelta(days=draw(st.integers(0, 3)))))

    # On 5-minute marks half the time, so notice and advance limits can fall exactly on starts.
    now = span_start - timedelta(days=2) + minutes(5 * draw(st.integers(0, (span_minutes + 3 * 24 * 60) // 5)))
    if draw(st.booleans()):
        now += timedelta(seconds=draw(st.integers(0, 59)), microseconds=draw(st.integers(0, 999_999)))

    def limit(far: timedelta) -> timedelta:
        """None, anything up to `far`, or a limit that ends at a 5-minute mark inside the range."""
        kind = draw(st.integers(0, 2))
        if kind == 0:
            return timedelta(0) if far < timedelta(days=30) else far
        if kind == 1:
            return minutes(5 * draw(st.integers(0, far // minutes(5))))
        inside = span_start + minutes(5 * draw(st.integers(0, span_minutes // 5)))
        return max(timedelta(0), inside - now)

    rules = BookingRules(
        duration=minutes(draw(st.integers(1, 36)) * 5),
        buffer=minutes(draw(st.integers(0, 45))),
        step=minutes(draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60]))),
        min_notice=limit(timedelta(days=3)),
        # Whole days: 0 (today only) up to past the end of the range.
        max_advance_days=draw(st.integers(0, 14)),
    )
    if draw(st.booleans()):
        now = now.astimezone(DENVER)  # an aware local `now` is the same instant
    return schedules, rules, now, first_day, last_day, Closures(tuple(closure_ranges))


def last_day_of(rules: BookingRules, now: datetime) -> date:
    """The last bookable clinic-local date, worked out here independently of the code."""
    return now.astimezone(DENVER).date() + timedelta(days=rules.max_advance_days)


def closed(closures: Closures, day: date) -> bool:
    return any(first <= day <= last for first, last in closures.ranges)


def run(scenario) -> list[Slot]:
    schedules, rules, now, first_day, last_day, closures = scenario
    return find_slots(schedules, rules, tz=DENVER, now=now, first_day=first_day, last_day=last_day, closures=closures)


# ------------------------------------------------------------------- oracles


def regular_instant(day: date, at: time) -> datetime | None:
    """The instant of a wall time that happens exactly once that day, else None."""
    try:
        return to_instant(day, at, DENVER)
    except WallTimeError:
        return None


def stretches(windows, day: date) -> list[tuple[time, time, bool]]:
    """The day's windows joined where they touch or overlap in wall time, as (opens, closes,
    regular): regular when every window in the stretch has edges that happen once that day."""
    joined: list[list] = []
    for window in sorted((w for w in windows if w.applies_on(day)), key=lambda w: (w.start, w.end)):
        regular = regular_instant(day, window.start) is not None and regular_instant(day, window.end) is not None
        if joined and window.start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], window.end)
            joined[-1][2] = joined[-1][2] and regular
        else:
            joined.append([window.start, window.end, regular])
    return [tuple(found) for found in joined]


def wall_minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def local_minutes_inside(slot: Slot, schedule: ProviderSchedule, day: date) -> bool:
    """Every instant of the slot shows a wall time of `day` inside the provider's working
    windows, and on an ordinary day inside one stretch of them (touching windows joined)."""
    if day in DST_DAYS:
        # Wall time is not monotonic on these days: look at every minute (starts, durations
        # and the changes are whole minutes, so this is exact).
        instant = slot.start
        while instant < slot.end:
            local = instant.astimezone(DENVER)
            if local.date() != day or not any(
                w.applies_on(day) and w.start <= local.time() < w.end for w in schedule.windows
            ):
                return False
            instant += MINUTE
        return True
    start = slot.start.astimezone(DENVER)
    end = slot.end.astimezone(DENVER)
    return start.date() == day == end.date() and any(
        opens <= start.time() and end.time() <= closes for opens, closes, _ in stretches(schedule.windows, day)
    )


def expected_starts(schedule: ProviderSchedule, day: date, rules: BookingRules, now: datetime) -> set[datetime]:
    """Brute force for one provider and day, over the stretches whose edges are ordinary wall
    times and that lie more than an hour from any other (a change moves the clock an hour, so
    nothing farther can meet them), stepping from each stretch's opening."""
    starts = set()
    day_stretches = stretches(schedule.windows, day)
    for i, (opens, closes, regular) in enumerate(day_stretches):
        if not regular:
            continue
        neighbours = day_stretches[:i] + day_stretches[i + 1:]
        if any(not other_regular and wall_minutes(other_opens) - 60 <= wall_minutes(closes)
               and wall_minutes(opens) <= wall_minutes(other_closes) + 60
               for other_opens, other_closes, other_regular in neighbours):
            continue
        opening, closing = regular_instant(day, opens), regular_instant(day, closes)
        start = opening
        while start + rules.duration <= closing:
            block_end = start + rules.duration + rules.buffer
            free = not any(start < busy.end and busy.start < block_end for busy in schedule.busy)
            if free and now + rules.min_notice <= start and start.astimezone(DENVER).date() <= last_day_of(rules, now):
                starts.add(start)
            start += rules.step
    return starts


def has_irregular_window(schedule: ProviderSchedule, day: date) -> bool:
    return any(
        window.applies_on(day)
        and (regular_instant(day, window.start) is None or regular_instant(day, window.end) is None)
        for window in schedule.windows
    )


def days(first_day: date, last_day: date):
    return [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]


# ---------------------------------------------------------------- properties


@SETTINGS
@given(scenarios())
def test_every_slot_is_bookable(scenario):
    schedules, rules, now, first_day, last_day, closures = scenario
    by_id = {schedule.provider_id: schedule for schedule in schedules}
    for slot in run(scenario):
        schedule = by_id[slot.provider_id]
        assert slot.end - slot.start == rules.duration
        # The time it blocks, [start, end + buffer), touches nothing busy.
        block_end = slot.end + rules.buffer
        assert not any(slot.start < busy.end and busy.start < block_end for busy in schedule.busy), slot
        # Booking window relative to now.
        assert now + rules.min_notice <= slot.start, slot
        assert slot.start.astimezone(DENVER).date() <= last_day_of(rules, now), slot
        # On an open day of the asked range...
        day = slot.start.astimezone(DENVER).date()
        assert first_day <= day <= last_day, slot
        assert not closed(closures, day), slot
        # ...and inside one working stretch of that day (touching windows joined), in wall time.
        assert local_minutes_inside(slot, schedule, day), (
            slot, slot.start.astimezone(DENVER), slot.end.astimezone(DENVER))


@SETTINGS
@given(scenarios())
def test_slots_are_sorted_and_unique_per_provider_and_start(scenario):
    slots = run(scenario)
    assert [s.start for s in slots] == sorted(s.start for s in slots)
    keys = [(s.provider_id, s.start) for s in slots]
    assert len(keys) == len(set(keys))
    assert all(s.start.utcoffset() == timedelta(0) for s in slots)


@SETTINGS
@given(scenarios())
def test_no_bookable_start_is_missing(scenario):
    """Against a brute force: exact on days whose windows all have ordinary edges,
    and no ordinary window's slot is dropped on the others."""
    schedules, rules, now, first_day, last_day, closures = scenario
    found: dict[tuple[int, date], set[datetime]] = defaultdict(set)
    for slot in run(scenario):
        found[(slot.provider_id, slot.start.astimezone(DENVER).date())].add(slot.start)
    for schedule in schedules:
        for day in days(first_day, last_day):
            got = found.get((schedule.provider_id, day), set())
            if closed(closures, day):
                assert not got
                continue
            want = expected_starts(schedule, day, rules, now)
            if has_irregular_window(schedule, day):
                assert want <= got, sorted(want - got)
            else:
                assert got == want, (sorted(want - got), sorted(got - want))


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_result_does_not_depend_on_provider_or_busy_order(scenario):
    schedules, rules, now, first_day, last_day, closures = scenario
    shuffled = [
        ProviderSchedule(s.provider_id, tuple(reversed(s.windows)), tuple(reversed(s.busy)))
        for s in reversed(schedules)
    ]
    assert run(scenario) == run((shuffled, rules, now, first_day, last_day, closures))


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.integers(1, 6))
def test_a_longer_range_only_adds_days(scenario, extra_days):
    """Asking day by day gives the same slots as asking for the whole range at once."""
    schedules, rules, now, first_day, last_day, closures = scenario
    whole = run((schedules, rules, now, first_day, last_day + timedelta(days=extra_days), closures))
    piecewise = []
    for day in days(first_day, last_day + timedelta(days=extra_days)):
        piecewise.extend(run((schedules, rules, now, day, day, closures)))
    assert whole == sorted(piecewise)


@settings(max_examples=80, deadline=None)
@given(scenarios(), st.data())
def test_notice_and_advance_limits_are_inclusive(scenario, data):
    """Moving a limit exactly onto an offered start keeps that start and cuts only beyond it."""
    schedules, rules, now, first_day, last_day, closures = scenario
    open_rules = BookingRules(rules.duration, rules.buffer, rules.step, timedelta(0), 400)
    far_past = datetime.combine(first_day - timedelta(days=3), time(0), tzinfo=UTC)
    everything = run((schedules, open_rules, far_past, first_day, last_day, closures))
    if not everything:
        return
    pick = data.draw(st.sampled_from(everything))
    at_notice = BookingRules(rules.duration, rules.buffer, rules.step, pick.start - far_past, 400)
    assert run((schedules, at_notice, far_past, first_day, last_day, closures)) == [
        s for s in everything if s.start >= pick.start
    ]
    # The advance limit ending on the pick's day keeps that whole day and cuts the days after.
    pick_day = pick.start.astimezone(DENVER).date()
    at_advance = BookingRules(rules.duration, rules.buffer, rules.step, timedelta(0),
                              (pick_day - far_past.astimezone(DENVER).date()).days)
    assert run((schedules, at_advance, far_past, first_day, last_day, closures)) == [
        s for s in everything if s.start.astimezone(DENVER).date() <= pick_day
    ]


@st.composite
def day_windows(draw):
    day = draw(st.sampled_from(ANCHORS)) + timedelta(days=draw(st.integers(0, 6)))
    marks = draw(st.lists(st.tuples(edge_marks, edge_marks), min_size=1, max_size=5))
    windows = tuple(WeeklyWindow(day.weekday(), clock(min(a, b)), clock(max(a, b)))
                    for a, b in marks if a != b)
    return day, windows


@SETTINGS
@given(day_windows())
def test_working_stretches_join_touching_windows_and_cover_exactly_their_union(drawn):
    """A day's working intervals are sorted, neither overlapping nor touching, and cover
    exactly the instants of its windows (so 13:00-17:00 and 17:00-20:00 are one stretch)."""
    from scheduler.domain.availability import working_intervals
    from scheduler.domain.wall_time import window_closing, window_opening

    day, windows = drawn
    got = working_intervals(ProviderSchedule(1, windows), day, DENVER, Closures())
    for left, right in zip(got, got[1:], strict=False):
        assert left.end < right.start
    pieces = [(window_opening(day, w.start, DENVER), window_closing(day, w.end, DENVER)) for w in windows]
    pieces = [(a, b) for a, b in pieces if b > a]
    probes = {edge + offset for piece in pieces for edge in piece for offset in (-MINUTE, timedelta(0), MINUTE)}
    probes |= {edge + offset for found in got for edge in (found.start, found.end) for offset in (-MINUTE, timedelta(0))}
    for probe in probes:
        assert any(a <= probe < b for a, b in pieces) == any(i.start <= probe < i.end for i in got), probe


@settings(max_examples=150, deadline=None)
@given(scenarios(), st.data())
def test_cutting_a_window_in_two_touching_ones_changes_no_slot(scenario, data):
    schedules, rules, now, first_day, last_day, closures = scenario
    first = schedules[0]
    cuttable = [w for w in first.windows if wall_minutes(w.end) - wall_minutes(w.start) >= 10]
    if not cuttable:
        return
    whole = data.draw(st.sampled_from(cuttable))
    cut = clock(wall_minutes(whole.start) + 5 * data.draw(
        st.integers(1, (wall_minutes(whole.end) - wall_minutes(whole.start)) // 5 - 1)))
    pieces = (WeeklyWindow(whole.weekday, whole.start, cut, whole.valid_from, whole.valid_to),
              WeeklyWindow(whole.weekday, cut, whole.end, whole.valid_from, whole.valid_to))
    windows = tuple(w for w in first.windows if w is not whole) + pieces
    split = [ProviderSchedule(first.provider_id, windows, first.busy), *schedules[1:]]
    assert run(scenario) == run((split, rules, now, first_day, last_day, closures))
