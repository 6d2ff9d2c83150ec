"""Fixtures: a fresh migrated database and app per test, a frozen clock, factories."""
from __future__ import annotations

import shutil
from datetime import date, time, timedelta

import pytest

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Closure, Provider, Service, WorkingHours
from scheduler.services.operations.demo import seed_demo
from tests.support.helpers import FROZEN_NOW, ROOT, migrate, postgres_available, require_or_skip, temporary_pg_database


@pytest.fixture(scope="session", autouse=True)
def artifacts_dir():
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory):
    """One SQLite file built by the Alembic revisions; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


class Clock:
    """A settable clock for the app (config CLOCK)."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return Clock(FROZEN_NOW)


def _make_app(database_url: str, clock, **overrides):
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "CLOCK": clock, **overrides})
    return app


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, clock):
    path = tmp_path / "scheduler.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = _make_app(f"sqlite:///{path}", clock)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def pg_template_url():
    """A migrated PostgreSQL database for the session (dropped at the end)."""
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    with temporary_pg_database() as url:
        migrate(url)
        yield url


@pytest.fixture
def pg_app(pg_template_url, clock):
    app = _make_app(pg_template_url, clock)
    with app.app_context():
        yield app
        db.session.remove()
        tables = ", ".join(t.name for t in reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def demo(app):
    """The demo clinic (3 providers, evaluation + therapy services, holidays)."""
    seed_demo()
    return app


# --- factories ---------------------------------------------------------------------------


def make_provider(name="Test Provider", *, windows=((time(8), time(12)), (time(13), time(17))),
                  weekdays=range(5), online=True) -> Provider:
    provider = Provider(name=name, active=True, accepts_online_booking=online)
    provider.hours = [WorkingHours(weekday=d, start_time=s, end_time=e) for d in weekdays for s, e in windows]
    db.session.add(provider)
    db.session.commit()
    return provider


def make_service(slug="evaluation", **overrides) -> Service:
    fields = dict(
        slug=slug, name="Initial evaluation", duration_minutes=60, buffer_minutes=15, online_bookable=True,
        active=True, min_notice_minutes=120, max_advance_days=60, slot_step_minutes=15, cancel_window_hours=24,
    )
    fields.update(overrides)
    service = Service(**fields)
    db.session.add(service)
    db.session.commit()
    return service


def make_closure(day: date, name="Holiday") -> Closure:
    closure = Closure(first_day=day, last_day=day, name=name)
    db.session.add(closure)
    db.session.commit()
    return closure


def patient_payload(**overrides) -> dict:
    patient = {
        "first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123",
        "email": "ana@example.com", "sms_opt_in": True,
    }
    patient.update(overrides)
    return patient


# --- real peers for the messaging tests (one of each per test module) -------------------


@pytest.fixture(scope="module")
def prism():
    """Prism serving Twilio's own OpenAPI description: the SDK's requests checked for real."""
    from tests.support.peers import Prism

    server = Prism()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sink(prism):
    """A real HTTP server in front of Prism that counts what arrives and can fail on demand."""
    from tests.support.peers import TwilioSink

    server = TwilioSink(upstream=prism.url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def smtp():
    """aiosmtpd on 127.0.0.1, keeping what it received."""
    from tests.support.peers import SmtpServer

    server = SmtpServer()
    yield server
    server.stop()
