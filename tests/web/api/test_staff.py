"""Staff API: move, cancel and set the status of any appointment; find and add patients.

The clock is frozen at Monday 2026-11-30 08:00 in Denver (MST, UTC-7). Every request and
response is checked against the OpenAPI document.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, User
from scheduler.services.messages import outbox
from tests.support.factories import build_clinic, make_patient, make_visit
from tests.support.staff_api import NO_BODY, staff_api_for

TUESDAY_9 = "2026-12-01T09:00:00-07:00"


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def staff_api(client, clinic):
    return staff_api_for(client, clinic.desk_token)


@pytest.fixture
def visit(clinic):
    return make_visit(clinic.patient, clinic.maria, clinic.therapy, TUESDAY_9)


@pytest.fixture
def hooks(monkeypatch):
    """What the outbox was told (it is the placeholder every change reports to)."""
    calls = []
    for name in ("plan_moved", "plan_cancelled", "plan_confirmed"):
        monkeypatch.setattr(outbox, name, lambda appointment, *, cause, _n=name: calls.append((_n, appointment.id, cause)))
    return calls


def _move(staff_api, visit, start, expect=200, conforms=True, **extra):
    return staff_api.post(f"/api/v1/staff/appointments/{visit.id}/move", {"start": start, **extra}, expect,
                          conforms=conforms)


def test_desk_moves_a_visit_audited_with_sequence_and_moved_from(staff_api, clinic, visit, hooks):
    answer = _move(staff_api, visit, "2026-12-02T10:00:00-07:00")
    assert answer["start"] == "2026-12-02T10:00:00-07:00" and answer["end"] == "2026-12-02T10:45:00-07:00"
    assert answer["moved_from"] == TUESDAY_9 and answer["status"] == "booked"
    db.session.expire_all()
    row = db.session.get(Appointment, visit.id)
    assert row.ical_sequence == 1 and row.moved_from == datetime(2026, 12, 1, 16, tzinfo=UTC)
    assert row.blocks_until == datetime(2026, 12, 2, 18, tzinfo=UTC)  # 10:45 + 15 min buffer, MST
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.moved"))
    desk = db.session.scalar(select(User).where(User.email == "desk@example.com"))
    assert (event.actor_kind, event.actor_id, event.entity_id) == ("staff", desk.id, visit.id)
    assert event.before["starts_at"].startswith("2026-12-01T16:00") and event.after["starts_at"].startswith("2026-12-02T17:00")
    assert hooks == [("plan_moved", visit.id, "staff")]


def test_staff_ignore_minimum_notice_and_the_online_horizon(staff_api, clinic, visit):
    # 08:30 today is inside the service's two-hour notice; 2027-06-01 is past its 60 days.
    _move(staff_api, visit, "2026-11-30T08:30:00-07:00")
    _move(staff_api, visit, "2027-06-01T09:00:00-06:00")
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).ical_sequence == 2


@pytest.mark.parametrize(
    ("start", "field_message"),
    [
        ("2026-11-30T07:00:00-07:00", "already passed"),
        ("2026-12-01T12:15:00-07:00", "working hours"),  # the lunch break
        ("2026-12-05T09:00:00-07:00", "working hours"),  # Saturday
        ("2026-12-01T16:30:00-07:00", "working hours"),  # would end after 17:00
        ("2026-12-25T09:00:00-07:00", "closed"),
        ("2027-12-10T09:00:00-07:00", "a year ahead"),
        ("2027-03-14T02:30:00", "daylight-saving"),
        ("tomorrow", "valid date"),
        (TUESDAY_9, "already the time"),
    ],
)
def test_moves_outside_what_staff_may_do_are_422(staff_api, clinic, visit, start, field_message):
    answer = _move(staff_api, visit, start, 422, conforms=None)
    assert answer["error"] == "validation_failed" and field_message in answer["fields"]["start"]
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).ical_sequence == 0


def test_moving_onto_a_taken_time_is_409_with_open_alternatives(staff_api, clinic, visit):
    other = make_patient("Luis", "Reyes", "+19155550188", "luis@example.com")
    make_visit(other, clinic.maria, clinic.therapy, "2026-12-02T10:00:00-07:00")
    # 09:30 would end at 10:15 and block until 10:30: it runs into the 10:00 visit.
    answer = _move(staff_api, visit, "2026-12-02T09:30:00-07:00", 409)
    assert answer["error"] == "slot_unavailable" and answer["alternatives"]
    for slot in answer["alternatives"]:
        start = datetime.fromisoformat(slot["start"])
        assert slot["provider_id"] == clinic.maria.id
        assert not (datetime.fromisoformat("2026-12-02T09:00:00-07:00") < start < datetime.fromisoformat("2026-12-02T11:00:00-07:00"))
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).starts_at == datetime(2026, 12, 1, 16, tzinfo=UTC)


def test_a_move_to_another_provider_and_the_patients_own_overlap(staff_api, clinic, visit):
    answer = _move(staff_api, visit, "2026-12-01T09:00:00-07:00", provider_id=clinic.daniel.id)
    assert answer["provider_id"] == clinic.daniel.id
    bad = _move(staff_api, visit, "2026-12-01T10:00:00-07:00", 422, provider_id=999)
    assert set(bad["fields"]) == {"provider_id"}
    # The patient's second visit with Maria cannot be moved onto the time of the first.
    second = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-12-03T09:00:00-07:00")
    clash = _move(staff_api, second, "2026-12-01T09:00:00-07:00", 409)
    assert clash["error"] == "already_booked"


def test_roles_and_tokens(staff_api, clinic, visit):
    daniels = make_visit(make_patient("Rosa", "Diaz", "+19155550177", "rosa@example.com"),
                         clinic.daniel, clinic.therapy, "2026-12-01T13:00:00-07:00")
    url = f"/api/v1/staff/appointments/{visit.id}/move"
    body = {"start": "2026-12-02T09:00:00-07:00"}
    assert staff_api.as_(None).post(url, body, 401)["error"] == "unauthorized"
    assert staff_api.as_("sk_wrong").post(url, body, 401)["error"] == "unauthorized"
    maria = staff_api.as_(clinic.maria_token)
    assert maria.post(f"/api/v1/staff/appointments/{daniels.id}/move", body, 403)["error"] == "forbidden"
    assert maria.post(f"/api/v1/staff/appointments/{daniels.id}/cancel", {}, 403)["error"] == "forbidden"
    assert maria.post(f"/api/v1/staff/appointments/{daniels.id}/status", {"status": "confirmed"}, 403)
    # Her own visit, yes; handing it to Daniel's calendar, no.
    maria.post(url, {**body, "provider_id": clinic.daniel.id}, 403)
    assert maria.post(url, body)["start"] == body["start"]
    assert staff_api.as_(clinic.admin_token).post(f"/api/v1/staff/appointments/{daniels.id}/status",
                                                  {"status": "confirmed"})["status"] == "confirmed"
    assert staff_api.post("/api/v1/staff/appointments/9999/cancel", {}, 404)["error"] == "not_found"


def test_cancel_any_time_with_a_reason_once(staff_api, clinic, visit, hooks):
    # Two hours before: inside the patient's 24-hour window, allowed to staff.
    soon = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-11-30T10:00:00-07:00")
    answer = staff_api.post(f"/api/v1/staff/appointments/{soon.id}/cancel", {"reason": "  Called,  sick "})
    assert answer["status"] == "cancelled" and answer["cancel_reason"] == "Called, sick"
    again = staff_api.post(f"/api/v1/staff/appointments/{soon.id}/cancel", NO_BODY, 409)
    assert again["error"] == "not_open"
    too_long = staff_api.post(f"/api/v1/staff/appointments/{visit.id}/cancel", {"reason": "x" * 201}, 422, conforms=False)
    assert set(too_long["fields"]) == {"reason"}
    db.session.expire_all()
    row = db.session.get(Appointment, soon.id)
    assert row.ical_sequence == 1 and row.cancelled_at is not None
    assert hooks == [("plan_cancelled", soon.id, "staff")]
    # The freed time can be booked again at once.
    staff_api.post(f"/api/v1/staff/appointments/{visit.id}/move", {"start": "2026-11-30T10:00:00-07:00"})


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        (["confirmed", "checked_in", "completed"], True),
        (["checked_in", "completed"], True),
        (["confirmed", "no_show"], True),
        (["no_show"], True),
        (["completed"], False),
        (["confirmed", "confirmed"], False),
        (["checked_in", "no_show"], False),
        (["no_show", "checked_in"], False),
        (["confirmed", "checked_in", "completed", "checked_in"], False),
        (["cancelled"], False),  # not through this endpoint
        (["done"], False),
    ],
)
def test_only_sensible_status_steps(staff_api, clinic, clock, path, allowed):
    clock.advance(hours=2)  # 10:00, the visit began at 09:00 today
    visit = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-11-30T09:00:00-07:00")
    url = f"/api/v1/staff/appointments/{visit.id}/status"
    for step in path[:-1]:
        staff_api.post(url, {"status": step})
    last = path[-1]
    conforms = last in ("confirmed", "checked_in", "completed", "no_show")
    if allowed:
        assert staff_api.post(url, {"status": last})["status"] == last
    else:
        answer = staff_api.post(url, {"status": last}, 422, conforms=conforms)
        assert set(answer["fields"]) == {"status"}
        db.session.expire_all()
        assert db.session.get(Appointment, visit.id).status == (path[-2] if len(path) > 1 else "booked")


def test_a_future_visit_cannot_be_checked_in_or_missed(staff_api, clinic, visit, hooks):
    url = f"/api/v1/staff/appointments/{visit.id}/status"
    for status in ("checked_in", "no_show"):
        assert "day of the visit" in staff_api.post(url, {"status": status}, 422)["fields"]["status"]
    answer = staff_api.post(url, {"status": "confirmed"})
    db.session.expire_all()
    assert answer["status"] == "confirmed" and db.session.get(Appointment, visit.id).confirmed_at is not None
    assert hooks == [("plan_confirmed", visit.id, "staff")]
    later = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-11-30T09:00:00-07:00")
    refused = staff_api.post(f"/api/v1/staff/appointments/{later.id}/status", {"status": "no_show"}, 422)
    assert "begun" in refused["fields"]["status"]


def test_find_patients_by_name_phone_or_email(staff_api, clinic):
    make_patient("Luis", "Reyes", "+19155550188", "luis.r@example.com", "es")
    make_patient("Rosa", "50%_Diaz", "+19155550177", "rosa@clinic.example")

    def names(query):
        from urllib.parse import quote
        return [p["first_name"] for p in staff_api.get(f"/api/v1/staff/patients?query={quote(query)}")["patients"]]

    assert names("garcia") == ["Ana"]
    assert names("luis reyes") == ["Luis"]
    assert names("(915) 555-0188") == ["Luis"]
    assert names("+1 915 555 01") == ["Rosa", "Ana", "Luis"]  # by last name: 50%_Diaz, Garcia, Reyes
    assert names("CLINIC.example") == ["Rosa"]
    assert names("50%") == ["Rosa"]  # LIKE wildcards are taken literally
    assert names("zzz") == []
    for query in ("", "a", "x" * 101):
        answer = staff_api.get(f"/api/v1/staff/patients?query={query}", 422)
        assert set(answer["fields"]) == {"query"}
    assert staff_api.as_(None).get("/api/v1/staff/patients?query=ana", 401)


def test_add_a_patient_once(staff_api, clinic):
    body = {"first_name": "Elena", "last_name": "Torres", "phone": "915-555-0144", "email": "elena@example.com",
            "sms_opt_in": True, "language": "es"}
    created = staff_api.post("/api/v1/staff/patients", body, 201)
    assert created["phone"] == "+19155550144" and created["language"] == "es" and created["sms_consent"] is True
    assert created["existing"] is False
    again = staff_api.post("/api/v1/staff/patients", {**body, "first_name": "ELENA"}, 201)
    assert again["id"] == created["id"] and again["existing"] is True
    bad = staff_api.post("/api/v1/staff/patients", {"first_name": "", "phone": "800-555-0123", "email": "x@",
                                                    "language": "fr"}, 422, conforms=False)
    assert set(bad["fields"]) == {"first_name", "last_name", "phone", "email", "language"}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.created"))
    assert event.actor_kind == "staff" and event.actor_id is not None


def test_a_move_keeps_the_visits_own_length(staff_api, clinic, visit, hooks):
    # The desk lengthened it to 09:00-10:15 (+ the 15-minute buffer).
    visit.ends_at = datetime(2026, 12, 1, 17, 15, tzinfo=UTC)
    visit.blocks_until = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    db.session.commit()
    answer = _move(staff_api, visit, "2026-12-02T10:00:00-07:00")
    assert answer["end"] == "2026-12-02T11:15:00-07:00"
    db.session.expire_all()
    assert db.session.get(Appointment, visit.id).blocks_until == datetime(2026, 12, 2, 18, 30, tzinfo=UTC)
    # 11:00-12:15 would run into lunch with its own length (the service's 45 minutes would fit).
    _move(staff_api, visit, "2026-12-02T11:00:00-07:00", 422)
