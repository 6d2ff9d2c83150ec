"""The patient flows on PostgreSQL (the production database), not only on SQLite.

The page and API suites run on SQLite for speed; these repeat the paths where the two
databases differ (timestamptz, case-insensitive matching, the exclusion constraint behind a
409, row locks and advisory locks) on a migrated PostgreSQL database.
"""
from __future__ import annotations

import re
from datetime import datetime

import icalendar
import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Patient
from scheduler.services.operations.demo import seed_demo
from tests.support.factories import make_provider, make_service, patient_payload

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_client(pg_app):
    return pg_app.test_client()


def _book(client, provider_id, start, **patient):
    return client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(**patient),
    })


def test_book_conflict_reschedule_cancel_on_postgres(pg_app, pg_client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    booked = _book(pg_client, provider.id, "2026-12-01T09:00:00-07:00")
    assert booked.status_code == 201, booked.get_json()
    token = booked.get_json()["manage_url"].rsplit("/", 1)[1]
    stored = db.session.scalar(select(Appointment))
    assert stored.starts_at == datetime.fromisoformat("2026-12-01T09:00:00-07:00")
    assert stored.starts_at.utcoffset().total_seconds() == 0

    # Inside the buffer of the first: refused by the check, and the database would refuse it too.
    taken = _book(pg_client, provider.id, "2026-12-01T10:00:00-07:00", first_name="Luis", phone="915-555-0188")
    assert taken.status_code == 409 and taken.get_json()["error"] == "slot_unavailable"
    # The same patient, any case of their name: one visit at a time.
    again = _book(pg_client, None, "2026-12-01T09:30:00-07:00", first_name="ANA", last_name="garcia")
    assert again.status_code == 409 and again.get_json()["error"] == "already_booked"
    assert db.session.scalar(select(func.count(Patient.id))) == 1

    moved = pg_client.post(f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-02T13:00:00-07:00"})
    assert moved.status_code == 200, moved.get_json()
    ics = icalendar.Calendar.from_ical(pg_client.get(f"/appointments/{token}/calendar.ics").data)
    event = ics.walk("VEVENT")[0]
    assert event.decoded("dtstart") == datetime.fromisoformat("2026-12-02T13:00:00-07:00")
    assert int(event["sequence"]) == 1

    cancelled = pg_client.post(f"/api/v1/bookings/{token}/cancel", json={"reason": "Better"})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    actions = list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert actions == ["patient.created", "appointment.booked", "appointment.rescheduled", "appointment.cancelled"]
    # The cancelled row no longer blocks: the time is bookable again.
    rebooked = _book(pg_client, provider.id, "2026-12-02T13:00:00-07:00", first_name="Luis", phone="915-555-0188")
    assert rebooked.status_code == 201


def test_booking_pages_on_postgres(pg_app, pg_client):
    seed_demo()
    days = pg_client.get("/book/initial-evaluation/any").get_data(as_text=True)
    assert 'href="/book/initial-evaluation/any/2026-12-01"' in days
    times = pg_client.get("/book/initial-evaluation/any/2026-12-01").get_data(as_text=True)
    link = re.search(r'href="(/book/initial-evaluation/any/details\?[^"]+)"', times).group(1).replace("&amp;", "&")
    start = re.search(r"start=([^&]+)", link).group(1).replace("%2B", "+").replace("%3A", ":")
    response = pg_client.post("/book/initial-evaluation/any/details", data={
        "start": start, "first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123",
        "email": "ana@example.com", "sms_opt_in": "yes",
    })
    assert response.status_code == 303
    confirmation = pg_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "booked" in confirmation and "915-850-0900" in confirmation


def test_moving_to_another_provider_and_sending_links_on_postgres(pg_app, pg_client, monkeypatch):
    from scheduler.services.messages import outbox

    sent = []
    monkeypatch.setattr(outbox, "plan_links", lambda appointments, *, channel, cause: sent.append(
        ([a.id for a in appointments], channel)))
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    make_service()
    mine = _book(pg_client, maria.id, "2026-12-01T09:00:00-07:00").get_json()
    _book(pg_client, daniel.id, "2026-12-02T09:00:00-07:00", first_name="Luis", phone="915-555-0188",
          email="luis@example.com")
    path = mine["manage_url"].removeprefix("http://localhost")
    # Daniel's own visit is in the way (the exclusion constraint has the last word) ...
    taken = pg_client.post(f"{path}/reschedule", data={"start": "2026-12-02T09:00:00-07:00", "with": str(daniel.id)})
    assert taken.status_code == 409 and "That time was just taken" in taken.get_data(as_text=True)
    # ... an hour and a quarter later he is free.
    moved = pg_client.post(f"{path}/reschedule", data={"start": "2026-12-02T10:15:00-07:00", "with": str(daniel.id)})
    assert moved.status_code == 303
    stored = db.session.get(Appointment, mine["id"])
    db.session.refresh(stored)
    assert stored.provider_id == daniel.id and stored.moved_from == datetime.fromisoformat("2026-12-01T09:00:00-07:00")
    # Email addresses match whatever their case.
    assert pg_client.post("/appointments/send-link", data={"contact": "ANA@EXAMPLE.COM"}).status_code == 200
    assert sent == [([mine["id"]], "email")]
