"""flask --app wsgi backup PATH: a consistent SQLite copy while bookings go on."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Provider
from scheduler.services.operations.demo import seed_demo
from tests.support.factories import patient_payload
from tests.support.helpers import ROOT

DENVER = ZoneInfo("America/Denver")


def _flask(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi"}
    return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def _weekday_slots(first: date, providers: list[int]):
    """Every bookable evaluation start, day by day: 08:00, 09:15, 10:30, 13:00, 14:15, 15:30."""
    day = first
    while True:
        if day.weekday() < 5:
            for hour, minute in ((8, 0), (9, 15), (10, 30), (13, 0), (14, 15), (15, 30)):
                for provider in providers:
                    yield datetime(day.year, day.month, day.day, hour, minute, tzinfo=DENVER), provider
        day += timedelta(days=1)


def test_backup_while_a_writer_keeps_booking_is_consistent_and_opens(tmp_path, migrated_sqlite_template, clock):
    live_path = tmp_path / "clinic.db"
    live_path.write_bytes(migrated_sqlite_template.read_bytes())
    url = f"sqlite:///{live_path}"
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "CLOCK": clock})
    with app.app_context():
        seed_demo()
        providers = list(db.session.scalars(select(Provider.id).order_by(Provider.id)))
        # Bulk, so the copy takes long enough for bookings to land while it is made.
        db.session.execute(text(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000) "
            "INSERT INTO audit_events (at, actor_kind, actor_id, action, entity_type, entity_id, before, after) "
            "SELECT '2026-01-01 00:00:00.000000', 'system', NULL, 'filler', 'none', i, NULL, "
            "'{\"pad\": \"' || hex(randomblob(200)) || '\"}' FROM n"))
        db.session.commit()

    stop = threading.Event()
    committed: list[float] = []  # when each booking's answer came back
    failures: list[str] = []

    def keep_booking() -> None:
        client = app.test_client()
        with app.app_context():
            for n, (start, provider) in enumerate(_weekday_slots(date(2026, 12, 2), providers)):
                # A steady pace, not as fast as it can: the ~730 open slots up to the 60-day
                # horizon must outlast the three copies however quick a booking is.
                if stop.wait(0.02):
                    return
                answer = client.post("/api/v1/bookings", json={
                    "service": "initial-evaluation", "provider_id": provider, "start": start.isoformat(),
                    "patient": patient_payload(phone=f"915-555-{n:04d}", email=f"p{n}@example.com")})
                if answer.status_code == 201:
                    committed.append(time.monotonic())
                elif not (answer.status_code == 409 or (answer.status_code == 422 and set(
                        answer.get_json()["fields"]) == {"start"})):  # a demo visit, a holiday, past max advance
                    failures.append(f"{answer.status_code} {answer.get_data(as_text=True)[:200]}")

    writer = threading.Thread(target=keep_booking)
    writer.start()
    copies = []
    try:
        while len(committed) < 5 and writer.is_alive():
            time.sleep(0.05)
        began = time.monotonic()
        for n in range(3):  # three copies, one after another, while the writer goes on
            target = tmp_path / f"backup-{n}.db"
            done = _flask(url, "backup", str(target))
            assert done.returncode == 0, done.stderr
            assert "integrity ok" in done.stdout
            copies.append(target)
        ended = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        writer.join(60)
    assert not failures, failures[:3]
    during = [t for t in committed if began <= t <= ended]
    assert during, "bookings were committed while the copies were made"
    assert committed[-1] > ended

    counts = []
    for copy in copies:
        with sqlite3.connect(copy) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert check.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert not copy.with_name(copy.name + "-wal").exists()
        copied = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{copy}", "CLOCK": clock})
        with copied.app_context():
            assert copied.test_client().get("/api/v1/health").status_code == 200
            booked = db.session.scalar(select(func.count()).select_from(Appointment).where(Appointment.source == "api"))
            audited = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "appointment.booked", AuditEvent.entity_id.in_(
                    select(Appointment.id).where(Appointment.source == "api"))))
            # whole transactions only: every copied booking with its audit row, nothing half-written
            assert booked == audited
            availability = copied.test_client().get(
                "/api/v1/availability?service=initial-evaluation&start=2026-12-02&end=2026-12-04")
            assert availability.status_code == 200
            db.session.remove()
            db.engine.dispose()
        counts.append(booked)
    assert counts == sorted(counts)  # later copies hold at least as much
    with app.app_context():
        final = db.session.scalar(select(func.count()).select_from(Appointment).where(Appointment.source == "api"))
        db.engine.dispose()
    assert counts[-1] < final  # the writer went on after the last copy
    assert 0 < counts[0]


def test_backup_refuses_to_overwrite_or_to_copy_onto_itself(tmp_path, migrated_sqlite_template):
    live = tmp_path / "clinic.db"
    live.write_bytes(migrated_sqlite_template.read_bytes())
    url = f"sqlite:///{live}"
    existing = tmp_path / "old-backup.db"
    existing.write_bytes(b"yesterday's backup")
    refused = _flask(url, "backup", str(existing))
    assert refused.returncode == 1 and "already exists" in refused.stderr
    assert existing.read_bytes() == b"yesterday's backup"
    assert _flask(url, "backup", str(live)).returncode == 1
    replaced = _flask(url, "backup", "--overwrite", str(existing))
    assert replaced.returncode == 0, replaced.stderr
    with sqlite3.connect(existing) as check:
        assert check.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
    assert not list(tmp_path.glob(".*partial*"))


def test_backup_on_postgresql_points_to_pg_dump(tmp_path):
    answer = _flask("postgresql+psycopg://clinic:hunter2@127.0.0.1:5432/clinic", "backup", str(tmp_path / "x.db"))
    assert answer.returncode == 2
    assert "pg_dump" in answer.stderr and "pg_restore" in answer.stderr
    assert "hunter2" not in answer.stderr
    assert not (tmp_path / "x.db").exists()
