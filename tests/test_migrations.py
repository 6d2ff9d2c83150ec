"""The Alembic revisions build exactly the models' schema, on SQLite and on PostgreSQL."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from scheduler.extensions import db

from .support import flask_command


def _schema_differences(url: str) -> list:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def test_sqlite_schema_matches_models(app, migrated_sqlite_template):
    assert _schema_differences(f"sqlite:///{migrated_sqlite_template}") == []


@pytest.mark.postgres
def test_postgres_schema_matches_models_and_has_no_overlap_rule(pg_app, pg_template_url):
    differences = _schema_differences(pg_template_url)
    assert differences == []
    engine = sa.create_engine(pg_template_url)
    with engine.connect() as conn:
        definition = conn.execute(sa.text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'ex_appointments_no_overlap'"
        )).scalar_one()
    engine.dispose()
    assert "EXCLUDE USING gist" in definition and "tstzrange(starts_at, blocks_until, '[)'" in definition
    assert "status" in definition and "cancelled" in definition


def test_downgrade_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    for args in (["upgrade"], ["downgrade", "base"], ["upgrade"]):
        flask_command(url, "db", *args)
    engine = sa.create_engine(url)
    assert "appointments" in sa.inspect(engine).get_table_names()
    engine.dispose()
