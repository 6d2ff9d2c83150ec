"""The outbox rows each booking change writes: kinds, channels, due times, re-plans, cancels."""
from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from config import TestingConfig
from scheduler import create_app
from scheduler.domain.reminders import DEFAULT_POLICY, Cadence, Channels, PolicySettingError, plan_reminders
from scheduler.extensions import db
from scheduler.models import (
    ActorKind,
    Appointment,
    AppointmentLink,
    AppointmentStatus,
    BookingSource,
    Message,
    Service,
)
from scheduler.services import events
from scheduler.services.appointments import booking
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.availability.open_times import open_slots
from scheduler.services.common import audit
from scheduler.services.common.errors import SlotUnavailable
from scheduler.services.common.tokens import new_secret, sha256_hex
from scheduler.services.messages.links import link_for
from scheduler.services.messages.outbox import send_decision_for
from scheduler.services.operations.demo import seed_demo
from tests.support.factories import (
    DENVER,
    demo_course,
    demo_patient,
    demo_providers,
    demo_service,
    demo_visit,
    local,
    patient_payload,
    wall,
)

STAFF = audit.Actor(ActorKind.STAFF, 1)


def evaluation() -> Service:
    return demo_service("initial-evaluation")


def slot_at(start: datetime, chosen: Service | None = None):
    chosen = chosen or evaluation()
    day = start.astimezone(DENVER).date()
    for slot in open_slots(chosen, demo_providers(), day, day):
        if slot.start == start:
            return slot
    raise AssertionError(f"no open slot at {wall(start)}")


def book(start: datetime, *, staff=False, language="en", **patient):
    slot = slot_at(start)
    data = {"service": "initial-evaluation", "start": start.isoformat(), "provider_id": str(slot.provider_id),
            "patient": patient_payload(**patient)}
    if staff:
        return booking.book(data, online=False, source=BookingSource.DESK, actor=STAFF, language=language)
    return booking.book(data, online=True, language=language)


def rows(appointment_id=None, **filters) -> list[Message]:
    query = select(Message).order_by(Message.kind, Message.channel, Message.planned_for)
    if appointment_id is not None:
        query = query.where(Message.appointment_id == appointment_id)
    for name, value in filters.items():
        query = query.where(getattr(Message, name) == value)
    return list(db.session.scalars(query))


def plan(messages) -> list[tuple]:
    return sorted((m.kind, m.channel, m.status, m.cause, wall(m.due_at)) for m in messages)


VISIT = local(2026, 12, 9, 15, 0)  # a Wednesday afternoon, nine days after the frozen clock
NOW = "2026-11-30 08:00"


def test_online_booking_plans_confirmation_and_reminders(demo):
    booked = book(VISIT)
    appointment = booked.appointment
    assert plan(rows(appointment.id)) == [
        ("confirmation", "email", "pending", "patient", NOW),
        ("confirmation", "sms", "pending", "patient", NOW),
        ("reminder", "email", "pending", "system", "2026-12-07 15:00"),
        ("reminder", "sms", "pending", "system", "2026-12-08 15:00"),
        ("reminder", "sms", "pending", "system", "2026-12-09 13:00"),
    ]
    for message in rows(appointment.id):
        assert message.send_before == VISIT
        assert message.patient_id == appointment.patient_id
        assert message.to_address == ("+19155550123" if message.channel == "sms" else "ana@example.com")
        assert message.language == "en"


def test_channels_follow_consent_and_address(demo):
    no_texts = book(VISIT, sms_opt_in=False, phone="915-555-0150", email="b@example.com").appointment
    assert {m.channel for m in rows(no_texts.id)} == {"email"}
    # The desk may book a patient who gave no email
    no_email = demo_visit(demo_patient(email=None), local(2026, 12, 10, 15, 0))
    events.appointment_booked(no_email, cause="staff")
    assert {m.channel for m in rows(no_email.id)} == {"sms"}


def test_spanish_patient_rows_carry_the_language(demo):
    appointment = book(VISIT, language="es").appointment
    assert {m.language for m in rows(appointment.id)} == {"es"}


def test_staff_booking_at_night_waits_for_the_window(demo, clock):
    clock.now = local(2026, 11, 30, 22, 30)
    appointment = book(VISIT, staff=True).appointment
    confirmations = rows(appointment.id, kind="confirmation")
    assert {(m.cause, wall(m.due_at), wall(m.planned_for)) for m in confirmations} == {
        ("staff", "2026-12-01 08:00", "2026-11-30 22:30")}


def test_a_booking_through_the_public_api_at_night_goes_at_once(demo, client, clock):
    # The clinic's website books through the API for the patient: the patient caused it.
    clock.now = local(2026, 11, 30, 23, 45)
    slot = slot_at(VISIT)
    answer = client.post("/api/v1/bookings", json={
        "service": "initial-evaluation", "provider_id": slot.provider_id, "start": VISIT.isoformat(),
        "patient": patient_payload()})
    assert answer.status_code == 201, answer.get_json()
    confirmations = rows(answer.get_json()["id"], kind="confirmation")
    assert {(m.cause, wall(m.due_at)) for m in confirmations} == {("patient", "2026-11-30 23:45")}


def test_patient_booking_at_night_goes_at_once(demo, clock):
    clock.now = local(2026, 11, 30, 23, 45)
    appointment = book(VISIT).appointment
    assert {wall(m.due_at) for m in rows(appointment.id, kind="confirmation")} == {"2026-11-30 23:45"}


def mark_sent(messages) -> None:
    for message in messages:
        message.status = "sent"
    db.session.commit()


def test_move_cancels_old_reminders_and_plans_new_ones(demo):
    appointment = book(VISIT).appointment
    mark_sent(rows(appointment.id, kind="confirmation"))
    new_start = local(2026, 12, 10, 9, 0)
    appointment_changes.reschedule(appointment, new_start.isoformat())
    reminders = rows(appointment.id, kind="reminder")
    assert sorted((m.status, wall(m.planned_for)) for m in reminders) == [
        ("cancelled", "2026-12-07 15:00"), ("cancelled", "2026-12-08 15:00"), ("cancelled", "2026-12-09 13:00"),
        ("pending", "2026-12-08 09:00"), ("pending", "2026-12-09 09:00"), ("pending", "2026-12-10 07:00"),
    ]
    pending = [m for m in reminders if m.status == "pending"]
    assert {m.send_before for m in pending} == {new_start}
    # 07:00 is before the window; 08:00 still leaves an hour (half of the 2 h lead)
    assert {wall(m.due_at) for m in pending if m.planned_for == new_start - timedelta(hours=2)} == {"2026-12-10 08:00"}
    changes = rows(appointment.id, kind="change")
    assert plan(changes) == [("change", "email", "pending", "patient", NOW), ("change", "sms", "pending", "patient", NOW)]
    assert appointment.moved_from == VISIT


def test_move_while_the_confirmation_waits_sends_no_separate_update(demo, clock):
    clock.now = local(2026, 11, 30, 22, 0)
    appointment = book(VISIT, staff=True).appointment  # confirmation waits for 08:00
    appointment_changes.reschedule(appointment, local(2026, 12, 10, 9, 0).isoformat(), actor=STAFF)
    assert rows(appointment.id, kind="change") == []
    confirmations = rows(appointment.id, kind="confirmation")
    assert {(m.status, wall(m.due_at)) for m in confirmations} == {("pending", "2026-12-01 08:00")}
    assert {m.send_before for m in confirmations} == {local(2026, 12, 10, 9, 0)}
    # The patient then moves it through their link, still at night: the waiting confirmation
    # becomes the patient's and goes at once
    clock.advance(minutes=5)
    appointment_changes.reschedule(appointment, local(2026, 12, 11, 9, 0).isoformat())
    confirmations = rows(appointment.id, kind="confirmation")
    assert {(m.cause, wall(m.due_at)) for m in confirmations} == {("patient", "2026-11-30 22:05")}
    assert {send_decision_for(m).action for m in confirmations} == {"send"}


def test_move_there_and_back_never_breaks_the_unique_plan(demo):
    appointment = book(VISIT).appointment
    mark_sent(rows(appointment.id, kind="confirmation"))
    # the 48 h email went out before the moves
    mark_sent(rows(appointment.id, kind="reminder", channel="email"))
    other = local(2026, 12, 10, 9, 0)
    appointment_changes.reschedule(appointment, other.isoformat())
    mark_sent(rows(appointment.id, kind="change"))
    appointment_changes.reschedule(appointment, VISIT.isoformat())  # back, in the same instant
    appointment_changes.reschedule(appointment, other.isoformat())
    appointment_changes.reschedule(appointment, VISIT.isoformat())
    reminders = rows(appointment.id, kind="reminder")
    by_time = {}
    for message in reminders:
        by_time.setdefault((message.channel, wall(message.planned_for)), []).append(message.status)
    assert all(len(statuses) == 1 for statuses in by_time.values())  # one row per plan, revived
    assert by_time[("sms", "2026-12-08 15:00")] == ["pending"]
    assert by_time[("sms", "2026-12-09 13:00")] == ["pending"]
    assert by_time[("email", "2026-12-07 15:00")] == ["sent"]  # not sent twice for the same time
    assert by_time[("sms", "2026-12-09 09:00")] == ["cancelled"]
    # Change notices: the sent one stays; a new one a microsecond later, reused by the later moves
    changes = rows(appointment.id, kind="change", channel="sms")
    assert [m.status for m in changes] == ["sent", "pending"]
    assert changes[1].planned_for - changes[0].planned_for == timedelta(microseconds=1)


def test_cancel_cancels_whatever_waits_and_sends_a_notice(demo):
    appointment = book(VISIT).appointment
    mark_sent(rows(appointment.id, kind="confirmation"))
    appointment_changes.cancel(appointment, reason="")
    assert {m.status for m in rows(appointment.id, kind="reminder")} == {"cancelled"}
    assert {m.status for m in rows(appointment.id, kind="confirmation")} == {"sent"}
    assert plan(rows(appointment.id, kind="cancellation")) == [
        ("cancellation", "email", "pending", "patient", NOW), ("cancellation", "sms", "pending", "patient", NOW)]


def test_staff_cancel_is_staff_caused(demo, clock):
    appointment = book(VISIT).appointment
    clock.now = local(2026, 11, 30, 21, 30)
    appointment_changes.cancel(appointment, actor=STAFF)
    assert {(m.cause, wall(m.due_at)) for m in rows(appointment.id, kind="cancellation")} == {
        ("staff", "2026-12-01 08:00")}


def test_cause_for_actors():
    assert events.cause_for(audit.PATIENT_WEB) == "patient"
    assert events.cause_for(audit.PATIENT_LINK) == "patient"
    assert events.cause_for(audit.Actor(ActorKind.SMS)) == "patient"
    assert events.cause_for(STAFF) == "staff"
    assert events.cause_for(audit.API_CLIENT) == "patient"  # the clinic's website, booked by the patient
    assert events.cause_for(audit.SYSTEM) == "system"


COURSE_STARTS = [local(2026, 12, d, 10, 0) for d in (1, 3, 8, 10)] + [local(2026, 12, 29, 10, 0)]


def test_course_welcome_and_cadence(demo):
    patient = demo_patient()
    course, visits = demo_course(patient, COURSE_STARTS)
    events.course_booked(course, visits, cause="staff")
    db.session.commit()
    welcome = rows(kind="course_welcome")
    assert {(m.channel, m.course_id, m.appointment_id, wall(m.due_at)) for m in welcome} == {
        ("email", course.id, None, NOW), ("sms", course.id, None, NOW)}
    assert {m.send_before for m in welcome} == {COURSE_STARTS[-1]}

    def reminder_offsets(visit):
        return sorted((m.channel, visit.starts_at - m.planned_for) for m in rows(visit.id, kind="reminder"))

    full = [("email", timedelta(hours=48)), ("sms", timedelta(hours=2)), ("sms", timedelta(hours=24))]
    # The first visit is the next day: its 48 h email is already past
    assert reminder_offsets(visits[0]) == [("sms", timedelta(hours=2)), ("sms", timedelta(hours=24))]
    for routine in visits[1:4]:
        assert reminder_offsets(routine) == [("sms", timedelta(hours=24))]
    assert reminder_offsets(visits[4]) == full  # after the holiday gap of 19 days
    assert {m.course_id for m in rows(kind="reminder")} == {course.id}
    assert not rows(kind="confirmation")  # the welcome stands for the visits' confirmations


def test_weeks_added_to_a_course_continue_its_cadence(demo):
    patient = demo_patient()
    course, visits = demo_course(patient, COURSE_STARTS[:2])
    events.course_booked(course, visits, cause="staff")
    more = [local(2026, 12, 8, 10, 0), local(2026, 12, 10, 10, 0)]
    therapy = visits[0].service_id
    added = [Appointment(patient_id=patient.id, provider_id=visits[0].provider_id, service_id=therapy,
                         course_id=course.id, visit_number=n, starts_at=s, ends_at=s + timedelta(minutes=45),
                         blocks_until=s + timedelta(minutes=45), status="booked", source="desk",
                         manage_token_hash=sha256_hex(new_secret()), created_at=s, updated_at=s)
             for n, s in enumerate(more, 3)]
    db.session.add_all(added)
    db.session.flush()
    events.course_booked(course, added, cause="staff")
    db.session.commit()
    assert [sorted(m.channel for m in rows(v.id, kind="reminder")) for v in added] == [["sms"], ["sms"]]
    # The first welcome still waits, and lists what is ahead when it goes: no second one
    assert [m.status for m in rows(kind="course_welcome")] == ["pending", "pending"]
    mark_sent(rows(kind="course_welcome"))
    events.course_booked(course, added, cause="staff")
    assert sorted(m.status for m in rows(kind="course_welcome")) == ["pending", "pending", "sent", "sent"]


def test_links_message(demo):
    first = book(VISIT).appointment
    second = book(local(2026, 12, 16, 15, 0)).appointment
    events.links_requested([first], channel="sms", cause="patient")
    events.links_requested([first, second], channel="email", cause="patient")
    db.session.commit()
    links = rows(kind="links")
    assert {(m.channel, m.appointment_id, wall(m.due_at)) for m in links} == {
        ("sms", first.id, NOW), ("email", None, NOW)}
    # A channel the patient cannot receive: nothing planned
    no_texts = book(local(2026, 12, 11, 15, 0), sms_opt_in=False, phone="915-555-0160").appointment
    events.links_requested([no_texts], channel="sms", cause="patient")
    assert rows(no_texts.id, kind="links") == []


def test_rolled_back_booking_leaves_no_messages(demo):
    first = book(VISIT).appointment
    before = len(rows())
    data = {"service": "initial-evaluation", "start": VISIT.isoformat(), "provider_id": str(first.provider_id),
            "patient": patient_payload(phone="915-555-0199")}
    with pytest.raises(SlotUnavailable):
        booking.book(data, online=True)  # that provider is taken now
    assert len(rows()) == before


# ---------------------------------------------------------------- at send time


def test_send_decision_for_rereads_the_appointment_and_the_patient(demo, clock):
    appointment = book(VISIT).appointment
    sms_reminder = [m for m in rows(appointment.id, kind="reminder", channel="sms")][0]
    assert send_decision_for(sms_reminder, local(2026, 12, 8, 15, 0)).action == "send"
    night = send_decision_for(sms_reminder, local(2026, 12, 8, 22, 0))
    assert (night.action, wall(night.until)) == ("defer", "2026-12-09 08:00")
    assert send_decision_for(sms_reminder, VISIT).action == "expire"
    appointment.patient.sms_opted_out_at = local(2026, 12, 1, 9, 0)
    assert send_decision_for(sms_reminder, local(2026, 12, 8, 15, 0)).reason == "channel_not_allowed"
    appointment.patient.sms_opted_out_at = None
    appointment.status = AppointmentStatus.CANCELLED.value
    assert send_decision_for(sms_reminder, local(2026, 12, 8, 15, 0)).reason == "appointment_cancelled"


def test_send_decision_for_a_course_welcome_of_a_cancelled_course(demo):
    patient = demo_patient()
    course, visits = demo_course(patient, COURSE_STARTS)
    events.course_booked(course, visits, cause="staff")
    welcome = rows(kind="course_welcome", channel="email")[0]
    assert send_decision_for(welcome, local(2026, 11, 30, 9, 0)).action == "send"
    course.status = "cancelled"
    assert send_decision_for(welcome, local(2026, 11, 30, 9, 0)).action == "expire"


# ---------------------------------------------------------------- message links


def test_a_message_link_opens_the_appointment_and_is_stored_only_as_a_hash(demo, client, clock):
    appointment = book(VISIT).appointment
    url = link_for(appointment)
    db.session.commit()
    code = url.rsplit("/", 1)[1]
    assert url == f"http://localhost/l/{code}"
    stored = db.session.scalar(select(AppointmentLink).where(AppointmentLink.appointment_id == appointment.id))
    assert stored.token_hash == sha256_hex(code) and code not in stored.token_hash
    response = client.get(f"/l/{code}")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert "Wednesday, December 9" in page.get_data(as_text=True)
    # The page's actions work through the message's link too
    token = re.search(r"/appointments/([^/?#]+)", response.headers["Location"])[1]
    assert appointment_changes.appointment_for_token(token).id == appointment.id
    assert client.get("/l/not-a-real-code").status_code == 404
    clock.advance(days=401)
    assert client.get(f"/l/{code}").status_code == 404


# ---------------------------------------------------------------- settings


def test_bad_message_settings_stop_the_start(monkeypatch):
    with pytest.raises(PolicySettingError, match="REMINDER_SMS_OFFSETS_HOURS"):
        create_app(TestingConfig, {"REMINDER_SMS_OFFSETS_HOURS": "24,two"})
    with pytest.raises(PolicySettingError, match="MESSAGE_SEND_WINDOW"):
        create_app(TestingConfig, {"MESSAGE_SEND_WINDOW": "21:00-08:00"})
    app = create_app(TestingConfig, {"MESSAGE_SEND_WINDOW": "00:00-24:00", "COURSE_REMINDER_SMS_OFFSETS_HOURS": ""})
    policy = app.extensions["message_policy"]
    assert policy.window.any_time and policy.course_sms_offsets == ()


# ---------------------------------------------------------------- the real clock, travelling


@pytest.fixture
def real_clock_app(tmp_path, migrated_sqlite_template):
    """An app reading the real clock (no CLOCK override), for time-machine to move."""
    path = tmp_path / "scheduler.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize(("booked_at", "visit", "expected"), [
    # Spring forward (Sunday 2027-03-14 02:00 -> 03:00): booked Saturday evening for Monday 09:00
    ((2027, 3, 13, 20, 0), (2027, 3, 15, 9, 0), [
        ("confirmation", "email", "2027-03-13 20:00"), ("confirmation", "sms", "2027-03-13 20:00"),
        ("reminder", "sms", "2027-03-14 09:00"), ("reminder", "sms", "2027-03-15 08:00")]),
    # Fall back (Sunday 2026-11-01 02:00 -> 01:00): 24 real hours before Monday 09:00 MST is
    # Sunday 09:00 MST; the 48 h email (Saturday 10:00 MDT) was past at booking
    ((2026, 10, 31, 12, 0), (2026, 11, 2, 9, 0), [
        ("confirmation", "email", "2026-10-31 12:00"), ("confirmation", "sms", "2026-10-31 12:00"),
        ("reminder", "sms", "2026-11-01 09:00"), ("reminder", "sms", "2026-11-02 08:00")]),
])
def test_booking_across_daylight_saving_on_the_real_clock(real_clock_app, booked_at, visit, expected):
    with time_machine.travel(local(*booked_at), tick=False):
        seed_demo()
        start = local(*visit)
        appointment = book(start).appointment
        got = sorted((m.kind, m.channel, wall(m.due_at)) for m in rows(appointment.id))
    assert got == expected
    for message in rows(appointment.id, kind="reminder"):
        assert message.send_before == start
        assert message.planned_for in (start - timedelta(hours=24), start - timedelta(hours=2))


def test_plan_move_back_and_cancel_on_postgresql(pg_app):
    seed_demo()
    appointment = book(VISIT).appointment
    mark_sent(rows(appointment.id, kind="confirmation"))
    other = local(2026, 12, 10, 9, 0)
    for start in (other, VISIT, other, VISIT):
        appointment_changes.reschedule(appointment, start.isoformat())
    pending = rows(appointment.id, kind="reminder", status="pending")
    assert sorted(wall(m.planned_for) for m in pending) == ["2026-12-07 15:00", "2026-12-08 15:00", "2026-12-09 13:00"]
    appointment_changes.cancel(appointment)
    assert rows(appointment.id, status="pending") == rows(appointment.id, kind="cancellation")
    assert len(rows(appointment.id, kind="cancellation")) == 2


# ---------------------------------------------------------------- any sequence of changes

MOVE_TIMES = [local(2026, 12, 9, 15, 0), local(2026, 12, 10, 8, 15), local(2026, 12, 9, 9, 30),
              local(2026, 12, 14, 16, 0)]
change_steps = st.lists(
    st.one_of(
        st.tuples(st.just("move"), st.sampled_from(range(len(MOVE_TIMES))), st.sampled_from(["patient", "staff"])),
        st.tuples(st.just("send"), st.integers(0, 20), st.just("")),
        st.tuples(st.just("tick"), st.integers(1, 600), st.just("")),
    ),
    max_size=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=change_steps, cancel_at_end=st.booleans())
def test_any_sequence_of_moves_keeps_one_plan_for_the_current_time(demo, clock, steps, cancel_at_end):
    clock.now = datetime(2026, 11, 30, 15, tzinfo=UTC)
    patient = demo_patient(phone_e164=f"+1915555{len(rows()) % 10000:04d}")
    visit = demo_visit(patient, MOVE_TIMES[0])
    events.appointment_booked(visit, cause="patient")
    db.session.flush()
    planned_at = clock.now
    for action, value, cause in steps:
        if action == "move" and MOVE_TIMES[value] != visit.starts_at:
            visit.moved_from, visit.starts_at = visit.starts_at, MOVE_TIMES[value]
            visit.ends_at = visit.starts_at + timedelta(hours=1)
            visit.blocks_until = visit.ends_at + timedelta(minutes=15)
            events.appointment_moved(visit, cause=cause)
            planned_at = clock.now
        elif action == "send":
            waiting = rows(visit.id, status="pending")
            if waiting:
                waiting[value % len(waiting)].status = "sent"
        elif action == "tick":
            clock.advance(seconds=value)
        db.session.flush()  # the unique plan (appointment, kind, channel, planned_for) holds
        pending = rows(visit.id, kind="reminder", status="pending")
        assert all(m.send_before == visit.starts_at for m in pending)
        offsets = {(m.channel, visit.starts_at - m.planned_for) for m in pending}
        assert len(offsets) == len(pending)  # one pending reminder per channel and offset
        assert offsets <= {("email", timedelta(hours=48)), ("sms", timedelta(hours=24)), ("sms", timedelta(hours=2))}
        # ... and every reminder the rules want for the current time is waiting (or already went)
        wanted = plan_reminders(visit.starts_at, planned_at, Channels(sms=True, email=True), Cadence.FULL,
                                DEFAULT_POLICY, DENVER)
        for plan_ in wanted:
            assert {m.status for m in rows(visit.id, kind="reminder", channel=plan_.channel,
                                           planned_for=plan_.planned_for)} in ({"pending"}, {"sent"})
        for channel in ("email", "sms"):  # one waiting notice per channel at most
            assert len([m for m in rows(visit.id, channel=channel, status="pending") if m.kind != "reminder"]) <= 1
    if cancel_at_end:
        visit.status = "cancelled"
        events.appointment_cancelled(visit, cause="patient")
        db.session.flush()
        assert {m.kind for m in rows(visit.id, status="pending")} == {"cancellation"}
    db.session.rollback()
