"""What a load balancer and a monitor ask of one web instance.

The database decides whether this instance can serve (a load balancer takes it out of
rotation when it cannot answer). The worker's last passes and the outbox backlog are
reported for a monitor to alert on, but never make the instance unhealthy: a stale worker
is fixed by restarting the worker, not by taking every web instance out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, case, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from scheduler.extensions import db
from scheduler.models import Message, WorkerRun
from scheduler.models.messaging import MessageStatus
from scheduler.services.common.clock import now

# Statuses still waiting on someone: the worker (pending, sending) or the front desk
# (failed, undelivered). Final ones are not counted: the outbox keeps them for ever.
BACKLOG = (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.FAILED, MessageStatus.UNDELIVERED)


@dataclass
class Health:
    database_ok: bool
    jobs: dict[str, dict] = field(default_factory=dict)
    worker_stale: bool = True
    outbox: dict[str, int | float | None] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _seconds_since(moment: datetime | None, reference: datetime) -> float | None:
    return None if moment is None else round((reference - moment).total_seconds(), 1)


# Built once: a load balancer asks every few seconds, on every instance.
_WORKER_RUNS = select(WorkerRun).order_by(WorkerRun.job)
# The oldest due_at among the rows already due: a reminder planned for tomorrow is pending
# but not late, so it does not count towards the age.
_BACKLOG = (
    select(Message.status, func.count(),
           func.min(case((Message.due_at <= bindparam("moment"), Message.due_at))))
    .where(Message.status.in_(BACKLOG))
    .group_by(Message.status)
)


def _database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False


def check_health(stale_after_seconds: int) -> Health:
    """Two queries when all is well (load balancers ask often): the worker's passes, and the
    outbox backlog with the oldest pending row already due. Only when one fails is the database itself
    asked whether it answers at all. Reads only, and ends its read transaction."""
    health = Health(database_ok=True)
    moment = now()
    try:
        runs = db.session.scalars(_WORKER_RUNS).all()
        health.jobs = {
            run.job: {
                "last_started_at": run.last_started_at.isoformat(),
                "last_finished_at": run.last_finished_at.isoformat() if run.last_finished_at else None,
                "seconds_since_last_start": _seconds_since(run.last_started_at, moment),
                "last_duration_ms": run.last_duration_ms,
                "last_error": run.last_error or None,
            }
            for run in runs
        }
        # Stale: no job has started a pass within the window (or none ever ran).
        health.worker_stale = not any(
            (moment - run.last_started_at).total_seconds() <= stale_after_seconds for run in runs
        )
    except SQLAlchemyError:
        db.session.rollback()
        if not _database_answers():
            return Health(database_ok=False)
        health.problems.append("worker_runs unreadable")
    try:
        rows = db.session.execute(_BACKLOG, {"moment": moment}).all()
        counts = {status: count for status, count, _oldest in rows}
        oldest_due = next((oldest for status, _count, oldest in rows if status == MessageStatus.PENDING.value), None)
        health.outbox = {status.value: counts.get(status.value, 0) for status in BACKLOG}
        # The age of the oldest message due and not yet sent; 0 when nothing is due.
        health.outbox["oldest_pending_seconds"] = _seconds_since(oldest_due, moment) or 0
    except SQLAlchemyError:
        db.session.rollback()
        if not _database_answers():
            return Health(database_ok=False)
        health.problems.append("messages unreadable")
    db.session.rollback()  # read only: end the transaction (SQLite's IMMEDIATE lock included)
    return health
