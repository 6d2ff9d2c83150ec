"""The Alembic revisions build exactly the models' schema, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scheduler.extensions import db
from tests.support.helpers import flask_command


def _schema_differences(url: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models(app, migrated_sqlite_template):
    assert _schema_differences(f"sqlite:///{migrated_sqlite_template}") == []


@pytest.mark.postgres
def test_postgres_schema_matches_models_and_has_no_overlap_rule(pg_app, pg_template_url):
    differences = _schema_differences(pg_template_url)
    assert differences == []
    engine = sa.create_engine(pg_template_url)
    with engine.connect() as conn:
        definition = conn.execute(sa.text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ex_appointments_no_overlap'"
        )).scalar_one()
    engine.dispose()
    assert "EXCLUDE USING gist" in definition and "tstzrange(starts_at, blocks_until, '[)'" in definition
    assert "status" in definition and "cancelled" in definition


def test_downgrade_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    for args in (["upgrade"], ["downgrade", "base"], ["upgrade"]):
        flask_command(url, "db", *args)
    engine = sa.create_engine(url)
    assert "appointments" in sa.inspect(engine).get_table_names()
    engine.dispose()


# --- a populated database: downgrade one step and upgrade again, nothing lost ------------------


def _populate(url: str, clock) -> None:
    """The demo clinic, bookings through the API, a course through the staff API, their
    messages (some sent by the worker), a patient's text back, the worker's heartbeat."""
    from datetime import timedelta

    from config import TestingConfig
    from scheduler import create_app
    from scheduler.models import InboundMessage, Patient, Provider, Service
    from scheduler.services.common.clock import now
    from scheduler.services.operations.demo import seed_demo
    from scheduler.services.staff.accounts import create_user, issue_api_token
    from scheduler.worker import run_once
    from tests.support.factories import patient_payload

    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "CLOCK": clock})
    with app.app_context():
        seed_demo()
        create_user("desk@example.com", "a long enough password", "front_desk")
        token = issue_api_token("desk@example.com")
        client = app.test_client()
        provider = db.session.scalars(sa.select(Provider).order_by(Provider.id)).first()
        for n, start in enumerate(("2026-12-02T08:00:00-07:00", "2026-12-02T13:00:00-07:00", "2026-12-03T09:15:00-07:00")):
            answer = client.post("/api/v1/bookings", json={
                "service": "initial-evaluation", "provider_id": provider.id, "start": start,
                "patient": patient_payload(phone=f"915-555-02{n:02d}", email=f"m{n}@example.com")})
            assert answer.status_code == 201, answer.get_json()
        patient = db.session.scalars(sa.select(Patient).order_by(Patient.id)).first()
        therapist = db.session.scalars(sa.select(Provider).order_by(Provider.id.desc())).first()
        assert db.session.scalar(sa.select(Service).where(Service.slug == "therapy-session")) is not None
        course = client.post("/api/v1/staff/courses", headers={"Authorization": f"Bearer {token}"}, json={
            "patient_id": patient.id, "provider_id": therapist.id, "service": "therapy-session",
            "first_date": "2026-12-07", "weeks": 4, "visits_per_week": 2, "weekdays": ["tue", "thu"],
            "time": "11:00", "preview": False})
        assert course.status_code == 201, course.get_json()
        clock.advance(hours=1)
        run_once(digest_mode="skip")  # some messages sent (recorded), heartbeats written
        db.session.add(InboundMessage(provider_message_id="SM" + "0" * 32, from_e164=patient.phone_e164, body="C",
                                      interpreted_as="confirm", patient_id=patient.id,
                                      received_at=now() - timedelta(minutes=5)))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _row_counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sorted(t for t in sa.inspect(conn).get_table_names() if t != "alembic_version")
            return {t: conn.execute(sa.select(sa.func.count()).select_from(sa.table(t))).scalar_one() for t in tables}
    finally:
        engine.dispose()


def _appointments(url: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT id, provider_id, starts_at, blocks_until, status, course_id FROM appointments ORDER BY id")).all()
    finally:
        engine.dispose()


def _revision(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    finally:
        engine.dispose()


NEWEST_REVISION_TABLES = {"clinic_info_versions", "message_policy_versions"}


def _round_trip_on_populated(url: str, clock) -> None:
    flask_command(url, "db", "upgrade")
    _populate(url, clock)
    head = _revision(url)
    counts = _row_counts(url)
    rows = _appointments(url)
    populated = {"appointments", "patients", "providers", "services", "courses", "messages", "audit_events",
                 "inbound_messages", "worker_runs", "users", "api_tokens", "closures", "working_hours"}
    assert all(counts[t] > 0 for t in populated), {t: counts[t] for t in populated}
    flask_command(url, "db", "downgrade")  # Flask-Migrate: one step down (revision "-1")
    assert _revision(url) != head
    # Every table the step down keeps keeps every row; the tables it drops are the newest
    # revision's own (versioned clinic settings, re-seeded from the configuration on the way up).
    down = _row_counts(url)
    assert down == {t: counts[t] for t in down}
    assert set(counts) - set(down) <= NEWEST_REVISION_TABLES
    flask_command(url, "db", "upgrade")
    assert _revision(url) == head
    again = _row_counts(url)
    # The newest revision's own tables are re-seeded (one version from the configuration);
    # every other table has every row it had.
    assert {t: n for t, n in again.items() if t not in NEWEST_REVISION_TABLES} == {
        t: n for t, n in counts.items() if t not in NEWEST_REVISION_TABLES}
    assert again["clinic_info_versions"] == 1
    assert _appointments(url) == rows


def test_populated_sqlite_downgrades_one_step_and_upgrades_with_every_row_kept(tmp_path, clock):
    _round_trip_on_populated(f"sqlite:///{tmp_path / 'populated.db'}", clock)


@pytest.mark.postgres
def test_populated_postgres_downgrades_one_step_and_upgrades_with_every_row_kept(clock):
    from tests.support.helpers import postgres_available, require_or_skip, temporary_pg_database

    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    with temporary_pg_database() as url:
        _round_trip_on_populated(url, clock)
