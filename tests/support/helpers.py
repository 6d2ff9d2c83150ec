"""Test helpers shared by the suite: databases, a live gunicorn server, factories."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests

from config import TestingConfig
from scheduler import create_app

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"

# A fixed "now" for tests that do not run a live server: Monday 2026-11-30, 08:00 in Denver.
FROZEN_NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


def require_or_skip(reason: str) -> None:
    """Under CI=true a missing dependency is a failure, never a skip."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@contextmanager
def temporary_pg_database():
    """Creates an empty PostgreSQL database and drops it afterwards; yields its SQLAlchemy URL."""
    name = f"sched_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://").rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flask_command(database_url: str, *args: str) -> None:
    """Runs `flask --app wsgi ARGS` against a database; its output is shown if it fails."""
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi"}
    result = subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def migrate(database_url: str) -> None:
    """Builds the schema the way production does: Alembic revisions, not create_all."""
    flask_command(database_url, "db", "upgrade")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """The real app under gunicorn on 127.0.0.1, configured only through its environment."""

    def __init__(self, database_url: str, *, workers: int = 2, threads: int = 8, extra_env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "live-test-secret",
            "RATELIMIT_ENABLED": "false",
            "PUBLIC_BASE_URL": self.url,
            # Production settings (wsgi.py's default) except the Secure cookie: this is plain http.
            "SESSION_COOKIE_SECURE": "false",
            **(extra_env or {}),
        }
        self.log = open(ROOT / "test-artifacts" / f"gunicorn-{self.port}.log", "w") if (ROOT / "test-artifacts").is_dir() else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "wsgi:app",
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers), "--threads", str(threads),
                "--worker-class", "gthread", "--timeout", "60",
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("gunicorn exited during start-up")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not become ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()  # reaped, or its Popen warns "still running" in a later test
        if hasattr(self.log, "close"):
            self.log.close()


def seed_demo_clinic(database_url: str) -> None:
    flask_command(database_url, "seed-demo")


def next_weekday(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def copy_file(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)




def set_clinic_details(**changes: str) -> None:
    """A new version of the clinic's details, written as stored (no validation: hostile
    values test what the pages and feeds do with whatever the table holds). In an app context."""
    from datetime import UTC, datetime

    from flask import g

    from scheduler.extensions import db as _db
    from scheduler.models import ClinicInfoVersion
    from scheduler.services.clinic import versions as clinic_versions

    values = {**clinic_versions.current_details().source, **changes}
    _db.session.add(ClinicInfoVersion(created_at=datetime.now(UTC), **values))
    _db.session.commit()
    g.pop(clinic_versions.DETAILS_KEY, None)


class Clock:
    """A settable clock for the app (config CLOCK)."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def build_app(database_url: str, clock, **overrides):
    """The app as the tests run it: TestingConfig on the given database, with the settable clock."""
    return create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": database_url, "CLOCK": clock, **overrides})
