"""What operators rely on: the health answer a load balancer and a monitor read, one log line
per request, and no patient's details in any log."""
from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from config import ProductionConfig, TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Message, Patient, WorkerRun
from scheduler.services.common.clock import now
from tests.support.helpers import LiveServer, free_port, postgres_available, require_or_skip


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


def _patient() -> Patient:
    patient = Patient(first_name="Ana", last_name="Garcia", phone_e164="+19155550123", email="ana@example.com",
                      created_at=now())
    db.session.add(patient)
    db.session.flush()
    return patient


def _message(patient: Patient, status: str, due_minutes_ago: int) -> Message:
    moment = now()
    due = moment - timedelta(minutes=due_minutes_ago)
    return Message(patient_id=patient.id, channel="sms", kind="reminder", planned_for=due, due_at=due, status=status,
                   created_at=moment, updated_at=moment)


def test_health_with_no_worker_yet_is_degraded_but_serving(backend):
    answer = backend.test_client().get("/api/v1/health")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    assert body["worker"] == {"stale": True, "stale_after_seconds": 300, "jobs": {}}
    assert body["outbox"] == {"pending": 0, "sending": 0, "failed": 0, "undelivered": 0,
                              "oldest_pending_seconds": 0}


def test_health_reports_the_workers_last_pass_and_the_backlog(backend):
    moment = now()
    db.session.add(WorkerRun(job="send_due_messages", last_started_at=moment - timedelta(seconds=42),
                             last_finished_at=moment - timedelta(seconds=41), last_duration_ms=812, last_error=""))
    db.session.add(WorkerRun(job="expire_claims", last_started_at=moment - timedelta(hours=2),
                             last_finished_at=None, last_duration_ms=0, last_error="SMTP timeout"))
    patient = _patient()
    db.session.add_all([_message(patient, "pending", 10), _message(patient, "pending", 3), _message(patient, "failed", 60),
                        _message(patient, "sent", 90), _message(patient, "sending", 1)])
    db.session.commit()
    body = backend.test_client().get("/api/v1/health").get_json()
    assert body["status"] == "ok"
    assert body["worker"]["stale"] is False
    sender = body["worker"]["jobs"]["send_due_messages"]
    assert sender["seconds_since_last_start"] == 42.0 and sender["last_duration_ms"] == 812
    assert sender["last_error"] is None
    assert body["worker"]["jobs"]["expire_claims"]["last_error"] == "SMTP timeout"
    assert body["outbox"] == {"pending": 2, "sending": 1, "failed": 1, "undelivered": 0,
                              "oldest_pending_seconds": 600.0}


def test_reminders_due_later_do_not_count_towards_the_oldest_pending_age(backend):
    """A reminder planned for tomorrow is pending but not late: the age is of the oldest
    message that is due and not yet sent, and 0 when nothing is due."""
    patient = _patient()
    db.session.add(_message(patient, "pending", -24 * 60))  # due in a day
    db.session.commit()
    client = backend.test_client()
    outbox = client.get("/api/v1/health").get_json()["outbox"]
    assert outbox["pending"] == 1 and outbox["oldest_pending_seconds"] == 0
    db.session.add(_message(patient, "pending", 5))
    db.session.commit()
    assert client.get("/api/v1/health").get_json()["outbox"]["oldest_pending_seconds"] == 300.0


def test_a_stale_worker_is_reported_but_keeps_the_web_in_rotation(backend, clock):
    db.session.add(WorkerRun(job="send_due_messages", last_started_at=now() - timedelta(minutes=4),
                             last_finished_at=now(), last_duration_ms=5))
    db.session.commit()
    client = backend.test_client()
    assert client.get("/api/v1/health").get_json()["worker"]["stale"] is False
    clock.advance(minutes=2)  # six minutes since the last pass: past WORKER_STALE_SECONDS
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "degraded" and answer.get_json()["worker"]["stale"] is True


@pytest.mark.parametrize("database", ["sqlite in a missing folder", "postgresql nobody listens on"])
def test_health_answers_503_when_the_database_does_not_answer(database, tmp_path):
    url = (f"sqlite:///{tmp_path / 'missing' / 'x.db'}" if database.startswith("sqlite")
           else f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/clinic")
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
    answer = app.test_client().get("/api/v1/health")
    assert answer.status_code == 503
    assert answer.get_json() == {"status": "unavailable", "database": "unreachable"}


def test_health_on_a_live_postgresql_server_goes_503_when_the_database_goes_away():
    """The real thing: gunicorn on PostgreSQL, then the database is dropped under it."""
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    from tests.support.helpers import temporary_pg_database

    with temporary_pg_database() as url:  # not even migrated: the database answers, so 200
        server = LiveServer(url, workers=1, threads=2)
        try:
            serving = requests.get(server.url + "/api/v1/health", timeout=5)
            assert serving.status_code == 200 and serving.json()["status"] == "degraded"
            assert serving.json()["problems"] == ["worker_runs unreadable", "messages unreadable"]
            import psycopg

            from tests.support.helpers import PG_ADMIN_URL

            name = url.rsplit("/", 1)[1]
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            answer = requests.get(server.url + "/api/v1/health", timeout=10)
            assert answer.status_code == 503 and answer.json()["database"] == "unreachable"
        finally:
            server.stop()


# --- logs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def json_logged_server(tmp_path_factory, migrated_sqlite_template):
    path = tmp_path_factory.mktemp("logs") / "logs.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    server = LiveServer(f"sqlite:///{path}", workers=1, threads=2, extra_env={"LOG_FORMAT": "json"})
    yield server
    server.stop()


def test_one_json_line_per_request_and_no_patient_details_in_the_log(json_logged_server, tmp_path):
    server = json_logged_server
    base = server.url
    services = requests.get(base + "/api/v1/services", timeout=5)
    assert services.status_code == 200
    sent = [("GET", "/api/v1/services", 200, "/api/v1/services")]
    refused = requests.post(base + "/api/v1/bookings", timeout=5, json={
        "service": "nothing", "start": "2026-12-02T09:00:00-07:00",
        "patient": {"first_name": "Rosalinda", "last_name": "Quetzalcoatl", "phone": "915-555-0177",
                    "email": "rosalinda.q@example.com"}}, headers={"X-Request-ID": "trace-abc.123"})
    assert refused.status_code == 422 and refused.headers["X-Request-ID"] == "trace-abc.123"
    sent.append(("POST", "/api/v1/bookings", 422, "/api/v1/bookings"))
    secret_link = "/appointments/InNlY3JldCI.aw2PcA.not-a-real-signature"
    assert requests.get(base + secret_link, timeout=5).status_code == 404
    sent.append(("GET", secret_link, 404, "/appointments/<token>"))
    assert requests.head(base + "/book/nothing", timeout=5).status_code == 404
    sent.append(("HEAD", "/book/nothing", 404, "/book/<slug>"))
    assert requests.get(base + "/no/such/page?email=rosalinda.q@example.com", timeout=5).status_code == 404
    sent.append(("GET", "/no/such/page", 404, "<no route>"))
    forged = requests.get(base + "/api/v1/services", headers={"X-Request-ID": "bad id\twith spaces"}, timeout=5)
    assert forged.headers["X-Request-ID"] != "bad id\twith spaces" and len(forged.headers["X-Request-ID"]) == 32
    sent.append(("GET", "/api/v1/services", 200, "/api/v1/services"))

    server.log.flush()
    with open(server.log.name, encoding="utf-8") as file:
        log = file.read()
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"request_id"' in line]
    ours = [line for line in lines if line["route"] != "/api/v1/health"]
    assert [(entry["method"], entry["status"], entry["route"]) for entry in ours] == [(m, s, r) for m, _p, s, r in sent]
    assert all(set(entry) >= {"time", "level", "request_id", "method", "route", "status", "duration_ms"} for entry in ours)
    assert all(isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0 for entry in ours)
    assert ours[1]["request_id"] == "trace-abc.123"
    for secret in ("Rosalinda", "Quetzalcoatl", "555-0177", "5550177", "rosalinda.q", "not-a-real-signature", "InNlY3JldCI"):
        assert secret not in log


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_errors_are_logged_without_emails_phone_numbers_or_statement_values(database, request, tmp_path,
                                                                            migrated_sqlite_template, clock):
    if database == "sqlite":
        path = tmp_path / "errors.db"
        path.write_bytes(migrated_sqlite_template.read_bytes())
        url = f"sqlite:///{path}"
    else:
        if not postgres_available():
            require_or_skip("PostgreSQL at 127.0.0.1:5432")
        url = request.getfixturevalue("pg_template_url")
    app = create_app(ProductionConfig, {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "CLOCK": clock})
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    app.logger.addHandler(handler)

    def broken():
        # created_at missing: PostgreSQL's error repeats the whole row in its DETAIL
        db.session.execute(text("INSERT INTO patients (first_name, last_name, phone_e164, email, language) "
                                "VALUES (:first, :last, :phone, :email, 'en')"),
                           {"first": "Rosalinda", "last": "Quetzalcoatl", "phone": "+19155550177",
                            "email": "rosa@example.com"})
        raise AssertionError("unreachable")

    def careless():
        raise ValueError("could not text +1 915-555-0177 for rosa@example.com")

    app.add_url_rule("/_broken", "broken", broken)
    app.add_url_rule("/_careless", "careless", careless)
    try:
        client = app.test_client()
        assert client.get("/_broken").status_code == 500
        assert client.get("/_careless").status_code == 500
    finally:
        app.logger.removeHandler(handler)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    logged = captured.getvalue()
    assert "IntegrityError" in logged and "hidden due to hide_parameters" in logged
    assert "[phone]" in logged and "[email]" in logged
    for secret in ("Rosalinda", "Quetzalcoatl", "rosa@example.com", "555-0177", "5550177"):
        assert secret not in logged


def test_health_asks_the_database_two_questions(backend):
    """Load balancers ask often: the worker's passes and the outbox backlog, nothing more
    (the database's own "SELECT 1" only after one of them failed)."""
    from tests.support.statements import is_transaction_control, statements_sent

    with statements_sent() as sent:
        assert backend.test_client().get("/api/v1/health").status_code == 200
    seen = [statement for statement in sent if not is_transaction_control(statement)]
    assert len(seen) == 2, seen
    assert "worker_runs" in seen[0] and "messages" in seen[1]
