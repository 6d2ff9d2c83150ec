"""The no-overlap rule in PostgreSQL itself, with the application out of the way.

ex_appointments_no_overlap refuses a second live appointment of one provider whose
[starts_at, blocks_until) meets an existing one (SQLSTATE 23P01); cancelled rows and
back-to-back rows are fine. The last tests make PostgreSQL answer a write with a deadlock
(40P01), which concurrent writers to an exclusion constraint really get, and check that
booking and rescheduling retry instead of answering 500.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from scheduler.extensions import db
from scheduler.models import Appointment, Patient
from scheduler.services.common.write_guard import DEADLOCK_RETRIES
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.helpers import FROZEN_NOW

pytestmark = pytest.mark.postgres

DENVER = ZoneInfo("America/Denver")
DAY = (2026, 12, 1)  # the Tuesday after the frozen clock's Monday


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(*DAY, hour, minute, tzinfo=DENVER)


@pytest.fixture
def rows(pg_app):
    """Two providers, a service and a patient; `insert` writes an appointment row with raw SQL."""
    first, second = make_provider("First Provider"), make_provider("Second Provider")
    service = make_service()
    patient = Patient(first_name="Ana", last_name="Garcia", phone_e164="+19155550123", created_at=FROZEN_NOW)
    db.session.add(patient)
    db.session.commit()
    counter = iter(range(1, 1000))

    def insert(provider_id: int, start: datetime, blocks_until: datetime, status: str = "booked") -> str | None:
        """Inserts in a savepoint; returns the SQLSTATE the database refused it with, or None."""
        n = next(counter)
        try:
            with db.session.begin_nested():
                db.session.execute(
                    text(
                        "INSERT INTO appointments (patient_id, provider_id, service_id, starts_at, ends_at,"
                        " blocks_until, status, source, patient_note, cancel_reason, manage_token_hash,"
                        " ical_sequence, created_at, updated_at) VALUES (:patient, :provider, :service, :start,"
                        " LEAST(:start + interval '60 minutes', :blocks_until), :blocks_until, :status, 'desk', '', '', :token, 0,"
                        " now(), now())"
                    ),
                    {
                        "patient": patient.id, "provider": provider_id, "service": service.id, "start": start,
                        "blocks_until": blocks_until, "status": status, "token": f"{n:064d}",
                    },
                )
            return None
        except DBAPIError as error:
            return getattr(error.orig, "sqlstate", None)

    insert.first, insert.second = first.id, second.id
    return insert


def test_overlapping_live_row_is_refused_with_23p01(rows):
    assert rows(rows.first, at(9), at(10, 15)) is None
    # 10:00 starts inside the 15-minute buffer after the 9:00 visit
    assert rows(rows.first, at(10), at(11, 15)) == "23P01"
    # wholly inside, and wholly around
    assert rows(rows.first, at(9, 15), at(9, 30)) == "23P01"
    assert rows(rows.first, at(8), at(11)) == "23P01"
    # the same time for another provider is fine
    assert rows(rows.second, at(9), at(10, 15)) is None
    assert db.session.scalar(text("SELECT count(*) FROM appointments")) == 2


def test_touching_and_cancelled_rows_are_allowed(rows):
    assert rows(rows.first, at(9), at(10, 15)) is None
    assert rows(rows.first, at(10, 15), at(11, 30)) is None  # [9:00,10:15) then [10:15,11:30)
    assert rows(rows.first, at(7, 45), at(9)) is None  # and one ending exactly at 9:00
    assert rows(rows.first, at(9, 30), at(10, 45), status="cancelled") is None
    assert rows(rows.first, at(9), at(10, 15), status="cancelled") is None
    live = db.session.scalar(text("SELECT count(*) FROM appointments WHERE status <> 'cancelled'"))
    assert live == 3


def test_reviving_or_moving_into_an_overlap_is_refused(rows):
    assert rows(rows.first, at(9), at(10, 15)) is None
    assert rows(rows.first, at(9, 30), at(10, 45), status="cancelled") is None
    assert rows(rows.first, at(13), at(14, 15)) is None

    def update(sql: str) -> str | None:
        try:
            with db.session.begin_nested():
                db.session.execute(text(sql))
            return None
        except DBAPIError as error:
            return getattr(error.orig, "sqlstate", None)

    assert update("UPDATE appointments SET status = 'booked' WHERE status = 'cancelled'") == "23P01"
    assert update(
        "UPDATE appointments SET starts_at = starts_at - interval '4 hours',"
        " ends_at = ends_at - interval '4 hours', blocks_until = blocks_until - interval '4 hours'"
        " WHERE starts_at = (SELECT max(starts_at) FROM appointments)"
    ) == "23P01"


# --- deadlocks: retried, never a 500 ---------------------------------------------------------


@pytest.fixture
def deadlocks(pg_app):
    """A trigger that makes the next `n` writes to appointments fail with SQLSTATE 40P01."""
    def arm(n: int, on: str = "INSERT") -> None:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE SEQUENCE test_deadlock_count")
            conn.exec_driver_sql(
                "CREATE FUNCTION test_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF nextval('test_deadlock_count') <= {int(n)} THEN "
                "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER test_deadlock BEFORE {on} ON appointments "
                "FOR EACH ROW EXECUTE FUNCTION test_deadlock()"
            )

    def attempts() -> int:
        with db.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT last_value FROM test_deadlock_count").scalar_one()

    arm.attempts = attempts
    try:
        yield arm
    finally:
        db.session.rollback()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS test_deadlock ON appointments")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS test_deadlock()")
            conn.exec_driver_sql("DROP SEQUENCE IF EXISTS test_deadlock_count")


def _book(client, provider_id, start="2026-12-01T08:00:00-07:00"):
    return client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(),
    })


def test_booking_retries_after_a_deadlock(pg_app, deadlocks):
    provider = make_provider()
    make_service()
    deadlocks(2)
    response = _book(pg_app.test_client(), provider.id)
    assert response.status_code == 201, response.get_json()
    assert deadlocks.attempts() == 3
    assert db.session.scalar(text("SELECT count(*) FROM appointments")) == 1
    assert db.session.scalar(text("SELECT count(*) FROM patients")) == 1


def test_endless_deadlocks_give_up_instead_of_looping(pg_app, deadlocks):
    provider = make_provider()
    make_service()
    deadlocks(1000)
    with pytest.raises(OperationalError):
        _book(pg_app.test_client(), provider.id)
    assert deadlocks.attempts() == DEADLOCK_RETRIES + 1
    assert db.session.scalar(text("SELECT count(*) FROM appointments")) == 0


def test_reschedule_retries_after_a_deadlock_and_counts_one_change(pg_app, deadlocks):
    provider = make_provider()
    make_service()
    client = pg_app.test_client()
    booked = _book(client, provider.id, start="2026-12-03T08:00:00-07:00")  # outside the 24-hour window
    assert booked.status_code == 201, booked.get_json()
    token = booked.get_json()["manage_url"].rstrip("/").rsplit("/", 1)[-1]
    deadlocks(1, on="UPDATE")
    moved = client.post(f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-04T10:00:00-07:00"})
    assert moved.status_code == 200, moved.get_json()
    assert deadlocks.attempts() == 2
    db.session.expire_all()
    appointment = db.session.scalar(db.select(Appointment))
    assert appointment.starts_at == datetime(2026, 12, 4, 10, tzinfo=DENVER)
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=75)
    assert appointment.ical_sequence == 1
