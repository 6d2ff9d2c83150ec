"""The worker's heartbeat: each job's last pass, and the once-a-day claim of the evening digest."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite

from scheduler.extensions import db
from scheduler.models import WorkerRun


def _upsert(values: dict, update_columns: tuple[str, ...]):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(WorkerRun).values(**values)
    return statement.on_conflict_do_update(
        index_elements=[WorkerRun.job], set_={name: statement.excluded[name] for name in update_columns}
    )


def record_run(job: str, started: datetime, finished: datetime, error: str = "") -> None:
    """A job's last pass (start, end, duration, error): one row per job. Commits."""
    values = dict(job=job, last_started_at=started, last_finished_at=finished,
                  last_duration_ms=int((finished - started).total_seconds() * 1000), last_error=error[:500])
    db.session.execute(_upsert(values, ("last_started_at", "last_finished_at", "last_duration_ms", "last_error")))
    db.session.commit()


def claim_daily(job: str, since: datetime, moment: datetime) -> bool:
    """True for exactly one caller per period: the one that moves the job's last start from
    before `since` to `moment` (or creates its row). Two workers cannot both win. Commits."""
    won = db.session.execute(
        update(WorkerRun).where(WorkerRun.job == job, WorkerRun.last_started_at < since)
        .values(last_started_at=moment).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
        won = db.session.execute(
            dialect.insert(WorkerRun).values(job=job, last_started_at=moment, last_duration_ms=0, last_error="")
            .on_conflict_do_nothing(index_elements=[WorkerRun.job])
        ).rowcount == 1
    db.session.commit()
    return won


__all__ = ["claim_daily", "record_run"]
