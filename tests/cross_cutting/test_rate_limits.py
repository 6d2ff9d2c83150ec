"""Rate limits on booking and on the manage link (SMS pumping, token guessing)."""
from __future__ import annotations

import shutil
import uuid

import redis

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.helpers import require_or_skip


def _limited_app(tmp_path, template, clock, storage="memory://"):
    path = tmp_path / "limits.db"
    shutil.copyfile(template, path)
    return create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock, "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": storage, "BOOKING_RATE_LIMIT": "3 per minute", "MANAGE_RATE_LIMIT": "5 per minute",
        "LOGIN_RATE_LIMIT": "4 per minute",
    })


def _exercise(app):
    with app.app_context():
        provider = make_provider()
        make_service()
        client = app.test_client()
        statuses = []
        for hour in range(9, 13):
            statuses.append(client.post("/api/v1/bookings", json={
                "service": "evaluation", "provider_id": provider.id, "start": f"2026-12-0{hour - 7}T{hour:02d}:00:00-07:00",
                "patient": patient_payload()}).status_code)
        page = client.post(f"/book/evaluation/{provider.id}/details", data={"start": "2026-12-07T09:00:00-07:00"})
        manage = [client.get("/appointments/some-token").status_code for _ in range(6)]
        db.session.remove()
        db.engine.dispose()
        return statuses, page, manage


def test_booking_and_manage_are_rate_limited(tmp_path, migrated_sqlite_template, clock):
    statuses, page, manage = _exercise(_limited_app(tmp_path, migrated_sqlite_template, clock))
    assert statuses[:3] == [201, 201, 201] and statuses[3] == 429
    assert page.status_code == 429 and "Too many requests" in page.get_data(as_text=True)
    assert manage[:5] == [404] * 5 and manage[5] == 429


def test_limits_are_shared_through_redis(tmp_path, migrated_sqlite_template, clock):
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.RedisError:
        require_or_skip("Redis at 127.0.0.1:6379")
    prefix_db = f"redis://127.0.0.1:6379/{uuid.uuid4().int % 15 + 1}"
    redis.Redis.from_url(prefix_db).flushdb()
    try:
        statuses, _page, _manage = _exercise(_limited_app(tmp_path, migrated_sqlite_template, clock, prefix_db))
        assert statuses.count(429) == 1
        # The counters live in Redis, where every web worker sees them.
        assert redis.Redis.from_url(prefix_db).dbsize() > 0
    finally:
        redis.Redis.from_url(prefix_db).flushdb()


def test_client_address_behind_a_proxy(tmp_path, migrated_sqlite_template, clock):
    path = tmp_path / "proxy.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TRUSTED_PROXY_HOPS": 1})
    seen = []
    app.add_url_rule("/_whoami", "whoami", lambda: seen.append(__import__("flask").request.remote_addr) or "ok")
    app.test_client().get("/_whoami", environ_base={"REMOTE_ADDR": "10.0.0.1"},
                          headers={"X-Forwarded-For": "203.0.113.9"})
    assert seen == ["203.0.113.9"]


def test_staff_sign_in_is_rate_limited(tmp_path, migrated_sqlite_template, clock):
    app = _limited_app(tmp_path, migrated_sqlite_template, clock)
    with app.app_context():
        client = app.test_client()
        tries = [client.post("/staff/login", data={"email": "desk@example.com", "password": f"guess {i}"}).status_code
                 for i in range(5)]
        assert tries == [401, 401, 401, 401, 429]
        assert client.get("/staff/login").status_code == 200  # only attempts count
        db.session.remove()
        db.engine.dispose()


def test_sending_links_is_rate_limited_apart_from_viewing(tmp_path, migrated_sqlite_template, clock, monkeypatch):
    """"Send me my link" and "Text it to me" send messages: one small budget for both."""
    from scheduler.services.messages import outbox

    sent = []
    monkeypatch.setattr(outbox, "plan_links", lambda appointments, *, channel, cause: sent.append(channel))
    app = _limited_app(tmp_path, migrated_sqlite_template, clock)
    app.config["LINK_REQUEST_RATE_LIMIT"] = "3 per minute"
    with app.app_context():
        provider = make_provider()
        make_service()
        client = app.test_client()
        booked = client.post("/api/v1/bookings", json={"service": "evaluation", "provider_id": provider.id,
                             "start": "2026-12-02T09:00:00-07:00", "patient": patient_payload()}).get_json()
        path = booked["manage_url"].removeprefix("http://localhost")
        assert client.get("/appointments/send-link").status_code == 200  # showing the form is free
        statuses = [client.post("/appointments/send-link", data={"contact": "915-555-0123"}).status_code,
                    client.post(f"{path}/send-link", data={"channel": "sms"}).status_code,
                    client.post("/appointments/send-link", data={"contact": "nobody@example.com"}).status_code,
                    client.post(f"{path}/send-link", data={"channel": "email"}).status_code]
        assert statuses == [200, 303, 200, 429]
        assert sent == ["sms", "sms"]
        assert client.get(path).status_code == 200  # the page itself still opens
        db.session.remove()
        db.engine.dispose()
