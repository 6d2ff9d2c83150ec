"""Range queries stay on indexes however long the history, and readers never wait on writers.

Availability and booking ask for appointments meeting a time range. Without a lower bound on
starts_at, "blocks_until > start" reads a provider's whole history; these tests ask
PostgreSQL's planner about every appointments query the availability API and a booking
send, on a table with years of past visits, and refuse a sequential scan or an index scan
without a starts_at bound. On SQLite they check that the availability API reads while
another connection holds the write lock.
"""
from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from scheduler.extensions import db
from scheduler.models import Appointment, Patient
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.helpers import FROZEN_NOW

HISTORY_DAYS = 3 * 365


def _history(provider_ids: list[int], service_id: int, patient_id: int) -> None:
    """Four visits per provider per day for three years before the frozen clock, bulk-inserted."""
    rows = []
    n = 0
    for days_back in range(1, HISTORY_DAYS):
        day = FROZEN_NOW - timedelta(days=days_back)
        for provider_id in provider_ids:
            for hour in (15, 16, 18, 20):
                n += 1
                start = day.replace(hour=hour, minute=0)
                rows.append({
                    "patient_id": patient_id, "provider_id": provider_id, "service_id": service_id,
                    "starts_at": start, "ends_at": start + timedelta(minutes=45),
                    "blocks_until": start + timedelta(minutes=60),
                    "status": "cancelled" if n % 10 == 0 else "completed", "source": "desk",
                    "patient_note": "", "cancel_reason": "", "manage_token_hash": f"{n:064x}",
                    "ical_sequence": 0, "created_at": start, "updated_at": start,
                })
    db.session.execute(Appointment.__table__.insert(), rows)
    db.session.commit()


def _plans_of_appointment_queries(work) -> list[tuple[str, dict]]:
    """Runs `work`, then EXPLAINs every SELECT it sent that reads the appointments table."""
    seen: list[tuple[str, object]] = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "FROM appointments" in statement:
            seen.append((statement, parameters))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    plans = []
    with engine.connect() as conn:
        for statement, parameters in seen:
            raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar_one()
            plans.append((statement, raw if isinstance(raw, list) else json.loads(raw)))
    return plans


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _appointment_scans(plan_json) -> list[dict]:
    return [node for node in _nodes(plan_json[0]["Plan"]) if node.get("Relation Name") == "appointments"]


@pytest.mark.postgres
def test_availability_and_booking_queries_use_bounded_index_ranges(pg_app):
    first, second = make_provider("First Provider"), make_provider("Second Provider")
    service = make_service(duration_minutes=45, buffer_minutes=15)
    patient = Patient(first_name="Old", last_name="Patient", phone_e164="+19155550100", created_at=FROZEN_NOW)
    db.session.add(patient)
    db.session.commit()
    _history([first.id, second.id], service.id, patient.id)
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE appointments")
    client = pg_app.test_client()

    def work():
        response = client.get("/api/v1/availability?service=evaluation&start=2026-12-01&end=2027-01-11")
        assert response.status_code == 200 and response.get_json()["slots"]
        booked = client.post("/api/v1/bookings", json={
            "service": "evaluation", "provider_id": first.id, "start": response.get_json()["slots"][0]["start"],
            "patient": patient_payload(),
        })
        assert booked.status_code == 201, booked.get_json()

    plans = _plans_of_appointment_queries(work)
    assert len(plans) >= 3  # availability's busy times, the booking's patient check and re-check
    for statement, plan in plans:
        scans = _appointment_scans(plan)
        assert scans, statement
        for scan in scans:
            assert "Seq Scan" not in scan["Node Type"], (statement, scan)
            if scan.get("Index Name") == "ix_appointments_provider_time":
                # Both ends of the time range bound the index scan, not only the upper one.
                condition = scan.get("Index Cond", "")
                assert "starts_at <" in condition and "starts_at >" in condition, (statement, scan)


@pytest.mark.postgres
def test_an_appointment_blocking_over_12_hours_is_refused_on_postgres(pg_app):
    _refuses_long_block()


def test_an_appointment_blocking_over_12_hours_is_refused_on_sqlite(app):
    _refuses_long_block()


def _refuses_long_block():
    provider = make_provider()
    service = make_service()
    patient = Patient(first_name="Ana", last_name="Garcia", phone_e164="+19155550123", created_at=FROZEN_NOW)
    db.session.add(patient)
    db.session.commit()
    start = datetime(2026, 12, 1, 15, tzinfo=UTC)

    def appointment(hours: float, token: str) -> Appointment:
        return Appointment(
            patient_id=patient.id, provider_id=provider.id, service_id=service.id, starts_at=start,
            ends_at=start + timedelta(hours=1), blocks_until=start + timedelta(hours=hours), status="booked",
            source="desk", manage_token_hash=token * 64, created_at=FROZEN_NOW, updated_at=FROZEN_NOW,
        )

    db.session.add(appointment(12, "a"))  # exactly 12 hours is allowed
    db.session.commit()
    db.session.add(appointment(12.5, "b"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_availability_reads_while_another_connection_holds_the_write_lock(tmp_path, migrated_sqlite_template, clock):
    """WAL lets readers read beside a writer, but only if they do not ask for the write lock
    themselves: the availability API and the booking pages' GETs begin deferred."""
    import shutil

    from config import TestingConfig
    from scheduler import create_app

    path = tmp_path / "busy.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock, "SQLITE_BUSY_TIMEOUT_MS": 200,
    })
    with app.app_context():
        provider_id = make_provider().id
        make_service()
        db.session.remove()
        writer = sqlite3.connect(path, isolation_level=None, timeout=0.2)
        writer.execute("BEGIN IMMEDIATE")  # another process is booking and holds the lock
        try:
            client = app.test_client()
            for path_and_query in (
                "/api/v1/availability?service=evaluation&start=2026-12-01&end=2026-12-14",
                f"/book/evaluation/{provider_id}",
                f"/book/evaluation/{provider_id}/2026-12-01",
            ):
                response = client.get(path_and_query)
                assert response.status_code == 200, (path_and_query, response.status_code)
            # A transaction that may write still asks for the lock, and so waits for the writer.
            with pytest.raises(OperationalError, match="locked"):
                db.session.execute(select(text("1")))
            db.session.rollback()
        finally:
            writer.execute("ROLLBACK")
            writer.close()
            db.session.remove()
            db.engine.dispose()
