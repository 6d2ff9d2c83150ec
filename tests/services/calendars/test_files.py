"""Calendar files and feeds: per visit, per course (patient and staff), the patient's private
feed and the provider's staff feed.

Every body is read three times, by `icalendar`, by the independent `vobject` parser and by
ical.js (Mozilla Thunderbird's parser, through node), and expanded by `recurring-ical-events`;
ical.js also checks each property's value type (durations, UTC date-times, integers) as
calendar clients read them. Every instant is compared with the database, for Tue/Thu 09:00
courses that cross the daylight-saving changes of 2026-11-01 and 2027-03-14 in Denver.
"""
from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from config import TestingConfig
from scheduler import create_app
from scheduler.domain.wall_time import to_instant
from scheduler.extensions import db
from scheduler.integrations.ical import Person, VisitEvent, calendar_bytes, clean_text
from scheduler.models import Appointment, AuditEvent, Course, Patient, Provider
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.calendars import files as calendar_feeds
from scheduler.services.common import audit
from scheduler.services.common.tokens import manage_token_for, new_secret, sha256_hex
from scheduler.services.staff.accounts import create_user, issue_api_token
from scheduler.web.api.openapi.document import openapi_document
from tests.support.factories import make_provider, make_service
from tests.support.helpers import set_clinic_details
from tests.support.ical_js import check_value_types, read_with_ical_js
from tests.support.openapi_check import ApiContract

DENVER = ZoneInfo("America/Denver")
MDT, MST = timedelta(hours=-6), timedelta(hours=-7)
ADDRESS = "123 Main St, Suite 4, El Paso, TX 79901"
# Tue/Thu series, each crossing one change: the Sunday in the middle of each list.
SPRING = [date(2027, 3, d) for d in (2, 4, 9, 11, 16, 18, 23, 25)]   # 2027-03-14: MST -> MDT
FALL = [date(2026, 10, 20), date(2026, 10, 22), date(2026, 10, 27), date(2026, 10, 29),
        date(2026, 11, 3), date(2026, 11, 5), date(2026, 11, 10), date(2026, 11, 12)]  # 2026-11-01: MDT -> MST
INJECTION = "\r\nATTENDEE:mailto:evil@example.com\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:x\x00\nX-EVIL:1"


# --- building the clinic straight from the models --------------------------------------------


def make_patient(first="Ana", last="Garcia", *, language="en", email="ana@example.com",
                 phone="+19155550123") -> Patient:
    patient = Patient(first_name=first, last_name=last, phone_e164=phone, email=email, language=language,
                      created_at=datetime(2026, 1, 5, tzinfo=UTC))
    db.session.add(patient)
    db.session.commit()
    return patient


def make_course(patient, provider, service, days, at=time(9)) -> tuple[Course, list[str]]:
    """A booked course: one appointment per day at the same wall time, with private links."""
    moment = datetime(2026, 1, 5, tzinfo=UTC)
    course = Course(patient_id=patient.id, provider_id=provider.id, service_id=service.id, first_day=days[0],
                    weeks=4, visits_per_week=2, weekdays="1,3", preferred_time=at, min_gap_days=1,
                    status="active", created_at=moment, updated_at=moment)
    db.session.add(course)
    db.session.flush()
    tokens = []
    for number, day in enumerate(days, start=1):
        secret = new_secret()
        start = to_instant(day, at, DENVER)
        end = start + timedelta(minutes=service.duration_minutes)
        db.session.add(Appointment(
            patient_id=patient.id, provider_id=provider.id, service_id=service.id, course_id=course.id,
            visit_number=number, starts_at=start, ends_at=end,
            blocks_until=end + timedelta(minutes=service.buffer_minutes), status="booked", source="desk",
            patient_note="Lower back pain after lifting", manage_token_hash=sha256_hex(secret),
            created_at=moment, updated_at=moment,
        ))
        tokens.append(manage_token_for(secret))
    db.session.commit()
    return course, tokens


def visits_of(course: Course) -> list[Appointment]:
    rows = db.session.scalars(select(Appointment).where(Appointment.course_id == course.id)
                              .order_by(Appointment.visit_number))
    return [db.session.merge(a) for a in rows]


def staff_token(email: str, role: str, provider: Provider | None = None) -> str:
    user = create_user(email, "a long enough password", role)
    if provider is not None:
        provider.user_id = user.id
        db.session.commit()
    return issue_api_token(email)


@dataclass
class Clinic:
    provider: Provider
    other: Provider
    service: object
    patient: Patient


@pytest.fixture
def clinic(app, clock):
    set_clinic_details(address=ADDRESS)
    clock.now = datetime(2027, 2, 20, 15, tzinfo=UTC)  # before the spring series
    tuesday_thursday = dict(weekdays=(1, 3), windows=((time(8), time(12)), (time(13), time(17))))
    return Clinic(
        provider=make_provider("Maria Lopez, PT", **tuesday_thursday),
        other=make_provider("Daniel Reyes, PT", **tuesday_thursday),
        service=make_service("therapy", name="Therapy session", duration_minutes=45, buffer_minutes=0,
                             online_bookable=False),
        patient=make_patient(),
    )


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- reading what we wrote, twice ------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    start: datetime
    end: datetime
    status: str
    sequence: int
    summary: str
    location: str
    description: str
    alarm: timedelta | None


def check_rfc5545(body: bytes) -> None:
    """The structure every calendar reader relies on."""
    assert body.endswith(b"\r\n")
    assert b"\r" not in body.replace(b"\r\n", b"") and b"\n" not in body.replace(b"\r\n", b"")
    assert b"\x00" not in body
    assert all(len(line) <= 75 for line in body.split(b"\r\n")), "content lines fold at 75 octets"
    calendar = icalendar.Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0" and "PRODID" in calendar
    uids = []
    for event in calendar.walk("VEVENT"):
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "STATUS", "SUMMARY", "LOCATION",
                     "DESCRIPTION"):
            assert name in event, name
        uids.append(str(event["UID"]))
    assert len(uids) == len(set(uids))
    # Every TZID used has its VTIMEZONE (we write UTC, so there should be none at all).
    used = set(re.findall(rb"TZID=([^;:]+)", body))
    defined = {str(tz["TZID"]).encode() for tz in calendar.walk("VTIMEZONE")}
    assert used <= defined


def read_icalendar(body: bytes) -> dict[str, Seen]:
    seen = {}
    for event in icalendar.Calendar.from_ical(body).walk("VEVENT"):
        alarms = [a.decoded("trigger") for a in event.walk("VALARM")]
        seen[str(event["UID"])] = Seen(
            event.decoded("dtstart"), event.decoded("dtend"), str(event["STATUS"]), int(event["SEQUENCE"]),
            str(event["SUMMARY"]), str(event["LOCATION"]), str(event["DESCRIPTION"]),
            alarms[0] if alarms else None,
        )
    return seen


def read_vobject(body: bytes) -> dict[str, Seen]:
    calendar = vobject.readOne(body.decode("utf-8"))
    seen = {}
    for event in getattr(calendar, "vevent_list", []):
        alarms = [a.trigger.value for a in getattr(event, "valarm_list", [])]
        seen[event.uid.value] = Seen(
            event.dtstart.value, event.dtend.value, event.status.value, int(event.sequence.value),
            event.summary.value, event.location.value, event.description.value, alarms[0] if alarms else None,
        )
    return seen


def read_ical_js(body: bytes) -> dict[str, Seen]:
    calendar = read_with_ical_js(body)
    assert calendar["name"] == "vcalendar"
    check_value_types(calendar)
    seen = {}
    for event in calendar["components"]:
        values = check_value_types(event)
        alarms = [check_value_types(alarm)["trigger"] for alarm in event["components"]]
        seen[values["uid"]] = Seen(
            values["dtstart"], values["dtend"], values["status"], values["sequence"], values["summary"],
            values["location"], values["description"], alarms[0] if alarms else None,
        )
    return seen


def read_both(body: bytes) -> dict[str, Seen]:
    """What the readers agree the file says (they must agree on everything)."""
    check_rfc5545(body)
    first, second, third = read_icalendar(body), read_vobject(body), read_ical_js(body)
    assert first == second == third
    for item in first.values():
        assert item.start.utcoffset() == timedelta(0)  # UTC instants, no floating times
    return first


def assert_matches_database(seen: dict[str, Seen], appointments: list[Appointment]) -> None:
    expected = {calendar_feeds.appointment_uid(a): a for a in appointments}
    assert set(seen) == set(expected)
    for uid, appointment in expected.items():
        item = seen[uid]
        assert item.start == appointment.starts_at and item.end == appointment.ends_at
        assert item.sequence == appointment.ical_sequence
        assert item.status == ("CANCELLED" if appointment.status == "cancelled" else "CONFIRMED")


def expanded_starts(body: bytes, first: datetime, last: datetime) -> list[datetime]:
    events = recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(first, last)
    return sorted(e.decoded("dtstart") for e in events)


def assert_nine_local_across_the_change(seen: dict[str, Seen], change: date) -> None:
    starts = sorted(item.start.astimezone(DENVER) for item in seen.values())
    assert {s.time() for s in starts} == {time(9)}
    assert {s.date().weekday() for s in starts} == {1, 3}
    before = {s.utcoffset() for s in starts if s.date() < change}
    after = {s.utcoffset() for s in starts if s.date() > change}
    assert before and after and before != after and len(before) == len(after) == 1
    # Same wall time, so the UTC time of day moves by one hour across the change.
    assert {s.astimezone(UTC).hour for s in starts} == {15, 16}


# --- course files across the spring change ---------------------------------------------------


def test_staff_and_patient_course_files_keep_nine_oclock_across_the_spring_change(app, client, clinic):
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, SPRING)
    visits = visits_of(course)
    bearer = {"Authorization": "Bearer " + staff_token("desk@example.com", "front_desk")}

    staff = client.get(f"/api/v1/staff/courses/{course.id}.ics", headers=bearer)
    patient = client.get(f"/feeds/courses/{tokens[3]}.ics")
    for response, filename in ((staff, f"course-{course.id}.ics"), (patient, "course.ics")):
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
        assert "no-store" in response.headers["Cache-Control"] and "private" in response.headers["Cache-Control"]
        seen = read_both(response.data)
        assert_matches_database(seen, visits)
        assert_nine_local_across_the_change(seen, date(2027, 3, 14))
        assert expanded_starts(response.data, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 3, 31, tzinfo=UTC)) \
            == [v.starts_at for v in visits]
        # Offsets on both sides: 09:00 MST is 16:00 UTC, 09:00 MDT is 15:00 UTC.
        assert visits[3].starts_at == datetime(2027, 3, 11, 16, tzinfo=UTC)
        assert visits[4].starts_at == datetime(2027, 3, 16, 15, tzinfo=UTC)
        summaries = [seen[calendar_feeds.appointment_uid(v)].summary for v in visits]
        assert summaries == [f"Visit {n} of 8 at {app.config['CLINIC_NAME']}" for n in range(1, 9)]
        for item in seen.values():
            assert item.alarm == -timedelta(hours=2)
            assert item.location == f"{app.config['CLINIC_NAME']}, {ADDRESS}"
            assert "915-850-0900" in item.description
        body = response.get_data(as_text=True)
        assert "Therapy" not in body and "back pain" not in body  # no clinical detail
    # Each visit's own file, on both sides of the change, through its own private link.
    for visit, token in zip(visits, tokens, strict=True):
        single = read_both(client.get(f"/appointments/{token}/calendar.ics").data)
        assert_matches_database(single, [visit])
        assert next(iter(single.values())).start.astimezone(DENVER).time() == time(9)
    # The patient's file links the private page it was reached from; the staff one has no link.
    assert f"/appointments/{tokens[3]}" in read_vobject(patient.data).popitem()[1].description.replace("\n", "")
    assert "/appointments/" not in staff.get_data(as_text=True)


def test_visit_files_and_invitations_for_the_email(app, client, clinic):
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, SPRING[3:5])
    first, second = visits_of(course)
    request = calendar_feeds.visit_calendar_bytes(first, method="REQUEST", language="en")
    calendar = icalendar.Calendar.from_ical(request)
    (event,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["ORGANIZER"]) == f"mailto:{app.config['MAIL_FROM']}"
    assert event["ORGANIZER"].params["CN"] == app.config["CLINIC_NAME"]
    assert str(event["ATTENDEE"]) == "mailto:ana@example.com" and event["ATTENDEE"].params["CN"] == "Ana Garcia"
    assert_matches_database(read_both(request), [first])

    publish = icalendar.Calendar.from_ical(calendar_feeds.visit_calendar_bytes(second, method="PUBLISH"))
    assert str(publish["METHOD"]) == "PUBLISH" and "ATTENDEE" not in publish.walk("VEVENT")[0]
    with pytest.raises(ValueError):
        calendar_feeds.visit_calendar_bytes(second, method="REFRESH")

    # The patient's download: the same UID as the invitation, so the calendar keeps one event.
    download = client.get(f"/appointments/{tokens[0]}/calendar.ics")
    assert download.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert set(read_both(download.data)) == set(read_both(request))


# --- feeds across the fall change ------------------------------------------------------------


def test_patient_and_provider_feeds_across_the_fall_change(app, client, clock, clinic):
    clock.now = datetime(2026, 10, 10, 15, tzinfo=UTC)
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, FALL)
    other_patient = make_patient("Luis", "Ortega", phone="+19155550188", email=None)
    other_course, _ = make_course(other_patient, clinic.other, clinic.service, FALL)
    visits = visits_of(course)

    patient_url = calendar_feeds.patient_feed_url(clinic.patient)
    assert patient_url.startswith(app.config["PUBLIC_BASE_URL"] + "/feeds/patients/")
    assert calendar_feeds.patient_feed_url(clinic.patient) == patient_url  # made once, shown again
    assert calendar_feeds.patient_webcal_url(clinic.patient) == "webcal://" + patient_url.split("://")[1]
    feed = client.get(path_of(patient_url))
    assert feed.status_code == 200 and feed.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert feed.headers["Content-Disposition"] == 'attachment; filename="appointments.ics"'
    assert feed.headers["Cache-Control"] == "private, no-store"
    seen = read_both(feed.data)
    assert_matches_database(seen, visits)  # only this patient's visits
    assert_nine_local_across_the_change(seen, date(2026, 11, 1))
    assert visits[3].starts_at == datetime(2026, 10, 29, 15, tzinfo=UTC)  # 09:00 MDT
    assert visits[4].starts_at == datetime(2026, 11, 3, 16, tzinfo=UTC)   # 09:00 MST
    calendar = icalendar.Calendar.from_ical(feed.data)
    assert str(calendar["X-WR-CALNAME"]) == f"Visits at {app.config['CLINIC_NAME']}"
    assert calendar.decoded("REFRESH-INTERVAL") == timedelta(hours=1)
    # Outlook reads X-PUBLISHED-TTL only as a duration: PT1H, the same hour, not "1:00:00".
    assert b"\r\nX-PUBLISHED-TTL:PT1H\r\n" in feed.data
    published = {p["name"]: p for p in read_with_ical_js(feed.data)["properties"]}
    assert published["x-published-ttl"]["value"] == {"duration": "PT1H", "seconds": 3600}
    assert published["refresh-interval"]["value"] == {"duration": "PT1H", "seconds": 3600}
    # No manage token is stored, so the feed points to the confirmation and the phone instead.
    assert all("use the link in your confirmation" in item.description for item in seen.values())

    runner = app.test_cli_runner()
    result = runner.invoke(args=["provider-feed-url", str(clinic.other.id)])
    assert result.exit_code == 0, result.output
    provider_url = result.output.strip()
    staff_feed = client.get(path_of(provider_url))
    assert staff_feed.status_code == 200
    assert staff_feed.headers["Content-Disposition"] == 'attachment; filename="schedule.ics"'
    seen = read_both(staff_feed.data)
    assert_matches_database(seen, visits_of(other_course))
    assert_nine_local_across_the_change(seen, date(2026, 11, 1))
    summaries = sorted(item.summary for item in seen.values())
    assert summaries == sorted(f"Luis O., visit {n} of 8" for n in range(1, 9))
    body = staff_feed.get_data(as_text=True)
    assert "Ortega" not in body and "5550188" not in body and "Therapy" not in body and "back pain" not in body
    assert "/staff/?date=2026-11-03" in body.replace("\r\n ", "")
    assert all(item.alarm is None for item in seen.values())  # staff calendars get no alarms

    # The feed keeps the last 30 days and everything after: the first visits drop off later.
    clock.now = datetime(2026, 11, 25, 15, tzinfo=UTC)
    later = read_both(client.get(path_of(patient_url)).data)
    assert sorted(item.start for item in later.values()) == [v.starts_at for v in visits if
                                                             v.ends_at >= clock.now - timedelta(days=30)]
    assert 0 < len(later) < len(visits)


# --- changes: SEQUENCE, STATUS, METHOD --------------------------------------------------------


def test_moves_and_cancels_raise_the_sequence_and_cancelled_visits_stay_listed(app, client, clinic):
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, SPRING)
    visits = visits_of(course)
    feed_path = path_of(calendar_feeds.patient_feed_url(clinic.patient))
    course_path = f"/feeds/courses/{tokens[0]}.ics"
    uid_moved, uid_cancelled = (calendar_feeds.appointment_uid(v) for v in visits[2:4])
    before = read_both(client.get(feed_path).data)

    # Move visit 3 (Tue 2027-03-09 09:00 MST) to Thu 2027-03-18 10:00 MDT; cancel visit 4.
    appointment_changes.reschedule(visits[2], "2027-03-18T10:00:00-06:00")
    cancelled = client.post(f"/appointments/{tokens[3]}/cancel", data={"reason": "Sick"})
    assert cancelled.status_code == 303
    visits = visits_of(course)
    assert visits[2].ical_sequence == 1 and visits[3].ical_sequence == 1 and visits[3].status == "cancelled"

    for path in (feed_path, course_path):
        seen = read_both(client.get(path).data)
        assert_matches_database(seen, visits)  # the cancelled visit is still listed, CANCELLED
        assert seen[uid_moved].start == datetime(2027, 3, 18, 16, tzinfo=UTC)
        assert seen[uid_moved].sequence == before[uid_moved].sequence + 1
        assert seen[uid_cancelled].status == "CANCELLED"
        assert seen[uid_cancelled].sequence == before[uid_cancelled].sequence + 1
        assert seen[uid_cancelled].alarm is None and seen[uid_moved].alarm == -timedelta(hours=2)
        untouched = set(seen) - {uid_moved, uid_cancelled}
        assert all(seen[uid].sequence == 0 and seen[uid].status == "CONFIRMED" for uid in untouched)
        assert "Sick" not in client.get(path).get_data(as_text=True)  # the reason stays in the clinic

    # The cancelled visit's own file asks calendars to remove it, and the page still offers it.
    response = client.get(f"/appointments/{tokens[3]}/calendar.ics")
    calendar = icalendar.Calendar.from_ical(response.data)
    assert str(calendar["METHOD"]) == "CANCEL"
    (event,) = calendar.walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert str(event["ATTENDEE"]) == "mailto:ana@example.com"
    assert read_vobject(response.data)[uid_cancelled].status == "CANCELLED"
    page = client.get(f"/appointments/{tokens[3]}").get_data(as_text=True)
    assert f'href="/appointments/{tokens[3]}/calendar.ics"' in page and "Update your calendar (.ics)" in page
    # The live visit's file is an ordinary PUBLISH with its alarm.
    live = icalendar.Calendar.from_ical(client.get(f"/appointments/{tokens[2]}/calendar.ics").data)
    assert str(live["METHOD"]) == "PUBLISH" and int(live.walk("VEVENT")[0]["SEQUENCE"]) == 1


# --- who may read what -----------------------------------------------------------------------


def test_staff_course_file_needs_a_token_and_the_right_provider(app, client, clinic):
    mine, _ = make_course(clinic.patient, clinic.provider, clinic.service, SPRING[:2])
    theirs, _ = make_course(clinic.patient, clinic.other, clinic.service, SPRING[2:4])
    provider_user = staff_token("maria@example.com", "provider", clinic.provider)
    unlinked_user = staff_token("nobody@example.com", "provider")
    admin = staff_token("admin@example.com", "admin")

    contract = ApiContract(openapi_document())

    def get(course_id, token=None, scheme="Bearer"):
        headers = {"Authorization": f"{scheme} {token}"} if token else {}
        response = client.get(f"/api/v1/staff/courses/{course_id}.ics", headers=headers)
        contract.check_response(response)  # every answer as the OpenAPI document describes it
        return response

    missing = get(mine.id)
    assert missing.status_code == 401 and missing.get_json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert get(mine.id, provider_user + "x").status_code == 401
    assert get(mine.id, provider_user, scheme="Basic").status_code == 401
    assert get(mine.id, provider_user).status_code == 200
    refused = get(theirs.id, provider_user)
    assert refused.status_code == 403 and refused.get_json()["error"] == "forbidden"
    assert get(mine.id, unlinked_user).status_code == 403
    assert get(theirs.id, admin).status_code == 200
    assert get(999, admin).status_code == 404 and get(999, admin).get_json()["error"] == "not_found"


def test_feed_links_refuse_tampering_rotation_and_the_wrong_kind(app, client, clinic):
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, SPRING[:2])
    patient_token = path_of(calendar_feeds.patient_feed_url(clinic.patient)).split("/")[-1].removesuffix(".ics")
    provider_token = path_of(calendar_feeds.provider_feed_url(clinic.provider.id)).split("/")[-1].removesuffix(".ics")
    assert client.get(f"/feeds/patients/{patient_token}.ics").status_code == 200
    assert client.get(f"/feeds/providers/{provider_token}.ics").status_code == 200
    stored = db.session.get(Patient, clinic.patient.id).feed_token_hash
    assert re.fullmatch(r"[0-9a-f]{64}", stored)

    key, signature = patient_token.split(".")
    flip = {"0": "1"}.get(signature[-1], "0")
    tampered = [
        f"{key}.{signature[:-1]}{flip}",             # signature changed
        f"{key[:-1]}{'a' if key[-1] != 'a' else 'b'}.{signature}",  # key changed
        f"{key}.{signature.upper()}", f"{key.upper()}.{signature}",  # one spelling only
        f"{key}.{signature[:-1]}", key, f"{key}.", f".{signature}", "x" * 97,
        f"{sha256_hex(new_secret())}.{signature}",  # someone else's key, our signature
    ]
    for bad in tampered:
        assert client.get(f"/feeds/patients/{bad}.ics").status_code == 404, bad
    # A patient link does not open a provider feed, nor the other way round.
    assert client.get(f"/feeds/providers/{patient_token}.ics").status_code == 404
    assert client.get(f"/feeds/patients/{provider_token}.ics").status_code == 404
    # Under another SECRET_KEY (another deployment) the same stored key opens nothing.
    app.config["SECRET_KEY"] = "another-secret"
    assert client.get(f"/feeds/patients/{patient_token}.ics").status_code == 404
    app.config["SECRET_KEY"] = TestingConfig.SECRET_KEY

    # Rotation through the command: the old link stops working at once, the new one works.
    runner = app.test_cli_runner()
    kept = runner.invoke(args=["provider-feed-url", str(clinic.provider.id), "--keep"]).output.strip()
    assert kept.endswith(f"/feeds/providers/{provider_token}.ics")
    rotated = runner.invoke(args=["provider-feed-url", str(clinic.provider.id)])
    assert rotated.exit_code == 0
    new_path = path_of(rotated.output.strip())
    assert new_path != f"/feeds/providers/{provider_token}.ics"
    assert client.get(f"/feeds/providers/{provider_token}.ics").status_code == 404
    assert client.get(new_path).status_code == 200
    unknown = runner.invoke(args=["provider-feed-url", "999"])
    assert unknown.exit_code == 1 and "No provider with id 999" in unknown.output
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "providers"))
    assert list(actions) == ["provider.feed_link_issued"] * 2

    # A course file needs a valid private link of one of the course's visits.
    assert client.get(f"/feeds/courses/{tokens[0]}.ics").status_code == 200
    assert client.get(f"/feeds/courses/{tokens[0][:-2]}xx.ics").status_code == 404
    single = Appointment(
        patient_id=clinic.patient.id, provider_id=clinic.provider.id, service_id=clinic.service.id,
        starts_at=datetime(2027, 3, 30, 15, tzinfo=UTC), ends_at=datetime(2027, 3, 30, 15, 45, tzinfo=UTC),
        blocks_until=datetime(2027, 3, 30, 15, 45, tzinfo=UTC), manage_token_hash=sha256_hex(secret := new_secret()),
        created_at=datetime(2027, 2, 1, tzinfo=UTC), updated_at=datetime(2027, 2, 1, tzinfo=UTC),
    )
    db.session.add(single)
    db.session.commit()
    assert client.get(f"/feeds/courses/{manage_token_for(secret)}.ics").status_code == 404  # not a course visit
    assert client.post(f"/feeds/patients/{patient_token}.ics").status_code == 405


def test_feed_links_share_the_manage_links_rate_limit(tmp_path, migrated_sqlite_template, clock):
    path = tmp_path / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock,
                                     "RATELIMIT_ENABLED": True, "MANAGE_RATE_LIMIT": "4 per minute"})
    with app.app_context():
        try:
            client = app.test_client()
            statuses = [client.get(f"/feeds/{kind}/{'a' * 64}.{'b' * 32}.ics").status_code
                        for kind in ("patients", "providers", "courses", "patients", "providers")]
            assert statuses == [404, 404, 404, 404, 429]
            assert client.get("/appointments/guess").status_code == 429  # one budget with the manage link
        finally:
            db.session.remove()
            db.engine.dispose()


# --- language, address, text that cannot break out --------------------------------------------


def test_spanish_patients_get_spanish_calendars(app, client, clinic):
    patient = make_patient("Rosa", "Medina", language="es", email="rosa@example.com", phone="+19155550177")
    course, tokens = make_course(patient, clinic.provider, clinic.service, SPRING[:3])
    clinic_name = app.config["CLINIC_NAME"]
    for body in (client.get(path_of(calendar_feeds.patient_feed_url(patient))).data,
                 client.get(f"/feeds/courses/{tokens[0]}.ics").data,
                 calendar_feeds.course_calendar_bytes(course)):
        seen = read_both(body)
        assert sorted(item.summary for item in seen.values()) == [f"Visita {n} de 3 en {clinic_name}" for n in (1, 2, 3)]
        assert all("Oficina 915-850-0900" in item.description for item in seen.values())
        assert str(icalendar.Calendar.from_ical(body)["X-WR-CALNAME"]) == f"Visitas en {clinic_name}"
    first = visits_of(course)[0]
    single = read_both(calendar_feeds.visit_calendar_bytes(first, method="REQUEST"))  # the patient's language
    assert next(iter(single.values())).summary == f"Visita 1 de 3 en {clinic_name}"
    english = read_both(calendar_feeds.visit_calendar_bytes(first, method="REQUEST", language="en"))
    assert next(iter(english.values())).summary == f"Visit 1 of 3 at {clinic_name}"
    page = client.get(f"/appointments/{tokens[0]}?lang=es").get_data(as_text=True)
    assert "Suscribirse desde su calendario" in page and f"Dónde: {clinic_name.replace('&', '&amp;')}" in page


def test_the_address_is_in_every_footer_the_confirmation_and_the_location(app, client, clinic):
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, SPRING[:1])
    pages = ["/", f"/appointments/{tokens[0]}", f"/appointments/{tokens[0]}/booked", "/staff/login",
             "/appointments/not-a-link"]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        footer = html[html.index('<footer class="site-footer">'):]
        assert '<address class="clinic-address">' in footer and ADDRESS in footer, path
    confirmation = client.get(f"/appointments/{tokens[0]}/booked").get_data(as_text=True)
    main = confirmation[confirmation.index("<main"):confirmation.index("</main>")]
    assert ADDRESS in main
    (seen,) = read_both(client.get(f"/appointments/{tokens[0]}/calendar.ics").data).values()
    assert seen.location == f"{app.config['CLINIC_NAME']}, {ADDRESS}"

    set_clinic_details(address="")  # none: the clinic's name alone, no empty footer line
    html = client.get(f"/appointments/{tokens[0]}").get_data(as_text=True)
    assert "clinic-address" not in html and "Where:" not in html
    (seen,) = read_both(client.get(f"/appointments/{tokens[0]}/calendar.ics").data).values()
    assert seen.location == app.config["CLINIC_NAME"]


def test_the_private_page_offers_the_feed_and_the_course_file(app, client, clinic):
    course, tokens = make_course(clinic.patient, clinic.provider, clinic.service, SPRING[:2])
    html = client.get(f"/appointments/{tokens[1]}").get_data(as_text=True)
    webcal = re.search(r'<a class="subscribe" href="([^"]+)">Subscribe in your calendar</a>', html).group(1)
    assert webcal.startswith("webcal://localhost/feeds/patients/")
    assert f'href="/feeds/courses/{tokens[1]}.ics"' in html
    assert client.get(urlsplit(webcal).path).status_code == 200
    again = client.get(f"/appointments/{tokens[0]}").get_data(as_text=True)
    assert webcal in again  # the same link on every view


@pytest.mark.parametrize("where", ["patient first name", "patient last name", "provider name", "address",
                                   "clinic name", "mail from"])
def test_control_characters_never_reach_a_content_line(app, client, clinic, where):
    patient, provider = clinic.patient, clinic.provider
    if where == "patient first name":
        patient.first_name = "Ana" + INJECTION
    elif where == "patient last name":
        patient.last_name = 'Garcia"' + INJECTION
    elif where == "provider name":
        provider.name = "Dr. X\u2028\u0085" + INJECTION
    elif where == "address":
        app.config["CLINIC_ADDRESS"] = ADDRESS + INJECTION
    elif where == "clinic name":
        app.config["CLINIC_NAME"] = "Clinic" + INJECTION
    else:
        app.config["MAIL_FROM"] = "clinic@example.com" + INJECTION
    db.session.commit()
    course, tokens = make_course(patient, provider, clinic.service, SPRING[:2])
    first = visits_of(course)[0]
    appointment_changes.cancel(first, reason="Because", actor=audit.SYSTEM)
    # Input refuses control characters in a reason; a row written before that rule, or by
    # another tool, must still never break a content line.
    first.cancel_reason = "Because" + INJECTION
    db.session.commit()
    bodies = {
        "request": calendar_feeds.visit_calendar_bytes(visits_of(course)[1], method="REQUEST"),
        "cancel": client.get(f"/appointments/{tokens[0]}/calendar.ics").data,
        "course": client.get(f"/feeds/courses/{tokens[1]}.ics").data,
        "patient feed": client.get(path_of(calendar_feeds.patient_feed_url(patient))).data,
        "provider feed": client.get(path_of(calendar_feeds.provider_feed_url(provider.id))).data,
    }
    for name, body in bodies.items():
        seen = read_both(body)
        assert len(seen) == (1 if name in ("request", "cancel") else 2), name
        lines = re.sub(rb"\r\n[ \t]", b"", body).decode().split("\r\n")[:-1]
        names = [re.split(r"[:;]", line, maxsplit=1)[0] for line in lines]
        assert names.count("BEGIN") == names.count("END"), name
        assert names.count("BEGIN") == 1 + len(seen) + names.count("TRIGGER"), name  # calendar, events, alarms
        assert names.count("UID") == len(seen) and "X-EVIL" not in names, name
        # Only the real attendee, and only where iTIP wants one.
        assert names.count("ATTENDEE") == (1 if name in ("request", "cancel") else 0), name
        if name in ("request", "cancel"):
            attendee = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]["ATTENDEE"]
            assert str(attendee) == "mailto:ana@example.com"
            assert not any(ord(ch) < 32 for ch in attendee.params["CN"]) and '"' not in attendee.params["CN"]
        organizer = icalendar.Calendar.from_ical(body).walk("VEVENT")[0].get("ORGANIZER")
        if where == "mail from":
            assert organizer is None, name  # an unusable address is left out, not written
        else:
            assert str(organizer) == f"mailto:{app.config['MAIL_FROM']}", name
        for item in seen.values():
            for text in (item.summary, item.location, item.description):
                assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029" for ch in text)
        assert b"Because" not in body and b"back pain" not in body, name


def test_feeds_on_postgresql_match_the_database_across_both_changes(pg_app, clock):
    """The same files from timestamptz columns: instants, wall times and the one-query sizes."""
    clock.now = datetime(2026, 10, 10, 15, tzinfo=UTC)
    pg_app.config["CLINIC_ADDRESS"] = ADDRESS
    client = pg_app.test_client()
    provider = make_provider("Maria Lopez, PT", weekdays=(1, 3))
    service = make_service("therapy", name="Therapy session", duration_minutes=45, buffer_minutes=0)
    patient = make_patient()
    fall, fall_tokens = make_course(patient, provider, service, FALL)
    spring, _ = make_course(patient, provider, service, SPRING)
    bearer = {"Authorization": "Bearer " + staff_token("desk@example.com", "front_desk")}

    for course, change in ((fall, date(2026, 11, 1)), (spring, date(2027, 3, 14))):
        seen = read_both(client.get(f"/api/v1/staff/courses/{course.id}.ics", headers=bearer).data)
        assert_matches_database(seen, visits_of(course))
        assert_nine_local_across_the_change(seen, change)
    feed = read_both(client.get(path_of(calendar_feeds.patient_feed_url(patient))).data)
    assert_matches_database(feed, visits_of(fall) + visits_of(spring))
    staff = read_both(client.get(path_of(calendar_feeds.provider_feed_url(provider.id))).data)
    assert set(staff) == set(feed)
    appointment_changes.cancel(visits_of(fall)[-1], reason="", actor=audit.SYSTEM)
    again = read_both(client.get(f"/feeds/courses/{fall_tokens[0]}.ics").data)
    assert_matches_database(again, visits_of(fall))
    assert sorted(item.status for item in again.values()).count("CANCELLED") == 1


@settings(max_examples=150, deadline=None)
@given(summary=st.text(), location=st.text(), description=st.text(), name=st.text())
@example(summary="", location="", description="", name="\\")  # a backslash once swallowed PARTSTAT
def test_any_text_round_trips_cleaned_and_never_adds_a_line(summary, location, description, name):
    """The writer alone (no app): whatever the text, both readers get back exactly the
    cleaned text, in one event with one attendee."""
    start = datetime(2027, 3, 14, 15, tzinfo=UTC)
    visit = VisitEvent(uid="u-1@clinic.example", start=start, end=start + timedelta(minutes=45), stamp=start,
                       sequence=3, cancelled=False, summary=summary, location=location, description=description,
                       alarm_before=timedelta(hours=2))
    body = calendar_bytes([visit], method="REQUEST", organizer=Person("clinic@example.com", name),
                          attendee=Person("ana@example.com", name))
    check_rfc5545(body)
    for reader in (read_icalendar, read_vobject):
        (seen,) = reader(body).values()
        assert (seen.summary, seen.location, seen.description) == (
            clean_text(summary), clean_text(location), clean_text(description))
        assert seen.start == start and seen.sequence == 3 and seen.alarm == -timedelta(hours=2)
    lines = re.sub(rb"\r\n[ \t]", b"", body).decode().split("\r\n")[:-1]
    names = [re.split(r"[:;]", line, maxsplit=1)[0] for line in lines]
    assert names.count("BEGIN") == 3 and names.count("ATTENDEE") == names.count("ORGANIZER") == 1
    event = icalendar.Calendar.from_ical(body).walk("VEVENT")[0]
    assert str(event["ATTENDEE"]) == "mailto:ana@example.com"
    if clean_text(name):
        assert event["ATTENDEE"].params["CN"] == clean_text(name).replace('"', "'").replace("\\", "/")
