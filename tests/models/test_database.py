"""The embedded SQLite set-up and the instant column type."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import StatementError

from scheduler.extensions import db
from scheduler.models import TimeOff
from tests.support.factories import make_provider


def test_sqlite_file_uses_wal_foreign_keys_and_a_busy_timeout(app):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_foreign_keys_are_enforced(app):
    db.session.add(TimeOff(provider_id=999, starts_at=datetime(2026, 12, 1, tzinfo=UTC),
                           ends_at=datetime(2026, 12, 2, tzinfo=UTC)))
    with pytest.raises(Exception, match="FOREIGN KEY"):
        db.session.commit()
    db.session.rollback()


def test_instants_refuse_naive_datetimes_and_come_back_in_utc(app):
    provider = make_provider()
    db.session.add(TimeOff(provider_id=provider.id, starts_at=datetime(2026, 12, 1, 9), ends_at=datetime(2026, 12, 1, 10)))
    with pytest.raises(StatementError, match="naive datetime refused"):
        db.session.commit()
    db.session.rollback()
    denver_winter = timezone(timedelta(hours=-7))
    db.session.add(TimeOff(provider_id=provider.id, starts_at=datetime(2026, 12, 1, 9, tzinfo=denver_winter),
                           ends_at=datetime(2026, 12, 1, 10, tzinfo=denver_winter)))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(select(TimeOff))
    assert stored.starts_at == datetime(2026, 12, 1, 16, tzinfo=UTC)
    assert stored.starts_at.utcoffset() == timedelta(0)


def test_without_secret_key_one_random_key_is_made_and_kept(tmp_path):
    from scheduler import instance_secret_key

    path = tmp_path / "secret_key"
    first = instance_secret_key(path)
    assert len(first) >= 40 and instance_secret_key(path) == first
    assert oct(path.stat().st_mode & 0o777) == "0o600"


@pytest.mark.postgres
def test_postgresql_sessions_are_in_utc_so_instants_come_back_as_utc(pg_app):
    """UTCDateTime skips its per-value conversion on PostgreSQL because every session is
    set to UTC on connect; a server configured for another zone must not leak through."""
    with db.engine.connect() as conn:
        assert conn.execute(text("SHOW TIME ZONE")).scalar() == "UTC"
    provider = make_provider()
    denver_winter = timezone(timedelta(hours=-7))
    db.session.add(TimeOff(provider_id=provider.id, starts_at=datetime(2026, 12, 1, 9, tzinfo=denver_winter),
                           ends_at=datetime(2026, 12, 1, 10, tzinfo=denver_winter)))
    db.session.commit()
    db.session.expire_all()
    stored = db.session.scalar(select(TimeOff))
    assert stored.starts_at == datetime(2026, 12, 1, 16, tzinfo=UTC)
    assert stored.starts_at.tzinfo is UTC
    row = db.session.execute(select(TimeOff.starts_at, TimeOff.ends_at)).one()
    assert all(value.tzinfo is UTC for value in row)
