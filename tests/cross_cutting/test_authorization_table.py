"""Who may use each staff page and staff API endpoint: nobody signed out, not the wrong role,
yes the right one. The table below must name every staff route: the first test walks the
app's URL map, so a route added without an entry (and so without a check here) fails."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import g

from scheduler.extensions import db
from scheduler.models import InboundMessage, Message, Patient
from scheduler.services.common import audit
from scheduler.services.waitlist import entries as waitlist
from tests.support.factories import PASSWORD, build_clinic, make_patient, make_visit

EVERYONE = {"admin", "desk", "maria"}
DESK = {"admin", "desk"}
ADMIN = {"admin"}

# endpoint: (method, url, roles allowed, body, role refused with the status it gets)
# {visit} is Daniel's visit (Maria, a provider, may not touch it), {patient} a patient, {other}
# a second record of the same phone, {row} an id of a working window.
ROUTES = {
    "desk.day_sheet.day": ("GET", "/staff/", EVERYONE, None, None),
    "desk.day_sheet.logout": ("POST", "/staff/logout", EVERYONE, {}, None),
    "desk.calendar.calendar": ("GET", "/staff/calendar", EVERYONE, None, None),
    "desk.calendar.calendar_events": ("GET", "/staff/calendar/events?start=2026-11-30&end=2026-12-07", EVERYONE, None, None),
    "desk.calendar.patient_lookup": ("GET", "/staff/patients/lookup?query=gar", EVERYONE, None, None),
    "desk.calendar.book_caller": ("POST", "/staff/calendar/bookings", EVERYONE,
                         {"service": "therapy-session", "start": "2026-12-01T10:00:00", "provider_id": "{daniel}",
                          "patient_id": "{patient}"}, ("maria", 422)),
    "desk.calendar.appointment_panel": ("GET", "/staff/appointments/{visit}/panel", EVERYONE, None, ("maria", 404)),
    "desk.calendar.move": ("POST", "/staff/appointments/{visit}/move", EVERYONE, {"start": "2026-12-01T11:00:00"}, ("maria", 404)),
    "desk.calendar.resize": ("POST", "/staff/appointments/{visit}/resize", EVERYONE, {"end": "2026-12-01T10:00:00"}, ("maria", 404)),
    "desk.calendar.set_status": ("POST", "/staff/appointments/{visit}/status", EVERYONE, {"status": "confirmed"}, ("maria", 404)),
    "desk.calendar.cancel": ("POST", "/staff/appointments/{visit}/cancel", EVERYONE, {"reason": "x"}, ("maria", 404)),
    "desk.patients.search": ("GET", "/staff/patients/?query=gar", EVERYONE, None, None),
    "desk.patients.show": ("GET", "/staff/patients/{patient}", EVERYONE, None, None),
    "desk.patients.language": ("POST", "/staff/patients/{patient}/language", EVERYONE, {"language": "es"}, None),
    "desk.patients.merge": ("POST", "/staff/patients/{patient}/merge", DESK, {"duplicate_id": "{other}"}, ("maria", 403)),
    "desk.settings.index": ("GET", "/staff/settings/", ADMIN, None, ("desk", 403)),
    "desk.settings.add_closure": ("POST", "/staff/settings/closures", ADMIN,
                             {"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x", "preview": "true"},
                             ("desk", 403)),
    "desk.settings.add_time_off": ("POST", "/staff/settings/time-off", ADMIN,
                              {"provider_id": "{daniel}", "start": "2026-12-08T09:00", "end": "2026-12-08T10:00",
                               "preview": "true"}, ("desk", 403)),
    "desk.settings.add_hours": ("POST", "/staff/settings/hours", ADMIN,
                           {"provider_id": "{daniel}", "weekday": "5", "start_time": "09:00", "end_time": "12:00"},
                           ("maria", 403)),
    "desk.settings.remove": ("POST", "/staff/settings/hours/{row}/remove", ADMIN, {}, ("desk", 403)),
    "desk.settings.update_service": ("POST", "/staff/settings/services/{service}", ADMIN, {"name": ""}, ("desk", 403)),
    "desk.settings.save_provider": ("POST", "/staff/settings/providers/{daniel}", ADMIN, {"name": ""}, ("maria", 403)),
    "desk.settings.clinic_details_version": ("GET", "/staff/settings/clinic-details/1", EVERYONE, None, None),
    "desk.settings.save_clinic_details": ("POST", "/staff/settings/clinic-details", ADMIN, {"name": ""}, ("desk", 403)),
    "desk.settings.save_reminder_policy": ("POST", "/staff/settings/reminders", ADMIN, {"send_window": "late"},
                                      ("desk", 403)),
    # The staff API: bearer tokens
    "api.staff.appointments": ("GET", "/api/v1/staff/appointments?date=2026-12-01", EVERYONE, None, None),
    "api.staff.move": ("POST", "/api/v1/staff/appointments/{visit}/move", EVERYONE,
                       {"start": "2026-12-01T11:00:00-07:00"}, ("maria", 403)),
    "api.staff.cancel": ("POST", "/api/v1/staff/appointments/{visit}/cancel", EVERYONE, {"reason": "x"}, ("maria", 403)),
    "api.staff.set_status": ("POST", "/api/v1/staff/appointments/{visit}/status", EVERYONE, {"status": "confirmed"},
                             ("maria", 403)),
    "api.staff.find_patients": ("GET", "/api/v1/staff/patients?query=gar", EVERYONE, None, None),
    "api.staff.add_patient": ("POST", "/api/v1/staff/patients", EVERYONE,
                              {"first_name": "Eva", "last_name": "Cruz", "phone": "915-555-0166",
                               "email": "eva@example.com"}, None),
    "api.settings.add_closure": ("POST", "/api/v1/staff/closures", ADMIN,
                                 {"start_date": "2026-12-08", "end_date": "2026-12-08", "reason": "x", "preview": True},
                                 ("desk", 403)),
    # Courses of care ({course} is Daniel's three-visit course): every role, a provider only on their calendar
    # (an empty planner form: nothing of Daniel's shows until it is sent, refused below for Maria)
    "desk.courses.new": ("GET", "/staff/courses/new?patient_id={patient}&provider_id={daniel}", EVERYONE, None, None),
    "desk.courses.plan_or_book": ("POST", "/staff/courses/new", EVERYONE,
                                   {"patient_id": "{patient}", "provider_id": "{daniel}", "service": "therapy-session",
                                    "first_date": "2027-01-11", "weeks": "1", "visits_per_week": "1", "time": "09:00"},
                                   ("maria", 403)),
    "desk.courses.show": ("GET", "/staff/courses/{course}", EVERYONE, None, ("maria", 403)),
    "desk.courses.move_visit": ("POST", "/staff/courses/{course}/visits/1/move", EVERYONE,
                                 {"date": "2027-01-05", "time": "11:00"}, ("maria", 403)),
    "desk.courses.cancel_visit": ("POST", "/staff/courses/{course}/visits/2/cancel", EVERYONE, {"reason": "x"},
                                   ("maria", 403)),
    "desk.courses.make_up": ("POST", "/staff/courses/{course}/make-up", EVERYONE,
                              {"start": "2027-01-07T14:00:00-07:00", "provider_id": "{daniel}"}, ("maria", 403)),
    "desk.courses.change_following": ("POST", "/staff/courses/{course}/visits/3/following", EVERYONE,
                                       {"time": "10:00"}, ("maria", 403)),
    "desk.courses.extend": ("POST", "/staff/courses/{course}/extend", EVERYONE, {"weeks": "1"}, ("maria", 403)),
    "desk.courses.cancel_rest": ("POST", "/staff/courses/{course}/cancel", EVERYONE, {"reason": "x"}, ("maria", 403)),
    "api.courses.plan_or_book": ("POST", "/api/v1/staff/courses", EVERYONE,
                                 {"patient_id": "{patient}", "provider_id": "{daniel}", "first_date": "2027-01-11",
                                  "weeks": 1, "visits_per_week": 1, "time": "09:00", "preview": True}, ("maria", 403)),
    "api.courses.show": ("GET", "/api/v1/staff/courses/{course}", EVERYONE, None, ("maria", 403)),
    "api.courses.extend": ("POST", "/api/v1/staff/courses/{course}/extend", EVERYONE, {"weeks": 1}, ("maria", 403)),
    "api.courses.cancel_rest": ("POST", "/api/v1/staff/courses/{course}/cancel", EVERYONE, {"reason": "x"},
                                ("maria", 403)),
    "api.courses.cancel_visit": ("POST", "/api/v1/staff/courses/{course}/visits/2/cancel", EVERYONE, {"reason": "x"},
                                 ("maria", 403)),
    "api.courses.make_up": ("POST", "/api/v1/staff/courses/{course}/make-up", EVERYONE,
                            {"start": "2027-01-07T14:00:00-07:00", "provider_id": "{daniel}"}, ("maria", 403)),
    "api.courses.reschedule_following": ("POST", "/api/v1/staff/courses/{course}/visits/3/reschedule-following",
                                         EVERYONE, {"time": "10:00"}, ("maria", 403)),
    "api.courses.calendar": ("GET", "/api/v1/staff/courses/{course}.ics", EVERYONE, None, ("maria", 403)),
    # Messages: the desk resends and reads the inbox; a provider sees their own visits' messages
    "desk.calendar.resend_reminder": ("POST", "/staff/appointments/{visit}/resend-reminder", DESK, {}, ("maria", 403)),
    "desk.messages.appointment": ("GET", "/staff/appointments/{visit}", EVERYONE, None, ("maria", 404)),
    "desk.messages.resend": ("POST", "/staff/messages/{message}/resend", DESK, {}, ("maria", 403)),
    "desk.messages.inbox": ("GET", "/staff/inbox", DESK, None, ("maria", 403)),
    "desk.messages.outbox": ("GET", "/staff/outbox", DESK, None, ("maria", 403)),
    "desk.messages.inbox_done": ("POST", "/staff/inbox/{inbound}/done", DESK, {}, ("maria", 403)),
    # The waitlist is the desk's: who waits, adding a caller, taking someone off
    "desk.waitlist.index": ("GET", "/staff/waitlist", DESK, None, ("maria", 403)),
    "desk.waitlist.add": ("POST", "/staff/waitlist", DESK,
                          {"patient_id": "{patient}", "service": "therapy-session", "earliest_date": "2026-12-01",
                           "latest_date": "2026-12-20", "time_of_day": "any"}, ("maria", 403)),
    "desk.waitlist.remove": ("POST", "/staff/waitlist/{entry}/remove", DESK, {}, ("maria", 403)),
}
EMAILS = {"admin": "admin@example.com", "desk": "desk@example.com", "maria": "maria@example.com"}


def _staff_rules(app):
    return [r for r in app.url_map.iter_rules()
            if (r.rule.startswith("/staff") and r.endpoint != "desk.day_sheet.login") or r.rule.startswith("/api/v1/staff")]


def test_every_staff_route_is_in_the_table_and_checks_its_roles(app):
    endpoints = {r.endpoint for r in _staff_rules(app)}
    assert endpoints == set(ROUTES), f"routes without an entry: {endpoints - set(ROUTES)}; gone: {set(ROUTES) - endpoints}"
    for rule in _staff_rules(app):
        if rule.rule.startswith("/api/"):  # bearer tokens: the calls below check them
            continue
        view = app.view_functions[rule.endpoint]
        assert getattr(view, "allowed_roles", None) is not None, f"{rule.rule} has no staff_only(...) check"
        assert set(view.allowed_roles) == {"admin", "front_desk", "provider"} & {
            {"admin": "admin", "desk": "front_desk", "maria": "provider"}[r] for r in ROUTES[rule.endpoint][2]}, rule.rule


@pytest.fixture
def world(app):
    clinic = build_clinic()
    visit = make_visit(clinic.patient, clinic.daniel, clinic.therapy, "2026-12-01T09:00:00-07:00")
    other = make_patient("Anita", "Garcia", clinic.patient.phone_e164, "anita@example.com")
    row = clinic.daniel.hours[0].id
    course = app.test_client().post("/api/v1/staff/courses", headers={"Authorization": f"Bearer {clinic.desk_token}"}, json={
        "patient_id": clinic.patient.id, "provider_id": clinic.daniel.id, "first_date": "2027-01-04", "weeks": 1,
        "visits_per_week": 3, "weekdays": ["mon", "wed", "fri"], "time": "09:00", "preview": False})
    assert course.status_code == 201, course.get_json()
    moment = datetime(2026, 11, 30, 15, tzinfo=UTC)
    reminder = Message(patient_id=clinic.patient.id, appointment_id=visit.id, channel="sms", kind="reminder",
                       planned_for=moment, due_at=moment, status="sent", created_at=moment, updated_at=moment)
    inbound = InboundMessage(provider_message_id="SM" + "1" * 32, from_e164="+19155550199", body="hello?",
                             received_at=moment, needs_attention=True)
    db.session.add_all([reminder, inbound])
    db.session.commit()
    place = waitlist.add_for_patient(clinic.patient, {"service": "therapy-session", "earliest_date": "2026-12-01",
                                                      "latest_date": "2026-12-20"}, actor=audit.SYSTEM)
    return clinic, {"entry": place.entry.id, "visit": visit.id, "patient": clinic.patient.id, "other": other.id, "row": row,
                    "daniel": clinic.daniel.id, "service": clinic.therapy.id, "course": course.get_json()["id"],
                    "message": reminder.id, "inbound": inbound.id}


def _fill(value, ids):
    if isinstance(value, str):
        for key, number in ids.items():
            if value == "{" + key + "}":
                return number
            value = value.replace("{" + key + "}", str(number))
        return value
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _call(client, endpoint, ids, *, token=None):
    method, url, _roles, body, _refused = ROUTES[endpoint]
    url = _fill(url, ids)
    api = url.startswith("/api/")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        return client.get(url, headers=headers)
    body = _fill(body, ids)
    if api or endpoint.startswith("desk.calendar."):  # JSON, as the calendar sends it
        return client.post(url, json=body, headers=headers)
    return client.post(url, data=body, headers=headers)


def _tokens(clinic):
    return {"admin": clinic.admin_token, "desk": clinic.desk_token, "maria": clinic.maria_token}


def _as(app, clinic, endpoint, ids, who):
    """The route called by a fresh browser signed in as `who` (or with their API token)."""
    g.pop("_login_user", None)  # Flask-Login keeps the user on `g`, which the test's app context shares
    client = app.test_client()
    if ROUTES[endpoint][1].startswith("/api/"):
        return _call(client, endpoint, ids, token=_tokens(clinic)[who])
    assert client.post("/staff/login", data={"email": EMAILS[who], "password": PASSWORD}).status_code == 303
    return _call(client, endpoint, ids)


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_signed_out_refused_wrong_role_refused_right_roles_in(app, world, endpoint):
    clinic, ids = world
    _method, _url, allowed, _body, refused = ROUTES[endpoint]
    g.pop("_login_user", None)
    anonymous = _call(app.test_client(), endpoint, ids)
    if ROUTES[endpoint][1].startswith("/api/"):
        assert anonymous.status_code == 401
    elif anonymous.status_code != 401:  # the calendar's JSON calls may answer 401 instead of redirecting
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/staff/login")
    for who in sorted({"admin", "desk", "maria"} - allowed):
        assert _as(app, clinic, endpoint, ids, who).status_code == 403, who
    if refused:
        who, status = refused
        response = _as(app, clinic, endpoint, ids, who)
        assert response.status_code == status, (who, response.get_data(as_text=True)[:300])
    assert db.session.get(Patient, ids["other"]).merged_into_id is None  # nothing done by the refused
    for who in sorted(allowed - {refused[0] if refused else None}):
        response = _as(app, clinic, endpoint, ids, who)
        assert response.status_code not in (401, 403, 404) and response.status_code < 500, (
            who, response.status_code, response.get_data(as_text=True)[:300])
