"""Security properties of the web layer, tried the way an attacker would.

CSRF on every cookie-authenticated form, escaping of everything a patient, the clinic or the
staff typed, open redirects, the patient's private link, cookies, rate-limit keys, calendar
injection, error pages that leak nothing, security headers, staff sessions and tokens.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import stat
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import quote, unquote, urljoin, urlsplit

import icalendar
from flask import g
from itsdangerous import URLSafeTimedSerializer
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from werkzeug.security import generate_password_hash

from config import ProductionConfig, TestingConfig
from scheduler import create_app, instance_secret_key
from scheduler.extensions import db
from scheduler.models import ApiToken, Appointment, Provider, User
from scheduler.services.common import tokens
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.helpers import ROOT, build_app, set_clinic_details

PASSWORD = "a long enough password"
DETAILS = {
    "first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123",
    "email": "ana@example.com", "sms_opt_in": "yes", "note": "",
}
SIGN_IN = {"email": "desk@example.com", "password": PASSWORD}


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def variant_app(tmp_path, template, clock, config=TestingConfig, **overrides):
    """A second app on its own copy of the migrated database, for settings the `app`
    fixture does not have (CSRF on, not in testing mode, rate limits, production)."""
    path = tmp_path / f"{uuid.uuid4().hex}.db"
    shutil.copyfile(template, path)
    url = f"sqlite:///{path}"
    if config is TestingConfig:
        app = build_app(url, clock, **overrides)
    else:
        app = create_app(config, {"SQLALCHEMY_DATABASE_URI": url, "CLOCK": clock, **overrides})
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
            db.engine.dispose()


def book(client, provider_id, start="2026-12-02T09:00:00-07:00", **patient) -> tuple[str, str]:
    """Books through the JSON API; returns (manage path, token)."""
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(**patient)})
    assert response.status_code == 201, response.get_json()
    path = urlsplit(response.get_json()["manage_url"]).path
    return path, path.rsplit("/", 1)[1]


def csrf_token_in(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client, email="desk@example.com", next_=None, **extra):
    url = "/staff/login" + (f"?next={quote(next_, safe='')}" if next_ is not None else "")
    return client.post(url, data={"email": email, "password": PASSWORD, **extra})


class Tags(HTMLParser):
    """Every start tag of a page with its attributes, as a browser would parse them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def urls(self) -> list[str]:
        names = ("href", "src", "action", "formaction", "srcset", "poster", "data", "background", "cite")
        return [attrs[name] for _tag, attrs in self.tags for name in names if attrs.get(name) is not None]


OWN_SCRIPT = {"src": "/static/pages.js", "defer": None}


def assert_inert(html: str, where: str) -> None:
    """Nothing typed runs as script: the one script tag is the site's own file, and there are no
    style or embedding tags, no event-handler or inline-style attributes, no javascript: URLs
    (and nothing the CSP would have to block)."""
    tags = Tags(html)
    for tag, attrs in tags.tags:
        if tag == "script":
            assert attrs == OWN_SCRIPT, (where, attrs)
            continue
        assert tag not in {"style", "svg", "img", "iframe", "object", "embed", "math", "base"}, (where, tag)
        for name in attrs:
            assert not name.startswith("on") and name != "style", (where, tag, name)
    for url in tags.urls():
        assert not url.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (where, url)
    assert html.lower().count("<script") == sum(tag == "script" for tag, _attrs in tags.tags) <= 1, where
    assert "<svg" not in html.lower(), where


def browser_target(base: str, location: str) -> str:
    """Where a browser goes for a Location header: it drops tabs and newlines and reads a
    backslash as a slash (WHATWG URL parsing)."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urljoin(base, cleaned.strip(" \x00-\x1f"))


# --- 1. CSRF ------------------------------------------------------------------------------


def test_every_cookie_form_refuses_a_post_without_a_valid_csrf_token_and_accepts_one_with_it(
        tmp_path, migrated_sqlite_template, clock):
    with variant_app(tmp_path, migrated_sqlite_template, clock, WTF_CSRF_ENABLED=True) as app:
        provider = make_provider()
        make_service()
        create_user("desk@example.com", PASSWORD, "front_desk")
        client = app.test_client()
        to_cancel, _ = book(client, provider.id, "2026-12-02T09:00:00-07:00")  # the JSON API needs no token
        to_move, _ = book(client, provider.id, "2026-12-03T09:00:00-07:00", phone="915-555-0177")
        details = f"/book/evaluation/{provider.id}/details"
        new_start = "2026-12-01T09:00:00-07:00"

        def status_of(start):
            return db.session.scalar(select(Appointment.status).where(
                Appointment.starts_at == datetime.fromisoformat(start)))

        def signed_in():
            return client.get("/staff/").status_code == 200

        forms = [
            # (form page, POST target, fields, "nothing happened", "it happened")
            (f"{details}?start={new_start}", details, {"start": new_start, **DETAILS, "phone": "915-555-0188"},
             lambda: status_of(new_start) is None, lambda: status_of(new_start) == "booked"),
            (to_cancel, f"{to_cancel}/cancel", {"reason": ""},
             lambda: status_of("2026-12-02T09:00:00-07:00") == "booked",
             lambda: status_of("2026-12-02T09:00:00-07:00") == "cancelled"),
            (f"{to_move}/reschedule/2026-12-04", f"{to_move}/reschedule", {"start": "2026-12-04T10:00:00-07:00"},
             lambda: status_of("2026-12-04T10:00:00-07:00") is None,
             lambda: status_of("2026-12-04T10:00:00-07:00") == "booked"),
            ("/staff/login", "/staff/login", SIGN_IN, lambda: not signed_in(), signed_in),
            ("/staff/", "/staff/logout", {}, signed_in, lambda: not signed_in()),
        ]
        for page, target, fields, unchanged, changed in forms:
            token = csrf_token_in(client.get(page).get_data(as_text=True))
            for forged in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-4] + "AAAA"}):
                refused = client.post(target, data={**fields, **forged})
                assert refused.status_code == 400, (target, forged)
                assert "This form has expired" in refused.get_data(as_text=True)
                assert unchanged(), target
            accepted = client.post(target, data={**fields, "csrf_token": token})
            assert accepted.status_code == 303, (target, accepted.get_data(as_text=True)[:500])
            assert changed(), target

        # The token belongs to the browser session it was issued to: another client cannot use it.
        stranger = app.test_client()
        stolen = csrf_token_in(client.get("/staff/login").get_data(as_text=True))
        assert stranger.post("/staff/login", data={**SIGN_IN, "csrf_token": stolen}).status_code == 400


def test_only_the_cookie_free_json_api_is_csrf_exempt(tmp_path, migrated_sqlite_template, clock):
    with variant_app(tmp_path, migrated_sqlite_template, clock, WTF_CSRF_ENABLED=True) as app:
        provider = make_provider()
        make_service()
        create_user("desk@example.com", PASSWORD, "front_desk")
        client = app.test_client()
        _path, token = book(client, provider.id)
        samples = {"slug": "evaluation", "who": str(provider.id), "token": token, "day": "2026-12-04",
                   "course_id": "1", "number": "1", "appointment_id": 1, "patient_id": 1, "row_id": 1, "kind": "hours",
                   "service_id": 1, "provider_id": 1,
                   "message_id": "1", "inbound_id": "1", "entry_id": "1"}
        unsafe = [r for r in app.url_map.iter_rules() if r.methods & {"POST", "PUT", "PATCH", "DELETE"}]
        pages = [r for r in unsafe if not r.endpoint.startswith(("api.", "webhooks."))]
        assert {r.endpoint for r in pages} >= {
            "patient.booking.details", "patient.manage.cancel", "patient.manage.reschedule", "desk.day_sheet.login", "desk.day_sheet.logout"}
        for rule in pages:  # any form POST added later is covered too
            url = rule.build({arg: samples[arg] for arg in rule.arguments})[1]
            for method in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}:
                response = client.open(url, method=method, data={"email": "desk@example.com", "password": PASSWORD})
                assert response.status_code == 400, (rule.rule, method)
                assert "This form has expired" in response.get_data(as_text=True)
        assert all(r.rule.startswith("/api/") for r in unsafe if r.endpoint.startswith("api."))
        # Every part of the API is exempt, not just its parent blueprint: no CSRF refusal (400) anywhere.
        for rule in (r for r in unsafe if r.endpoint.startswith("api.")):
            url = rule.build({arg: {**samples, "token": "not-a-link"}[arg] for arg in rule.arguments})[1]
            assert client.post(url, json={}).status_code != 400, rule.rule
        # Twilio's webhooks carry no cookie and no CSRF token: Twilio's signature protects them.
        webhooks = [r for r in unsafe if r.endpoint.startswith("webhooks.")]
        assert {r.rule for r in webhooks} == {"/webhooks/twilio/sms", "/webhooks/twilio/status"}
        for rule in webhooks:
            assert client.post(rule.rule, data={"From": "+19155550123", "Body": "C"}).status_code == 403

        # A staff session cookie means nothing to the API: its staff data needs a bearer token.
        login_page = client.get("/staff/login").get_data(as_text=True)
        assert client.post("/staff/login", data={**SIGN_IN, "csrf_token": csrf_token_in(login_page)}).status_code == 303
        assert client.get("/staff/").status_code == 200
        cookie_only = client.get("/api/v1/staff/appointments?date=2026-12-02")
        assert cookie_only.status_code == 401 and cookie_only.get_json()["error"] == "unauthorized"
        for path in (ROOT / "scheduler" / "web" / "api").glob("*.py"):  # the views, not openapi/ prose
            api_source = path.read_text()
            assert "current_user" not in api_source and "session" not in api_source.replace("db.session", ""), path

        # What a cross-site HTML form can send (form-encoded or text/plain) never books.
        before = db.session.scalar(select(func.count()).select_from(Appointment))
        body = {"service": "evaluation", "provider_id": provider.id, "start": "2026-12-03T09:00:00-07:00",
                "patient": patient_payload(phone="915-555-0166")}
        as_form = client.post("/api/v1/bookings", data={"service": "evaluation", "start": body["start"]},
                              headers={"Origin": "https://evil.example"})
        as_text = client.post("/api/v1/bookings", data=json.dumps(body), content_type="text/plain",
                              headers={"Origin": "https://evil.example"})
        assert as_form.status_code == as_text.status_code == 422
        assert db.session.scalar(select(func.count()).select_from(Appointment)) == before
        # ...and no CORS grant lets another site's script read or send JSON with the browser's cookies.
        preflight = client.options("/api/v1/bookings", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        for response in (as_form, as_text, preflight):
            assert not any(h.lower().startswith("access-control-allow") for h in response.headers.keys())


# --- 2. XSS -------------------------------------------------------------------------------

PROVIDER = "Dr. \"Q\" <script>alert('provider')</script>"
SERVICE = "<img src=x onerror=alert('service')> Therapy"
FIRST = "Ana\"><svg onload=alert('first')>"
LAST = "O'Brien' onfocus='alert(1)' x='<script>x</script>"
NOTE = "</textarea><script>alert('note')</script>"
CLINIC = "Clinic \"</title><script>alert('clinic')</script>"


def _assert_shows(html: str, where: str, *values: str) -> None:
    assert_inert(html, where)
    for value in values:
        assert str(escape(value)) in html, (where, value)


def test_everything_people_type_is_escaped_on_every_page_and_in_json(app, client):
    set_clinic_details(name=CLINIC)
    provider = make_provider(PROVIDER)
    make_service(name=SERVICE)
    create_user("desk@example.com", PASSWORD, "front_desk")
    payload = {**DETAILS, "first_name": FIRST, "last_name": LAST, "note": NOTE}
    start = "2026-12-01T09:00:00-07:00"
    details = f"/book/evaluation/{provider.id}/details"

    pages = {
        "services": ("/", [SERVICE, CLINIC]),
        "providers": ("/book/evaluation", [PROVIDER, SERVICE]),
        "days": (f"/book/evaluation/{provider.id}", [SERVICE]),
        "times (first available)": ("/book/evaluation/any/2026-12-01", [SERVICE]),  # tiles name no provider
        "details": (f"{details}?start={start}", [PROVIDER, SERVICE]),
        "details, bad start": (f"{details}?start={quote(FIRST)}", [FIRST]),
        "details, first available": (f"/book/evaluation/any/details?start={start}&prefer={provider.id}", [PROVIDER]),
        "language link": (f"/?x={quote(FIRST)}", []),
        "404 with markup in the path": (f"/book/{quote(NOTE, safe='')}", [CLINIC]),
        "login with markup in next": (f"/staff/login?next={quote(FIRST)}", []),
    }
    for where, (url, values) in pages.items():
        html = client.get(url).get_data(as_text=True)
        _assert_shows(html, where, *values)

    invalid = client.post(details, data={**payload, "phone": "12"})
    assert invalid.status_code == 422
    _assert_shows(invalid.get_data(as_text=True), "details re-rendered", FIRST, LAST, NOTE, PROVIDER)

    booked = client.post(details, data={**payload, "start": start})
    assert booked.status_code == 303
    confirmation = client.get(booked.headers["Location"])
    _assert_shows(confirmation.get_data(as_text=True), "confirmation", PROVIDER, SERVICE, CLINIC)
    manage = booked.headers["Location"].removesuffix("/booked")

    conflict = client.post("/book/evaluation/any/details", data={
        **payload, "start": start, "phone": "915-555-0177", "first_name": "Luis"})
    assert conflict.status_code == 409
    _assert_shows(conflict.get_data(as_text=True), "conflict", PROVIDER, LAST, NOTE)

    for where, url in (("manage", manage), ("move: days", f"{manage}/reschedule"),
                       ("move: times", f"{manage}/reschedule/2026-12-02")):
        _assert_shows(client.get(url).get_data(as_text=True), where, PROVIDER if where == "manage" else CLINIC)
    moved_badly = client.post(f"{manage}/reschedule", data={"start": FIRST})
    assert moved_badly.status_code == 422
    _assert_shows(moved_badly.get_data(as_text=True), "move refused", CLINIC)

    assert sign_in(client).status_code == 303
    _assert_shows(client.get("/staff/?date=2026-12-01").get_data(as_text=True), "day sheet",
                  f"{FIRST} {LAST}", NOTE, PROVIDER, SERVICE)

    # JSON carries the same text unchanged (escaping is the reader's job), typed as JSON.
    token = issue_api_token("desk@example.com")
    responses = {
        "providers": client.get("/api/v1/providers"),
        "services": client.get("/api/v1/services"),
        "booking": client.get(f"/api/v1/bookings/{manage.rsplit('/', 1)[1]}"),
        "staff": client.get("/api/v1/staff/appointments?date=2026-12-01", headers={"Authorization": f"Bearer {token}"}),
    }
    for response in responses.values():
        assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    assert responses["providers"].get_json() == [{"id": provider.id, "name": PROVIDER}]
    assert responses["services"].get_json()[0]["name"] == SERVICE
    assert responses["booking"].get_json()["provider_name"] == PROVIDER
    assert responses["staff"].get_json()["appointments"][0]["patient_name"] == f"{FIRST} {LAST}"


def test_templates_never_mark_data_safe_and_always_quote_attributes():
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) >= 10
    for path in templates:
        text = path.read_text()
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|Markup\(", text), path
        # an expression as an attribute value must sit inside quotes: href="{{ x }}", not href={{ x }}
        assert not re.search(r"=\s*\{\{", text), path
        assert not re.search(r"\son[a-z]+\s*=", text), path  # no inline handlers (the CSP forbids them)
    for path in (ROOT / "scheduler").rglob("*.py"):
        text = path.read_text()
        assert "Markup(" not in text and "autoescape=False" not in text, path


# --- 3. Open redirects --------------------------------------------------------------------

REDIRECT_BYPASSES = [
    "//evil.example/", "https://evil.example/", "http:evil.example", "/\\evil.example", "\\/evil.example",
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/ /evil.example", "/\x0b/evil.example",
    "///evil.example", " //evil.example", "/\u3002evil.example", "/\uff0f/evil.example",
    "javascript:alert(1)", "evil.example", "@evil.example", "/\x00/evil.example",
]
# Sent as they are, so the server's own percent-decoding produces the dangerous form.
RAW_REDIRECT_BYPASSES = [
    "/%2F%2Fevil.example", "/%2f/evil.example", "%2F%2Fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example",
    "/%09/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example", "/%0D%0ALocation:%20//evil.example",
    "/%E3%80%82evil.example", "/%EF%BC%8F/evil.example", "https:%2F%2Fevil.example", "/%20%2F/evil.example",
]


def test_sign_in_never_redirects_to_another_site(app, client):
    user = create_user("desk@example.com", PASSWORD, "front_desk")
    user.password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")  # fast: many sign-ins
    db.session.commit()
    base = "https://clinic.example/staff/login"
    attempts = [(t, f"/staff/login?next={quote(t, safe='')}") for t in REDIRECT_BYPASSES]
    attempts += [(t, f"/staff/login?next={t}") for t in RAW_REDIRECT_BYPASSES]
    for target, url in attempts:
        response = client.post(url, data=SIGN_IN)
        if response.status_code == 400:  # control characters in the address: refused outright
            assert "Location" not in response.headers and any(ch < " " for ch in unquote(url)), repr(target)
            continue
        assert response.status_code == 303, repr(target)
        assert len(response.headers.getlist("Location")) == 1, repr(target)
        landing = urlsplit(browser_target(base, response.headers["Location"]))
        assert (landing.scheme, landing.netloc) == ("https", "clinic.example"), repr(target)
        assert landing.path == "/staff/", repr(target)
        client.post("/staff/logout")
    # The guard still lets a real page of the site through (and double-encoding stays a path).
    for target in ("/staff/?date=2026-12-01", "/%2F%2Fevil.example"):
        response = sign_in(client, next_=target)
        assert response.headers["Location"] == target
        assert urlsplit(browser_target(base, target)).netloc == "clinic.example"
        client.post("/staff/logout")


def test_language_links_stay_on_the_same_page(app, client):
    make_service()
    for url in ("/?next=//evil.example", "/book/evaluation?lang=es&x=%22%3E//evil.example",
                "/staff/login?next=https://evil.example", "//evil.example/?a=b"):
        response = client.get(url)
        requested = urlsplit(urljoin("https://clinic.example/", url))
        links = [attrs["href"] for tag, attrs in Tags(response.get_data(as_text=True)).tags
                 if tag == "a" and "hreflang" in attrs]
        # Staff pages are English with no language switch; every other page has one.
        assert links or response.status_code == 404 or requested.path.startswith("/staff"), url
        for href in links:
            assert href.startswith("?"), href
            landing = urlsplit(urljoin(requested.geturl(), href))
            assert (landing.netloc, landing.path) == (requested.netloc, requested.path), (url, href)


# --- 4. The patient's private link --------------------------------------------------------


def test_a_link_opens_only_its_own_appointment_and_only_when_signed_with_our_key(app, client):
    provider = make_provider()
    make_service()
    path_a, token_a = book(client, provider.id, "2026-12-02T09:00:00-07:00")
    path_b, token_b = book(client, provider.id, "2026-12-03T09:00:00-07:00", first_name="Luis", phone="915-555-0177")
    page_a = client.get(path_a).get_data(as_text=True)
    assert "December 2, 2026" in page_a and "December 3, 2026" not in page_a
    assert client.get(f"/api/v1/bookings/{token_b}").get_json()["start"].startswith("2026-12-03")
    assert client.post(f"{path_a}/cancel", data={"reason": ""}).status_code == 303
    statuses = dict(db.session.execute(select(Appointment.starts_at, Appointment.status)).all())
    assert sorted(statuses.values()) == ["booked", "cancelled"]
    assert client.get(path_b).status_code == 200 and "Booked" in client.get(path_b).get_data(as_text=True)

    # The link's payload is the random secret; signing it with another key or salt must not work.
    secret = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=tokens._MANAGE_SALT).loads(token_b)

    def signed(key, salt=tokens._MANAGE_SALT, value=secret):
        return URLSafeTimedSerializer(key, salt=salt, signer=tokens._ClockSigner).dumps(value)

    assert client.get(f"/appointments/{signed(app.config['SECRET_KEY'])}").status_code == 200  # the control
    for forged in (signed("another-clinic's-key"), signed(app.config["SECRET_KEY"], salt="another-purpose"),
                   signed(app.config["SECRET_KEY"], value=tokens.new_secret()),
                   token_a.rpartition(".")[0] + "." + token_b.rpartition(".")[2]):
        assert client.get(f"/appointments/{forged}").status_code == 404
        assert client.get(f"/api/v1/bookings/{forged}").status_code == 404
        assert client.post(f"/appointments/{forged}/cancel").status_code == 404
    # Base64 has spare bits in the signature's last character: no other spelling of a link works.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    respelled = [token_b[:-1] + ch for ch in alphabet if ch != token_b[-1]]
    assert [t for t in respelled if tokens.manage_secret_hash(t) is not None] == []
    assert tokens.manage_secret_hash(token_b) is not None
    # Under another SECRET_KEY (a different deployment) the real link is refused too.
    app.config["SECRET_KEY"] = "rotated"
    assert client.get(path_b).status_code == 404


def test_private_pages_are_not_cached_nor_referred_and_load_nothing_from_elsewhere(app, client):
    provider = make_provider()
    make_service()
    path, token = book(client, provider.id)
    responses = {
        "confirmation": client.get(f"{path}/booked"),
        "manage": client.get(path),
        "move: days": client.get(f"{path}/reschedule"),
        "move: times": client.get(f"{path}/reschedule/2026-12-03"),
        "move refused": client.post(f"{path}/reschedule", data={"start": "garbage"}),
        "calendar": client.get(f"{path}/calendar.ics"),
        "forged link": client.get(f"/appointments/{token[:-3]}abc"),
        "api": client.get(f"/api/v1/bookings/{token}"),
    }
    for where, response in responses.items():
        assert response.headers.get("Referrer-Policy") == "no-referrer", where
        if where != "api":
            assert response.headers.get("Cache-Control") == "no-store", where

    public_host = urlsplit(app.config["PUBLIC_BASE_URL"]).netloc
    html = responses["confirmation"].get_data(as_text=True)
    tags = Tags(html)
    urls = tags.urls()
    assert any(token in u for u in urls) and any(u.startswith("tel:") for u in urls)
    for url in urls:
        parts = urlsplit(url)
        assert parts.scheme in {"", "http", "https", "webcal", "tel", "mailto"}, url
        if parts.scheme in {"", "http", "https", "webcal"}:  # webcal: the patient's own feed
            assert parts.netloc in {"", public_host}, url
    assert not any(attrs.get("rel") in ("preconnect", "dns-prefetch", "prefetch") for _t, attrs in tags.tags)
    with client.get("/static/style.css") as css:
        stylesheet = css.get_data(as_text=True)
    assert "@import" not in stylesheet
    for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", stylesheet):
        assert ref.startswith(("data:", "#")) or not urlsplit(ref).netloc, ref


def test_links_and_tokens_stay_out_of_logs_and_the_session_cookie(tmp_path, migrated_sqlite_template, clock,
                                                                    monkeypatch, caplog):
    from scheduler.services.appointments import patient_changes as appointment_changes

    caplog.set_level("DEBUG")
    with variant_app(tmp_path, migrated_sqlite_template, clock, TESTING=False) as app:
        provider = make_provider()
        make_service()
        client = app.test_client()
        booked = client.post(f"/book/evaluation/{provider.id}/details",
                             data={"start": "2026-12-02T09:00:00-07:00", **DETAILS})
        path = booked.headers["Location"].removesuffix("/booked")
        token = path.rsplit("/", 1)[1]
        assert client.get(f"{path}?lang=es").status_code == 200
        assert client.post(f"{path}/cancel", data={"reason": "Garcia 915-555-0123"}).status_code == 303
        assert client.get(f"/appointments/{token}x").status_code == 404
        monkeypatch.setattr(appointment_changes, "can_change_online", _raise(RuntimeError("boom")))
        assert client.get(path).status_code == 500
        assert "unhandled error" in caplog.text  # the failure is logged...
        assert token not in caplog.text  # ...without the patient's link

        # The session cookie is signed, not encrypted: it must not carry the link or the patient.
        cookie = client.get_cookie("session")
        assert cookie is not None
        session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
        dumped = json.dumps(session, default=str)
        assert token not in dumped and "555" not in dumped and "Garcia" not in dumped


def test_links_use_the_configured_address_whatever_host_the_request_names(app, client):
    provider = make_provider()
    make_service()
    response = client.post("/api/v1/bookings", headers={"Host": "evil.example"}, json={
        "service": "evaluation", "provider_id": provider.id, "start": "2026-12-02T09:00:00-07:00",
        "patient": patient_payload()})
    assert response.status_code == 201
    body = response.get_json()
    assert body["manage_url"].startswith("http://localhost/") and body["ics_url"].startswith("http://localhost/")
    page = client.get(urlsplit(body["manage_url"]).path, headers={"Host": "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in page
    ics = client.get(urlsplit(body["ics_url"]).path, headers={"Host": "evil.example"}).get_data(as_text=True)
    assert "evil.example" not in ics


# --- 5. Cookies and staff sessions --------------------------------------------------------


def _session_cookie_header(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_session_cookie_is_httponly_lax_secure_in_production_and_forms_work_over_https(app, client, tmp_path, migrated_sqlite_template,
                                                                  clock):
    create_user("desk@example.com", PASSWORD, "front_desk")
    dev = _session_cookie_header(sign_in(client))
    assert "HttpOnly" in dev and "SameSite=Lax" in dev

    assert ProductionConfig.SESSION_COOKIE_SECURE is True
    with variant_app(tmp_path, migrated_sqlite_template, clock, ProductionConfig, SECRET_KEY="production-test") as prod:
        assert not prod.testing and prod.config["WTF_CSRF_ENABLED"] is not False
        create_user("desk@example.com", PASSWORD, "front_desk")
        browser = prod.test_client()
        https = {"base_url": "https://localhost"}
        form = browser.get("/staff/login", **https)
        # Pages ask browsers to send no Referer; the forms must still work over HTTPS without one.
        assert form.headers["Referrer-Policy"] == "no-referrer"
        token = csrf_token_in(form.get_data(as_text=True))
        assert browser.post("/staff/login", data=SIGN_IN, **https).status_code == 400
        signed_in = browser.post("/staff/login", data={**SIGN_IN, "csrf_token": token}, **https)
        assert signed_in.status_code == 303
        cookie = _session_cookie_header(signed_in)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        sheet = browser.get("/staff/", **https)
        assert sheet.status_code == 200
        signed_out = browser.post("/staff/logout", data={"csrf_token": csrf_token_in(sheet.get_data(as_text=True))},
                                  **https)
        assert signed_out.status_code == 303 and browser.get("/staff/", **https).status_code == 302


def staff_page(client, **kwargs):
    """GET /staff/ as a new request would see it. (The `app` fixture keeps one app context
    for the whole test, and Flask-Login caches the signed-in user on `g` in it.)"""
    g.pop("_login_user", None)
    return client.get("/staff/", **kwargs)


def test_a_staff_session_ends_when_the_user_is_deactivated_or_the_cookie_moves(app, client):
    user = create_user("desk@example.com", PASSWORD, "front_desk")
    assert sign_in(client).status_code == 303
    assert staff_page(client).status_code == 200
    # "strong" session protection: the same cookie from another browser or address is not signed in,
    # even when the other address claims to be the first one in X-Forwarded-For.
    for elsewhere in ({"headers": {"User-Agent": "Mozilla/5.0 (attacker)"}},
                      {"environ_overrides": {"REMOTE_ADDR": "203.0.113.9"},
                       "headers": {"X-Forwarded-For": "127.0.0.1"}}):
        refused = staff_page(client, **elsewhere)
        assert refused.status_code == 302 and "/staff/login" in refused.headers["Location"], elsewhere
        assert staff_page(client).status_code == 302  # and the session is dropped, not just refused once
        assert sign_in(client).status_code == 303
        assert staff_page(client).status_code == 200

    db.session.get(User, user.id).active = False
    db.session.commit()
    refused = staff_page(client)
    assert refused.status_code == 302 and "/staff/login" in refused.headers["Location"]
    g.pop("_login_user", None)
    assert client.get("/staff/login").status_code == 200  # shown the sign-in form, not bounced to the sheet


def test_revoked_tokens_and_deactivated_users_are_refused_by_the_staff_api(app, client):
    user = create_user("desk@example.com", PASSWORD, "front_desk")
    first, second = issue_api_token("desk@example.com"), issue_api_token("desk@example.com")

    def status(token):
        return client.get("/api/v1/staff/appointments", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(first) == status(second) == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == tokens.sha256_hex(first)))
    row.revoked_at = app.config["CLOCK"]()
    db.session.commit()
    assert status(first) == 401 and status(second) == 200
    db.session.get(User, user.id).active = False
    db.session.commit()
    assert status(second) == 401
    for header in ("", "Bearer", "Bearer ", f"Basic {second}", f"Token {second}", "Bearer sk_guess"):
        assert client.get("/api/v1/staff/appointments", headers={"Authorization": header}).status_code == 401


def test_a_provider_account_linked_to_no_provider_sees_no_ones_visits(app, client):
    maria = make_provider("Maria Lopez, PT")
    make_service()
    book(client, maria.id, "2026-12-01T09:00:00-07:00")
    create_user("new.provider@example.com", PASSWORD, "provider")
    assert sign_in(client, "new.provider@example.com").status_code == 303
    html = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "Ana Garcia" not in html and "Maria Lopez" not in html
    assert "No provider calendar is linked to your account." in html
    token = issue_api_token("new.provider@example.com")
    listed = client.get("/api/v1/staff/appointments?date=2026-12-01", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200 and listed.get_json()["appointments"] == []


def test_an_unknown_email_costs_a_password_check_too(app, monkeypatch):
    """Otherwise a wrong email answers faster than a wrong password, and staff emails can be probed."""
    from scheduler.services.staff import accounts as staff_service

    user = create_user("desk@example.com", PASSWORD, "front_desk")
    calls = []
    real = staff_service.check_password_hash
    monkeypatch.setattr(staff_service, "check_password_hash", lambda h, p: calls.append(h) or real(h, p))
    for email, password in (("desk@example.com", "wrong password!"), ("nobody@example.com", PASSWORD)):
        calls.clear()
        assert staff_service.authenticate(email, password) is None
        assert len(calls) == 1 and calls[0].startswith("scrypt:"), email
    db.session.get(User, user.id).active = False
    db.session.commit()
    calls.clear()
    assert staff_service.authenticate("desk@example.com", PASSWORD) is None and len(calls) == 1


# --- 6. Rate-limit keys -------------------------------------------------------------------


def test_forwarded_for_headers_do_not_dodge_rate_limits_unless_a_proxy_is_trusted(
        tmp_path, migrated_sqlite_template, clock):
    limits = {"RATELIMIT_ENABLED": True, "MANAGE_RATE_LIMIT": "3 per minute", "LOGIN_RATE_LIMIT": "3 per minute",
              "BOOKING_RATE_LIMIT": "3 per minute"}
    with variant_app(tmp_path, migrated_sqlite_template, clock, TRUSTED_PROXY_HOPS=0, **limits) as app:
        client = app.test_client()
        spoofed = [{"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"198.51.100.{i}",
                    "Forwarded": f"for=192.0.2.{i}", "CF-Connecting-IP": f"192.0.2.{i}"} for i in range(5)]
        manage = [client.get("/appointments/guess", headers=h).status_code for h in spoofed]
        login = [client.post("/staff/login", data=SIGN_IN, headers=h).status_code for h in spoofed]
        bookings = [client.post("/api/v1/bookings", json={}, headers=h).status_code for h in spoofed]
        assert manage == [404, 404, 404, 429, 429]
        assert login == [401, 401, 401, 429, 429]
        assert bookings == [422, 422, 422, 429, 429]
    # The control: behind one trusted proxy each forwarded address has its own budget.
    with variant_app(tmp_path, migrated_sqlite_template, clock, TRUSTED_PROXY_HOPS=1, **limits) as app:
        client = app.test_client()
        assert [client.get("/appointments/guess", headers=h).status_code for h in spoofed] == [404] * 5


# --- 7. Calendar injection ----------------------------------------------------------------

CALENDAR_PROPERTIES = {"PRODID", "VERSION", "CALSCALE", "METHOD"}
EVENT_PROPERTIES = {"UID", "DTSTAMP", "CREATED", "LAST-MODIFIED", "DTSTART", "DTEND", "SEQUENCE", "STATUS",
                    "TRANSP", "SUMMARY", "LOCATION", "DESCRIPTION", "URL", "ORGANIZER"}
ALARM_PROPERTIES = {"ACTION", "TRIGGER", "DESCRIPTION"}


def test_control_characters_cannot_add_calendar_properties_or_components(app, client):
    injected = "\r\nATTENDEE:mailto:evil@example.com\r\nEND:VEVENT\r\nBEGIN:VALARM\r\nTRIGGER:-PT1M\r\nX-EVIL:1"
    set_clinic_details(name="Clinic\nLOCATION:Elsewhere\rX-CLINIC:1\x00" + injected,
                       address="1 Main St\r\nGEO:0;0\x00" + injected)
    provider = make_provider("Dr. Who\u2028ORGANIZER:mailto:evil@example.com\x0b\x1b[31m\u0085;,\\" + injected)
    make_service(name="Therapy\r\nDTSTART:19700101T000000Z\r\nRRULE:FREQ=MINUTELY" + injected)
    path, _token = book(client, provider.id, note="Private: back pain\r\nX-NOTE:1")
    response = client.get(f"{path}/calendar.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert response.headers["Content-Disposition"] == 'attachment; filename="appointment.ics"'
    body = response.get_data()

    # Every content line (after unfolding) is one of ours; CR and LF only ever appear together.
    assert b"\r" not in body.replace(b"\r\n", b"") and b"\n" not in body.replace(b"\r\n", b"")
    assert b"\x00" not in body
    lines = re.sub(rb"\r\n[ \t]", b"", body).decode().split("\r\n")
    assert lines[-1] == ""
    names = [re.split(r"[:;]", line, maxsplit=1)[0] for line in lines[:-1]]
    assert names.count("BEGIN") == names.count("END") == 3  # VCALENDAR, VEVENT, our one VALARM
    assert names.count("ATTENDEE") == 0 and names.count("ORGANIZER") == 1 and names.count("TRIGGER") == 1
    assert set(names) <= CALENDAR_PROPERTIES | EVENT_PROPERTIES | ALARM_PROPERTIES | {"BEGIN", "END"}, names

    calendar = icalendar.Calendar.from_ical(body)
    assert set(calendar.keys()) == CALENDAR_PROPERTIES
    assert [c.name for c in calendar.subcomponents] == ["VEVENT"]
    event = calendar.subcomponents[0]
    assert set(event.keys()) == EVENT_PROPERTIES
    (alarm,) = event.subcomponents
    assert alarm.name == "VALARM" and set(alarm.keys()) == ALARM_PROPERTIES
    assert alarm.decoded("trigger") == -timedelta(hours=2)
    assert str(event["organizer"]) == "mailto:" + app.config["MAIL_FROM"]
    assert event.decoded("dtstart") == datetime.fromisoformat("2026-12-02T09:00:00-07:00")
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=60)
    text = {name: str(event[name]) for name in ("SUMMARY", "LOCATION", "DESCRIPTION")}
    text["CN"] = event["organizer"].params["CN"]
    text["ALARM"] = str(alarm["description"])
    for name, value in text.items():
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029" for ch in value), name
    assert "Dr. Who" in text["DESCRIPTION"] and ";,\\" in text["DESCRIPTION"]
    assert "1 Main St GEO:0;0" in text["LOCATION"]
    assert "Therapy" not in body.decode()  # no service name: minimum necessary
    assert "Private" not in body.decode() and "back pain" not in body.decode()  # the note stays in the clinic


# --- 8. Errors leak nothing ---------------------------------------------------------------


def _raise(error: Exception):
    def fail(*args, **kwargs):
        raise error
    return fail


def test_internal_errors_show_a_plain_page_with_the_clinics_numbers(tmp_path, migrated_sqlite_template, clock,
                                                                     monkeypatch, caplog):
    from scheduler.services.appointments import patient_changes as appointment_changes
    from scheduler.web.api import public as api_module
    from scheduler.web.desk import day_sheet as staff_pages

    secret_detail = "SELECT password_hash FROM users WHERE email = 'desk@example.com'"
    with variant_app(tmp_path, migrated_sqlite_template, clock, TESTING=False) as app:
        assert not app.testing and not app.debug
        provider = make_provider()
        make_service()
        create_user("desk@example.com", PASSWORD, "front_desk")
        client = app.test_client()
        path, token = book(client, provider.id)
        assert sign_in(client).status_code == 303
        monkeypatch.setattr(appointment_changes, "can_change_online", _raise(RuntimeError(secret_detail)))
        monkeypatch.setattr(staff_pages, "appointments_on", _raise(KeyError(secret_detail)))
        db_error = OperationalError(secret_detail, {"phone": "+19155550123"}, Exception("disk I/O error"))
        monkeypatch.setattr(api_module.booking, "book", _raise(db_error))
        monkeypatch.setattr(api_module, "bookable_providers", _raise(ZeroDivisionError(secret_detail)))

        for url in (path, "/staff/"):
            page = client.get(url)
            html = page.get_data(as_text=True)
            assert page.status_code == 500 and page.mimetype == "text/html", url
            for leak in ("Traceback", "Error", "password_hash", "SELECT", "line ", ".py", token):
                assert leak not in html, (url, leak)
            assert "Something went wrong on our side" in html
            assert "915-850-0900" in html and "915-540-8444" in html and 'href="tel:+19158500900"' in html
            assert page.headers["X-Frame-Options"] == "DENY"
        for response in (client.get("/api/v1/providers"),
                         client.post("/api/v1/bookings", json={"service": "evaluation", "start": "x"})):
            assert response.status_code == 500 and response.mimetype == "application/json"
            assert response.get_json()["error"] == "internal_error"
            text = response.get_data(as_text=True)
            assert "SELECT" not in text and "disk" not in text and "Traceback" not in text and "Error" not in text
        assert caplog.text.count("unhandled error") == 4


# --- 9. Headers on every kind of response -------------------------------------------------


def _closed(response):
    response.close()  # a static file is streamed from an open file
    return response


def test_every_kind_of_response_carries_the_security_headers(app, client):
    provider = make_provider()
    make_service()
    path, _token = book(client, provider.id)
    responses = {
        "html": client.get("/"),
        "json": client.get("/api/v1/services"),
        "ics": client.get(f"{path}/calendar.ics"),
        "css": _closed(client.get("/static/style.css")),
        "404 page": client.get("/no-such-page"),
        "404 json": client.get("/api/v1/no-such-thing"),
        "405": client.get("/staff/logout"),
        "400": client.get("/book/evaluation/any?from=nonsense"),
        "redirect": client.get("/staff/"),
        "422 json": client.post("/api/v1/bookings", json={}),
    }
    assert responses["css"].mimetype == "text/css" and responses["ics"].mimetype == "text/calendar"
    for kind, response in responses.items():
        csp = response.headers.get("Content-Security-Policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp, kind
        assert directives.get("default-src") == ["'self'"], kind
        assert directives.get("script-src") == ["'self'"] and directives.get("style-src") == ["'self'"], kind
        assert directives.get("frame-ancestors") == ["'none'"] and directives.get("object-src") == ["'none'"], kind
        assert directives.get("base-uri") == ["'none'"] and directives.get("form-action") == ["'self'"], kind
        assert response.headers.get("X-Content-Type-Options") == "nosniff", kind
        assert response.headers.get("X-Frame-Options") == "DENY", kind
        assert response.headers.get("Referrer-Policy") == "no-referrer", kind


# --- 11. Everything else ------------------------------------------------------------------


def test_sql_is_never_built_from_formatted_strings():
    """Queries take values as bound parameters: no f-string, % or .format() into text()/execute()."""
    sql_calls = {"text", "execute", "exec_driver_sql", "executescript", "literal_column"}
    checked = 0
    for path in (ROOT / "scheduler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in sql_calls:
                continue
            checked += 1
            sql = node.args[0]
            formatted = (
                isinstance(sql, ast.JoinedStr)
                or (isinstance(sql, ast.BinOp) and isinstance(sql.op, (ast.Mod, ast.Add)))
                or (isinstance(sql, ast.Call) and isinstance(sql.func, ast.Attribute) and sql.func.attr == "format")
            )
            assert not formatted, f"{path.relative_to(ROOT)}:{node.lineno}"
    assert checked >= 5


def test_the_generated_secret_key_file_is_private_and_kept(tmp_path):
    path = tmp_path / "secret_key"
    key = instance_secret_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= 48 and instance_secret_key(path) == key
    assert instance_secret_key(tmp_path / "other") != key


def test_no_secret_key_is_written_in_code_outside_the_test_configuration():
    for path in (ROOT / "scheduler").rglob("*.py"):
        assert not re.search(r"SECRET_KEY\W+\s*=\s*['\"]", path.read_text()), path
    config_text = (ROOT / "config.py").read_text()
    literal_keys = [m.start() for m in re.finditer(r"SECRET_KEY\s*=\s*['\"]", config_text)]
    assert len(literal_keys) == 1 and literal_keys[0] > config_text.index("class TestingConfig(")


def test_a_provider_name_never_reaches_the_download_file_name(app, client):
    provider = make_provider('Evil"; filename="payload.exe')
    make_service()
    path, _ = book(client, provider.id)
    disposition = client.get(f"{path}/calendar.ics").headers["Content-Disposition"]
    assert disposition == 'attachment; filename="appointment.ics"'
    assert db.session.get(Provider, provider.id).name in client.get(path).get_data(as_text=True).replace("&#34;", '"')
