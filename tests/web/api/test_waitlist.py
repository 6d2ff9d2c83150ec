"""The public waitlist: join with preferences (201), the same patient and service again keeps
the place and updates them (200), bad input is 422 with a message per field in the patient's
language, and the private link takes them off. Requests and answers are checked against the
OpenAPI document."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import AuditEvent, Patient, WaitlistEntry
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.openapi_check import ApiContract


@pytest.fixture
def contract(client):
    return ApiContract(client.get("/api/v1/openapi.json").get_json())


@pytest.fixture
def clinic(app):
    return make_provider("Maria Lopez, PT"), make_service()


def _join(client, contract, body, expect, **headers):
    assert not contract.request_errors("POST", "/api/v1/waitlist", body) or expect == 422
    response = client.post("/api/v1/waitlist", json=body, headers=headers)
    answer = contract.check_response(response)
    assert response.status_code == expect, answer
    return answer


def _body(chosen=None, **overrides):
    body = {"service": "evaluation", "earliest_date": "2026-12-01", "latest_date": "2026-12-18",
            "weekdays": [1, 3], "time_of_day": "morning", "patient": patient_payload()}
    if chosen is not None:
        body["provider_id"] = chosen.id
    body.update(overrides)
    return body


def test_join_update_and_leave(client, contract, clinic):
    maria, _service = clinic
    joined = _join(client, contract, _body(maria), 201)
    assert joined["status"] == "waiting" and "/api/v1/waitlist/" in joined["leave_url"]
    entry = db.session.get(WaitlistEntry, joined["id"])
    assert (entry.provider_id, entry.weekdays, entry.time_of_day, str(entry.latest_day)) == (
        maria.id, "1,3", "morning", "2026-12-18")
    again = _join(client, contract, _body(weekdays=[], time_of_day="any", latest_date="2026-12-31"), 200)
    assert again["id"] == joined["id"]
    db.session.expire_all()
    entry = db.session.get(WaitlistEntry, joined["id"])
    assert (entry.provider_id, entry.weekdays, entry.time_of_day) == (None, "", "any")
    assert db.session.scalar(select(func.count(WaitlistEntry.id))) == 1
    assert db.session.scalar(select(func.count(Patient.id))) == 1
    # The first link no longer works (a new one comes with each answer); the last one does.
    old_token = joined["leave_url"].rsplit("/", 2)[1]
    assert client.post(f"/api/v1/waitlist/{old_token}/leave").status_code == 404
    token = again["leave_url"].rsplit("/", 2)[1]
    left = client.post(f"/api/v1/waitlist/{token}/leave")
    assert left.status_code == 200 and left.get_json() == {"id": joined["id"], "status": "removed"}
    contract.check_response(left)
    assert client.post(f"/api/v1/waitlist/{token}/leave").get_json()["status"] == "removed"
    assert client.post("/api/v1/waitlist/forged/leave").status_code == 404
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "waitlist_entries")).all()
    assert actions == ["waitlist.joined", "waitlist.updated", "waitlist.left"]


@pytest.mark.parametrize("overrides, fields", [
    ({"service": "nope"}, {"service"}),
    ({"provider_id": 999}, {"provider_id"}),
    ({"earliest_date": "2026-11-01"}, {"earliest_date"}),
    ({"latest_date": "2026-11-30", "earliest_date": "2026-12-01"}, {"latest_date"}),
    ({"latest_date": "2027-06-01"}, {"latest_date"}),
    ({"weekdays": [7]}, {"weekdays"}),
    ({"weekdays": "monday"}, {"weekdays"}),
    ({"time_of_day": "night"}, {"time_of_day"}),
    ({"time_of_day": None}, {"time_of_day"}),
    ({"time_of_day": [None, None]}, {"time_of_day"}),  # once a 500
    ({"weekdays": None}, {"weekdays"}),
    ({"weekdays": [1.5]}, {"weekdays"}),
    ({"provider": 1}, {"provider"}),  # a misspelt field is refused, not ignored
    ({"patient": {"first_name": "", "phone": "12", "email": "x"}}, {"first_name", "last_name", "phone", "email"}),
])
def test_bad_requests_are_422_with_each_field(client, contract, clinic, overrides, fields):
    answer = _join(client, contract, _body(**overrides), 422)
    assert set(answer["fields"]) == fields
    assert db.session.scalar(select(func.count(WaitlistEntry.id))) == 0


def test_messages_follow_the_patients_language(client, contract, clinic):
    english = _join(client, contract, _body(weekdays=[9], time_of_day="night"), 422)["fields"]
    spanish = _join(client, contract, _body(weekdays=[9], time_of_day="night"), 422, **{"Accept-Language": "es"})["fields"]
    assert spanish["weekdays"].startswith("Días de la semana") and spanish["weekdays"] != english["weekdays"]
    assert spanish["time_of_day"] != english["time_of_day"]


def test_weekdays_as_json_numbers_and_repeated(client, contract, clinic):
    joined = _join(client, contract, _body(weekdays=[3.0, 1, 1, 0.0]), 201)
    assert db.session.get(WaitlistEntry, joined["id"]).weekdays == "0,1,3"


# --- the desk's waitlist page ------------------------------------------------------------


def test_the_desk_adds_a_caller_sees_the_line_and_takes_someone_off(app, client):
    from scheduler.services.staff.accounts import create_user
    from tests.support.factories import PASSWORD, make_patient

    make_service("therapy-session", name="Therapy session", online_bookable=False)
    caller = make_patient("Rosa", "Diaz", "+19155550177", None)  # a desk patient: no email
    create_user("desk@example.com", PASSWORD, "front_desk")
    assert client.post("/staff/login", data={"email": "desk@example.com", "password": PASSWORD}).status_code == 303

    record = client.get(f"/staff/patients/{caller.id}").get_data(as_text=True)
    assert f'href="/staff/waitlist?patient_id={caller.id}#add"' in record
    assert "Patient: <strong>Rosa Diaz</strong>" in client.get(f"/staff/waitlist?patient_id={caller.id}").get_data(as_text=True)
    form = {"patient_id": str(caller.id), "service": "therapy-session", "earliest_date": "2026-12-20",
            "latest_date": "2026-12-10", "weekdays": ["1", "3"], "time_of_day": "morning"}
    refused = client.post("/staff/waitlist", data=form)
    assert refused.status_code == 422  # the end before the start: the form comes back as typed
    page = refused.get_data(as_text=True)
    assert "The end date must not be before the start date." in page and 'value="2026-12-20"' in page
    assert db.session.scalar(select(func.count()).select_from(WaitlistEntry)) == 0

    added = client.post("/staff/waitlist", data={**form, "latest_date": "2027-01-15"})
    assert added.status_code == 303
    entry = db.session.scalars(select(WaitlistEntry)).one()
    assert (entry.patient_id, entry.source, entry.weekdays, entry.time_of_day) == (caller.id, "desk", "1,3", "morning")
    listing = client.get("/staff/waitlist").get_data(as_text=True)
    assert "Rosa Diaz" in listing and "Tue, Thu" in listing and "added by the desk" in listing
    assert db.session.get(Patient, caller.id).email is None  # nothing invented for the record

    assert client.post(f"/staff/waitlist/{entry.id}/remove").status_code == 303
    db.session.refresh(entry)
    assert entry.status == "removed"
    assert "Rosa Diaz" not in client.get("/staff/waitlist").get_data(as_text=True)
    actions = [(e.actor_kind, e.action) for e in db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == "waitlist_entries").order_by(AuditEvent.id))]
    assert actions == [("staff", "waitlist.joined"), ("staff", "waitlist.left")]
