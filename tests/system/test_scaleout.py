"""Scale-out: two app instances (gunicorn, two processes each) and two workers on one
PostgreSQL, rate limits in Redis, as behind a load balancer (TRUSTED_PROXY_HOPS=1, each
client's address in X-Forwarded-For). Bounded and on loopback only.

Under concurrent booking, rescheduling and cancelling from both instances:
- no two live appointments of a provider overlap (checked in SQL);
- every message the outbox marks sent reached the SMS sink or the SMTP server exactly once,
  and nothing else did;
- none is lost: every message that came due ends sent.
And a booking limit is one budget across both instances.
"""
from __future__ import annotations

import ast
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from tests.support.factories import patient_payload
from tests.support.helpers import (
    ROOT,
    LiveServer,
    migrate,
    postgres_available,
    require_or_skip,
    seed_demo_clinic,
    temporary_pg_database,
)
from tests.support.peers import SmtpServer, TwilioSink, smtp_settings, twilio_settings

pytestmark = pytest.mark.postgres
CLINIC_TZ = ZoneInfo("America/Denver")
REDIS_URL = "redis://127.0.0.1:6379/0"
OVERLAPS_SQL = """
    SELECT count(*) FROM appointments a
    JOIN appointments b ON a.provider_id = b.provider_id AND a.id < b.id
    WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
      AND a.starts_at < b.blocks_until AND b.starts_at < a.blocks_until
"""
CLIENTS = 64
SENT_LOG = re.compile(r"scheduler\.worker: send_due: (\{.*\})")
PRIVATE_LINK = re.compile(r"https?://\S+/l/\S+")


class Worker:
    """`flask --app wsgi worker` (the long-running one), its log in test-artifacts/."""

    def __init__(self, env: dict) -> None:
        self.log_path = ROOT / "test-artifacts" / f"scaleout-worker-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def cluster():
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        require_or_skip("Redis at 127.0.0.1:6379")
    prefix = f"scaleout-{uuid.uuid4().hex[:8]}"
    with temporary_pg_database() as url:
        migrate(url)
        seed_demo_clinic(url)
        sink, smtp = TwilioSink(), SmtpServer()
        web_env = {"RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix,
                   "TRUSTED_PROXY_HOPS": "1",
                   # any hour is in the send window: every confirmation comes due at once
                   "MESSAGE_SEND_WINDOW": "00:00-24:00"}
        servers = []
        try:
            servers = [LiveServer(url, workers=2, threads=4, extra_env=web_env) for _ in range(2)]
            yield {"url": url, "servers": servers, "sink": sink, "smtp": smtp, "prefix": prefix}
        finally:
            for server in servers:
                server.stop()
            sink.stop()
            smtp.stop()
            store = redis.Redis.from_url(REDIS_URL)
            keys = list(store.scan_iter(f"*{prefix}*"))
            if keys:
                store.delete(*keys)


def _client_address(n: int) -> dict:
    return {"X-Forwarded-For": f"10.77.{n // 200}.{n % 200 + 1}"}


def _open_slots(base: str) -> list[tuple[str, int]]:
    today = datetime.now(CLINIC_TZ).date()
    answer = requests.get(base + "/api/v1/availability", timeout=30, headers=_client_address(9999), params={
        "service": "initial-evaluation", "start": (today + timedelta(days=2)).isoformat(),
        "end": (today + timedelta(days=8)).isoformat()})
    assert answer.status_code == 200, answer.text
    return [(slot["start"], slot["provider_id"]) for slot in answer.json()["slots"]]


def _token(booking: dict) -> str:
    return booking["manage_url"].rsplit("/", 1)[1]


def _patient_journey(n: int, servers: list, pool: list[tuple[str, int]], seed: int) -> list[tuple[str, int, int]]:
    """One patient: look, book (somewhere contested), then maybe move or cancel through the
    other instance. Returns (action, instance, status) for each request."""
    rng = random.Random(seed * 1000 + n)
    here, there = (0, 1) if n % 2 == 0 else (1, 0)
    headers = _client_address(n)
    done = []
    with requests.Session() as http:
        start, provider = rng.choice(pool)
        day = start[:10]
        look = http.get(servers[here].url + "/api/v1/availability", headers=headers, timeout=30,
                        params={"service": "initial-evaluation", "start": day, "end": day})
        done.append(("availability", here, look.status_code))
        booked = http.post(servers[here].url + "/api/v1/bookings", headers=headers, timeout=30, json={
            "service": "initial-evaluation", "provider_id": provider, "start": start,
            "patient": patient_payload(first_name=f"Load{n}", phone=f"915-555-{n:04d}", email=f"load{n}@example.com")})
        done.append(("book", here, booked.status_code))
        if booked.status_code != 201:
            return done
        token = _token(booked.json())
        if n % 3 == 1:
            target = rng.choice([s for s, p in pool if p == provider and s != start])
            moved = http.post(f"{servers[there].url}/api/v1/bookings/{token}/reschedule", headers=headers,
                              timeout=30, json={"start": target})
            done.append(("reschedule", there, moved.status_code))

        elif n % 3 == 2:
            cancelled = http.post(f"{servers[there].url}/api/v1/bookings/{token}/cancel", headers=headers, timeout=30,
                                  json={"reason": "load test"})
            done.append(("cancel", there, cancelled.status_code))
    return done


def _worker_env(cluster) -> dict:
    return {**os.environ, "DATABASE_URL": cluster["url"], "FLASK_APP": "wsgi", "SECRET_KEY": "live-test-secret",
            "PUBLIC_BASE_URL": cluster["servers"][0].url, "MESSAGE_SEND_WINDOW": "00:00-24:00",
            "WORKER_SEND_INTERVAL_SECONDS": "1", "WORKER_BATCH_SIZE": "10",
            **{k: str(v) for k, v in twilio_settings(cluster["sink"].url).items()},
            **{k: str(v) for k, v in smtp_settings(cluster["smtp"].port).items()}}


def test_two_instances_and_two_workers_under_concurrent_changes(cluster):
    servers, sink, smtp = cluster["servers"], cluster["sink"], cluster["smtp"]
    engine = create_engine(cluster["url"])
    pool_all = _open_slots(servers[0].url)
    rng = random.Random(20261130)
    pool = rng.sample(pool_all, 30)  # fewer times than patients: they will collide
    workers = [Worker(_worker_env(cluster)) for _ in range(2)]
    logs = []
    try:
        deadline = time.monotonic() + 30  # both polling before the load begins, so both can take a share
        while not all("worker started" in w.log_path.read_text() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        with ThreadPoolExecutor(8) as threads:
            outcomes = [r for journey in threads.map(lambda n: _patient_journey(n, servers, pool, 1), range(CLIENTS))
                        for r in journey]
        # the workers catch up: nothing due may stay unsent
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT count(*) FROM messages WHERE status IN ('pending', 'sending') AND due_at <= now()")).scalar()
            if waiting == 0:
                break
            time.sleep(0.5)
    finally:
        logs = [w.stop() for w in workers]

    statuses = Counter((action, status) for action, _, status in outcomes)
    assert set(statuses) <= {("availability", 200), ("book", 201), ("book", 409), ("reschedule", 200),
                             ("reschedule", 409), ("cancel", 200)}, statuses
    assert statuses[("book", 201)] >= 10 and statuses[("book", 409)] >= 1, statuses
    assert statuses[("reschedule", 200)] >= 1 and statuses[("cancel", 200)] >= 1, statuses
    served = Counter(instance for action, instance, status in outcomes if status in (200, 201))
    assert served[0] > 0 and served[1] > 0  # both instances took a share

    with engine.connect() as conn:
        assert conn.execute(text(OVERLAPS_SQL)).scalar() == 0
        left = conn.execute(text(
            "SELECT status, count(*) FROM messages WHERE due_at <= now() AND status IN ('pending', 'sending', 'failed') "
            "GROUP BY status")).all()
        assert left == [], (left, logs)
        sent = conn.execute(text(
            "SELECT channel, to_address, subject, body, provider_message_id FROM messages "
            "WHERE status IN ('sent', 'delivered')")).all()
        live = conn.execute(text("SELECT count(*) FROM appointments WHERE status <> 'cancelled' AND source = 'api'")).scalar()
    engine.dispose()

    sms = [row for row in sent if row.channel == "sms"]
    emails = [row for row in sent if row.channel == "email"]
    assert len(sms) >= statuses[("book", 201)] and emails  # at least each booking's confirmation
    assert live == statuses[("book", 201)] - statuses[("cancel", 200)]
    # exactly once: what the outbox marks sent is what arrived, no more, no less
    assert not any(r["failed"] for r in sink.requests)
    # The stored text keeps "[private link]" where the patient's link was
    arrived = Counter((r["form"]["To"], PRIVATE_LINK.sub("[private link]", r["form"]["Body"])) for r in sink.delivered())
    assert arrived == Counter((row.to_address, row.body) for row in sms)
    sids = [r["sid"] for r in sink.delivered()]
    assert sorted(sids) == sorted(row.provider_message_id for row in sms)  # each row: the one send that arrived
    assert Counter((parseaddr(m["To"])[1], str(m["Subject"])) for m in smtp.received) == Counter(
        (row.to_address, row.subject) for row in emails)
    assert all("Traceback" not in log for log in logs), logs
    # both workers shared the outbox, and between them sent each row once
    per_worker = [sum(ast.literal_eval(found).get("sent", 0) for found in SENT_LOG.findall(log)) for log in logs]
    assert all(n > 0 for n in per_worker), per_worker
    assert sum(per_worker) == len(sent)


def test_a_booking_limit_is_one_budget_across_both_instances(cluster):
    """Default BOOKING_RATE_LIMIT (10 per minute): one client address, its requests spread over
    two instances of two processes each. With per-process counters it would get 40."""
    servers = cluster["servers"]
    headers = {"X-Forwarded-For": "198.51.100.77"}
    answers = []
    for n in range(14):
        answer = requests.post(servers[n % 2].url + "/api/v1/bookings", headers=headers, timeout=30, json={
            "service": "initial-evaluation", "start": "not a time", "patient": patient_payload()})
        answers.append(answer.status_code)
    assert answers[:10] == [422] * 10, answers
    assert answers[10:] == [429] * 4, answers
    other = requests.post(servers[1].url + "/api/v1/bookings", headers={"X-Forwarded-For": "198.51.100.78"}, timeout=30,
                          json={"service": "initial-evaluation", "start": "not a time", "patient": patient_payload()})
    assert other.status_code == 422  # another client keeps its own budget
    assert any(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{cluster['prefix']}*"))

