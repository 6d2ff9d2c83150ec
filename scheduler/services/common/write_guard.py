"""Writes the database may refuse because of an overlap, and retries it asks for.

PostgreSQL's exclusion constraint answers an overlapping row with SQLSTATE 23P01; two
transactions racing for overlapping rows can instead get a deadlock (40P01), which says
nothing about the slot and is worth retrying.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, IntegrityError

from scheduler.extensions import db

OVERLAP_VIOLATION = "23P01"
DEADLOCK_DETECTED = "40P01"
DEADLOCK_RETRIES = 5


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def is_overlap_violation(error: IntegrityError) -> bool:
    """The database refused an overlapping row (23P01). Reads only."""
    return _sqlstate(error) == OVERLAP_VIOLATION


def is_deadlock(error: DBAPIError) -> bool:
    """The database aborted this transaction to break a deadlock (40P01). Reads only."""
    return _sqlstate(error) == DEADLOCK_DETECTED


def flush_in_savepoint(change: Callable[[], None]) -> bool:
    """Apply `change` and flush it in a savepoint; False when the database refuses an overlap.

    Two transactions writing overlapping rows at the same instant can each find the other's
    uncommitted row in the exclusion-constraint check and wait for it; PostgreSQL then aborts
    one of them with a deadlock (40P01). That says nothing about the slot, so roll back to the
    savepoint (the other writer goes on) and try again: the retry waits for the other writer
    and gets the real answer, the row or 23P01. In the caller's transaction (in a savepoint of it).
    """
    deadlocks = 0
    while True:
        try:
            with db.session.begin_nested():
                change()
                db.session.flush()
            return True
        except IntegrityError as error:
            if is_overlap_violation(error):
                return False
            raise
        except DBAPIError as error:
            deadlocks += 1
            if _sqlstate(error) != DEADLOCK_DETECTED or deadlocks > DEADLOCK_RETRIES:
                raise
