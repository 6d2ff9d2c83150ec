"""Engine set-up that the models cannot express: SQLite pragmas and IMMEDIATE transactions,
PostgreSQL sessions in UTC."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, event

# Set while a request known to only read is served (see web/common/read_only.py).
_reading_only: ContextVar[bool] = ContextVar("reading_only", default=False)


@contextmanager
def read_only_transactions() -> Iterator[None]:
    """Transactions begun inside take no write lock on SQLite (plain deferred BEGIN).

    Only for work that never writes: a deferred transaction that reads and then writes can
    fail at once with "database is locked" when another writer got in between.
    """
    token = _reading_only.set(True)
    try:
        yield
    finally:
        _reading_only.reset(token)


def sqlite_engine_options(options: dict, busy_timeout_ms: int) -> dict:
    """Engine options with SQLite's busy timeout, given to the driver (sqlite3's `timeout`)
    rather than written into a PRAGMA: SQL is never built from formatted strings."""
    connect_args = {**options.get("connect_args", {}), "timeout": busy_timeout_ms / 1000}
    return {**options, "connect_args": connect_args}


def configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE for every transaction that may write (the busy
    timeout is the driver's `timeout`, see sqlite_engine_options).

    A deferred transaction that reads and then writes can fail at once with "database is
    locked" when another writer got in between; taking the write lock at BEGIN makes the
    availability check and the insert one serialised step instead. Read-only requests (the
    availability API, the booking pages' GETs) begin deferred, so in WAL mode they read
    beside a writer instead of queueing behind it.
    """
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN" if _reading_only.get() else "BEGIN IMMEDIATE")


def configure_postgresql(engine: Engine) -> None:
    """Every session in UTC: timestamptz values then come back already in datetime.UTC, so
    instant columns (models/types.UTCDateTime) need no conversion row by row."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")
        dbapi_connection.commit()  # a rollback (the pool's reset) would undo the SET otherwise
