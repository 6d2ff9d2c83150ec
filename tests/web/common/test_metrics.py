"""GET /metrics: Prometheus text that a scraper parses, after real requests, on SQLite and
PostgreSQL, in one process and summed over gunicorn's worker processes."""
from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Message, Patient, Provider, WorkerRun
from scheduler.services.common.clock import now
from scheduler.services.operations.demo import seed_demo
from tests.support.factories import patient_payload
from tests.support.helpers import LiveServer, seed_demo_clinic


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of a scrape, through Prometheus's own text parser."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scraped: dict, name: str, **labels) -> float | None:
    return scraped.get((name, frozenset(labels.items())))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    app = request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")
    seed_demo()
    return app


def _booking(start: str, provider_id: int, phone: str) -> dict:
    return {"service": "initial-evaluation", "provider_id": provider_id, "start": start,
            "patient": patient_payload(phone=phone)}


def test_requests_conflicts_backlog_failures_and_worker_passes_after_real_requests(backend):
    client = backend.test_client()
    provider = db.session.scalars(select(Provider).order_by(Provider.id)).first()
    for _ in range(3):
        assert client.get("/api/v1/services").status_code == 200
    start = "2026-12-02T10:00:00-07:00"
    booked = client.post("/api/v1/bookings", json=_booking(start, provider.id, "915-555-0101"))
    assert booked.status_code == 201, booked.get_json()
    taken = client.post("/api/v1/bookings", json=_booking(start, provider.id, "915-555-0102"))
    assert taken.status_code == 409
    other = client.post("/api/v1/bookings", json=_booking("2026-12-02T13:00:00-07:00", provider.id, "915-555-0103"))
    token = urlsplit(other.get_json()["manage_url"]).path.rsplit("/", 1)[1]
    moved = client.post(f"/api/v1/bookings/{token}/reschedule", json={"start": start})
    assert moved.status_code == 409
    assert client.get("/book/no-such-service").status_code == 404

    moment = now()
    patient = db.session.scalars(select(Patient)).first()
    for status, attempts, error in [("failed", 1, "21211"), ("undelivered", 1, ""), ("pending", 2, "timeout"),
                                    ("pending", 0, "")]:
        db.session.add(Message(patient_id=patient.id, channel="sms", kind="reminder", planned_for=moment,
                               due_at=moment - timedelta(minutes=5), status=status, attempts=attempts,
                               last_error=error, created_at=moment, updated_at=moment))
    db.session.add(WorkerRun(job="send_due", last_started_at=moment - timedelta(seconds=30),
                             last_finished_at=moment - timedelta(seconds=28), last_duration_ms=1750, last_error=""))
    db.session.add(WorkerRun(job="evening_digest", last_started_at=moment - timedelta(seconds=90),
                             last_finished_at=moment - timedelta(seconds=90), last_duration_ms=20,
                             last_error="SMTP timeout"))
    db.session.commit()
    pending = dict(db.session.execute(select(Message.channel, db.func.count()).where(Message.status == "pending")
                                      .group_by(Message.channel)).all())
    assert pending["sms"] >= 2 and pending["email"] >= 1  # the bookings' confirmations, and ours

    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=")
    scraped = samples(answer.get_data(as_text=True))

    requests_total = "scheduler_http_requests_total"
    assert value(scraped, requests_total, route="/api/v1/services", method="GET", status="200") == 3
    assert value(scraped, requests_total, route="/api/v1/bookings", method="POST", status="201") == 2
    assert value(scraped, requests_total, route="/api/v1/bookings", method="POST", status="409") == 1
    # the route template, never the path with the patient's token in it
    assert value(scraped, requests_total, route="/book/<slug>", method="GET", status="404") == 1
    assert not any(token in str(labels) for _, labels in scraped)
    assert value(scraped, "scheduler_booking_conflicts_total", route="/api/v1/bookings") == 1
    assert value(scraped, "scheduler_booking_conflicts_total", route="/api/v1/bookings/<token>/reschedule") == 1

    assert value(scraped, "scheduler_outbox_messages", status="pending", channel="sms") == pending["sms"]
    assert value(scraped, "scheduler_outbox_messages", status="pending", channel="email") == pending["email"]
    assert value(scraped, "scheduler_outbox_messages", status="failed", channel="sms") == 1
    assert value(scraped, "scheduler_outbox_messages", status="undelivered", channel="sms") == 1
    assert value(scraped, "scheduler_outbox_oldest_pending_seconds") >= 300
    assert value(scraped, "scheduler_message_send_failures", outcome="failed", channel="sms") == 1
    assert value(scraped, "scheduler_message_send_failures", outcome="undelivered", channel="sms") == 1
    assert value(scraped, "scheduler_message_send_failures", outcome="retrying", channel="sms") == 1
    assert value(scraped, "scheduler_worker_last_pass_duration_seconds", job="send_due") == 1.75
    assert value(scraped, "scheduler_worker_last_pass_age_seconds", job="send_due") == 30
    assert value(scraped, "scheduler_worker_last_pass_failed", job="send_due") == 0
    assert value(scraped, "scheduler_worker_last_pass_failed", job="evening_digest") == 1
    assert value(scraped, "scheduler_database_up") == 1

    # the scrape itself is counted by the next one
    again = samples(client.get("/metrics").get_data(as_text=True))
    assert value(again, requests_total, route="/metrics", method="GET", status="200") == 1


def test_metrics_only_for_allowed_addresses_or_the_bearer_token(app):
    app.config["METRICS_TOKEN"] = "s3cret-scrape-token"
    client = app.test_client()
    outside = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics").status_code == 200  # loopback is allowed by default
    refused = client.get("/metrics", environ_base=outside)
    assert refused.status_code == 403 and b"scheduler_" not in refused.data
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.get("/metrics", environ_base=outside, headers={"Authorization": "s3cret-scrape-token"}).status_code == 403
    allowed = client.get("/metrics", environ_base=outside, headers={"Authorization": "Bearer s3cret-scrape-token"})
    assert allowed.status_code == 200 and b"scheduler_http_requests_total" in allowed.data


def test_allowed_networks_setting(tmp_path, migrated_sqlite_template, clock):
    from config import TestingConfig
    from scheduler import create_app

    path = tmp_path / "n.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                                     "METRICS_ALLOWED_NETWORKS": "10.0.0.0/8, 192.0.2.7"})
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 403
    assert client.get("/metrics").status_code == 403  # loopback is no longer listed
    with pytest.raises(ValueError, match="METRICS_ALLOWED_NETWORKS"):
        create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": "sqlite://", "METRICS_ALLOWED_NETWORKS": "10.0.0.300"})


def test_gunicorn_workers_counts_are_summed_in_multiprocess_mode(tmp_path, migrated_sqlite_template):
    """Two worker processes each count their own requests; any of them scrapes the total."""
    path = tmp_path / "live.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    seed_demo_clinic(url)
    folder = tmp_path / "prometheus"
    server = LiveServer(url, workers=2, threads=4, extra_env={"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    try:
        from concurrent.futures import ThreadPoolExecutor

        def get(_):
            return requests.get(server.url + "/api/v1/services", timeout=5).status_code  # a new connection each

        sent = 0
        with ThreadPoolExecutor(8) as pool:
            while sent < 400:  # until both processes have answered some (gunicorn decides who)
                assert set(pool.map(get, range(40))) == {200}
                sent += 40
                if len(list(folder.glob("counter_*.db"))) == 2:
                    break
        assert len(list(folder.glob("counter_*.db"))) == 2, "both worker processes answered and counted"
        totals = set()
        for _ in range(4):  # whichever worker answers the scrape, the sum is the same
            scraped = samples(requests.get(server.url + "/metrics", timeout=5).text)
            totals.add(value(scraped, "scheduler_http_requests_total",
                             route="/api/v1/services", method="GET", status="200"))
            assert value(scraped, "scheduler_outbox_messages", status="pending", channel="sms") is not None
        assert totals == {sent}
    finally:
        server.stop()


def test_a_scrape_reads_beside_a_writer_on_sqlite(tmp_path, migrated_sqlite_template, clock):
    """SQLite: the scrape begins a plain (deferred) transaction, so a booking holding the write
    lock neither blocks it nor is blocked by it."""
    import sqlite3

    from config import TestingConfig
    from scheduler import create_app

    path = tmp_path / "busy.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock,
                                     "SQLITE_BUSY_TIMEOUT_MS": 200})
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # WAL mode set up by the app's first connection
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO worker_runs (job, last_started_at, last_duration_ms, last_error) "
                       "VALUES ('send_due', '2026-11-30 14:59:00.000000', 5, '')")
        scraped = samples(client.get("/metrics").get_data(as_text=True))
        assert value(scraped, "scheduler_database_up") == 1
        assert value(scraped, "scheduler_worker_last_pass_duration_seconds", job="send_due") is None  # not committed
    finally:
        writer.execute("ROLLBACK")
        writer.close()
