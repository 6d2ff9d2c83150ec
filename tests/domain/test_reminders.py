"""The pure planning of patients' messages: offsets, the send window, daylight saving, segments."""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.reminders import (
    DEFAULT_POLICY,
    PULL_BACK_MARGIN,
    REMINDER_MIN_SPACING,
    Cadence,
    Channels,
    PolicySettingError,
    SendFacts,
    SendWindow,
    course_cadences,
    fold_to_gsm7,
    parse_offsets,
    parse_window,
    plan_notice,
    plan_reminders,
    policy_from_settings,
    send_decision,
    sms_segments,
)

DENVER = ZoneInfo("America/Denver")
WINDOW = DEFAULT_POLICY.window
BOTH = Channels(sms=True, email=True)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=DENVER).astimezone(UTC)


def wall(instant: datetime) -> tuple:
    moment = instant.astimezone(DENVER)
    return moment.date().isoformat(), moment.strftime("%H:%M")


# ---------------------------------------------------------------- settings


def test_window_parsing():
    assert parse_window("08:00-21:00") == SendWindow(time(8), time(21))
    assert parse_window(" 7:30 - 20:00 ") == SendWindow(time(7, 30), time(20))
    assert parse_window("00:00-24:00").any_time


@pytest.mark.parametrize("raw", ["", "08:00", "8-21", "21:00-08:00", "08:00-08:00", "25:00-26:00", "08:60-21:00",
                                 "24:00-24:00", "08:00-21:00-22:00"])
def test_bad_windows_are_refused(raw):
    with pytest.raises(ValueError):
        parse_window(raw)


def test_offsets_parsing():
    assert parse_offsets("24,2") == (timedelta(hours=24), timedelta(hours=2))
    assert parse_offsets("2, 24 ,2") == (timedelta(hours=24), timedelta(hours=2))
    assert parse_offsets("1.5") == (timedelta(hours=1, minutes=30),)
    assert parse_offsets("") == ()
    assert parse_offsets(" , ") == ()


@pytest.mark.parametrize("raw", ["abc", "0", "-2", "nan", "inf", "24;2", "10000"])
def test_bad_offsets_are_refused(raw):
    with pytest.raises(ValueError):
        parse_offsets(raw)


def test_policy_settings_name_the_bad_one():
    good = {
        "MESSAGE_SEND_WINDOW": "08:00-21:00", "REMINDER_EMAIL_OFFSETS_HOURS": "48",
        "REMINDER_SMS_OFFSETS_HOURS": "24,2", "COURSE_REMINDER_EMAIL_OFFSETS_HOURS": "",
        "COURSE_REMINDER_SMS_OFFSETS_HOURS": "24",
    }
    assert policy_from_settings(good) == DEFAULT_POLICY
    with pytest.raises(PolicySettingError, match="REMINDER_SMS_OFFSETS_HOURS='24h'"):
        policy_from_settings({**good, "REMINDER_SMS_OFFSETS_HOURS": "24h"})
    with pytest.raises(PolicySettingError, match="MESSAGE_SEND_WINDOW"):
        policy_from_settings({**good, "MESSAGE_SEND_WINDOW": "9pm-8am"})


# ---------------------------------------------------------------- the window


def test_window_edges_are_clinic_wall_time_on_both_sides_of_dst():
    for day in ((2027, 3, 13), (2027, 3, 14), (2027, 3, 15), (2026, 10, 31), (2026, 11, 1), (2026, 11, 2)):
        assert WINDOW.contains(local(*day, 8, 0), DENVER)
        assert WINDOW.contains(local(*day, 20, 59), DENVER)
        assert not WINDOW.contains(local(*day, 21, 0), DENVER)
        assert not WINDOW.contains(local(*day, 7, 59), DENVER)
    # The spring-forward night: 21:00 Saturday to 08:00 Sunday is 10 hours of real time, not 11.
    saturday_close = local(2027, 3, 13, 21, 30)
    assert WINDOW.next_opening(saturday_close, DENVER) == local(2027, 3, 14, 8, 0)
    assert local(2027, 3, 14, 8, 0) - local(2027, 3, 13, 21, 0) == timedelta(hours=10)


def test_any_time_window_contains_every_instant():
    window = parse_window("00:00-24:00")
    for hour in range(24):
        assert window.contains(local(2026, 11, 1, hour, 30), DENVER)
    night = local(2026, 12, 2, 3, 0)
    assert window.next_opening(night, DENVER) == night


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)))
def test_next_opening_is_the_first_instant_inside(instant):
    opening = WINDOW.next_opening(instant, DENVER)
    assert opening >= instant
    assert WINDOW.contains(opening, DENVER)
    assert opening - instant < timedelta(hours=12)  # the night is 11 h (10 or 12 across DST)
    if opening > instant:  # nothing between was inside: the opening is 08:00 local
        assert wall(opening)[1] == "08:00"


# ---------------------------------------------------------------- reminders


def test_default_reminders_for_an_afternoon_visit():
    start = local(2026, 12, 9, 15, 0)
    now = local(2026, 11, 30, 8, 0)
    plans = plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER)
    got = sorted((p.channel, wall(p.planned_for), wall(p.due_at)) for p in plans)
    assert got == [
        ("email", ("2026-12-07", "15:00"), ("2026-12-07", "15:00")),
        ("sms", ("2026-12-08", "15:00"), ("2026-12-08", "15:00")),
        ("sms", ("2026-12-09", "13:00"), ("2026-12-09", "13:00")),
    ]
    assert all(p.send_before == start and p.kind == "reminder" for p in plans)


def test_channels_the_patient_cannot_receive_get_nothing():
    start = local(2026, 12, 9, 15, 0)
    now = local(2026, 11, 30, 8, 0)
    assert {p.channel for p in plan_reminders(start, now, Channels(sms=False, email=True), Cadence.FULL,
                                              DEFAULT_POLICY, DENVER)} == {"email"}
    assert plan_reminders(start, now, Channels(sms=False, email=False), Cadence.FULL, DEFAULT_POLICY, DENVER) == []


def test_reminder_past_at_booking_is_not_sent_late():
    start = local(2026, 12, 1, 15, 0)
    now = local(2026, 11, 30, 16, 0)  # 23 h before: the 24 h SMS and the 48 h email are past
    plans = plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER)
    assert [(p.channel, wall(p.planned_for)) for p in plans] == [("sms", ("2026-12-01", "13:00"))]


def test_early_morning_reminder_is_deferred_forward_when_half_its_lead_remains():
    # 2 h before a 10:00 visit is 08:00 (inside); before a 09:30 visit it is 07:30 -> 08:00.
    start = local(2026, 12, 9, 9, 30)
    now = local(2026, 11, 30, 8, 0)
    two_hour = [p for p in plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER)
                if p.planned_for == start - timedelta(hours=2)][0]
    assert wall(two_hour.due_at) == ("2026-12-09", "08:00")


def test_reminder_too_late_at_the_opening_is_pulled_back_to_the_evening_before():
    start = local(2026, 12, 9, 8, 15)  # the 2 h SMS would be 06:15; 08:00 leaves 15 minutes
    now = local(2026, 11, 30, 8, 0)
    plans = plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER)
    two_hour = [p for p in plans if p.planned_for == start - timedelta(hours=2)][0]
    assert wall(two_hour.due_at) == ("2026-12-08", "20:30")
    assert two_hour.due_at == local(2026, 12, 8, 21, 0) - PULL_BACK_MARGIN


def test_pulled_back_reminder_close_to_another_is_one_too_many():
    # A visit at 08:00: the 24 h SMS goes at 08:00 the day before; the 2 h one (06:00) would be
    # pulled back to 20:30 the evening before: far enough apart, both go.
    start = local(2026, 12, 9, 8, 0)
    now = local(2026, 11, 30, 8, 0)
    sms = [p for p in plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER) if p.channel == "sms"]
    assert sorted(wall(p.due_at) for p in sms) == [("2026-12-08", "08:00"), ("2026-12-08", "20:30")]
    # Offsets 12.5 h and 12 h for a 09:00 visit: 20:30 (inside), and 21:00, which 08:00 would
    # make 1 h before the visit (less than half its lead), so it is pulled back to 20:30 too.
    policy = policy_from_settings({
        "MESSAGE_SEND_WINDOW": "08:00-21:00", "REMINDER_EMAIL_OFFSETS_HOURS": "",
        "REMINDER_SMS_OFFSETS_HOURS": "12.5,12", "COURSE_REMINDER_EMAIL_OFFSETS_HOURS": "",
        "COURSE_REMINDER_SMS_OFFSETS_HOURS": "",
    })
    plans = plan_reminders(local(2026, 12, 9, 9, 0), now, BOTH, Cadence.FULL, policy, DENVER)
    # Two texts at 20:30: the second is one too many.
    assert [wall(p.due_at) for p in plans] == [("2026-12-08", "20:30")]


def test_booked_late_at_night_for_the_early_morning_no_reminder_can_arrive_in_the_window():
    start = local(2026, 12, 1, 8, 0)
    now = local(2026, 11, 30, 22, 0)
    assert plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER) == []


def test_course_cadence_is_lighter_and_configurable():
    start = local(2026, 12, 9, 15, 0)
    now = local(2026, 11, 30, 8, 0)
    routine = plan_reminders(start, now, BOTH, Cadence.COURSE, DEFAULT_POLICY, DENVER)
    assert [(p.channel, start - p.planned_for) for p in routine] == [("sms", timedelta(hours=24))]
    policy = policy_from_settings({
        "MESSAGE_SEND_WINDOW": "08:00-21:00", "REMINDER_EMAIL_OFFSETS_HOURS": "48",
        "REMINDER_SMS_OFFSETS_HOURS": "24,2", "COURSE_REMINDER_EMAIL_OFFSETS_HOURS": "72",
        "COURSE_REMINDER_SMS_OFFSETS_HOURS": "3",
    })
    routine = plan_reminders(start, now, BOTH, Cadence.COURSE, policy, DENVER)
    assert sorted((p.channel, start - p.planned_for) for p in routine) == [
        ("email", timedelta(hours=72)), ("sms", timedelta(hours=3))]


def test_course_cadences_full_for_the_first_visit_and_after_a_long_gap():
    starts = [local(2026, 12, d, 9, 0) for d in (1, 3, 8, 10)] + [local(2027, 1, 5, 9, 0), local(2027, 1, 7, 9, 0)]
    assert course_cadences(starts) == [
        Cadence.FULL, Cadence.COURSE, Cadence.COURSE, Cadence.COURSE, Cadence.FULL, Cadence.COURSE]
    # Weeks added to a course: the earlier visit decides whether the first new one is routine.
    assert course_cadences(starts[1:2], earlier_visit=starts[0]) == [Cadence.COURSE]


@pytest.mark.parametrize("visit", [
    (2027, 3, 14, 9, 0), (2027, 3, 15, 9, 0), (2027, 3, 16, 9, 0),  # spring forward Sunday 2027-03-14
    (2026, 11, 1, 9, 0), (2026, 11, 2, 9, 0), (2026, 11, 3, 9, 0),  # fall back Sunday 2026-11-01
])
def test_offsets_across_dst_are_real_hours_and_the_window_is_wall_time(visit):
    start = local(*visit)
    now = start - timedelta(days=10)
    for plan in plan_reminders(start, now, BOTH, Cadence.FULL, DEFAULT_POLICY, DENVER):
        # 24 h before is real time: across a change, the wall clock says 08:00 or 10:00
        assert start - plan.planned_for in (timedelta(hours=48), timedelta(hours=24), timedelta(hours=2))
        assert WINDOW.contains(plan.due_at, DENVER)
        assert now <= plan.due_at < start


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 10, 1), max_value=datetime(2027, 4, 30), timezones=st.just(UTC)),
    lead=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=5)),
    window=st.sampled_from(["08:00-21:00", "09:00-17:00", "00:00-24:00", "07:15-22:45"]),
    sms=st.booleans(),
    email=st.booleans(),
    cadence=st.sampled_from(list(Cadence)),
)
def test_every_planned_reminder_is_inside_the_window_and_before_the_visit(start, lead, window, sms, email, cadence):
    now = start - lead
    policy = policy_from_settings({
        "MESSAGE_SEND_WINDOW": window, "REMINDER_EMAIL_OFFSETS_HOURS": "48",
        "REMINDER_SMS_OFFSETS_HOURS": "24,2", "COURSE_REMINDER_EMAIL_OFFSETS_HOURS": "",
        "COURSE_REMINDER_SMS_OFFSETS_HOURS": "24",
    })
    plans = plan_reminders(start, now, Channels(sms=sms, email=email), cadence, policy, DENVER)
    for plan in plans:
        assert plan.planned_for >= now                      # never one already past
        assert now <= plan.due_at < start                   # never after the visit began
        assert plan.send_before == start
        assert policy.window.contains(plan.due_at, DENVER)  # always inside the window
        assert plan.channel in Channels(sms=sms, email=email).names()
    for channel in ("sms", "email"):
        dues = sorted(p.due_at for p in plans if p.channel == channel)
        assert all(b - a >= REMINDER_MIN_SPACING for a, b in zip(dues, dues[1:], strict=False))
    # Nothing is dropped that could have gone: an offset still ahead whose time is inside the
    # window is planned exactly then.
    for offset in policy.offsets("sms", cadence) if sms else ():
        wanted = start - offset
        if wanted >= now and policy.window.contains(wanted, DENVER):
            assert any(p.planned_for == wanted for p in plans if p.channel == "sms") or any(
                abs(p.due_at - wanted) < REMINDER_MIN_SPACING for p in plans if p.channel == "sms")


# ---------------------------------------------------------------- notices


def test_patient_caused_notice_goes_at_once_at_any_hour():
    night = local(2026, 12, 1, 23, 30)
    start = local(2026, 12, 2, 9, 0)
    plans = plan_notice("confirmation", BOTH, "patient", night, start, WINDOW, DENVER)
    assert {(p.channel, p.due_at) for p in plans} == {("sms", night), ("email", night)}


def test_staff_caused_notice_waits_for_the_window_and_is_not_planned_after_the_visit():
    night = local(2026, 12, 1, 23, 30)
    plans = plan_notice("change", BOTH, "staff", night, local(2026, 12, 2, 9, 0), WINDOW, DENVER)
    assert {wall(p.due_at) for p in plans} == {("2026-12-02", "08:00")}
    assert all(p.planned_for == night for p in plans)
    assert plan_notice("change", BOTH, "staff", night, local(2026, 12, 2, 7, 30), WINDOW, DENVER) == []


# ---------------------------------------------------------------- at send time


def facts(**overrides) -> SendFacts:
    values = dict(kind="reminder", cause="system", send_before=local(2026, 12, 2, 9, 0), channel_allowed=True,
                  appointment_cancelled=False)
    values.update(overrides)
    return SendFacts(**values)


def test_send_decision():
    inside = local(2026, 12, 1, 12, 0)
    night = local(2026, 12, 1, 22, 0)
    assert send_decision(facts(), inside, WINDOW, DENVER).action == "send"
    deferred = send_decision(facts(), night, WINDOW, DENVER)
    assert deferred.action == "defer" and deferred.until == local(2026, 12, 2, 8, 0)
    assert send_decision(facts(cause="patient", kind="confirmation"), night, WINDOW, DENVER).action == "send"
    assert send_decision(facts(), local(2026, 12, 2, 9, 0), WINDOW, DENVER).action == "expire"  # the visit began
    # Outside the window, and the window opens only after the visit began: expire, not late
    early = facts(send_before=local(2026, 12, 2, 7, 45))
    assert send_decision(early, night, WINDOW, DENVER).reason == "window_closed_until_visit"
    assert send_decision(facts(appointment_cancelled=True), inside, WINDOW, DENVER).reason == "appointment_cancelled"
    # ... but the cancellation notice itself goes
    assert send_decision(facts(kind="cancellation", appointment_cancelled=True), inside, WINDOW, DENVER).action == "send"
    assert send_decision(facts(channel_allowed=False), inside, WINDOW, DENVER).reason == "channel_not_allowed"
    assert send_decision(facts(appointment_started=True, send_before=None), inside, WINDOW, DENVER).action == "expire"


@settings(max_examples=200, deadline=None)
@given(
    now=st.datetimes(min_value=datetime(2026, 10, 25), max_value=datetime(2027, 3, 21), timezones=st.just(UTC)),
    lead=st.timedeltas(min_value=timedelta(minutes=-120), max_value=timedelta(days=3)),
    cause=st.sampled_from(["patient", "staff", "system"]),
)
def test_send_decision_never_sends_after_the_start_nor_outside_the_window_unless_the_patient_acted(now, lead, cause):
    decision = send_decision(facts(cause=cause, send_before=now + lead), now, WINDOW, DENVER)
    if lead <= timedelta(0):
        assert decision.action == "expire"
    elif decision.action == "send":
        assert cause == "patient" or WINDOW.contains(now, DENVER)
    elif decision.action == "defer":
        assert decision.until < now + lead and WINDOW.contains(decision.until, DENVER)


# ---------------------------------------------------------------- SMS segments


def test_gsm7_segments():
    assert sms_segments("") == ("GSM-7", 1)
    assert sms_segments("a" * 160) == ("GSM-7", 1)
    assert sms_segments("a" * 161) == ("GSM-7", 2)
    assert sms_segments("a" * 306) == ("GSM-7", 2)
    assert sms_segments("a" * 307) == ("GSM-7", 3)
    # Extension characters count two septets
    assert sms_segments("€" * 80) == ("GSM-7", 1)
    assert sms_segments("€" * 81) == ("GSM-7", 2)
    # ... and an escaped pair is never split across parts: 152 + "€" needs a second part
    assert sms_segments("a" * 152 + "€" + "a" * 8) == ("GSM-7", 2)
    assert sms_segments("a" * 152 + "€" + "a" * 153) == ("GSM-7", 3)


def test_spanish_letters_in_and_out_of_gsm7():
    # é, ñ, ü, É, Ñ, Ü, à, è, ì, ò, ù, ¿, ¡ are GSM-7; á, í, ó, ú (and their capitals) are not
    assert sms_segments("¿Mañana? ¡Sí, pingüino! É Ñ Ü à è ì ò ù é")[0] == "UCS-2"  # "í" in "Sí"
    assert sms_segments("¿Mañana? ¡Si, pingüino! É Ñ Ü à è ì ò ù é")[0] == "GSM-7"
    for letter in "áíóúÁÍÓÚ":
        assert sms_segments(letter) == ("UCS-2", 1)
    assert sms_segments("á" * 70) == ("UCS-2", 1)
    assert sms_segments("á" * 71) == ("UCS-2", 2)
    assert sms_segments("á" * 134) == ("UCS-2", 2)
    assert sms_segments("á" * 135) == ("UCS-2", 3)
    # A character outside the BMP is two UTF-16 units
    assert sms_segments("😀" * 35) == ("UCS-2", 1)
    assert sms_segments("😀" * 36) == ("UCS-2", 2)


def test_folding_keeps_spanish_texts_in_gsm7():
    text = "Su cita es el sábado 5 dic, 1:00\u202fp.m. – miércoles «próximo»"
    folded = fold_to_gsm7(text)
    assert "sabado" in folded and "miércoles" in folded
    assert sms_segments(folded.replace("«", '"').replace("»", '"'))[0] == "GSM-7"
