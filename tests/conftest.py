"""Fixtures: a fresh migrated database and app per test, a frozen clock, the real peers.
Factories are in tests/support/factories.py, helpers in tests/support/helpers.py."""
from __future__ import annotations

import shutil

import pytest

from scheduler.extensions import db
from scheduler.services.operations.demo import seed_demo
from tests.support.helpers import (
    FROZEN_NOW,
    ROOT,
    Clock,
    build_app,
    migrate,
    postgres_available,
    require_or_skip,
    temporary_pg_database,
)


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


@pytest.fixture
def clock():
    return Clock(FROZEN_NOW)


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, clock):
    path = tmp_path / "scheduler.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = build_app(f"sqlite:///{path}", clock)
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
    app = build_app(pg_template_url, clock)
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
