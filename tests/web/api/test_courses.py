"""Staff API for courses of care: preview, book all or nothing, manage; every answer checked
against the OpenAPI document. The clock is frozen at Monday 2026-11-30 08:00 in Denver."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Course
from scheduler.services.messages import outbox
from tests.support.factories import build_clinic, make_patient, make_visit
from tests.support.staff_api import staff_api_for


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def staff_api(client, clinic):
    return staff_api_for(client, clinic.desk_token)


def body(clinic, **overrides):
    request = {
        "patient_id": clinic.patient.id, "provider_id": clinic.maria.id, "service": "therapy-session",
        "first_date": "2026-12-07", "weeks": 6, "visits_per_week": 3, "weekdays": ["mon", "wed", "fri"],
        "time": "09:00", "min_gap_days": 1, "allow_other_provider": False, "preview": True,
    }
    request.update(overrides)
    return {k: v for k, v in request.items() if v is not None}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def local_times(visits) -> list[str]:
    return [datetime.fromisoformat(v["start"]).strftime("%a %m-%d %H:%M") for v in visits]


def test_preview_then_book_a_six_week_course(staff_api, clinic, client, monkeypatch):
    told = []
    monkeypatch.setattr(outbox, "plan_course_booked", lambda course, visits, *, cause: told.append((course.id, len(visits), cause)))
    plan = staff_api.post("/api/v1/staff/courses", body(clinic))
    assert plan["status"] == "preview" and plan["ics_url"] is None
    assert [v["number"] for v in plan["visits"]] == list(range(1, 19))
    assert local_times(plan["visits"])[:4] == ["Mon 12-07 09:00", "Wed 12-09 09:00", "Fri 12-11 09:00", "Mon 12-14 09:00"]
    christmas = next(v for v in plan["visits"] if v["preferred_date"] == "2026-12-25")
    assert christmas["status"] == "moved" and christmas["start"] == "2026-12-24T09:00:00-07:00"
    assert [v["number"] for v in plan["visits"] if v["status"] != "as_requested"] == [christmas["number"]]
    assert count(Appointment) == 0 and count(Course) == 0  # a preview books nothing

    booked = staff_api.post("/api/v1/staff/courses", body(clinic, preview=False), 201)
    assert booked["status"] == "planned" and booked["counts"] == {"attended": 0, "no_show": 0, "cancelled": 0, "remaining": 18}
    assert [v["start"] for v in booked["visits"]] == [v["start"] for v in plan["visits"]]
    assert [v["number"] for v in booked["visits"]] == list(range(1, 19))
    assert booked["ics_url"].endswith(f"/api/v1/staff/courses/{booked['id']}.ics")
    # The patient's private feed lists the course's visits (and is the same URL next time).
    feed = client.get(urlsplit(booked["feed_url"]).path)
    assert feed.status_code == 200 and feed.data.count(b"BEGIN:VEVENT") == 18
    assert staff_api.get(f"/api/v1/staff/courses/{booked['id']}")["feed_url"] == booked["feed_url"]
    assert told == [(booked["id"], 18, "staff")]
    # Every visit has its own private link; only hashes are stored.
    tokens = [urlsplit(v["manage_url"]).path.rsplit("/", 1)[1] for v in booked["visits"]]
    assert len(set(tokens)) == 18
    hashes = set(db.session.scalars(select(Appointment.manage_token_hash)))
    assert len(hashes) == 18 and not any(t in hashes for t in tokens)
    assert client.get(urlsplit(booked["visits"][6]["manage_url"]).path).status_code == 200
    again = staff_api.get(f"/api/v1/staff/courses/{booked['id']}")
    assert "manage_url" not in again["visits"][0]  # secrets are handed out once
    actions = list(db.session.scalars(select(AuditEvent.action)))
    assert actions.count("appointment.booked") == 18 and actions.count("course.booked") == 1
    assert {a.source for a in db.session.scalars(select(Appointment))} == {"desk"}


def test_closures_busy_times_and_the_reasons_in_the_plan(staff_api, clinic):
    other = make_patient("Luis", "Reyes", "+19155550188", "luis@example.com")
    make_visit(other, clinic.maria, clinic.therapy, "2026-12-09T09:00:00-07:00")
    plan = staff_api.post("/api/v1/staff/courses", body(clinic, first_date="2026-12-21", weeks=1))["visits"]
    friday = plan[2]
    assert friday["preferred_date"] == "2026-12-25" and friday["status"] == "moved"
    assert friday["start"] == "2026-12-24T09:00:00-07:00" and friday["reason"] == "Closed: Christmas Day"
    plan = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=1))["visits"]
    assert plan[1]["status"] == "moved" and plan[1]["start"] == "2026-12-09T08:00:00-07:00"  # as near as 10:00, earlier
    assert "nearest open time" in plan[1]["reason"]


def test_staff_plan_today_and_a_year_ahead_across_the_spring_change(staff_api, clinic):
    today = staff_api.post("/api/v1/staff/courses", body(clinic, first_date="2026-11-30", weeks=1))["visits"]
    # 09:00 today is inside the service's two-hour notice: staff are not held to it.
    assert today[0]["start"] == "2026-11-30T09:00:00-07:00" and today[0]["status"] == "as_requested"
    spring = staff_api.post("/api/v1/staff/courses", body(clinic, first_date="2027-03-01", weeks=4,
                                                          weekdays=["tue", "thu"], visits_per_week=2))["visits"]
    assert {v["start"][11:16] for v in spring} == {"09:00"}
    assert [v["start"][-6:] for v in spring] == ["-07:00"] * 4 + ["-06:00"] * 4


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        (dict(weeks=0), {"weeks"}),
        (dict(weeks=13), {"weeks"}),
        (dict(weeks="six"), {"weeks"}),
        (dict(visits_per_week=6, weekdays=None), {"visits_per_week"}),
        (dict(visits_per_week=0), {"visits_per_week"}),
        (dict(weekdays=["mon", "wed", "funday"]), {"weekdays"}),
        (dict(weekdays=["mon", "wed"]), {"weekdays"}),
        (dict(weekdays=["mon", "mon", "fri"]), {"weekdays"}),
        (dict(time=None), {"time", "window"}),
        (dict(window=["08:00", "11:00"]), {"time", "window"}),
        (dict(time=None, window=["11:00", "08:00"]), {"window"}),
        (dict(time=None, window=["8am", "11:00"]), {"window"}),
        (dict(time="25:00"), {"time"}),
        (dict(first_date="2026-02-30"), {"first_date"}),
        (dict(first_date="2026-11-29"), {"first_date"}),
        (dict(first_date="2027-11-20"), {"first_date"}),
        (dict(min_gap_days=-1), {"min_gap_days"}),
        (dict(allow_other_provider="maybe"), {"allow_other_provider"}),
        (dict(patient_id=999, provider_id=999, service="massage"), {"patient_id", "provider_id", "service"}),
        (dict(evaluation_id=999), {"evaluation_id"}),
        (dict(preview=False, visits=[{"start": "soon", "provider_id": 1}]), {"visits.1.start"}),
        # closed like every body: a misspelt field, at the top or in a hand-placed visit, is named
        (dict(week=6), {"week"}),
        (dict(preview=False, visits=[{"start": "2026-12-07T09:00:00-07:00", "provider_id": 1, "provider": 2}]),
         {"visits.1.provider"}),
    ],
)
def test_every_bad_field_is_named(staff_api, clinic, overrides, fields):
    answer = staff_api.post("/api/v1/staff/courses", body(clinic, **overrides), 422, conforms=None)
    assert answer["error"] == "validation_failed" and set(answer["fields"]) == fields, answer
    assert count(Course) == 0


def test_whole_numbers_may_be_written_as_json_schema_integers(staff_api, clinic):
    """5.0 is an integer to JSON Schema (and so to the document): the same course as 5."""
    plain = staff_api.post("/api/v1/staff/courses", body(clinic))
    written = staff_api.post("/api/v1/staff/courses", body(
        clinic, patient_id=float(clinic.patient.id), provider_id=float(clinic.maria.id), weeks=6.0,
        visits_per_week=3.0, min_gap_days=1.0))
    assert written == plain and len(written["visits"]) == 18


def test_not_json_and_roles(staff_api, clinic):
    assert staff_api.post("/api/v1/staff/courses", [1, 2], 422, conforms=False)["fields"] == {
        "body": "Send a JSON object with Content-Type: application/json."}
    assert staff_api.as_(None).post("/api/v1/staff/courses", body(clinic), 401)["error"] == "unauthorized"
    maria = staff_api.as_(clinic.maria_token)
    assert maria.post("/api/v1/staff/courses", body(clinic, provider_id=clinic.daniel.id), 403)["error"] == "forbidden"
    assert maria.post("/api/v1/staff/courses", body(clinic, provider_id=clinic.daniel.id, weeks=0), 403, conforms=False)
    assert len(maria.post("/api/v1/staff/courses", body(clinic))["visits"]) == 18
    # Her own course, but letting another provider take visits, or a visit hand-placed on
    # Daniel's calendar, reaches beyond her own calendar.
    maria.post("/api/v1/staff/courses", body(clinic, allow_other_provider=True), 403)
    chosen = [{"start": "2026-12-07T09:00:00-07:00", "provider_id": clinic.daniel.id}]
    maria.post("/api/v1/staff/courses", body(clinic, preview=False, visits=chosen), 403)
    booked = staff_api.post("/api/v1/staff/courses", body(clinic, provider_id=clinic.daniel.id, preview=False), 201)
    maria.get(f"/api/v1/staff/courses/{booked['id']}", 403)
    staff_api.get("/api/v1/staff/courses/999", 404)


def test_a_visit_taken_since_the_preview_books_nothing_and_returns_a_fresh_plan(staff_api, clinic):
    plan = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2))["visits"]
    # Someone takes Wednesday 12-16 09:00 meanwhile.
    make_visit(make_patient("Luis", "Reyes", "+19155550188", "luis@example.com"), clinic.maria, clinic.therapy,
               "2026-12-16T09:00:00-07:00")
    before = count(Appointment)
    chosen = [{"start": v["start"], "provider_id": v["provider_id"]} for v in plan]
    conflict = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2, preview=False, visits=chosen), 409)
    assert conflict["error"] == "slot_unavailable" and conflict["taken"] == [5]
    fresh = conflict["plan"]["visits"]
    assert fresh[4]["status"] == "moved" and fresh[4]["start"] != plan[4]["start"]
    assert count(Appointment) == before and count(Course) == 0
    # Staff edit the plan: drop visit 6 and move visit 5 by hand; then it books as sent.
    chosen = [{"start": v["start"], "provider_id": v["provider_id"]} for v in fresh]
    chosen[4]["start"] = "2026-12-16T14:00:00-07:00"
    del chosen[5]
    booked = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2, preview=False, visits=chosen), 201)
    assert [v["start"] for v in booked["visits"]] == sorted(c["start"] for c in chosen)
    assert [v["number"] for v in booked["visits"]] == [1, 2, 3, 4, 5]
    # A hand-edited time outside the provider's hours is a field error, not a conflict.
    chosen[0]["start"] = "2026-12-07T12:15:00-07:00"
    bad = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2, preview=False, visits=chosen), 422)
    assert set(bad["fields"]) == {"visits.1.start"}


def test_course_progress_extend_cancel_one_make_up_and_cancel_the_rest(staff_api, clinic, clock):
    course = staff_api.post("/api/v1/staff/courses", body(clinic, first_date="2026-11-30", weeks=2, preview=False), 201)
    first = course["visits"][0]
    clock.advance(hours=1, minutes=10)  # 09:10, the first visit has begun
    for status in ("checked_in", "completed"):
        staff_api.post(f"/api/v1/staff/appointments/{first['appointment_id']}/status", {"status": status})
    course = staff_api.get(f"/api/v1/staff/courses/{course['id']}")
    assert course["status"] == "active" and course["counts"]["attended"] == 1 and course["counts"]["remaining"] == 5

    extended = staff_api.post(f"/api/v1/staff/courses/{course['id']}/extend", {"weeks": 2})
    assert extended["weeks"] == 4 and [v["number"] for v in extended["visits"]] == list(range(1, 13))
    assert all("manage_url" in v for v in extended["visits"][6:]) and "manage_url" not in extended["visits"][0]
    assert local_times(extended["visits"])[6] == "Mon 12-14 09:00"
    staff_api.post(f"/api/v1/staff/courses/{course['id']}/extend", {"weeks": 13}, 422, conforms=False)

    # Cancel visit 3 (Fri 12-04): make-up times that week, and one after the end.
    answer = staff_api.post(f"/api/v1/staff/courses/{course['id']}/visits/3/cancel", {"reason": "sick"})
    assert answer["counts"]["cancelled"] == 1 and answer["visits"][2]["status"] == "cancelled"
    offers = [datetime.fromisoformat(s["start"]).date() for s in answer["make_up"]]
    # Tuesday and Thursday of that week keep a day from Monday's and Wednesday's visits.
    assert offers[:2] == [date(2026, 12, 1), date(2026, 12, 3)] and offers[-1] >= date(2026, 12, 28)
    made_up = staff_api.post(f"/api/v1/staff/courses/{course['id']}/make-up", {"start": answer["make_up"][0]["start"]}, 201)
    assert made_up["visits"][1]["number"] == 13 and made_up["counts"]["remaining"] == 11  # Tuesday, by date
    taken = staff_api.post(f"/api/v1/staff/courses/{course['id']}/make-up", {"start": answer["make_up"][0]["start"]}, 409)
    assert taken["error"] == "slot_unavailable" and answer["make_up"][0]["start"] not in [a["start"] for a in taken["alternatives"]]

    cancelled = staff_api.post(f"/api/v1/staff/courses/{course['id']}/cancel", {"reason": "moved away"})
    assert cancelled["status"] == "cancelled"
    statuses = [v["status"] for v in cancelled["visits"]]
    assert statuses[0] == "completed" and set(statuses[1:]) == {"cancelled"}
    assert staff_api.post(f"/api/v1/staff/courses/{course['id']}/extend", {"weeks": 1}, 409)["error"] == "not_open"


def test_change_the_time_of_this_and_all_following(staff_api, clinic):
    course = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2, preview=False), 201)
    url = f"/api/v1/staff/courses/{course['id']}/visits/3/reschedule-following"
    other = make_visit(make_patient("Luis", "Reyes", "+19155550188", "luis@example.com"), clinic.maria, clinic.therapy,
                       "2026-12-16T10:30:00-07:00")
    conflict = staff_api.post(url, {"time": "10:00"}, 409)
    assert conflict["taken"] == [5]
    unchanged = staff_api.get(f"/api/v1/staff/courses/{course['id']}")
    assert [v["start"] for v in unchanged["visits"]] == [v["start"] for v in course["visits"]]
    staff_api.post(f"/api/v1/staff/appointments/{other.id}/cancel", {})
    moved = staff_api.post(url, {"time": "10:00"})
    assert [v["start"][11:16] for v in moved["visits"]] == ["09:00"] * 2 + ["10:00"] * 4
    assert staff_api.post(url, {"time": "12:30"}, 422)["fields"]["time"].startswith("That time is outside")
    assert set(staff_api.post(url, {"time": "noon"}, 422, conforms=False)["fields"]) == {"time"}
    rows = db.session.scalars(select(Appointment).where(Appointment.visit_number >= 3))
    assert {r.ical_sequence for r in rows} == {1}


def test_a_plan_costs_the_same_few_queries_for_two_weeks_or_twelve(staff_api, clinic):
    def selects_for(weeks):
        seen = []

        def count_select(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("SELECT"):
                seen.append(statement)

        event.listen(db.engine, "before_cursor_execute", count_select)
        try:
            staff_api.post("/api/v1/staff/courses", body(clinic, weeks=weeks, allow_other_provider=True))
        finally:
            event.remove(db.engine, "before_cursor_execute", count_select)
        return len(seen)

    selects_for(1)  # the first request also reads the patient, provider and service rows once
    two, twelve = selects_for(2), selects_for(12)
    # The bearer token, the patient, provider and service, other providers, hours, bookings,
    # time off, closures, the patient's visits: nothing per week, day or visit.
    assert two == twelve and twelve <= 12, (two, twelve)


def test_following_visits_do_not_move_onto_the_patients_other_visits(staff_api, clinic):
    course = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=1, preview=False), 201)
    # The patient also sees Daniel on Friday at 10:15 (not part of the course).
    make_visit(clinic.patient, clinic.daniel, clinic.therapy, "2026-12-11T10:15:00-07:00")
    url = f"/api/v1/staff/courses/{course['id']}/visits/2/reschedule-following"
    assert staff_api.post(url, {"time": "10:00"}, 409)["taken"] == [3]
    assert [v["start"][11:16] for v in staff_api.post(url, {"time": "11:00"})["visits"]] == ["09:00", "11:00", "11:00"]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=5,
)
COURSE_BODIES = st.fixed_dictionaries({}, optional={
    "patient_id": st.sampled_from([1, 2, "1"]) | JSON_VALUES,
    "provider_id": st.sampled_from([1, 2, 99]) | JSON_VALUES,
    "service": st.sampled_from(["therapy-session", "x"]) | JSON_VALUES,
    "first_date": st.sampled_from(["2026-12-07", "2027-03-08", "2026-11-30", "2026-02-30", "9999-12-31"]) | JSON_VALUES,
    "weeks": st.integers(-1, 14) | JSON_VALUES,
    "visits_per_week": st.integers(-1, 7) | JSON_VALUES,
    "weekdays": st.lists(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun", "xyz"]), max_size=6) | JSON_VALUES,
    "time": st.sampled_from(["09:00", "02:30", "23:59", "24:00", "9"]) | JSON_VALUES,
    "window": st.lists(st.sampled_from(["08:00", "11:00", "17:00", "x"]), max_size=3) | JSON_VALUES,
    "min_gap_days": st.integers(-1, 8) | JSON_VALUES,
    "allow_other_provider": st.booleans() | JSON_VALUES,
    "evaluation_id": st.none() | JSON_VALUES,
    "preview": st.booleans(),
    "visits": st.none() | st.lists(st.fixed_dictionaries({"start": st.sampled_from(
        ["2026-12-07T09:00:00-07:00", "2026-12-07T12:15:00-07:00", "x"]) | JSON_VALUES,
        "provider_id": st.sampled_from([1, 2]) | JSON_VALUES}), max_size=3) | JSON_VALUES,
}) | JSON_VALUES


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=COURSE_BODIES)
def test_any_course_body_gets_a_documented_answer(staff_api, clinic, body):
    response = staff_api.client.post("/api/v1/staff/courses", json=body, headers=staff_api.headers())
    answer = staff_api.contract.check_response(response)
    assert response.status_code in (200, 201, 409, 422), answer
    if response.status_code == 422:
        assert answer["fields"] and all(isinstance(m, str) and m for m in answer["fields"].values())


ACTION_BODIES = st.fixed_dictionaries({}, optional={
    "start": st.sampled_from(["2026-12-08T10:00:00-07:00", "2026-12-08T10:00:00", "2027-03-14T02:30:00",
                              "9999-12-31T23:00:00-12:00", "x", ""]) | JSON_VALUES,
    "provider_id": st.sampled_from([1, 2, 99, "1", True]) | JSON_VALUES,
    "reason": st.text(max_size=210) | JSON_VALUES,
    "status": st.sampled_from(["confirmed", "checked_in", "completed", "no_show", "cancelled", "x"]) | JSON_VALUES,
    "weeks": st.integers(-1, 60) | JSON_VALUES,
    "time": st.sampled_from(["10:00", "02:30", "25:00", "x", ""]) | JSON_VALUES,
}) | JSON_VALUES
ACTIONS = ["appointments/{a}/move", "appointments/{a}/cancel", "appointments/{a}/status", "courses/{c}/extend",
           "courses/{c}/cancel", "courses/{c}/make-up", "courses/{c}/visits/2/cancel",
           "courses/{c}/visits/3/reschedule-following"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(ACTIONS), body=ACTION_BODIES)
def test_any_change_body_gets_a_documented_answer(staff_api, clinic, action, body):
    course = db.session.scalar(select(Course))
    if course is None:
        booked = staff_api.client.post("/api/v1/staff/courses", headers=staff_api.headers(), json={
            "patient_id": clinic.patient.id, "provider_id": clinic.maria.id, "first_date": "2026-12-07", "weeks": 2,
            "visits_per_week": 3, "weekdays": ["mon", "wed", "fri"], "time": "09:00", "preview": False})
        assert booked.status_code == 201
        course = db.session.scalar(select(Course))
    first = db.session.scalar(select(Appointment.id).where(Appointment.course_id == course.id).order_by(Appointment.id))
    url = "/api/v1/staff/" + action.format(a=first, c=course.id)
    response = staff_api.client.post(url, json=body, headers=staff_api.headers())
    answer = staff_api.contract.check_response(response)
    assert response.status_code in (200, 201, 409, 422), (url, answer)


def test_a_providers_token_cannot_add_a_make_up_on_another_calendar(staff_api, clinic):
    """5.0 is an integer to the document and provider 5 to the booking, so it is to the check."""
    course = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2, allow_other_provider=True, preview=False), 201)
    maria = staff_api.as_(clinic.maria_token)
    url = f"/api/v1/staff/courses/{course['id']}/make-up"
    maria.post(url, {"start": "2026-12-22T10:00:00-07:00", "provider_id": float(clinic.daniel.id)}, 403)
    maria.post(url, {"start": "2026-12-22T10:00:00-07:00", "provider_id": str(clinic.daniel.id)}, 403, conforms=False)
    assert count(Appointment) == course["counts"]["remaining"]


def test_this_and_all_following_keep_each_visits_own_length(staff_api, clinic):
    course = staff_api.post("/api/v1/staff/courses", body(clinic, weeks=2, preview=False), 201)
    fourth = db.session.scalar(select(Appointment).where(Appointment.course_id == course["id"],
                                                         Appointment.visit_number == 4))
    fourth.ends_at += timedelta(minutes=30)  # the desk lengthened visit 4 to 75 minutes
    fourth.blocks_until += timedelta(minutes=30)
    db.session.commit()
    url = f"/api/v1/staff/courses/{course['id']}/visits/3/reschedule-following"
    moved = staff_api.post(url, {"time": "10:00"})
    lengths = [datetime.fromisoformat(v["end"]) - datetime.fromisoformat(v["start"]) for v in moved["visits"]]
    assert lengths[3] == timedelta(minutes=75) and set(lengths[:3] + lengths[4:]) == {timedelta(minutes=45)}
    # With its own length visit 4 would run into lunch at 11:00; the others would fit.
    assert staff_api.post(url, {"time": "11:00"}, 422)["fields"]["time"].startswith("That time is outside")
