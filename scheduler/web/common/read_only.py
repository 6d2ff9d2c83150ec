"""Requests that only read run in read-only transactions (no write lock on SQLite, no
BEGIN/ROLLBACK round trips on PostgreSQL).

The list names views, not URL patterns: a view added here must never write. The
transaction is ended when the request ends, so it cannot outlive the view and meet a write.
"""
from __future__ import annotations

from flask import Flask, g, request

from scheduler.database import _reading_only
from scheduler.extensions import db

READ_ONLY_VIEWS = frozenset({
    "api.public.health", "api.public.services", "api.public.providers", "api.public.availability",
    "patient.booking.services", "patient.booking.providers", "patient.booking.days", "patient.booking.times",
    "metrics.scrape",  # a scrape must never queue behind (or block) a booking
})
# Read-only views that never touch the database: no connection is checked out for them.
VIEWS_WITHOUT_DATABASE = frozenset({"api.public.health"})


def register_read_only_views(app: Flask) -> None:
    @app.before_request
    def _begin_reading_only() -> None:
        if request.method in ("GET", "HEAD") and request.endpoint in READ_ONLY_VIEWS:
            db.session.rollback()  # any transaction begun earlier in this context is done
            g.reading_only = _reading_only.set(True)
            if request.endpoint not in VIEWS_WITHOUT_DATABASE and db.engine.dialect.name == "postgresql":
                # Under READ COMMITTED every statement takes its own snapshot, inside a
                # transaction or not; autocommit only saves the BEGIN and the ROLLBACK.
                db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    @app.teardown_request
    def _end_reading_only(_error=None) -> None:
        token = g.pop("reading_only", None)
        if token is not None:
            db.session.rollback()
            _reading_only.reset(token)
