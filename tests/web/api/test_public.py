"""The public JSON API v1 (and the staff endpoint), every response checked against the OpenAPI document.

The clock is frozen at Monday 2026-11-30 08:00 in Denver (MST, UTC-7).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import ApiToken, Appointment, AuditEvent, Patient, Provider, Service
from scheduler.services.availability.open_times import bookable_hours
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.openapi_check import ApiContract


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))

NO_BODY = object()
TUESDAY = date(2026, 12, 1)
WEDNESDAY = date(2026, 12, 2)


def at(day: date, hhmm: str, offset: str = "-07:00") -> str:
    return f"{day.isoformat()}T{hhmm}:00{offset}"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class Api:
    """The test client, with every request body and every response checked against the document."""

    def __init__(self, client, contract: ApiContract) -> None:
        self.client = client
        self.contract = contract

    def get(self, url: str, expect: int = 200, **kwargs):
        response = self.client.get(url, **kwargs)
        body = self.contract.check_response(response)
        assert response.status_code == expect, (response.status_code, body)
        return body

    def post(self, url: str, body=NO_BODY, expect: int = 200, *, conforms: bool | None = True, **kwargs):
        """conforms: True / False = the body must / must not satisfy the documented request schema."""
        if body is not NO_BODY and conforms is not None:
            errors = self.contract.request_errors("POST", url, body)
            assert (not errors) == conforms, errors or "expected the request to violate the documented schema"
        if body is not NO_BODY:
            kwargs["json"] = body
        response = self.client.post(url, **kwargs)
        answer = self.contract.check_response(response)
        assert response.status_code == expect, (response.status_code, answer)
        return answer

    def availability(self, service: str, first: date, last: date, expect: int = 200, **extra):
        query = urlencode({"service": service, "start": first.isoformat(), "end": last.isoformat(), **extra})
        return self.get(f"/api/v1/availability?{query}", expect)

    def book(self, service: str, start: str, provider_id: int | None, expect: int = 201, **patient):
        body = {"service": service, "provider_id": provider_id, "start": start, "patient": patient_payload(**patient)}
        return self.post("/api/v1/bookings", body, expect)


@pytest.fixture
def api(client):
    document = client.get("/api/v1/openapi.json").get_json()
    return Api(client, ApiContract(document))


@dataclass
class Clinic:
    first: Provider
    second: Provider
    offline: Provider
    evaluation: Service
    therapy: Service
    long_range: Service


@pytest.fixture
def clinic(app) -> Clinic:
    first = make_provider("Dr. First")
    second = make_provider("Dr. Second")
    offline = make_provider("Dr. Phone Only", online=False)
    evaluation = make_service("evaluation")
    therapy = make_service("therapy", name="Therapy session", duration_minutes=45, online_bookable=False)
    long_range = make_service("follow-up", name="Follow-up", duration_minutes=30, buffer_minutes=0,
                              max_advance_days=120)
    make_service("retired", name="Retired service", active=False)
    return Clinic(first, second, offline, evaluation, therapy, long_range)


def token_of(booking: dict) -> str:
    return urlsplit(booking["manage_url"]).path.rsplit("/", 1)[1]


def slot_starts(answer: dict, provider_id: int | None = None) -> list[str]:
    """Start times of an availability answer's slots, or of a 409's alternatives."""
    slots = answer["slots"] if "slots" in answer else answer["alternatives"]
    return [s["start"] for s in slots if provider_id is None or s["provider_id"] == provider_id]


# --- catalogue ---------------------------------------------------------------------------


def test_services_lists_active_services_with_online_flag(api, clinic):
    services = api.get("/api/v1/services")
    by_slug = {s["slug"]: s for s in services}
    assert set(by_slug) == {"evaluation", "therapy", "follow-up"}
    assert by_slug["evaluation"] == {
        "slug": "evaluation", "name": "Initial evaluation", "duration_minutes": 60, "online_bookable": True,
    }
    assert by_slug["therapy"]["online_bookable"] is False
    assert by_slug["therapy"]["duration_minutes"] == 45


def test_providers_lists_only_online_bookable_providers(api, clinic):
    providers = api.get("/api/v1/providers")
    assert providers == [
        {"id": clinic.first.id, "name": "Dr. First"},
        {"id": clinic.second.id, "name": "Dr. Second"},
    ]


# --- availability ------------------------------------------------------------------------


def test_availability_range_is_inclusive_with_offsets_and_timezone(api, clinic):
    answer = api.availability("evaluation", TUESDAY, WEDNESDAY)
    assert answer["timezone"] == "America/Denver"
    days = {instant(s["start"]).date() for s in answer["slots"]}
    assert days == {TUESDAY, WEDNESDAY}  # the end date is included
    for slot in answer["slots"]:
        assert slot["start"].endswith("-07:00") and slot["end"].endswith("-07:00")
        assert instant(slot["end"]) - instant(slot["start"]) == timedelta(minutes=60)
        assert slot["provider_id"] in (clinic.first.id, clinic.second.id)
    first_mine = slot_starts(answer, clinic.first.id)
    # 08:00-12:00 and 13:00-17:00, a 60-minute visit every 15 minutes: 13 + 13 starts a day
    assert len(first_mine) == 2 * 26
    assert first_mine[0] == at(TUESDAY, "08:00")
    assert at(TUESDAY, "11:00") in first_mine and at(TUESDAY, "11:15") not in first_mine  # would run into lunch
    assert at(TUESDAY, "12:00") not in first_mine and at(TUESDAY, "13:00") in first_mine
    assert at(WEDNESDAY, "16:00") in first_mine and at(WEDNESDAY, "16:15") not in first_mine
    starts = [instant(s["start"]) for s in answer["slots"]]
    assert starts == sorted(starts)


def test_availability_single_day_and_provider_filter(api, clinic):
    both = api.availability("evaluation", TUESDAY, TUESDAY)
    mine = api.availability("evaluation", TUESDAY, TUESDAY, provider=clinic.second.id)
    assert mine["slots"] and {s["provider_id"] for s in mine["slots"]} == {clinic.second.id}
    assert slot_starts(mine) == slot_starts(both, clinic.second.id)
    assert len(both["slots"]) == 2 * len(mine["slots"])
    assert {instant(s["start"]).date() for s in both["slots"]} == {TUESDAY}


def test_availability_today_respects_minimum_notice(api, clinic):
    today = date(2026, 11, 30)
    answer = api.availability("evaluation", today, today, provider=clinic.first.id)
    # now is 08:00 and the service needs 120 minutes' notice
    assert slot_starts(answer)[0] == at(today, "10:00")


def test_availability_stops_at_the_advance_window(api, clinic):
    answer = api.availability("evaluation", date(2027, 1, 25), date(2027, 2, 5), provider=clinic.first.id)
    last = max(instant(s) for s in slot_starts(answer))
    # Monday 2026-11-30 + 60 days = Friday 2027-01-29, offered whole (last start 16:00).
    assert last == datetime.fromisoformat("2027-01-29T16:00:00-07:00")


def test_availability_across_the_spring_daylight_saving_change(api, clinic):
    """2027-03-14 02:00 MST -> 03:00 MDT: the offset follows the clinic's wall clock."""
    answer = api.availability("follow-up", date(2027, 3, 12), date(2027, 3, 15), provider=clinic.first.id)
    starts = slot_starts(answer)
    friday = [s for s in starts if s.startswith("2027-03-12")]
    monday = [s for s in starts if s.startswith("2027-03-15")]
    assert friday and monday and len(friday) + len(monday) == len(starts)  # nobody works the weekend
    assert all(s.endswith("-07:00") for s in friday)
    assert all(s.endswith("-06:00") for s in monday)
    assert friday[0] == "2027-03-12T08:00:00-07:00" and monday[0] == "2027-03-15T08:00:00-06:00"
    assert instant(monday[0]).astimezone(UTC).hour == 14  # 08:00 MDT, not 15:00 UTC


def test_availability_accepts_62_days_and_refuses_63(api, clinic):
    api.availability("evaluation", TUESDAY, TUESDAY + timedelta(days=61))
    refused = api.availability("evaluation", TUESDAY, TUESDAY + timedelta(days=62), expect=422)
    assert refused["error"] == "validation_failed"
    assert "62" in refused["fields"]["end"]


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({"service": "nope", "start": "2026-12-01", "end": "2026-12-02"}, {"service"}),
        ({"start": "2026-12-01", "end": "2026-12-02"}, {"service"}),
        ({"service": "therapy", "start": "2026-12-01", "end": "2026-12-02"}, {"service"}),
        ({"service": "evaluation", "start": "2026-12-01", "end": "2026-12-02", "provider": "abc"}, {"provider"}),
        ({"service": "evaluation", "start": "2026-12-01", "end": "2026-12-02", "provider": "99999"}, {"provider"}),
        ({"service": "evaluation", "start": "2026-13-01", "end": "2026-12-02"}, {"start"}),
        ({"service": "evaluation", "start": "12/01/2026", "end": "2026-12-02"}, {"start"}),
        ({"service": "evaluation", "start": "20261201", "end": "2026-12-02"}, {"start"}),
        ({"service": "evaluation", "start": "2026-W49-2", "end": "2026-12-02"}, {"start"}),
        ({"service": "evaluation", "start": "2026-12-01"}, {"end"}),
        ({"service": "evaluation", "start": "2026-12-01", "end": "2026-02-30"}, {"end"}),
        ({"service": "evaluation", "start": "2026-12-02", "end": "2026-12-01"}, {"end"}),
        ({"service": "evaluation", "start": "9999-12-30", "end": "9999-12-31"}, {"start", "end"}),
        ({"service": "evaluation", "start": "0001-01-01", "end": "0001-01-02"}, {"start", "end"}),
        ({"service": "nope", "start": "x", "end": "y", "provider": "z"}, {"service", "start", "end", "provider"}),
    ],
)
def test_availability_bad_input_names_each_field(api, clinic, query, fields):
    refused = api.get(f"/api/v1/availability?{urlencode(query)}", 422)
    assert refused["error"] == "validation_failed"
    assert set(refused["fields"]) == fields
    assert all(message.strip() for message in refused["fields"].values())


def test_availability_names_only_providers_bookable_online(api, clinic):
    """The providers and their hours come from one query: a provider taking phone bookings
    only, or no longer active, is unknown here; one without hours is known and has no slots."""
    retired = make_provider("Dr. Retired")
    retired.active = False
    no_hours = make_provider("Dr. New", weekdays=())
    db.session.commit()
    every = api.availability("evaluation", TUESDAY, TUESDAY)
    assert {s["provider_id"] for s in every["slots"]} == {clinic.first.id, clinic.second.id}
    assert api.availability("evaluation", TUESDAY, TUESDAY, provider=no_hours.id)["slots"] == []
    for unknown in (clinic.offline.id, retired.id, 2**31, 0):
        refused = api.availability("evaluation", TUESDAY, TUESDAY, expect=422, provider=unknown)
        assert set(refused["fields"]) == {"provider"}


def test_provider_hours_for_the_availability_answer(app, clinic):
    split = make_provider("Dr. Split", windows=((time(13), time(17)), (time(8), time(12))), weekdays=(2,))
    online = bookable_hours(online_only=True)
    assert list(online) == [clinic.first.id, clinic.second.id, split.id]  # in order of id
    assert [(w.weekday, w.start, w.end) for w in online[split.id]] == [(2, time(8), time(12)), (2, time(13), time(17))]
    assert len(online[clinic.first.id]) == 10
    assert clinic.offline.id in bookable_hours(online_only=False)
    assert list(bookable_hours(online_only=True, provider_id=clinic.second.id)) == [clinic.second.id]
    assert bookable_hours(online_only=True, provider_id=clinic.offline.id) == {}
    assert bookable_hours(online_only=True, provider_id=-1) == {}


# --- booking -----------------------------------------------------------------------------


def test_book_then_read_it_back_through_every_link(api, client, clinic):
    start = at(TUESDAY, "09:00")
    booking = api.book("evaluation", start, clinic.first.id)
    assert booking["status"] == "booked"
    assert booking["start"] == start and booking["end"] == at(TUESDAY, "10:00")
    assert booking["provider_id"] == clinic.first.id
    appointment = db.session.get(Appointment, booking["id"])
    assert appointment.patient.phone_e164 == "+19155550123"
    assert appointment.source == "api"  # booked through the API, not the pages

    token = token_of(booking)
    assert urlsplit(booking["manage_url"]).path == f"/appointments/{token}"
    detail = api.get(f"/api/v1/bookings/{token}")
    assert {k: detail[k] for k in booking} == booking
    assert detail["service"] == "evaluation" and detail["provider_name"] == "Dr. First"
    assert detail["can_change_online"] is True
    assert instant(detail["change_deadline"]) == instant(start) - timedelta(hours=24)

    page = client.get(urlsplit(booking["manage_url"]).path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "Dr. First" in page.get_data(as_text=True)
    ics = client.get(urlsplit(booking["ics_url"]).path)
    assert ics.status_code == 200 and ics.mimetype == "text/calendar"
    text = ics.get_data(as_text=True)
    assert "BEGIN:VEVENT" in text and ("20261201T160000Z" in text or "20261201T090000" in text)

    # the provider's time (and the 15-minute buffer after it) is gone; the other provider is untouched
    after = api.availability("evaluation", TUESDAY, TUESDAY)
    mine = slot_starts(after, clinic.first.id)
    assert at(TUESDAY, "09:00") not in mine and at(TUESDAY, "09:45") not in mine
    assert at(TUESDAY, "10:00") not in mine and at(TUESDAY, "10:15") in mine
    assert at(TUESDAY, "09:00") in slot_starts(after, clinic.second.id)


def test_a_visit_within_a_day_cannot_be_changed_online(api, clinic):
    booking = api.book("evaluation", at(TUESDAY, "08:00"), clinic.first.id)
    detail = api.get(f"/api/v1/bookings/{token_of(booking)}")
    assert detail["can_change_online"] is False  # the deadline, Monday 08:00, is now
    assert instant(detail["change_deadline"]) == datetime(2026, 11, 30, 15, tzinfo=UTC)


def test_book_first_available_and_time_given_in_utc(api, clinic):
    booking = api.book("evaluation", "2026-12-01T17:00:00Z", None)
    assert booking["start"] == at(TUESDAY, "10:00")  # answered in clinic time, with its offset
    assert booking["provider_id"] == clinic.first.id
    second = api.book("evaluation", "2026-12-01T17:00:00+00:00", None, first_name="Luis", phone="915-555-0188")
    assert second["provider_id"] == clinic.second.id
    third = api.book("evaluation", at(TUESDAY, "10:00"), None, expect=409, first_name="Rosa", phone="915-555-0177")
    assert third["error"] == "slot_unavailable" and third["alternatives"]
    assert at(TUESDAY, "10:00") not in slot_starts(third)
    assert count(Appointment) == 2


def test_booking_a_taken_slot_offers_alternatives(api, clinic):
    start = at(WEDNESDAY, "13:00")
    api.book("evaluation", start, clinic.first.id)
    taken = api.book("evaluation", start, clinic.first.id, expect=409, first_name="Luis")
    assert taken["error"] == "slot_unavailable"
    assert taken["alternatives"]
    assert {s["provider_id"] for s in taken["alternatives"]} == {clinic.first.id}
    open_now = set(slot_starts(api.availability("evaluation", date(2026, 11, 30), date(2026, 12, 9))))
    assert start not in slot_starts(taken)
    assert set(slot_starts(taken)) <= open_now


def _booking_body(**changes) -> dict:
    body = {
        "service": "evaluation", "provider_id": None, "start": at(TUESDAY, "08:00"), "patient": patient_payload(),
    }
    patient = changes.pop("patient", None)
    if isinstance(patient, dict):
        body["patient"].update(patient)
    elif patient is not None:
        body["patient"] = patient
    body.update(changes)
    return body


DROP = "drop"
BAD_BOOKINGS = {
    "unknown service": ({"service": "massage"}, "service", True),
    "service not bookable online": ({"service": "therapy"}, "service", True),
    "inactive service": ({"service": "retired"}, "service", True),
    "service not a string": ({"service": 7}, "service", False),
    "unknown provider": ({"provider_id": 99999}, "provider_id", True),
    "provider not online": ({"provider_id": "offline"}, "provider_id", True),
    "provider not an integer": ({"provider_id": "abc"}, "provider_id", False),
    "provider a fraction": ({"provider_id": 1.5}, "provider_id", False),
    "provider a boolean": ({"provider_id": True}, "provider_id", False),
    "start not on the grid": ({"start": at(TUESDAY, "10:07")}, "start", True),
    "start after hours": ({"start": at(TUESDAY, "20:00")}, "start", True),
    "start at lunch": ({"start": at(TUESDAY, "12:00")}, "start", True),
    "start on the weekend": ({"start": at(date(2026, 12, 5), "09:00")}, "start", True),
    "start in the past": ({"start": at(date(2026, 11, 27), "09:00")}, "start", True),
    "start inside minimum notice": ({"start": at(date(2026, 11, 30), "09:00")}, "start", True),
    "start beyond advance window": ({"start": at(date(2027, 2, 15), "09:00")}, "start", True),
    "start malformed": ({"start": "next tuesday"}, "start", False),
    "start a date only": ({"start": "2026-12-01"}, "start", False),
    "start missing": ({"start": DROP}, "start", False),
    "start a number": ({"start": 1764601200}, "start", False),
    # The document takes the years 1900 to 2999 (as for dates): these the app could not read
    # (past Python's last or before its first instant) are refused by the document too.
    "start overflowing a year": ({"start": "9999-12-31T23:00:00-12:00"}, "start", False),
    "start before year one": ({"start": "0001-01-01T00:00:00+14:00"}, "start", False),
    "start at the end of time, no offset": ({"start": "9999-12-31T23:00:00"}, "start", False),
    "start in clinic time, no offset": ({"start": "2026-12-01T10:07:00"}, "start", False),
    "phone invalid": ({"patient": {"phone": "12"}}, "phone", False),
    "phone not US": ({"patient": {"phone": "+52 656 123 4567"}}, "phone", False),
    "phone toll-free": ({"patient": {"phone": "800-555-0123"}}, "phone", True),
    "phone missing": ({"patient": {"phone": DROP}}, "phone", False),
    "email invalid": ({"patient": {"email": "ana@example"}}, "email", None),
    "email missing": ({"patient": {"email": DROP, "sms_opt_in": False}}, "email", False),  # nor texts
    "first name too long": ({"patient": {"first_name": "A" * 61}}, "first_name", False),
    "last name too long": ({"patient": {"last_name": "B" * 61}}, "last_name", False),
    "first name with NUL": ({"patient": {"first_name": "Ana\x00"}}, "first_name", False),
    "last name with newline": ({"patient": {"last_name": "Gar\ncia"}}, "last_name", False),
    "name with bidi override": ({"patient": {"first_name": "Ana\u202e"}}, "first_name", False),
    "name without letters": ({"patient": {"first_name": "123"}}, "first_name", False),
    "note too long": ({"patient": {"note": "x" * 501}}, "note", False),
    "note with control characters": ({"patient": {"note": "back pain\x1b[2J"}}, "note", False),
    "sms_opt_in a string": ({"patient": {"sms_opt_in": "yes"}}, "sms_opt_in", False),
    "sms_opt_in a number": ({"patient": {"sms_opt_in": 1}}, "sms_opt_in", False),
    "patient missing": ({"patient": DROP}, "first_name", False),
    "patient a string": ({"patient": "Ana Garcia"}, "phone", False),
    "patient a list": ({"patient": ["Ana", "Garcia"]}, "email", False),
}


def _apply(body: dict, changes: dict, clinic: Clinic) -> dict:
    body = copy.deepcopy(body)
    for key, value in changes.items():
        if key == "patient" and isinstance(value, dict):
            for name, inner in value.items():
                if inner == DROP:
                    body["patient"].pop(name)
                else:
                    body["patient"][name] = inner
        elif value == DROP:
            body.pop(key)
        elif key == "provider_id" and value == "offline":
            body[key] = clinic.offline.id
        else:
            body[key] = value
    return body


@pytest.mark.parametrize("case", list(BAD_BOOKINGS))
def test_bad_booking_input_is_refused_with_a_message_for_the_field(api, clinic, case):
    changes, field, conforms = BAD_BOOKINGS[case]
    body = _apply(_booking_body(), changes, clinic)
    refused = api.post("/api/v1/bookings", body, 422, conforms=conforms)
    assert refused["error"] == "validation_failed"
    assert field in refused["fields"], refused
    assert refused["fields"][field].strip()
    assert count(Appointment) == 0
    assert count(Patient) == 0


def test_bad_booking_messages_say_what_is_wrong(api, clinic):
    def message(changes, field):
        body = _apply(_booking_body(), changes, clinic)
        return api.post("/api/v1/bookings", body, 422, conforms=None)["fields"][field]

    assert "call" in message({"service": "therapy"}, "service").lower()
    assert "passed" in message({"start": at(date(2026, 11, 27), "09:00")}, "start")
    assert "too soon" in message({"start": at(date(2026, 11, 30), "09:00")}, "start")
    assert "too far" in message({"start": at(date(2027, 2, 15), "09:00")}, "start")
    assert "open time" in message({"start": at(TUESDAY, "10:07")}, "start")
    assert "toll-free" in message({"patient": {"phone": "800-555-0123"}}, "phone")
    assert "60" in message({"patient": {"first_name": "A" * 61}}, "first_name")


def test_several_problems_are_reported_together(api, clinic):
    body = _booking_body(service="massage", provider_id="abc", start="soon")
    body["patient"] = patient_payload(first_name="", phone="800-555-0123", email="nope", sms_opt_in="y",
                                      note="n" * 501)
    refused = api.post("/api/v1/bookings", body, 422, conforms=False)
    assert set(refused["fields"]) == {
        "service", "provider_id", "start", "first_name", "phone", "email", "sms_opt_in", "note",
    }


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("not json", "application/json"),
        ('{"service": "evaluation",', "application/json"),
        ("[1, 2]", "application/json"),
        ("null", "application/json"),
        ('"a string"', "application/json"),
        ('{"service": "evaluation"}', "text/plain"),
        ("service=evaluation", "application/x-www-form-urlencoded"),
        ("", None),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(api, clinic, data, content_type):
    kwargs = {"data": data} if content_type is None else {"data": data, "content_type": content_type}
    refused = api.post("/api/v1/bookings", expect=422, **kwargs)
    assert list(refused["fields"]) == ["body"]
    assert "JSON" in refused["fields"]["body"]


def test_a_json_array_body_violates_the_documented_request(api):
    assert api.contract.request_errors("POST", "/api/v1/bookings", [_booking_body()])


# --- the manage token --------------------------------------------------------------------


@pytest.fixture
def booked(api, clinic) -> dict:
    """Wednesday 09:00 with Dr. First: more than 24 hours away."""
    return api.book("evaluation", at(WEDNESDAY, "09:00"), clinic.first.id)


def _tampered(token: str) -> str:
    last = "A" if token[-1] != "A" else "B"
    return token[:-1] + last


@pytest.mark.parametrize("which", ["random", "tampered", "other secret"])
def test_bad_tokens_get_a_json_404_everywhere(api, app, booked, which):
    if which == "random":
        token = "not-a-real-token"
    elif which == "tampered":
        token = _tampered(token_of(booked))
    else:  # well signed, but pointing at no appointment
        from scheduler.services.common.tokens import manage_token_for

        token = manage_token_for("no-such-secret")
    for answer in (
        api.get(f"/api/v1/bookings/{token}", 404),
        api.post(f"/api/v1/bookings/{token}/cancel", {}, 404),
        api.post(f"/api/v1/bookings/{token}/reschedule", {"start": at(WEDNESDAY, "13:00")}, 404),
    ):
        assert answer["error"] == "not_found" and answer["message"]
    assert db.session.get(Appointment, booked["id"]).status == "booked"


def test_cancel_frees_the_slot_and_cannot_be_repeated(api, clinic, booked):
    token = token_of(booked)
    start = booked["start"]
    assert start not in slot_starts(api.availability("evaluation", WEDNESDAY, WEDNESDAY), clinic.first.id)
    cancelled = api.post(f"/api/v1/bookings/{token}/cancel", {"reason": "Feeling  better"})
    assert cancelled["status"] == "cancelled" and cancelled["can_change_online"] is False
    assert db.session.get(Appointment, booked["id"]).cancel_reason == "Feeling better"
    assert start in slot_starts(api.availability("evaluation", WEDNESDAY, WEDNESDAY), clinic.first.id)
    again = api.post(f"/api/v1/bookings/{token}/cancel", expect=409)
    assert again["error"] == "not_open" and again["message"]
    moved = api.post(f"/api/v1/bookings/{token}/reschedule", {"start": at(WEDNESDAY, "13:00")}, 409)
    assert moved["error"] == "not_open"
    assert api.get(f"/api/v1/bookings/{token}")["status"] == "cancelled"
    # someone else can now have that time
    api.book("evaluation", start, clinic.first.id, email="next@example.com")


def test_cancel_without_a_body(api, booked):
    answer = api.post(f"/api/v1/bookings/{token_of(booked)}/cancel")
    assert answer["status"] == "cancelled"


@pytest.mark.parametrize(("body", "conforms"), [({"reason": "r" * 201}, False), ({"reason": 5}, False)])
def test_cancel_reason_is_checked(api, booked, body, conforms):
    refused = api.post(f"/api/v1/bookings/{token_of(booked)}/cancel", body, 422, conforms=conforms)
    assert set(refused["fields"]) == {"reason"}
    assert db.session.get(Appointment, booked["id"]).status == "booked"


def test_changes_inside_the_cancellation_window_are_refused(api, clock, booked):
    token = token_of(booked)
    clock.advance(hours=25, minutes=30)  # Tuesday 09:30: 23.5 hours before the visit
    assert api.get(f"/api/v1/bookings/{token}")["can_change_online"] is False
    refused = api.post(f"/api/v1/bookings/{token}/cancel", {}, 409)
    assert refused["error"] == "inside_window"
    assert "call" in refused["message"].lower()
    moved = api.post(f"/api/v1/bookings/{token}/reschedule", {"start": at(date(2026, 12, 3), "09:00")}, 409)
    assert moved["error"] == "inside_window"
    assert db.session.get(Appointment, booked["id"]).status == "booked"


def test_just_outside_the_window_a_cancel_still_works(api, clock, booked):
    clock.advance(hours=24, minutes=59)  # Tuesday 08:59, 24 h 1 min before
    assert api.post(f"/api/v1/bookings/{token_of(booked)}/cancel", {})["status"] == "cancelled"


def test_reschedule_moves_the_appointment(api, client, clinic, booked):
    token = token_of(booked)
    old, new = booked["start"], at(WEDNESDAY, "14:30")
    moved = api.post(f"/api/v1/bookings/{token}/reschedule", {"start": new})
    assert moved["start"] == new and moved["end"] == at(WEDNESDAY, "15:30")
    assert moved["id"] == booked["id"] and moved["status"] == "booked"
    assert moved["provider_id"] == clinic.first.id
    assert moved["manage_url"] == booked["manage_url"]
    mine = slot_starts(api.availability("evaluation", WEDNESDAY, WEDNESDAY), clinic.first.id)
    assert old in mine and new not in mine
    assert "SEQUENCE:1" in client.get(urlsplit(moved["ics_url"]).path).get_data(as_text=True)


def test_reschedule_to_a_taken_slot_offers_alternatives(api, clinic, booked):
    taken = at(WEDNESDAY, "13:00")
    api.book("evaluation", taken, clinic.first.id, email="luis@example.com", first_name="Luis")
    refused = api.post(f"/api/v1/bookings/{token_of(booked)}/reschedule", {"start": taken}, 409)
    assert refused["error"] == "slot_unavailable"
    alternatives = slot_starts(refused)
    assert alternatives and taken not in alternatives
    assert {s["provider_id"] for s in refused["alternatives"]} == {clinic.first.id}
    assert db.session.get(Appointment, booked["id"]).starts_at == instant(booked["start"])


@pytest.mark.parametrize(
    ("body", "conforms", "expected"),
    [
        ("same", True, "already"),
        ({"start": at(WEDNESDAY, "10:07")}, True, "open time"),
        ({"start": at(date(2026, 11, 27), "10:00")}, True, "passed"),
        ({"start": at(date(2027, 2, 15), "09:00")}, True, "too far"),
        ({"start": "wednesday"}, False, "valid"),
        ({}, False, "choose"),
        ({"start": None}, False, "choose"),
    ],
)
def test_reschedule_bad_times_are_refused(api, booked, body, conforms, expected):
    if body == "same":
        body = {"start": booked["start"]}
    refused = api.post(f"/api/v1/bookings/{token_of(booked)}/reschedule", body, 422, conforms=conforms)
    assert set(refused["fields"]) == {"start"}
    assert expected in refused["fields"]["start"].lower()


def test_reschedule_without_a_json_object(api, booked):
    refused = api.post(f"/api/v1/bookings/{token_of(booked)}/reschedule", expect=422, data="start=now")
    assert set(refused["fields"]) == {"body"}


def test_reschedule_can_overlap_its_own_old_time(api, clinic, booked):
    """09:00-10:00 moved to 09:30: only the appointment itself was in the way."""
    moved = api.post(f"/api/v1/bookings/{token_of(booked)}/reschedule", {"start": at(WEDNESDAY, "09:30")})
    assert moved["start"] == at(WEDNESDAY, "09:30")


# --- audit trail -------------------------------------------------------------------------


def test_booking_moving_and_cancelling_leave_an_audit_trail(api, clinic, booked):
    token = token_of(booked)
    api.post(f"/api/v1/bookings/{token}/reschedule", {"start": at(WEDNESDAY, "15:00")})
    api.post(f"/api/v1/bookings/{token}/cancel", {"reason": "Travel"})
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "appointments", AuditEvent.entity_id == booked["id"])
        .order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in events] == [
        "appointment.booked", "appointment.rescheduled", "appointment.cancelled",
    ]
    booked_event, moved, cancelled = events
    assert booked_event.before is None and booked_event.actor_kind == "api"
    assert instant(booked_event.after["starts_at"]) == instant(booked["start"])
    assert booked_event.after["status"] == "booked" and booked_event.after["provider_id"] == clinic.first.id
    assert moved.actor_kind == "patient_link"
    assert instant(moved.before["starts_at"]) == instant(at(WEDNESDAY, "09:00"))
    assert instant(moved.after["starts_at"]) == instant(at(WEDNESDAY, "15:00"))
    assert instant(moved.after["ends_at"]) == instant(at(WEDNESDAY, "16:00"))
    assert cancelled.before["status"] == "booked" and cancelled.after["status"] == "cancelled"
    assert cancelled.after["cancel_reason"] == "Travel"
    assert all(e.at == datetime(2026, 11, 30, 15, tzinfo=UTC) for e in events)


def test_refused_changes_leave_no_audit_rows(api, clinic, booked):
    token = token_of(booked)
    api.post(f"/api/v1/bookings/{token}/reschedule", {"start": booked["start"]}, 422)
    api.post("/api/v1/bookings", _booking_body(service="massage"), 422, conforms=True)
    assert list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id))) == ["patient.created", "appointment.booked"]


# --- staff API ---------------------------------------------------------------------------


@pytest.fixture
def staff_token(app):
    create_user("desk@example.com", "correct horse battery", "front_desk")
    return issue_api_token("desk@example.com", label="front desk tablet")


def test_staff_appointments_need_a_valid_bearer_token(api, clinic, staff_token):
    url = "/api/v1/staff/appointments?date=2026-12-01"
    headers_tried = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer sk_wrong"},
        {"Authorization": f"Bearer {staff_token}x"},
        {"Authorization": f"Basic {staff_token}"},
        {"Authorization": staff_token},
    ]
    for headers in headers_tried:
        response = api.client.get(url, headers=headers)
        answer = api.contract.check_response(response)
        assert response.status_code == 401, headers
        assert answer["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.get(url, headers={"Authorization": f"Bearer {staff_token}"})["date"] == "2026-12-01"


def test_staff_appointments_list_the_clinic_day(api, clinic, clock, staff_token):
    api.book("evaluation", at(TUESDAY, "13:00"), clinic.second.id, first_name="Luis")
    api.book("evaluation", at(TUESDAY, "08:00"), clinic.first.id)
    api.book("evaluation", at(WEDNESDAY, "08:00"), clinic.first.id, email="wed@example.com")
    clock.advance(hours=2)
    answer = api.get("/api/v1/staff/appointments?date=2026-12-01", headers={"Authorization": f"Bearer {staff_token}"})
    assert answer["date"] == "2026-12-01"
    listed = answer["appointments"]
    assert [a["start"] for a in listed] == [at(TUESDAY, "08:00"), at(TUESDAY, "13:00")]
    assert [a["patient_name"] for a in listed] == ["Ana Garcia", "Luis Garcia"]
    assert listed[1]["provider_id"] == clinic.second.id and listed[0]["service"] == "evaluation"
    assert {a["source"] for a in listed} == {"api"}
    row = db.session.scalar(select(ApiToken))
    assert row.last_used_at == datetime(2026, 11, 30, 17, tzinfo=UTC)


def test_staff_appointments_default_to_today_and_check_the_date(api, clinic, staff_token):
    headers = {"Authorization": f"Bearer {staff_token}"}
    assert api.get("/api/v1/staff/appointments", headers=headers)["date"] == "2026-11-30"
    refused = api.get("/api/v1/staff/appointments?date=tomorrow", 422, headers=headers)
    assert set(refused["fields"]) == {"date"}


def test_revoked_tokens_and_inactive_users_are_refused(api, clinic, clock, staff_token):
    headers = {"Authorization": f"Bearer {staff_token}"}
    api.get("/api/v1/staff/appointments", headers=headers)
    row = db.session.scalar(select(ApiToken))
    row.revoked_at = clock()
    db.session.commit()
    assert api.get("/api/v1/staff/appointments", 401, headers=headers)["error"] == "unauthorized"
    row.revoked_at = None
    row.user.active = False
    db.session.commit()
    assert api.get("/api/v1/staff/appointments", 401, headers=headers)["error"] == "unauthorized"


# --- whatever arrives, the answer is a documented 4xx (or a booking), never a 500 -------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=6,
)
STARTS = st.sampled_from([
    at(TUESDAY, "08:00"), at(TUESDAY, "10:07"), "2026-12-01T15:00:00Z", "2026-12-01T08:00:00",
    "2027-03-14T02:30:00", "2026-11-01T01:30:00", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59",
    "2026-12-01", "24:00", "",
]) | st.text(max_size=30)
PATIENTS = st.fixed_dictionaries(
    {},
    optional={
        "first_name": st.text(max_size=70) | JSON_VALUES,
        "last_name": st.just("Garcia") | JSON_VALUES,
        "phone": st.sampled_from(["915-555-0123", "800-555-0123", "+52 656 123 4567", "+1 915"]) | JSON_VALUES,
        "email": st.sampled_from(["ana@example.com", "ana@", "@x.io"]) | JSON_VALUES,
        "sms_opt_in": st.booleans() | JSON_VALUES,
        "note": st.text(max_size=520) | JSON_VALUES,
    },
)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "service": st.sampled_from(["evaluation", "therapy", "retired", ""]) | JSON_VALUES,
        "provider_id": st.sampled_from([1, 2, 3, "1", "any", 1.0, 2.5, -1]) | JSON_VALUES,
        "start": STARTS | JSON_VALUES,
        "patient": PATIENTS | JSON_VALUES,
    },
) | JSON_VALUES


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES)
def test_any_json_body_gets_a_documented_answer(api, clinic, body):
    response = api.client.post("/api/v1/bookings", json=body)
    answer = api.contract.check_response(response)
    assert response.status_code in (201, 409, 422), answer
    if response.status_code == 422:
        assert answer["fields"] and all(isinstance(m, str) and m for m in answer["fields"].values())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    start=st.text(max_size=14) | st.dates().map(date.isoformat),
    end=st.text(max_size=14) | st.dates().map(date.isoformat),
    provider=st.none() | st.text(max_size=6) | st.integers().map(str),
)
def test_any_availability_query_gets_a_documented_answer(api, clinic, start, end, provider):
    query = {"service": "follow-up", "start": start, "end": end, **({"provider": provider} if provider else {})}
    response = api.client.get(f"/api/v1/availability?{urlencode(query)}")
    answer = api.contract.check_response(response)
    assert response.status_code in (200, 422), answer


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.fixed_dictionaries({}, optional={"start": STARTS | JSON_VALUES}) | JSON_VALUES)
def test_any_reschedule_body_gets_a_documented_answer(api, booked, body):
    response = api.client.post(f"/api/v1/bookings/{token_of(booked)}/reschedule", json=body)
    answer = api.contract.check_response(response)
    assert response.status_code in (200, 409, 422), answer


def test_email_is_optional_with_a_mobile_number_and_text_consent(app, client):
    """The confirmation then goes by text only; without consent, the 422 says what is needed."""
    from scheduler.models import Message

    provider = make_provider()
    make_service()
    texts_only = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider.id, "start": "2026-12-02T09:00:00-07:00",
        "patient": {"first_name": "Rosa", "last_name": "Mendez", "phone": "915-555-0177", "sms_opt_in": True}})
    assert texts_only.status_code == 201, texts_only.get_json()
    assert db.session.scalar(select(Patient).where(Patient.first_name == "Rosa")).email is None
    channels = set(db.session.scalars(select(Message.channel)))
    assert channels == {"sms"}
    refused = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider.id, "start": "2026-12-02T10:30:00-07:00",
        "patient": {"first_name": "Luis", "last_name": "Mendez", "phone": "915-555-0178"}})
    assert refused.status_code == 422
    message = refused.get_json()["fields"]["email"]
    assert "email" in message and "text" in message
    assert "email" not in client.get("/api/v1/openapi.json").get_json()["components"]["schemas"][
        "BookingPatientInput"]["required"]
