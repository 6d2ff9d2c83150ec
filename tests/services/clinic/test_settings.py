"""Clinic settings: closures through the staff API (previewed with the visits they hit, then
saved, optionally cancelling them and telling the patients) and the admin's settings pages.

The clock is frozen at Monday 2026-11-30 08:00 in Denver. Every API request and response is
checked against the OpenAPI document."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Closure, Service, TimeOff, WorkingHours
from scheduler.services.messages import outbox
from tests.support.factories import PASSWORD, build_clinic, make_patient, make_visit
from tests.support.staff_api import staff_api_for

CLOSURES = "/api/v1/staff/closures"


@pytest.fixture
def clinic(app):
    clinic = build_clinic()
    # The therapy service bookable online for the availability check
    clinic.therapy.online_bookable = True
    db.session.commit()
    return clinic


@pytest.fixture
def told(monkeypatch):
    calls = []
    monkeypatch.setattr(outbox, "plan_cancelled", lambda appointment, *, cause: calls.append((appointment.id, cause)))
    return calls


@pytest.fixture
def visits(clinic):
    luis = make_patient("Luis", "Soto", "+19155550188", "luis@example.com")
    return [
        make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-12-08T09:00:00-07:00"),
        make_visit(luis, clinic.daniel, clinic.therapy, "2026-12-09T16:00:00-07:00"),
        make_visit(luis, clinic.daniel, clinic.therapy, "2026-12-10T09:00:00-07:00"),  # the day after
    ]


def _slots(client, day):
    answer = client.get(f"/api/v1/availability?service=therapy-session&start={day}&end={day}").get_json()
    return answer["slots"]


def test_preview_lists_the_visits_hit_and_saves_nothing(client, clinic, visits, told):
    admin = staff_api_for(client, clinic.admin_token)
    body = {"start_date": "2026-12-08", "end_date": "2026-12-09", "reason": "Water damage", "preview": True}
    preview = admin.post(CLOSURES, body, 200)
    assert [a["id"] for a in preview["affected"]] == [visits[0].id, visits[1].id]
    assert preview["affected"][0]["patient_name"] == "Ana Garcia"
    assert db.session.scalar(select(Closure).where(Closure.name == "Water damage")) is None
    assert _slots(client, "2026-12-08") and told == []


def test_saving_cancels_the_visits_hit_tells_the_patients_and_closes_availability(client, clinic, visits, told):
    admin = staff_api_for(client, clinic.admin_token)
    body = {"start_date": "2026-12-08", "end_date": "2026-12-09", "reason": "Water damage", "preview": False,
            "cancel_affected": True}
    saved = admin.post(CLOSURES, body, 201)
    assert (saved["start_date"], saved["end_date"], saved["reason"]) == ("2026-12-08", "2026-12-09", "Water damage")
    assert saved["cancelled"] == [visits[0].id, visits[1].id]
    assert {a["status"] for a in saved["affected"]} == {"cancelled"}
    db.session.expire_all()
    assert [db.session.get(Appointment, v.id).status for v in visits] == ["cancelled", "cancelled", "booked"]
    assert db.session.get(Appointment, visits[0].id).cancel_reason == "Clinic closed: Water damage"
    assert told == [(visits[0].id, "staff"), (visits[1].id, "staff")]
    assert _slots(client, "2026-12-08") == [] and _slots(client, "2026-12-09") == []
    assert _slots(client, "2026-12-10")
    trail = db.session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id.is_not(None))).all()
    assert "closure.added" in trail and trail.count("appointment.cancelled") == 2


def test_saving_without_cancelling_keeps_the_visits(client, clinic, visits, told):
    admin = staff_api_for(client, clinic.admin_token)
    saved = admin.post(CLOSURES, {"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "Training"}, 201)
    assert saved["cancelled"] == [] and [a["status"] for a in saved["affected"]] == ["booked"]
    assert told == [] and _slots(client, "2026-12-08") == []


@pytest.mark.parametrize("body, fields", [
    ({"start_date": "2026-12-09", "end_date": "2026-12-08", "reason": "x"}, {"end_date"}),
    ({"start_date": "12/08/2026", "end_date": "2026-12-08", "reason": "x"}, {"start_date"}),
    ({"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "  "}, {"reason"}),
    ({"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x", "preview": "maybe"}, {"preview"}),
    # null is no flag (the document says boolean): a closure must not be saved for a missing preview
    ({"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x", "preview": None}, {"preview"}),
    ({"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x\u200b"}, {"reason"}),
    ({"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x", "previewing": True}, {"previewing"}),
])
def test_bad_closures_are_422_with_field_messages(client, clinic, body, fields):
    admin = staff_api_for(client, clinic.admin_token)
    answer = admin.post(CLOSURES, body, 422, conforms=None)
    assert set(answer["fields"]) == fields
    assert db.session.scalar(select(Closure).where(Closure.first_day == datetime(2026, 12, 8).date())) is None


def test_only_admins_add_closures(client, clinic):
    body = {"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x", "preview": True}
    staff_api_for(client, None).post(CLOSURES, body, 401)
    staff_api_for(client, clinic.desk_token).post(CLOSURES, body, 403)
    staff_api_for(client, clinic.maria_token).post(CLOSURES, body, 403)


def _sign_in(client, email):
    assert client.post("/staff/login", data={"email": email, "password": PASSWORD}).status_code == 303


def test_settings_pages_add_time_off_with_its_visits_hours_and_services(client, clinic, visits, told):
    _sign_in(client, "admin@example.com")
    page = client.get("/staff/settings/").get_data(as_text=True)
    assert "Maria Lopez, PT" in page and "Christmas Day" in page
    form = {"provider_id": clinic.daniel.id, "start": "2026-12-09T13:00", "end": "2026-12-09T17:00", "reason": "Course"}
    preview = client.post("/staff/settings/time-off", data={**form, "preview": "true"})
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "Luis Soto" in html and "Ana Garcia" not in html
    assert db.session.scalar(select(TimeOff)) is None
    saved = client.post("/staff/settings/time-off", data={**form, "cancel_affected": "on"})
    assert saved.status_code == 303
    db.session.expire_all()
    assert db.session.get(Appointment, visits[1].id).status == "cancelled" and told == [(visits[1].id, "staff")]
    # A Saturday morning from January on; a service made longer
    added = client.post("/staff/settings/hours", data={"provider_id": clinic.maria.id, "weekday": "5",
                                                        "start_time": "09:00", "end_time": "12:00",
                                                        "valid_from": "2027-01-01", "valid_to": ""})
    assert added.status_code == 303
    saturday = db.session.scalar(select(WorkingHours).where(WorkingHours.weekday == 5))
    assert saturday.valid_from == datetime(2027, 1, 1).date() and saturday.valid_to is None
    bad = client.post("/staff/settings/hours", data={"provider_id": clinic.maria.id, "weekday": "5",
                                                      "start_time": "12:00", "end_time": "09:00"})
    assert bad.status_code == 422 and "The end must be after the start." in bad.get_data(as_text=True)
    service = client.post(f"/staff/settings/services/{clinic.therapy.id}", data={
        "name": "Therapy session", "duration_minutes": "50", "buffer_minutes": "10", "min_notice_minutes": "60",
        "max_advance_days": "90", "cancel_window_hours": "24", "slot_step_minutes": "15", "active": "on"})
    assert service.status_code == 303
    db.session.expire_all()
    therapy = db.session.get(Service, clinic.therapy.id)
    assert (therapy.duration_minutes, therapy.online_bookable) == (50, False)


def test_settings_are_for_admins_only(client, clinic):
    _sign_in(client, "desk@example.com")
    assert client.get("/staff/settings/").status_code == 403
    assert client.post("/staff/settings/closures", data={"start_date": "2026-12-08", "end_date": "2026-12-08",
                                                         "reason": "x"}).status_code == 403


@pytest.mark.parametrize("spelling", ["²", "٣", "１", " 1", "1.0", "99999999999"])
def test_a_provider_id_in_other_digits_is_refused_with_its_field(client, clinic, spelling):
    # Superscript, Arabic-Indic and full-width digits pass str.isdigit(); int() refuses "²"
    # and quietly reads the others as 3 and 1. Ids are ASCII digits, nothing else.
    _sign_in(client, "admin@example.com")
    for path, form in (
        ("/staff/settings/hours", {"provider_id": spelling, "weekday": "1", "start_time": "09:00",
                                   "end_time": "10:00"}),
        ("/staff/settings/time-off", {"provider_id": spelling, "start": "2026-12-20T09:00",
                                      "end": "2026-12-20T10:00", "reason": "Course"}),
    ):
        answer = client.post(path, data=form)
        assert answer.status_code == 422, (path, answer.status_code)
        assert "Unknown provider." in answer.get_data(as_text=True)


@pytest.mark.parametrize("spelling", ["²", "٥٠", "５０"])
def test_a_service_length_in_other_digits_is_refused_with_its_field(client, clinic, spelling):
    _sign_in(client, "admin@example.com")
    answer = client.post(f"/staff/settings/services/{clinic.therapy.id}", data={
        "name": "Therapy session", "duration_minutes": spelling, "buffer_minutes": "10", "min_notice_minutes": "60",
        "max_advance_days": "90", "cancel_window_hours": "24", "slot_step_minutes": "15", "active": "on"})
    assert answer.status_code == 422
    assert "A whole number from" in answer.get_data(as_text=True)
