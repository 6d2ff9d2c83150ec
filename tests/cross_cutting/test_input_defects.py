"""The defects found by probing the running app, each pinned by a test that failed before its fix.

1. deeply nested JSON crashed the parser (500);  2. NUL reached PostgreSQL (500);
3. HEAD ran the booking form's POST branch;  4. control/bidi characters in a cancel reason,
a start with a trailing NUL, full-width digits and phone extensions were taken;
5. no request size limit;  6. the base settings in production;  7. 405 without Allow.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from config import ProductionConfig, TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Appointment, Patient, User
from scheduler.services.appointments.booking_input import parse_provider_id, parse_start
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.staff.accounts import create_user
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.helpers import ROOT, LiveServer

START = "2026-12-02T09:00:00-07:00"  # Wednesday, more than a day after the frozen clock
OFFICE_NUMBER = "915-850-0900"
NESTED = "[" * 980 + "]" * 980


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    """The same test on the embedded database and on PostgreSQL (where NUL used to crash)."""
    return request.getfixturevalue("app" if request.param == "sqlite" else "pg_app")


@pytest.fixture
def booked(backend):
    """(client, token, appointment id): one visit booked through the API."""
    provider = make_provider("Dr. First")
    make_service("evaluation")
    client = backend.test_client()
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider.id, "start": START, "patient": patient_payload()})
    assert response.status_code == 201, response.get_json()
    token = urlsplit(response.get_json()["manage_url"]).path.rsplit("/", 1)[1]
    return client, token, response.get_json()["id"]


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def assert_refused(response, status: int, field: str):
    """The API's usual error shape with a message for the field."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["error"] == "validation_failed" and body["fields"][field], body


# --- 1. deeply nested JSON ------------------------------------------------------------------


@pytest.mark.parametrize("depth", [980, 20_000])  # 20,000: still under the size limit
def test_deeply_nested_json_is_refused_everywhere_not_a_crash(booked, depth):
    client, token, appointment_id = booked
    nested = "[" * depth + "]" * depth
    for url in ("/api/v1/bookings", f"/api/v1/bookings/{token}/cancel", f"/api/v1/bookings/{token}/reschedule"):
        response = client.post(url, data=nested, content_type="application/json")
        assert_refused(response, 422, "body")
        assert "nested" in response.get_json()["fields"]["body"]
    assert db.session.get(Appointment, appointment_id).status == "booked"


def test_json_nested_past_the_limit_inside_a_field_is_refused(booked):
    client, _token, _id = booked
    deep: object = "x"
    for _ in range(40):
        deep = [deep]
    body = {"service": "evaluation", "start": START, "patient": {**patient_payload(), "note": deep}}
    assert_refused(client.post("/api/v1/bookings", json=body), 422, "body")
    assert count(Appointment) == 1


# --- 2. NUL never reaches the database ------------------------------------------------------


def test_nul_in_every_kind_of_input_gets_a_4xx_on_both_databases(booked):
    client, token, appointment_id = booked
    assert_refused(client.get("/api/v1/availability?service=initial%00evaluation&start=2026-12-01&end=2026-12-02"),
                   422, "service")
    assert_refused(client.post("/api/v1/bookings", json={
        "service": "initial\u0000evaluation", "start": START, "patient": patient_payload()}), 422, "service")
    assert client.get("/book/initial%00evaluation").status_code == 404
    assert client.get("/book/evaluation%00").status_code == 404
    create_user("admin@example.com", "a long enough password", "admin")
    login = client.post("/staff/login", data={"email": "admin@example.com\x00", "password": "a long enough password"})
    assert login.status_code == 422 and "U+0000" in login.get_data(as_text=True)
    assert_refused(client.post(f"/api/v1/bookings/{token}/cancel", json={"reason": "moving\u0000away"}), 422, "reason")
    page = client.post(f"/appointments/{token}/cancel", data={"reason": "moving\x00away"})
    assert page.status_code == 422 and "915-850-0900" in page.get_data(as_text=True)
    assert db.session.get(Appointment, appointment_id).status == "booked"
    assert count(Appointment) == 1 and count(Patient) == 1


# --- 3. HEAD never books ---------------------------------------------------------------------


def test_head_with_a_form_body_books_nothing_even_past_the_rate_limit(tmp_path, migrated_sqlite_template, clock):
    path = tmp_path / "limited.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    app = create_app(TestingConfig, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock, "RATELIMIT_ENABLED": True,
        "BOOKING_RATE_LIMIT": "3 per minute", "WTF_CSRF_ENABLED": True})
    with app.app_context():
        provider = make_provider("Dr. First")
        make_service("evaluation")
        client = app.test_client()
        form = {"start": START, **patient_payload(sms_opt_in="yes")}
        url = f"/book/evaluation/{provider.id}/details"
        heads = [client.open(f"{url}?start={START}", method="HEAD", data=form).status_code for _ in range(15)]
        assert heads == [200] * 15  # the form page, without its body
        assert count(Appointment) == 0 and count(Patient) == 0
        # A POST still needs its CSRF token, and counts against the limit.
        assert client.post(url, data=form).status_code == 400
        page = client.get(f"{url}?start={START}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        posts = [client.post(url, data={**form, "csrf_token": token}).status_code for _ in range(4)]
        assert posts == [303, 409, 409, 429]
        assert count(Appointment) == 1
        db.session.remove()
        db.engine.dispose()


def test_head_is_answered_like_get_everywhere(booked):
    client, token, _id = booked
    for url in ("/", "/book/evaluation", f"/appointments/{token}", "/api/v1/services"):
        head, get = client.head(url), client.get(url)
        assert head.status_code == get.status_code == 200 and head.get_data() == b""
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


# --- 4. free text, start times, ids, phone extensions -------------------------------------


@pytest.mark.parametrize("reason", ["please \x07 call", "gpj\u202eexe", "a\x1b[2Jb", "x\u2066y"])
def test_a_cancel_reason_with_control_or_bidi_characters_is_refused(booked, reason):
    client, token, appointment_id = booked
    assert_refused(client.post(f"/api/v1/bookings/{token}/cancel", json={"reason": reason}), 422, "reason")
    page = client.post(f"/appointments/{token}/cancel", data={"reason": reason})
    assert page.status_code == 422
    stored = db.session.get(Appointment, appointment_id)
    db.session.refresh(stored)
    assert stored.status == "booked" and stored.cancel_reason in (None, "")


def test_a_cancel_reason_on_several_lines_is_still_taken(booked):
    client, token, appointment_id = booked
    response = client.post(f"/api/v1/bookings/{token}/cancel", json={"reason": "Moving away.\r\nThanks!"})
    assert response.status_code == 200
    assert db.session.get(Appointment, appointment_id).cancel_reason == "Moving away. Thanks!"


@pytest.mark.parametrize("raw", [
    "2026-12-16T08:00\u0000", "2026-12-16T08:00:00-07:00\x00", "\uff12026-12-16T08:00:00-07:00",
    "2026-12-16T０8:00:00-07:00", "2026-W51-3T08:00", "20261216T080000", "2026-12-16T08:00:00-07:00 junk",
    "2026-12-16T08:00:00-0700",
])
def test_start_times_are_read_strictly(app, raw):
    with pytest.raises(ValidationFailed) as refused:
        parse_start(raw)
    assert set(refused.value.fields) == {"start"}


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026-12-16T08:00:00-07:00", "2026-12-16T15:00:00+00:00"),
    ("2026-12-16t15:00:00z", "2026-12-16T15:00:00+00:00"),
    ("2026-12-16T15:00:00.123456789Z", "2026-12-16T15:00:00.123456+00:00"),
    ("2026-12-16T08:00", "2026-12-16T15:00:00+00:00"),  # clinic wall time
])
def test_well_formed_start_times_still_parse(app, raw, expected):
    assert parse_start(raw).isoformat() == expected


def test_a_reschedule_start_with_a_trailing_nul_is_refused_not_read_as_eight(booked):
    client, token, appointment_id = booked
    before = db.session.get(Appointment, appointment_id).starts_at
    assert_refused(client.post(f"/api/v1/bookings/{token}/reschedule", json={"start": "2026-12-16T08:00\u0000"}),
                   422, "start")
    page = client.post(f"/appointments/{token}/reschedule", data={"start": "2026-12-16T08:00\x00"})
    assert page.status_code == 422
    assert db.session.get(Appointment, appointment_id).starts_at == before


@pytest.mark.parametrize("raw", ["１", "٣", "1\u0000", "+1", " 1", "01", "1_0", "²"])
def test_provider_ids_are_ascii_digits_only(app, raw):
    with pytest.raises(ValidationFailed):
        parse_provider_id(raw)


def test_a_full_width_provider_is_not_provider_one(booked):
    client, _token, _id = booked
    answer = client.get("/api/v1/availability?service=evaluation&start=2026-12-02&end=2026-12-02&provider=%EF%BC%91")
    assert_refused(answer, 422, "provider")
    booking = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": "１", "start": "2026-12-02T13:00:00-07:00",
        "patient": patient_payload(email="luis@example.com", first_name="Luis")})
    assert_refused(booking, 422, "provider_id")
    assert count(Appointment) == 1


@pytest.mark.parametrize("phone", ["915-555-0199 ext. 45", "(915) 555-0199 x12", "+1 915 555 0199;ext=7"])
def test_a_phone_extension_is_refused_not_dropped(booked, phone):
    client, _token, _id = booked
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "start": "2026-12-02T13:00:00-07:00", "patient": patient_payload(phone=phone)})
    assert_refused(response, 422, "phone")
    assert "extension" in response.get_json()["fields"]["phone"]
    assert count(Patient) == 1


# --- 5. request size --------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_in_the_usual_shape(booked):
    client, token, _id = booked
    limit = client.application.config["MAX_CONTENT_LENGTH"]
    big = b'{"reason": "' + b"x" * limit + b'"}'
    api = client.post(f"/api/v1/bookings/{token}/cancel", data=big, content_type="application/json")
    assert api.status_code == 413 and api.get_json()["error"] == "too_large" and api.get_json()["message"]
    page = client.post(f"/appointments/{token}/cancel", data={"reason": "x" * limit})
    assert page.status_code == 413 and "915-850-0900" in page.get_data(as_text=True)
    many = client.post(f"/appointments/{token}/cancel", data={f"f{i}": "1" for i in range(500)},
                       content_type="multipart/form-data")
    assert many.status_code == 413
    assert db.session.get(Appointment, _id).status == "booked"


@pytest.fixture(scope="module")
def live(tmp_path_factory, migrated_sqlite_template):
    path = tmp_path_factory.mktemp("live") / "live.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    server = LiveServer(f"sqlite:///{path}", workers=1, threads=2, extra_env={"TRUSTED_PROXY_HOPS": "1"})
    yield server
    server.stop()


def test_a_100_mb_upload_is_refused_on_its_header_without_being_read(live):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live.port), timeout=5) as conn:
        conn.sendall(b"POST /api/v1/bookings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n" + b"[" * 1000)
        answer = b""
        while b'"}' not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        answer = answer.decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert '"too_large"' in answer
    assert time.monotonic() - started < 2


# --- 6. production settings -------------------------------------------------------------------


@pytest.mark.parametrize(("env", "secure"), [({}, True), ({"APP_ENV": "development"}, False),
                                              ({"FLASK_ENV": "testing"}, False)])
def test_wsgi_runs_production_settings_unless_told_otherwise(env, secure, tmp_path):
    clean = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "FLASK_ENV", "SESSION_COOKIE_SECURE"}}
    probe = "import wsgi; c = wsgi.app.config; print(c['SESSION_COOKIE_SECURE'], c['MAX_CONTENT_LENGTH'])"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True,
                            env={**clean, **env, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                                 "SECRET_KEY": "probe"})
    assert result.stdout.split() == [str(secure), str(64 * 1024)]


def test_hsts_only_over_https_and_behind_a_trusted_proxy_only(tmp_path, migrated_sqlite_template, clock):
    path = tmp_path / "hsts.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    for hops, expected_behind_proxy in ((0, False), (1, True)):
        app = create_app(ProductionConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock,
                                            "SECRET_KEY": "hsts", "TRUSTED_PROXY_HOPS": hops})
        client = app.test_client()
        assert "Strict-Transport-Security" not in client.get("/api/v1/health").headers
        assert client.get("/api/v1/health", base_url="https://localhost").headers[
            "Strict-Transport-Security"] == "max-age=31536000"
        proxied = client.get("/api/v1/health", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "1.2.3.4"})
        assert ("Strict-Transport-Security" in proxied.headers) is expected_behind_proxy


def test_live_server_behind_a_proxy_sends_hsts_for_https_only(live):
    import requests

    assert "Strict-Transport-Security" not in requests.get(live.url + "/api/v1/health", timeout=5).headers
    proxied = requests.get(live.url + "/", headers={"X-Forwarded-Proto": "https"}, timeout=5)
    assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000"


# --- 7. 405 answers say what is allowed ----------------------------------------------------


def test_405_answers_carry_an_allow_header_and_the_usual_shape(booked):
    client, token, _id = booked
    api = client.put("/api/v1/bookings")
    assert api.status_code == 405 and api.get_json()["error"] == "method_not_allowed"
    assert set(api.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    page = client.delete("/book/evaluation/any/details")
    assert page.status_code == 405 and "915-850-0900" in page.get_data(as_text=True)
    assert set(page.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST", "OPTIONS"}
    staff = client.patch("/staff/logout")
    assert staff.status_code == 405 and "POST" in staff.headers["Allow"]
    assert count(User) == 0


# --- the gate's one way through, for views that must keep any text (webhooks) ---------------


def test_a_view_marked_takes_any_text_gets_its_text_but_not_a_deep_or_huge_body(tmp_path, migrated_sqlite_template):
    from flask import request

    from scheduler.web.common.input_guard import takes_any_text

    path = tmp_path / "webhook.db"
    path.write_bytes(migrated_sqlite_template.read_bytes())
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    seen = []

    @takes_any_text
    def inbound():
        seen.append(request.form.get("Body") or (request.get_json(silent=True) or {}).get("Body"))
        return "ok"

    app.add_url_rule("/_inbound", "inbound", inbound, methods=["POST"])
    app.add_url_rule("/_strict", "strict", lambda: "ok", methods=["POST"])
    client = app.test_client()
    text = "Sí \u202econfirmo\x07"
    assert client.post("/_inbound", data={"Body": text}).status_code == 200
    assert client.post("/_inbound", json={"Body": text}).status_code == 200
    assert seen == [text, text]
    assert client.post("/_strict", data={"Body": text}).status_code == 422  # unmarked views keep the gate
    assert client.post("/_inbound", data=NESTED, content_type="application/json").status_code == 422
    assert client.post("/_inbound", data={"Body": "x" * 70_000}).status_code == 413
    assert client.post("/_inbound", data=b"Body=%FF", content_type="application/x-www-form-urlencoded").status_code == 422


@pytest.mark.parametrize(("env", "expected"), [
    ({}, ProductionConfig), ({"APP_ENV": "production"}, ProductionConfig), ({"APP_ENV": "prod"}, ProductionConfig),
    ({"APP_ENV": "Development"}, "DevelopmentConfig"), ({"FLASK_ENV": "development"}, "DevelopmentConfig"),
    ({"APP_ENV": "testing"}, "DevelopmentConfig"), ({"APP_ENV": "production", "FLASK_ENV": "development"}, ProductionConfig),
])
def test_only_development_or_testing_leave_production_settings(env, expected):
    from config import config_for_environment

    chosen = config_for_environment(env)
    assert chosen is expected if isinstance(expected, type) else chosen.__name__ == expected


def test_the_documents_character_ranges_are_this_pythons_control_and_format_characters():
    import sys
    import unicodedata

    from scheduler.web.api.openapi.shapes import CONTROL_AND_FORMAT_RANGES

    listed = {point for first, last in CONTROL_AND_FORMAT_RANGES for point in range(first, last + 1)}
    actual = {point for point in range(sys.maxunicode + 1)
              if not 0xD800 <= point <= 0xDFFF and unicodedata.category(chr(point)) in ("Cc", "Cf")}
    assert listed == actual, "update CONTROL_AND_FORMAT_RANGES for this Python's Unicode version"


def test_a_value_the_database_refuses_is_a_422_not_a_500(pg_app):
    """PostgreSQL refuses an id past its integer range (DataError): the request's fault."""
    from flask import jsonify
    from sqlalchemy import text

    def lookup():
        return jsonify(db.session.execute(text("SELECT CAST(:value AS integer)"), {"value": 2**40}).scalar())

    pg_app.add_url_rule("/api/v1/_lookup", "lookup", lookup)
    pg_app.add_url_rule("/_lookup", "lookup_page", lookup)
    client = pg_app.test_client()
    assert_refused(client.get("/api/v1/_lookup"), 422, "request")
    page = client.get("/_lookup")
    assert page.status_code == 422 and OFFICE_NUMBER in page.get_data(as_text=True)
    assert client.get("/api/v1/services").status_code == 200  # the session was rolled back


def test_a_patients_text_with_control_characters_is_kept_cleaned_not_refused(app):
    """Twilio does not resend a webhook we refuse: the inbound SMS is taken, without NUL/BEL."""
    from twilio.request_validator import RequestValidator

    from scheduler.models import InboundMessage

    app.config.update(TWILIO_AUTH_TOKEN="a" * 32, PUBLIC_BASE_URL="https://clinic.example")
    form = {"MessageSid": "SM" + "1" * 32, "From": "+19155550123", "Body": "Sí\x00 confirmo\x07\u202e\r\nGracias"}
    signature = RequestValidator("a" * 32).compute_signature("https://clinic.example/webhooks/twilio/sms", form)
    answer = app.test_client().post("/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    stored = db.session.scalars(select(InboundMessage)).one()
    assert stored.body == "Sí confirmo\r\nGracias"
    unsigned = app.test_client().post("/webhooks/twilio/sms", data=form)
    assert unsigned.status_code == 403  # the gate's exemption does not skip the signature
