"""The desk calendar's server side: the events feed, booking a caller, and the drag, resize,
status and cancel endpoints the calendar calls with the session cookie.

The clock is frozen at Monday 2026-11-30 08:00 in Denver (MST, UTC-7). Providers work
Monday to Friday 08:00-12:00 and 13:00-17:00.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Course, Message, Patient, TimeOff
from scheduler.services.messages import outbox
from tests.support.factories import PASSWORD, build_clinic, make_patient, make_visit

TUESDAY_9 = "2026-12-01T09:00:00-07:00"
WEEK = "/staff/calendar/events?start=2026-11-30&end=2026-12-07"


@pytest.fixture
def clinic(app):
    return build_clinic()


def sign_in(client, email):
    response = client.post("/staff/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303
    return client


@pytest.fixture
def desk(client, clinic):
    return sign_in(client, "desk@example.com")


@pytest.fixture
def visit(clinic):
    return make_visit(clinic.patient, clinic.maria, clinic.therapy, TUESDAY_9)


@pytest.fixture
def told(monkeypatch):
    """What the outbox was told, by the one hook every change calls."""
    calls = []
    for name in ("plan_booked", "plan_moved", "plan_cancelled", "plan_confirmed", "plan_resized"):
        if hasattr(outbox, name):
            monkeypatch.setattr(outbox, name,
                                lambda appointment, *, cause, _n=name: calls.append((_n, appointment.id, cause)))
    return calls


def visits(body):
    return [e for e in body["events"] if e.get("display") != "background"]


def shades(body, kind):
    return [e for e in body["events"] if e.get("display") == "background" and e["extendedProps"]["kind"] == kind]


def test_the_week_for_the_desk_every_column_wall_times_and_shading(desk, clinic, visit):
    db.session.add(TimeOff(provider_id=clinic.daniel.id, starts_at=datetime(2026, 12, 2, 20, tzinfo=UTC),
                           ends_at=datetime(2026, 12, 3, 0, tzinfo=UTC), reason="Dentist"))
    cancelled = make_visit(clinic.patient, clinic.daniel, clinic.therapy, "2026-12-01T14:00:00-07:00")
    cancelled.status, cancelled.cancel_reason = "cancelled", "Sick"
    db.session.commit()
    response = desk.get(WEEK)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["timezone"] == "America/Denver"
    assert [r["id"] for r in body["resources"]] == [clinic.maria.id, clinic.daniel.id]
    by_id = {e["id"]: e for e in visits(body)}
    shown = by_id[str(visit.id)]
    # Clinic wall time without an offset: 09:00 in Denver is 16:00 UTC.
    assert (shown["start"], shown["end"]) == ("2026-12-01T09:00:00", "2026-12-01T09:45:00")
    assert shown["resourceIds"] == [clinic.maria.id] and shown["editable"] is True
    assert "status-booked" in shown["classNames"] and shown["backgroundColor"] == clinic.maria.colour
    assert shown["title"] == "Ana Garcia · Therapy session"
    faint = by_id[str(cancelled.id)]
    assert "status-cancelled" in faint["classNames"] and faint["editable"] is False and "(Cancelled)" in faint["title"]
    # Lunch is shaded for each provider each weekday, and the weekend is shaded whole.
    lunches = [s for s in shades(body, "off_hours") if s["start"].endswith("12:00:00") and s["end"].endswith("13:00:00")]
    assert len(lunches) == 2 * 5
    assert {"resourceIds": [clinic.maria.id], "start": "2026-12-05T00:00:00", "end": "2026-12-06T00:00:00"}.items() \
        <= next(s for s in shades(body, "off_hours") if s["start"] == "2026-12-05T00:00:00"
                and s["resourceIds"] == [clinic.maria.id]).items()
    # Time off 13:00-17:00 Wednesday, in Daniel's column only.
    (off,) = shades(body, "time_off")
    assert (off["start"], off["end"], off["resourceIds"], off["title"]) == (
        "2026-12-02T13:00:00", "2026-12-02T17:00:00", [clinic.daniel.id], "Dentist")


def test_closures_shade_every_column_and_bad_ranges_are_422(desk, clinic):
    body = desk.get("/staff/calendar/events?start=2026-12-21&end=2026-12-28").get_json()
    closed = shades(body, "closure")
    assert {tuple(c["resourceIds"]) for c in closed} == {(clinic.maria.id,), (clinic.daniel.id,)}
    assert {c["start"] for c in closed} == {"2026-12-25T00:00:00"} and closed[0]["title"] == "Christmas Day"
    for query in ("start=2026-12-07&end=2026-12-01", "start=nonsense&end=2026-12-01", "start=2026-01-01&end=2026-06-01", ""):
        response = desk.get(f"/staff/calendar/events?{query}")
        assert response.status_code == 422 and response.get_json()["error"] == "validation_failed", query


def test_a_provider_sees_only_their_own_column(client, clinic, visit):
    make_visit(make_patient("Luis", "Soto", "+19155550188", "luis@example.com"), clinic.daniel, clinic.therapy,
               "2026-12-01T10:00:00-07:00")
    sign_in(client, "maria@example.com")
    body = client.get(WEEK).get_json()
    assert [r["id"] for r in body["resources"]] == [clinic.maria.id]
    assert {e["resourceIds"][0] for e in body["events"]} == {clinic.maria.id}
    assert [e["title"] for e in visits(body)] == ["Ana Garcia · Therapy session"]
    page = client.get("/staff/calendar").get_data(as_text=True)
    assert "Maria Lopez, PT" in page and "Daniel Reyes, PT" not in page


def test_course_progress_on_the_event_and_in_the_panel(desk, clinic):
    course = Course(patient_id=clinic.patient.id, provider_id=clinic.maria.id, service_id=clinic.therapy.id,
                    first_day=datetime(2026, 12, 1).date(), weeks=1, visits_per_week=3, created_at=datetime.now(UTC))
    db.session.add(course)
    db.session.commit()
    for number, day in enumerate(("01", "02", "03"), start=1):
        make_visit(clinic.patient, clinic.maria, clinic.therapy, f"2026-12-{day}T09:00:00-07:00",
                   course_id=course.id, visit_number=number)
    second = db.session.scalar(select(Appointment).where(Appointment.visit_number == 2))
    db.session.add(Message(patient_id=clinic.patient.id, appointment_id=second.id, channel="sms", kind="reminder",
                           planned_for=datetime(2026, 12, 1, 16, tzinfo=UTC), due_at=datetime(2026, 12, 1, 16, tzinfo=UTC),
                           status="failed", error_code="21610", created_at=datetime.now(UTC), updated_at=datetime.now(UTC)))
    db.session.commit()
    event = next(e for e in visits(desk.get(WEEK).get_json()) if e["id"] == str(second.id))
    assert event["extendedProps"]["course"] == "visit 2 of 3"
    panel = desk.get(f"/staff/appointments/{second.id}/panel").get_data(as_text=True)
    assert "visit 2 of 3" in panel and "reminder" in panel and "failed (21610)" in panel
    assert "Start a course" not in panel  # already in one


def test_the_panel_offers_the_next_steps_and_a_course(desk, clinic, visit):
    panel = desk.get(f"/staff/appointments/{visit.id}/panel").get_data(as_text=True)
    for label in ("Confirm", "Check in", "No-show", "Reschedule", "Cancel visit", "No messages for this visit."):
        assert label in panel, label
    assert (f'/staff/courses/new?patient_id={clinic.patient.id}&amp;provider_id={clinic.maria.id}'
            f'&amp;evaluation_id={visit.id}') in panel
    assert desk.get("/staff/appointments/999/panel").status_code == 404


def _book(client, expect, **fields):
    body = {"service": "therapy-session", "start": "2026-12-01T10:00:00", **fields}
    response = client.post("/staff/calendar/bookings", json=body)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def test_book_a_caller_on_file_or_new_with_two_names_and_a_phone(desk, clinic, told):
    answer = _book(desk, 201, provider_id=clinic.maria.id, patient_id=clinic.patient.id)
    booked = db.session.get(Appointment, int(answer["event"]["id"]))
    assert booked.source == "desk" and booked.patient_id == clinic.patient.id
    assert booked.starts_at == datetime(2026, 12, 1, 17, tzinfo=UTC)  # 10:00 in Denver
    assert answer["event"]["start"] == "2026-12-01T10:00:00" and answer["possible_duplicates"] == []
    new = _book(desk, 201, provider_id=clinic.daniel.id,
                patient={"first_name": "Rosa", "last_name": "Mendez", "phone": "(915) 555-0177"})
    rosa = db.session.scalar(select(Patient).where(Patient.first_name == "Rosa"))
    assert rosa.phone_e164 == "+19155550177" and rosa.email is None and rosa.sms_consent_at is None
    assert told == [("plan_booked", booked.id, "staff"), ("plan_booked", int(new["event"]["id"]), "staff")]
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_kind == "staff")).all()
    assert actions.count("appointment.booked") == 2 and "patient.created" in actions


def test_a_caller_with_a_known_number_under_another_name_is_flagged(desk, clinic):
    answer = _book(desk, 201, provider_id=clinic.maria.id,
                   patient={"first_name": "Anita", "last_name": "Garcia", "phone": "915-555-0123"})
    assert answer["possible_duplicates"] == [clinic.patient.id]


def test_booking_refusals_say_which_field_or_that_it_is_taken(desk, clinic, visit, told):
    taken = _book(desk, 409, provider_id=clinic.maria.id, start="2026-12-01T09:15:00",
                  patient={"first_name": "Rosa", "last_name": "Mendez", "phone": "915-555-0177"})
    assert taken["error"] == "slot_unavailable" and taken["alternatives"]
    lunch = _book(desk, 422, provider_id=clinic.maria.id, start="2026-12-01T12:15:00", patient_id=clinic.patient.id)
    assert "working hours" in lunch["fields"]["start"]
    fields = _book(desk, 422, provider_id=999, start="yesterday", patient={"first_name": "", "phone": "12"})["fields"]
    assert {"provider_id", "start", "patient.first_name", "patient.last_name", "patient.phone"} <= set(fields)
    assert db.session.scalar(select(Patient).where(Patient.first_name == "Rosa")) is None  # nothing half-written
    assert told == []


def test_drag_to_move_conflict_snaps_back_and_nothing_changes(desk, clinic, visit, told):
    other = make_visit(make_patient("Luis", "Soto", "+19155550188", "luis@example.com"), clinic.maria,
                       clinic.therapy, "2026-12-01T11:00:00-07:00")
    moved = desk.post(f"/staff/appointments/{visit.id}/move", json={"start": "2026-12-01T10:00:00"})
    assert moved.status_code == 200 and moved.get_json()["event"]["start"] == "2026-12-01T10:00:00"
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).moved_from == datetime(2026, 12, 1, 16, tzinfo=UTC)
    conflict = desk.post(f"/staff/appointments/{visit.id}/move", json={"start": "2026-12-01T10:45:00"})
    assert conflict.status_code == 409 and conflict.get_json()["error"] == "slot_unavailable"
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).starts_at == datetime(2026, 12, 1, 17, tzinfo=UTC)
    across = desk.post(f"/staff/appointments/{visit.id}/move",
                       json={"start": "2026-12-01T11:00:00", "provider_id": clinic.daniel.id})
    assert across.status_code == 200 and across.get_json()["event"]["resourceIds"] == [clinic.daniel.id]
    assert told == [("plan_moved", visit.id, "staff"), ("plan_moved", visit.id, "staff")]
    assert other.starts_at == datetime(2026, 12, 1, 18, tzinfo=UTC)


def test_resize_changes_the_length_within_hours_and_free_time(desk, clinic, visit, told):
    longer = desk.post(f"/staff/appointments/{visit.id}/resize", json={"end": "2026-12-01T10:15:00"})
    assert longer.status_code == 200 and longer.get_json()["event"]["end"] == "2026-12-01T10:15:00"
    db.session.expire_all()
    row = db.session.get(Appointment, visit.id)
    assert row.blocks_until == datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # + the 15-minute buffer
    make_visit(make_patient("Luis", "Soto", "+19155550188", "luis@example.com"), clinic.maria,
               clinic.therapy, "2026-12-01T11:00:00-07:00")
    assert desk.post(f"/staff/appointments/{visit.id}/resize", json={"end": "2026-12-01T11:00:00"}).status_code == 409
    over_lunch = desk.post(f"/staff/appointments/{visit.id}/resize", json={"end": "2026-12-01T12:30:00"})
    assert over_lunch.status_code in (409, 422)
    too_short = desk.post(f"/staff/appointments/{visit.id}/resize", json={"end": "2026-12-01T09:00:00"})
    assert too_short.status_code == 422 and "end" in too_short.get_json()["fields"]
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).ends_at == datetime(2026, 12, 1, 17, 15, tzinfo=UTC)
    resized = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.resized")).all()
    assert len(resized) == 1 and resized[0].actor_kind == "staff"
    # Only the length changed: the calendar files take it, no "your visit is now ..." notice.
    assert told == [("plan_resized", visit.id, "staff")]
    assert row.ical_sequence == 1


def test_status_and_cancel_from_the_panel_as_json_or_as_a_plain_form(desk, clinic, clock, visit, told):
    confirmed = desk.post(f"/staff/appointments/{visit.id}/status", json={"status": "confirmed"})
    assert confirmed.status_code == 200 and "status-confirmed" in confirmed.get_json()["event"]["classNames"]
    assert desk.post(f"/staff/appointments/{visit.id}/status", json={"status": "completed"}).status_code == 422
    clock.now = datetime(2026, 12, 1, 16, 20, tzinfo=UTC)  # 09:20 on the day: the patient never came
    missed = desk.post(f"/staff/appointments/{visit.id}/status", data={"status": "no_show"})
    assert missed.status_code == 303 and missed.headers["Location"].startswith("/staff/calendar?date=2026-12-01")
    other = make_visit(clinic.patient, clinic.daniel, clinic.therapy, "2026-12-02T09:00:00-07:00")
    cancelled = desk.post(f"/staff/appointments/{other.id}/cancel", json={"reason": "Provider sick"})
    assert cancelled.status_code == 200
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).status == "no_show"
    row = db.session.get(Appointment, other.id)
    assert (row.status, row.cancel_reason) == ("cancelled", "Provider sick")
    assert told == [("plan_confirmed", visit.id, "staff"), ("plan_cancelled", other.id, "staff")]


def test_a_provider_cannot_touch_another_column(client, clinic, visit):
    daniels = make_visit(make_patient("Luis", "Soto", "+19155550188", "luis@example.com"), clinic.daniel,
                         clinic.therapy, "2026-12-01T10:00:00-07:00")
    sign_in(client, "maria@example.com")
    for path, body in (("move", {"start": "2026-12-01T11:00:00"}), ("status", {"status": "confirmed"}),
                       ("cancel", {"reason": "x"}), ("resize", {"end": "2026-12-01T11:00:00"})):
        assert client.post(f"/staff/appointments/{daniels.id}/{path}", json=body).status_code == 404, path
    assert client.get(f"/staff/appointments/{daniels.id}/panel").status_code == 404
    # Her own visit she may not hand to Daniel's column either.
    handed = client.post(f"/staff/appointments/{visit.id}/move",
                         json={"start": "2026-12-01T11:00:00", "provider_id": clinic.daniel.id})
    assert handed.status_code == 403
    assert client.post("/staff/calendar/bookings", json={
        "service": "therapy-session", "start": "2026-12-01T10:00:00", "provider_id": clinic.daniel.id,
        "patient_id": clinic.patient.id}).get_json()["fields"] == {"provider_id": "Unknown provider."}
    db.session.expire_all()
    assert db.session.get(Appointment, daniels.id).status == "booked"


def test_patient_lookup_for_the_booking_panel(desk, clinic):
    make_patient("Rosa", "Mendez", "+19155550177", "rosa@example.com")
    assert [p["name"] for p in desk.get("/staff/patients/lookup?query=men").get_json()["patients"]] == ["Rosa Mendez"]
    assert [p["name"] for p in desk.get("/staff/patients/lookup?query=555-0123").get_json()["patients"]] == ["Ana Garcia"]
    assert desk.get("/staff/patients/lookup?query=r").get_json() == {"patients": []}


def test_one_providers_day_sheet_to_print(desk, clinic, visit):
    make_visit(make_patient("Luis", "Soto", "+19155550188", "luis@example.com"), clinic.daniel, clinic.therapy,
               "2026-12-01T10:00:00-07:00")
    both = desk.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "Ana Garcia" in both and "Luis Soto" in both
    assert f'/staff/?date=2026-12-01&amp;provider={clinic.daniel.id}' in both
    sheet = desk.get(f"/staff/?date=2026-12-01&provider={clinic.daniel.id}")
    html = sheet.get_data(as_text=True)
    assert sheet.status_code == 200 and "Luis Soto" in html and "Ana Garcia" not in html
    assert "desk/desk.css" in html and "Ctrl+P" in html  # the print stylesheet and how to print
    assert desk.get("/staff/?date=2026-12-01&provider=999").status_code == 404



def test_the_desk_flows_on_postgresql(pg_app, told):
    """Booking, resizing and a refused move under PostgreSQL's exclusion constraint."""
    clinic = build_clinic()
    client = sign_in(pg_app.test_client(), "desk@example.com")
    first = client.post("/staff/calendar/bookings", json={
        "service": "therapy-session", "start": "2026-12-01T09:00:00", "provider_id": clinic.maria.id,
        "patient_id": clinic.patient.id})
    assert first.status_code == 201
    second = client.post("/staff/calendar/bookings", json={
        "service": "therapy-session", "start": "2026-12-01T10:00:00", "provider_id": clinic.maria.id,
        "patient": {"first_name": "Luis", "last_name": "Soto", "phone": "915-555-0188"}})
    assert second.status_code == 201
    first_id, second_id = int(first.get_json()["event"]["id"]), int(second.get_json()["event"]["id"])
    assert client.post(f"/staff/appointments/{first_id}/resize", json={"end": "2026-12-01T09:30:00"}).status_code == 200
    assert client.post(f"/staff/appointments/{first_id}/resize", json={"end": "2026-12-01T10:00:00"}).status_code == 409
    assert client.post(f"/staff/appointments/{second_id}/move", json={"start": "2026-12-01T09:30:00"}).status_code == 409
    db.session.expire_all()
    rows = {a.id: (a.starts_at, a.ends_at) for a in db.session.scalars(select(Appointment))}
    assert rows == {
        first_id: (datetime(2026, 12, 1, 16, tzinfo=UTC), datetime(2026, 12, 1, 16, 30, tzinfo=UTC)),
        second_id: (datetime(2026, 12, 1, 17, tzinfo=UTC), datetime(2026, 12, 1, 17, 45, tzinfo=UTC)),
    }
    assert [call[0] for call in told] == ["plan_booked", "plan_booked", "plan_resized"]


def test_resend_the_reminder_from_the_panel(client, desk, clinic, visit):
    moment = datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert desk.post(f"/staff/appointments/{visit.id}/resend-reminder", json={}).get_json()["fields"] == {
        "reminder": "No reminder has been sent for this visit yet."}
    # One still waiting is not sent again: it goes anyway.
    db.session.add(Message(patient_id=clinic.patient.id, appointment_id=visit.id, channel="sms", kind="reminder",
                           planned_for=moment + timedelta(hours=1), due_at=moment + timedelta(hours=1),
                           status="pending", to_address="+19155550123", created_at=moment, updated_at=moment))
    db.session.commit()
    assert "Resend reminder" not in desk.get(f"/staff/appointments/{visit.id}/panel").get_data(as_text=True)
    assert desk.post(f"/staff/appointments/{visit.id}/resend-reminder", json={}).status_code == 422
    db.session.add(Message(patient_id=clinic.patient.id, appointment_id=visit.id, channel="sms", kind="reminder",
                           planned_for=moment, due_at=moment, status="sent", to_address="+19155550123",
                           created_at=moment, updated_at=moment))
    db.session.commit()
    assert "Resend reminder" in desk.get(f"/staff/appointments/{visit.id}/panel").get_data(as_text=True)
    resent = desk.post(f"/staff/appointments/{visit.id}/resend-reminder", json={})
    assert resent.status_code == 200 and "sent again" in resent.get_json()["message"]
    copies = db.session.scalars(select(Message).where(Message.appointment_id == visit.id).order_by(Message.id)).all()
    assert [(m.kind, m.cause, m.status) for m in copies] == [
        ("reminder", "system", "pending"), ("reminder", "system", "sent"), ("reminder", "staff", "pending")]


@pytest.mark.parametrize("daniel", [lambda p: float(p.id), lambda p: str(p.id)], ids=["json-number", "text"])
def test_a_provider_cannot_hand_a_visit_to_another_column_however_the_id_is_written(client, clinic, visit, daniel):
    """The move reads 2.0 as provider 2, so the check must read it the same way."""
    sign_in(client, "maria@example.com")
    handed = client.post(f"/staff/appointments/{visit.id}/move",
                         json={"start": "2026-12-01T11:00:00", "provider_id": daniel(clinic.daniel)})
    assert handed.status_code == 403
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).provider_id == clinic.maria.id


def test_touching_windows_are_one_stretch_for_booking_moves_and_the_grid(desk, clinic, visit):
    from scheduler.models import WorkingHours

    # Both add an evening, 17:00-20:00 on Tuesdays, to their 13:00-17:00 afternoon.
    for provider in (clinic.maria, clinic.daniel):
        db.session.add(WorkingHours(provider_id=provider.id, weekday=1, start_time=time(17), end_time=time(20)))
    db.session.commit()
    body = desk.get(WEEK).get_json()
    assert body["hours"] == {"start": "08:00", "end": "20:00"}
    evening = [s for s in shades(body, "off_hours") if s["resourceIds"] == [clinic.maria.id]
               and s["start"].startswith("2026-12-01T17")]
    assert evening == []  # one stretch 13:00-20:00, nothing shaded at 17:00
    # A 45-minute visit at 16:45 runs across the edge where the windows meet.
    booked = _book(desk, 201, provider_id=clinic.daniel.id, start="2026-12-01T16:45:00",
                   patient={"first_name": "Rosa", "last_name": "Mendez", "phone": "915-555-0177"})
    assert booked["event"]["end"] == "2026-12-01T17:30:00"
    moved = desk.post(f"/staff/appointments/{visit.id}/move", json={"start": "2026-12-01T16:45:00"})
    assert moved.status_code == 200, moved.get_json()
    # A day without the evening keeps 08:00-17:00.
    assert desk.get("/staff/calendar/events?start=2026-11-30&end=2026-12-01").get_json()["hours"] == {
        "start": "08:00", "end": "17:00"}


def test_a_resized_visit_keeps_its_length_when_dragged(desk, clinic, visit, told):
    # 09:00-09:45 lengthened to 10:15, then dragged an hour later: 10:00-11:15, after a reload too.
    assert desk.post(f"/staff/appointments/{visit.id}/resize", json={"end": "2026-12-01T10:15:00"}).status_code == 200
    moved = desk.post(f"/staff/appointments/{visit.id}/move", json={"start": "2026-12-01T10:00:00"})
    assert moved.status_code == 200, moved.get_json()
    assert (moved.get_json()["event"]["start"], moved.get_json()["event"]["end"]) == (
        "2026-12-01T10:00:00", "2026-12-01T11:15:00")
    db.session.expire_all()
    row = db.session.get(Appointment, visit.id)
    assert (row.ends_at, row.blocks_until) == (datetime(2026, 12, 1, 18, 15, tzinfo=UTC),
                                               datetime(2026, 12, 1, 18, 30, tzinfo=UTC))
    shown = next(e for e in visits(desk.get(WEEK).get_json()) if e["id"] == str(visit.id))
    assert shown["end"] == "2026-12-01T11:15:00"
    # Its own length is what the checks use: 11:15-12:30 would run into lunch.
    assert desk.post(f"/staff/appointments/{visit.id}/move", json={"start": "2026-12-01T11:15:00"}).status_code == 422
    assert told == [("plan_resized", visit.id, "staff"), ("plan_moved", visit.id, "staff")]


def test_a_shortened_visit_moves_into_the_last_quarter_hour(desk, clinic):
    late = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-12-01T16:00:00-07:00")
    assert desk.post(f"/staff/appointments/{late.id}/resize", json={"end": "2026-12-01T16:15:00"}).status_code == 200
    moved = desk.post(f"/staff/appointments/{late.id}/move", json={"start": "2026-12-01T16:45:00"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["event"]["end"] == "2026-12-01T17:00:00"


def _buttons(html):
    """(status, disabled) of each status button."""
    import re
    found = re.findall(r'name="status" value="(\w+)">\s*<button type="submit"([^>]*)>', html)
    return [(status, " disabled " in f" {attributes} ") for status, attributes in found]


def test_check_in_and_no_show_are_offered_only_when_allowed(desk, clinic, clock, visit):
    # Monday 08:00; the visit is Tuesday 09:00: confirming is all it can do yet.
    for page in (f"/staff/appointments/{visit.id}/panel", f"/staff/appointments/{visit.id}"):
        html = desk.get(page).get_data(as_text=True)
        assert _buttons(html) == [("confirmed", False), ("checked_in", True), ("no_show", True)], page
        assert "This can only be recorded on the day of the visit or later." in html
    # Tuesday 08:30: check-in is open, no-show waits for 09:00.
    clock.now = datetime(2026, 12, 1, 15, 30, tzinfo=UTC)
    html = desk.get(f"/staff/appointments/{visit.id}/panel").get_data(as_text=True)
    assert _buttons(html) == [("confirmed", False), ("checked_in", False), ("no_show", True)]
    assert "A visit can be marked missed only once its time has begun." in html
    refused = desk.post(f"/staff/appointments/{visit.id}/status", json={"status": "no_show"})
    assert refused.status_code == 422
    assert refused.get_json()["fields"]["status"] == "A visit can be marked missed only once its time has begun."
    clock.now = datetime(2026, 12, 1, 16, 5, tzinfo=UTC)  # 09:05
    html = desk.get(f"/staff/appointments/{visit.id}").get_data(as_text=True)
    assert _buttons(html) == [("confirmed", False), ("checked_in", False), ("no_show", False)]


def test_the_desk_books_a_new_caller_in_their_language(desk, clinic):
    _book(desk, 201, provider_id=clinic.daniel.id,
          patient={"first_name": "Rosa", "last_name": "Mendez", "phone": "915-555-0177", "language": "es"})
    assert db.session.scalar(select(Patient).where(Patient.first_name == "Rosa")).language == "es"
    _book(desk, 201, provider_id=clinic.maria.id, start="2026-12-02T10:00:00",
          patient={"first_name": "Luis", "last_name": "Mendez", "phone": "915-555-0178"})
    assert db.session.scalar(select(Patient).where(Patient.first_name == "Luis")).language == "en"
    refused = _book(desk, 422, provider_id=clinic.maria.id, start="2026-12-03T10:00:00",
                    patient={"first_name": "Eva", "last_name": "Mendez", "phone": "915-555-0179", "language": "fr"})
    assert "patient.language" in refused["fields"]
    page = desk.get("/staff/calendar").get_data(as_text=True)
    assert 'name="language"' in page and '<option value="es">Spanish</option>' in page
