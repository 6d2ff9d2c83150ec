"""Worker processes on PostgreSQL: `flask --app wsgi worker` as production runs it, two at
a time, against a real HTTP sink standing in for Twilio (it counts what arrives).

- 1,000 due messages, two workers at once -> each sent exactly once;
- the provider answering 503 for a while, then recovering -> every message sent once, none lost;
- a worker killed (SIGKILL) mid-run and another started -> nothing lost, and a duplicate only
  for a message the provider had accepted while its row was still `sending` (the documented
  at-least-once window).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert

from config import TestingConfig
from scheduler import create_app, worker
from scheduler.extensions import db
from scheduler.models import Appointment, Message, Patient, Provider, Service
from scheduler.services.operations.demo import seed_demo
from tests.support.helpers import ROOT, migrate, postgres_available, require_or_skip, temporary_pg_database
from tests.support.messaging import book, close_transports, messages, token_of
from tests.support.peers import TwilioSink, twilio_settings

pytestmark = pytest.mark.postgres
CONCURRENCY = 4
BATCH = 20


@pytest.fixture(scope="module")
def pg_url():
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    with temporary_pg_database() as url:
        migrate(url)
        yield url


@pytest.fixture(scope="module")
def sink():
    server = TwilioSink()  # answers like Twilio itself: fast enough for a thousand messages
    yield server
    server.stop()


@pytest.fixture
def pg(pg_url, sink):
    """The app in this process (to seed and inspect), on a clean database."""
    sink.reset()
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": pg_url, **twilio_settings(sink.url)})
    with app.app_context():
        seed_demo()
        yield app
        db.session.remove()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE messages, appointment_links, inbound_messages, worker_runs, audit_events, "
                                 "appointments, patients RESTART IDENTITY CASCADE")
        db.engine.dispose()


def due_messages(count: int) -> None:
    """`count` patients, each with a visit next week and a confirmation text due now."""
    moment = datetime.now(UTC)
    provider = Provider(name=f"Dr. Many {count}", active=True, accepts_online_booking=False)
    db.session.add(provider)
    db.session.flush()
    service = db.session.scalars(db.select(Service).order_by(Service.id)).first()
    first_visit = (moment + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    db.session.execute(insert(Patient), [
        dict(first_name="Pat", last_name=f"N{i}", phone_e164=f"+1915{i:07d}", email=None, language="en",
             sms_consent_at=moment, created_at=moment) for i in range(count)
    ])
    patient_ids = db.session.scalars(db.select(Patient.id).where(Patient.first_name == "Pat").order_by(Patient.id)).all()
    visits = []
    for i, patient_id in enumerate(patient_ids):
        start = first_visit + timedelta(hours=i)
        visits.append(dict(patient_id=patient_id, provider_id=provider.id, service_id=service.id, starts_at=start,
                           ends_at=start + timedelta(minutes=30), blocks_until=start + timedelta(minutes=30),
                           status="booked", source="online", manage_token_hash=secrets.token_hex(32),
                           created_at=moment, updated_at=moment))
    db.session.execute(insert(Appointment), visits)
    rows = db.session.execute(db.select(Appointment.id, Appointment.patient_id, Appointment.starts_at)
                              .where(Appointment.patient_id.in_(patient_ids))).all()
    db.session.execute(insert(Message), [
        dict(patient_id=r.patient_id, appointment_id=r.id, channel="sms", kind="confirmation", cause="patient",
             planned_for=moment, due_at=moment, send_before=r.starts_at, status="pending", attempts=0,
             to_address="", language="en", created_at=moment, updated_at=moment) for r in rows
    ])
    db.session.commit()


def worker_env(pg_url: str, sink_url: str, **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": pg_url, "FLASK_APP": "wsgi", "SECRET_KEY": "worker-test-secret",
           "PUBLIC_BASE_URL": "https://clinic.example", "MESSAGE_SEND_WINDOW": "00:00-24:00",
           **{k: str(v) for k, v in twilio_settings(sink_url).items()}}
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Worker:
    """`flask --app wsgi worker ARGS` in its own process, its log in test-artifacts/."""

    def __init__(self, env: dict, *args: str):
        self.log_path = ROOT / "test-artifacts" / f"worker-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "worker", *args], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 120) -> str:
        self.process.wait(timeout=timeout)
        self.log.close()
        return self.log_path.read_text()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.wait(10)


def start_worker(env: dict, *args: str) -> Worker:
    return Worker(env, *args)


def statuses() -> Counter:
    db.session.rollback()
    return Counter(db.session.scalars(db.select(Message.status)).all())


def sent_per_number(sink) -> Counter:
    return Counter(r["form"]["To"] for r in sink.delivered())


def test_two_workers_send_a_thousand_messages_each_exactly_once(pg, pg_url, sink):
    due_messages(1000)
    env = worker_env(pg_url, sink.url, WORKER_BATCH_SIZE=20)
    workers = [start_worker(env, "--once", "--digest", "skip") for _ in range(2)]
    outputs = [w.wait() for w in workers]
    assert [w.process.returncode for w in workers] == [0, 0], outputs
    per_number = sent_per_number(sink)
    assert len(per_number) == 1000 and set(per_number.values()) == {1}
    assert len(sink.requests) == 1000
    assert statuses() == Counter({"sent": 1000})
    # Both did a share of the work (the claim hands out disjoint rows; neither waited for the other).
    assert all("sent" in out for out in outputs), outputs
    ids = db.session.scalars(db.select(Message.provider_message_id)).all()
    assert len(set(ids)) == 1000


def test_the_provider_down_for_a_while_loses_nothing_and_sends_once(pg, pg_url, sink):
    due_messages(200)
    sink.fail(60, 503)  # down for the first 60 requests, whoever sends them
    env = worker_env(pg_url, sink.url, MESSAGE_RETRY_BASE_SECONDS=0.3, MESSAGE_RETRY_MAX_SECONDS=2, WORKER_BATCH_SIZE=20)
    deadline = time.monotonic() + 60
    while statuses().get("sent", 0) < 200 and time.monotonic() < deadline:
        pair = [start_worker(env, "--once", "--digest", "skip") for _ in range(2)]
        for w in pair:
            w.wait()
        time.sleep(0.2)
    assert statuses() == Counter({"sent": 200})
    assert any(r["failed"] for r in sink.requests)  # the provider really was down
    per_number = sent_per_number(sink)
    assert len(per_number) == 200 and set(per_number.values()) == {1}
    retried = db.session.scalar(db.select(db.func.count()).where(Message.attempts > 1))
    assert retried > 0


def test_a_worker_killed_mid_run_loses_nothing(pg, pg_url, sink):
    due_messages(300)
    sink.delay = 0.01
    env = worker_env(pg_url, sink.url, MESSAGE_CLAIM_LEASE_SECONDS=4, TWILIO_TIMEOUT_SECONDS=1,
                     SMTP_TIMEOUT_SECONDS=1, WORKER_BATCH_SIZE=BATCH, WORKER_SEND_INTERVAL_SECONDS=1,
                     WORKER_CONCURRENCY=CONCURRENCY)
    victim = start_worker(env)  # the long-running worker, as ./scripts/start runs it
    deadline = time.monotonic() + 60
    while len(sink.delivered()) < 70 and time.monotonic() < deadline:  # mid-batch (batches of 20)
        time.sleep(0.02)
    victim.kill()
    accepted_before = {r["form"]["To"] for r in sink.delivered()}
    db.session.rollback()
    in_flight = set(db.session.scalars(
        db.select(Patient.phone_e164).join(Message, Message.patient_id == Patient.id).where(Message.status == "sending")
    ).all())
    assert in_flight, "the kill should leave claimed rows behind"
    assert statuses()["sent"] < 300

    sink.delay = 0.0
    deadline = time.monotonic() + 60
    while statuses().get("sent", 0) < 300 and time.monotonic() < deadline:
        start_worker(env, "--once", "--digest", "skip").wait()
        time.sleep(0.5)  # the dead worker's lease (4 s) must run out first
    assert statuses() == Counter({"sent": 300})
    per_number = sent_per_number(sink)
    assert set(per_number) == {f"+1915{i:07d}" for i in range(300)}  # nothing lost
    duplicates = {number for number, times in per_number.items() if times > 1}
    # Only a message the provider had accepted while its row still said `sending`: at most
    # the batch the worker had in hand when it died.
    assert duplicates <= (in_flight & accepted_before)
    assert len(duplicates) <= BATCH


@pytest.mark.parametrize("args, last_words", [((), "worker stopped"), (("--once", "--digest", "skip"), "send_due=")],
                         ids=["long-running", "once"])
def test_a_worker_stopped_mid_run_records_its_batches_and_leaves_the_rest(pg, pg_url, sink, args, last_words):
    """SIGTERM (the start script's stop, a deploy, a service manager stopping a cron run)
    while a backlog is going out: the worker finishes the batches it holds, records them,
    claims no more and exits; nothing is left `sending`, so the next worker sends the rest at
    once and nothing twice."""
    due_messages(300)
    sink.delay = 0.01
    env = worker_env(pg_url, sink.url, WORKER_BATCH_SIZE=BATCH, WORKER_SEND_INTERVAL_SECONDS=1,
                     WORKER_CONCURRENCY=CONCURRENCY)
    worker = start_worker(env, *args)
    deadline = time.monotonic() + 60
    while len(sink.delivered()) < 70 and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.process.send_signal(signal.SIGTERM)
    output = worker.wait(timeout=20)
    assert worker.process.returncode == 0, output
    assert last_words in output
    after_stop = statuses()
    assert "sending" not in after_stop, after_stop
    assert 70 <= after_stop["sent"] < 300  # it stopped early rather than working off the backlog
    assert after_stop["sent"] == len(sink.delivered())

    sink.delay = 0.0
    start_worker(env, "--once", "--digest", "skip").wait()
    assert statuses() == Counter({"sent": 300})
    per_number = sent_per_number(sink)
    assert len(per_number) == 300 and set(per_number.values()) == {1}


@pytest.fixture
def pg_clocked(pg_url, sink, clock):
    sink.reset()
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": pg_url, "CLOCK": clock,
                                     "PUBLIC_BASE_URL": "https://clinic.example", **twilio_settings(sink.url)})
    with app.app_context():
        yield app
        close_transports(app)
        db.session.remove()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE messages, appointment_links, inbound_messages, worker_runs, audit_events, "
                                 "appointments, patients RESTART IDENTITY CASCADE")
        db.engine.dispose()


def test_on_postgresql_a_moved_visit_carries_its_new_time_and_a_cancelled_one_sends_nothing(pg_clocked, clock, sink):
    client = pg_clocked.test_client()
    moved = book(client, "2026-12-03T10:00:00-07:00")
    cancelled = book(client, "2026-12-03T15:00:00-07:00", phone="915-555-0177", first_name="Luis")
    assert client.post(f"/api/v1/bookings/{token_of(moved)}/reschedule",
                       json={"start": "2026-12-04T14:00:00-07:00"}).status_code == 200
    assert client.post(f"/api/v1/bookings/{token_of(cancelled)}/cancel", json={}).status_code == 200
    worker.run_once()
    sink.reset()
    clock.now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # 24 h before both original times
    worker.run_once()
    clock.now = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)
    worker.run_once()
    assert sink.delivered() == []
    clock.now = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)  # 24 h before the new time
    worker.run_once()
    [reminder] = sink.delivered()
    assert reminder["form"]["To"] == "+19155550123" and "2:00" in reminder["form"]["Body"]
    assert "Dec 4" in reminder["form"]["Body"] or "December 4" in reminder["form"]["Body"]
    assert not [m for m in messages(kind="reminder") if m.appointment_id == cancelled["id"] and m.status == "sent"]
