"""Courses on PostgreSQL: all or nothing under the exclusion constraint, and two desks
racing to book overlapping courses through gunicorn."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import create_engine, func, select, text

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Appointment, Course
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import build_clinic, make_patient, make_visit
from tests.support.helpers import (
    LiveServer,
    migrate,
    postgres_available,
    require_or_skip,
    seed_demo_clinic,
    temporary_pg_database,
)
from tests.support.staff_api import staff_api_for

pytestmark = pytest.mark.postgres
CLINIC_TZ = ZoneInfo("America/Denver")
OVERLAPS_SQL = """
    SELECT count(*) FROM appointments a
    JOIN appointments b ON a.provider_id = b.provider_id AND a.id < b.id
    WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
      AND a.starts_at < b.blocks_until AND b.starts_at < a.blocks_until
"""


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_visit_taken_since_the_preview_books_nothing_on_postgres(pg_app):
    clinic = build_clinic()
    api = staff_api_for(pg_app.test_client(), clinic.desk_token)
    request = {"patient_id": clinic.patient.id, "provider_id": clinic.maria.id, "first_date": "2026-12-07",
               "weeks": 6, "visits_per_week": 3, "weekdays": ["mon", "wed", "fri"], "time": "09:00"}
    plan = api.post("/api/v1/staff/courses", request)["visits"]
    make_visit(make_patient("Luis", "Reyes", "+19155550188", "luis@example.com"), clinic.maria, clinic.therapy,
               "2027-01-13T09:00:00-07:00")
    chosen = [{"start": v["start"], "provider_id": v["provider_id"]} for v in plan]
    conflict = api.post("/api/v1/staff/courses", {**request, "preview": False, "visits": chosen}, 409)
    assert conflict["taken"] == [17] and conflict["plan"]["visits"][16]["status"] == "moved"
    assert count(Course) == 0 and count(Appointment) == 1
    booked = api.post("/api/v1/staff/courses", {**request, "preview": False}, 201)
    assert len(booked["visits"]) == 18 and count(Appointment) == 19
    stored = db.session.scalar(select(Appointment).where(Appointment.visit_number == 1))
    assert stored.starts_at == datetime(2026, 12, 7, 16, tzinfo=ZoneInfo("UTC"))


@pytest.fixture
def live_pg():
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    with temporary_pg_database() as url:
        migrate(url)
        seed_demo_clinic(url)
        app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            create_user("desk@example.com", "a long enough password", "front_desk")
            token = issue_api_token("desk@example.com")
            db.session.remove()
            db.engine.dispose()
        server = LiveServer(url, workers=2, threads=4)
        try:
            yield url, server, token
        finally:
            server.stop()


def test_two_course_bookings_racing_for_the_same_times_one_wins(live_pg):
    url, server, token = live_pg
    headers = {"Authorization": f"Bearer {token}"}
    patients = []
    for i in range(4):
        response = requests.post(server.url + "/api/v1/staff/patients", headers=headers, timeout=30, json={
            "first_name": "Racer", "last_name": f"Number{i}", "phone": f"915-555-01{i:02d}",
            "email": f"racer{i}@example.com"})
        assert response.status_code == 201, response.text
        patients.append(response.json()["id"])
    provider_id = requests.get(server.url + "/api/v1/providers", timeout=10).json()[0]["id"]
    today = datetime.now(CLINIC_TZ).date()
    monday = today + timedelta(days=7 + (7 - today.weekday()) % 7)
    request = {"provider_id": provider_id, "first_date": monday.isoformat(), "weeks": 6, "visits_per_week": 3,
               "weekdays": ["mon", "wed", "fri"], "time": "10:00"}
    plan = requests.post(server.url + "/api/v1/staff/courses", headers=headers, timeout=30,
                         json={**request, "patient_id": patients[0]}).json()["visits"]
    chosen = [{"start": v["start"], "provider_id": v["provider_id"]} for v in plan if v["start"]]
    barrier = threading.Barrier(len(patients))
    answers: list[requests.Response] = []

    def book(patient_id):
        body = {**request, "patient_id": patient_id, "preview": False, "visits": chosen}
        barrier.wait()
        answers.append(requests.post(server.url + "/api/v1/staff/courses", headers=headers, json=body, timeout=60))

    threads = [threading.Thread(target=book, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (len(patients) - 1), [a.text[:300] for a in answers]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["error"] == "slot_unavailable" and answer.json()["taken"]
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text(OVERLAPS_SQL)).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM courses")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM appointments WHERE course_id IS NOT NULL")).scalar() == len(chosen)
    finally:
        engine.dispose()
