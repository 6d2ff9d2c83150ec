"""A throw-away PostgreSQL database, built the way production builds it (Alembic, seed-demo)."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _libpq_url(url: str) -> str:
    """psycopg wants postgresql://; SQLAlchemy spellings are accepted too."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def sqlalchemy_url(server_url: str, name: str) -> str:
    base = _libpq_url(server_url).split("?", 1)[0].rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


@contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """Creates an empty database on the server, yields its SQLAlchemy URL, always drops it."""
    name = f"sched_bench_{uuid.uuid4().hex[:10]}"
    admin = _libpq_url(server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield sqlalchemy_url(server_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def flask_command(database_url: str, *args: str) -> str:
    """Runs `flask --app wsgi <args>` against the database; returns its output."""
    env = {**os.environ, "DATABASE_URL": database_url, "FLASK_APP": "wsgi"}
    done = subprocess.run(
        [sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


def server_version(server_url: str) -> str:
    with psycopg.connect(_libpq_url(server_url), autocommit=True) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


class BackendCpu:
    """CPU time of the PostgreSQL backends serving one database, read from /proc (only
    when PostgreSQL runs on this machine and /proc/<pid>/stat is readable; else 0).
    Backends that exit between two readings take their CPU time with them."""

    def __init__(self, server_url: str, sa_url: str) -> None:
        self.conn = psycopg.connect(_libpq_url(server_url), autocommit=True)
        self.database = sa_url.rsplit("/", 1)[1]
        self._last: dict[int, float] = {}
        self._total = 0.0

    def cpu_seconds(self) -> float:
        """A running total, like a process's CPU time: what the backends used since the
        first call (each reading adds what every backend used since the one before)."""
        current = self.snapshot()
        self._total += self.used(self._last, current)
        self._last = current
        return self._total

    def snapshot(self) -> dict[int, float]:
        from .server import process_cpu_seconds

        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (self.database,)
        ).fetchall()
        return {pid: process_cpu_seconds(pid) for (pid,) in rows}

    @staticmethod
    def used(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())

    def close(self) -> None:
        self.conn.close()
