"""The patient's private link: view, cancel, move, calendar file."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import icalendar
import recurring_ical_events
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent
from tests.support.factories import make_provider, make_service, patient_payload


def _book(client, provider_id, start="2026-12-02T09:00:00-07:00"):
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(),
    })
    assert response.status_code == 201, response.get_json()
    manage_path = response.get_json()["manage_url"].removeprefix("http://localhost")
    return manage_path


def test_manage_page_shows_appointment_and_actions(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    path = _book(client, provider.id)
    html = client.get(path).get_data(as_text=True)
    assert "Wednesday, December 2, 2026, 9:00" in html
    assert "Maria Lopez, PT" in html
    assert "Move to another time" in html and "Cancel appointment" in html
    assert "You can move or cancel online until Tuesday, December 1, 2026, 9:00\u202fAM." in html


def test_forged_or_mangled_links_are_404(app, client):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    assert client.get(path[:-3] + "abc").status_code == 404
    assert client.get("/appointments/1").status_code == 404
    assert client.get("/appointments/not-a-token/calendar.ics").status_code == 404


def test_link_expires(app, client, clock):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    app.config["MANAGE_TOKEN_MAX_AGE_DAYS"] = 30
    clock.advance(days=29)
    assert client.get(path).status_code == 200
    clock.advance(days=2)
    assert client.get(path).status_code == 404


def test_cancel_frees_the_slot_and_is_audited(app, client):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    response = client.post(f"{path}/cancel", data={"reason": "Feeling better"})
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your appointment is cancelled." in html and "Cancelled" in html
    assert "Book a new time" in html and "Cancel appointment" not in html
    appointment = db.session.scalar(select(Appointment))
    assert appointment.status == "cancelled" and appointment.cancel_reason == "Feeling better"
    assert appointment.ical_sequence == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.cancelled"))
    assert event.actor_kind == "patient_link"
    assert event.before["status"] == "booked" and event.after["status"] == "cancelled"
    slots = client.get(f"/api/v1/availability?service=evaluation&start=2026-12-02&end=2026-12-02"
                       f"&provider={provider.id}").get_json()["slots"]
    assert "2026-12-02T09:00:00-07:00" in [s["start"] for s in slots]
    # A second cancel is refused, not a 500.
    assert client.post(f"{path}/cancel", data={}).status_code == 409


def test_inside_cancellation_window_the_page_says_call(app, client, clock):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    clock.now = datetime.fromisoformat("2026-12-01T10:00:00-07:00")  # 23 h before the visit
    html = client.get(path).get_data(as_text=True)
    assert "Cancel appointment" not in html
    assert "too close to your visit to change it online" in html
    assert 'href="tel:+19158500900"' in html
    refused = client.post(f"{path}/cancel", data={})
    assert refused.status_code == 409
    assert "Please call us" in refused.get_data(as_text=True)
    assert client.post(f"{path}/reschedule", data={"start": "2026-12-03T09:00:00-07:00"}).status_code == 409
    assert db.session.scalar(select(Appointment)).status == "booked"


def test_reschedule_moves_the_appointment(app, client):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    days = client.get(f"{path}/reschedule").get_data(as_text=True)
    assert f'href="{path}/reschedule/2026-12-03"' in days
    times = client.get(f"{path}/reschedule/2026-12-03").get_data(as_text=True)
    offered = re.findall(r'name="start" value="([^"]+)"', times)
    assert "2026-12-03T10:00:00-07:00" in offered
    response = client.post(f"{path}/reschedule", data={"start": "2026-12-03T10:00:00-07:00"})
    assert response.status_code == 303
    html = client.get(path).get_data(as_text=True)
    assert "Your appointment has been moved." in html and "Thursday, December 3, 2026, 10:00" in html
    appointment = db.session.scalar(select(Appointment))
    assert appointment.starts_at == datetime.fromisoformat("2026-12-03T10:00:00-07:00")
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=75)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.rescheduled"))
    assert event.before["starts_at"].startswith("2026-12-02T16:00")
    assert event.after["starts_at"].startswith("2026-12-03T17:00")


def test_reschedule_to_taken_time_offers_alternatives(app, client):
    provider = make_provider()
    make_service()
    mine = _book(client, provider.id)
    client.post("/api/v1/bookings", json={"service": "evaluation", "provider_id": provider.id,
                "start": "2026-12-03T10:00:00-07:00", "patient": patient_payload(first_name="Luis")})
    response = client.post(f"{mine}/reschedule", data={"start": "2026-12-03T10:00:00-07:00"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "That time was just taken" in html
    offered = re.findall(r'name="start" value="([^"]+)"', html)
    assert offered and "2026-12-03T10:00:00-07:00" not in offered
    bad = client.post(f"{mine}/reschedule", data={"start": "2026-12-03T10:05:00-07:00"})
    assert bad.status_code == 422


def test_calendar_file_matches_the_database(app, client):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    response = client.get(f"{path}/calendar.ics")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    appointment = db.session.scalar(select(Appointment))

    calendar = icalendar.Calendar.from_ical(response.data)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == appointment.starts_at
    assert event.decoded("dtend") == appointment.ends_at
    assert int(event["sequence"]) == 0
    # Minimum necessary: the clinic, not the service (no clinical detail in a calendar).
    assert str(event["summary"]) == f"Appointment at {app.config['CLINIC_NAME']}"
    assert "Initial evaluation" not in response.get_data(as_text=True)
    assert "915-850-0900" in str(event["description"])
    # An independent reader expands the same instants.
    events = recurring_ical_events.of(calendar).between(
        datetime(2026, 12, 1), datetime(2026, 12, 4))
    assert [e.decoded("dtstart") for e in events] == [appointment.starts_at]

    uid = str(event["uid"])
    client.post(f"{path}/reschedule", data={"start": "2026-12-03T10:00:00-07:00"})
    moved = icalendar.Calendar.from_ical(client.get(f"{path}/calendar.ics").data).walk("VEVENT")[0]
    assert str(moved["uid"]) == uid and int(moved["sequence"]) == 1
    assert moved.decoded("dtstart") == datetime.fromisoformat("2026-12-03T10:00:00-07:00")
    client.post(f"{path}/cancel", data={})
    cancelled = icalendar.Calendar.from_ical(client.get(f"{path}/calendar.ics").data).walk("VEVENT")[0]
    assert str(cancelled["status"]) == "CANCELLED" and int(cancelled["sequence"]) == 2


def test_calendar_text_cannot_be_injected(app, client):
    provider = make_provider("Evil\r\nATTENDEE:mailto:x@example.com")
    make_service()
    path = _book(client, provider.id)
    body = client.get(f"{path}/calendar.ics").get_data(as_text=True)
    assert "\r\nATTENDEE" not in body
    assert len(icalendar.Calendar.from_ical(body).walk("VEVENT")) == 1


def test_moving_onto_the_patients_own_other_visit_is_refused(app, client):
    first = make_provider("First")
    second = make_provider("Second")
    make_service()
    mine = _book(client, first.id, start="2026-12-02T09:00:00-07:00")
    _book(client, second.id, start="2026-12-03T10:00:00-07:00")  # same patient, other provider
    response = client.post(f"{mine}/reschedule", data={"start": "2026-12-03T10:30:00-07:00"})
    assert response.status_code == 409
    assert "You already have an appointment at that time." in response.get_data(as_text=True)
    api = client.post(f"/api/v1/bookings/{mine.rsplit('/', 1)[1]}/reschedule",
                      json={"start": "2026-12-03T10:30:00-07:00"})
    assert api.status_code == 409 and api.get_json()["error"] == "already_booked"
    assert db.session.scalar(select(Appointment).where(Appointment.provider_id == first.id)).starts_at == \
        datetime.fromisoformat("2026-12-02T09:00:00-07:00")


def test_calendar_file_speaks_the_patients_language(app, client):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    event = icalendar.Calendar.from_ical(client.get(f"{path}/calendar.ics?lang=es").data).walk("VEVENT")[0]
    assert str(event["summary"]) == f"Cita en {app.config['CLINIC_NAME']}"
    assert "Para ver, cambiar o cancelar" in str(event["description"]) and "915-850-0900" in str(event["description"])


def test_reschedule_keeps_the_visits_own_length(app, client):
    provider = make_provider()
    make_service()
    path = _book(client, provider.id)
    appointment = db.session.scalar(select(Appointment))
    length, blocked = appointment.ends_at - appointment.starts_at, appointment.blocks_until - appointment.starts_at
    # The desk shortened it by a quarter of an hour.
    appointment.ends_at -= timedelta(minutes=15)
    appointment.blocks_until -= timedelta(minutes=15)
    db.session.commit()
    response = client.post(f"{path}/reschedule", data={"start": "2026-12-03T10:00:00-07:00"})
    assert response.status_code == 303
    db.session.expire_all()
    moved = db.session.scalar(select(Appointment))
    assert moved.ends_at - moved.starts_at == length - timedelta(minutes=15)
    assert moved.blocks_until - moved.starts_at == blocked - timedelta(minutes=15)


def test_private_pages_speak_the_patients_stored_language(app, client):
    """A Spanish-speaking patient's link opens in Spanish in a browser set to English; ?lang
    still switches for the visit."""
    from scheduler.extensions import db as _db
    from scheduler.models import Appointment as _Appointment
    from scheduler.services.messages import links

    provider = make_provider()
    make_service()
    response = client.post("/api/v1/bookings", headers={"Accept-Language": "es"}, json={
        "service": "evaluation", "provider_id": provider.id, "start": "2026-12-02T09:00:00-07:00",
        "patient": patient_payload(),
    })
    assert response.status_code == 201
    path = response.get_json()["manage_url"].removeprefix("http://localhost")
    english = {"Accept-Language": "en-US,en;q=0.9"}
    family_phone = app.test_client()
    assert "Cancelar" in family_phone.get(path, headers=english).get_data(as_text=True)
    event = icalendar.Calendar.from_ical(family_phone.get(f"{path}/calendar.ics", headers=english).data)
    assert str(event.walk("VEVENT")[0]["summary"]).startswith("Cita en")
    short = links.link_for(_db.session.scalar(select(_Appointment)))
    _db.session.commit()
    redirected = family_phone.get(short.removeprefix("http://localhost"), headers=english, follow_redirects=True)
    assert "Cancelar" in redirected.get_data(as_text=True)
    # The patient switches to English on her link: it stays English for this visit.
    assert "Cancel appointment" in family_phone.get(path + "?lang=en", headers=english).get_data(as_text=True)
    assert "Cancel appointment" in family_phone.get(path, headers=english).get_data(as_text=True)
