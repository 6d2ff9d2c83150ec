"""A table of hostile inputs, each sent through the API, the booking and manage pages and the
staff pages, on SQLite and on PostgreSQL.

Every row must get a 4xx with a clear message (a JSON error with a message per field, or a
page whose alert says what was wrong) and must leave the database exactly as it was: no
appointment, patient, audit row or session changed. The last tests send every method to every
route: the ones a route does not take get 405 with an Allow header, and HEAD writes nothing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import pytest
from itsdangerous import base64_decode, base64_encode
from sqlalchemy import func, select
from werkzeug.routing.converters import NumberConverter

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import ApiToken, Appointment, AuditEvent, Patient, User
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.helpers import FROZEN_NOW, Clock, postgres_available, require_or_skip

PASSWORD = "a long enough password"
START = "2026-12-02T09:00:00-07:00"
OTHER_START = "2026-12-02T13:00:00-07:00"
OFFICE = "915-850-0900"


@dataclass
class World:
    client: object  # a patient's browser or API client
    staff: object  # a signed-in front-desk browser
    token: str  # the manage token of the one booked visit
    bearer: str  # a staff API token
    provider_id: int


def _build_world(app) -> World:
    provider = make_provider("Dr. First")
    make_service("evaluation")
    client = app.test_client()
    booked = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider.id, "start": START, "patient": patient_payload()})
    assert booked.status_code == 201, booked.get_json()
    create_user("desk@example.com", PASSWORD, "front_desk")
    bearer = issue_api_token("desk@example.com", label="tests")
    staff = app.test_client()
    assert staff.post("/staff/login", data={"email": "desk@example.com", "password": PASSWORD}).status_code == 303
    token = urlsplit(booked.get_json()["manage_url"]).path.rsplit("/", 1)[1]
    return World(client, staff, token, bearer, provider.id)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, tmp_path_factory, migrated_sqlite_template):
    """One clinic per database for the whole table: no row may change it."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("hostile") / "hostile.db"
        path.write_bytes(migrated_sqlite_template.read_bytes())
        url = f"sqlite:///{path}"
    else:
        if not postgres_available():
            require_or_skip("PostgreSQL at 127.0.0.1:5432")
        url = request.getfixturevalue("pg_template_url")
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "CLOCK": Clock(FROZEN_NOW)})
    with app.app_context():
        built = _build_world(app)
        db.session.remove()
    # Requests run without an outer app context: each gets its own `g`, as under a server
    # (Flask-Login would otherwise remember the signed-in user from one request to the next).
    try:
        yield built
    finally:
        with app.app_context():
            db.session.remove()
            if request.param == "postgresql":  # leave the shared database empty for the next tests
                tables = ", ".join(t.name for t in reversed(db.metadata.sorted_tables))
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
            db.engine.dispose()


def snapshot(w: World) -> dict:
    """Everything a refused request must leave as it was."""
    with w.client.application.app_context():
        return _rows()


def _rows() -> dict:
    return {
        "appointments": db.session.execute(select(
            Appointment.id, Appointment.status, Appointment.starts_at, Appointment.provider_id,
            Appointment.cancel_reason, Appointment.ical_sequence).order_by(Appointment.id)).all(),
        "patients": db.session.execute(select(
            Patient.id, Patient.first_name, Patient.last_name, Patient.phone_e164, Patient.email).order_by(Patient.id)).all(),
        "audit": db.session.scalar(select(func.count()).select_from(AuditEvent)),
        "users": db.session.execute(select(User.id, User.email, User.session_epoch, User.active)).all(),
        "tokens": db.session.execute(select(ApiToken.id, ApiToken.revoked_at)).all(),
    }


def assert_clear_refusal(response, statuses: set[int], field: str | None = None) -> None:
    """A 4xx the person or program can act on: which field and why, or a page that says so."""
    body = response.get_data(as_text=True)
    assert response.status_code in statuses, (response.status_code, body[:400])
    assert 400 <= response.status_code < 500
    if response.mimetype == "application/json":
        answer = response.get_json()
        assert answer["error"], answer
        messages = list(answer.get("fields", {}).values()) or [answer.get("message")]
        assert all(isinstance(m, str) and len(m) > 5 for m in messages), answer
        if field is not None:
            assert field in answer.get("fields", {}), answer
    else:
        assert response.mimetype == "text/html", response.mimetype
        assert _error_text(body), body[:3000]
        assert OFFICE in body  # every page, errors too, carries the clinic's numbers


def _error_text(html: str) -> str:
    """The words of the page's first error (an alert, an error notice or a field's error)."""
    match = re.search(r'<(\w+)[^>]*(?:role="alert"|class="[^"]*(?:notice-error|field-error|error-summary)[^"]*")[^>]*>'
                      r"(.*?)</\1>", html, re.S)
    words = re.sub(r"<[^>]+>", " ", match.group(2)) if match else ""
    return " ".join(words.split()) if len(words.strip()) >= 6 else ""


# --- the table --------------------------------------------------------------------------------
# Each row: (name, how to send it, statuses allowed, the field the API must name).

NESTED = "[" * 980 + "]" * 980


def api_json(method: str, path: str, body=None, raw: bytes | None = None):
    def send(w: World):
        url = path.format(token=w.token, provider=w.provider_id)
        if raw is not None:
            return w.client.open(url, method=method, data=raw, content_type="application/json")
        return w.client.open(url, method=method, json=body)
    return send


def get(path: str, who: str = "client", **headers):
    def send(w: World):
        url = path.format(token=w.token, provider=w.provider_id)
        if headers.get("bearer"):
            return getattr(w, who).get(url, headers={"Authorization": headers["bearer"].format(bearer=w.bearer)})
        return getattr(w, who).get(url)
    return send


def get_raw_path(path: bytes, who: str = "client"):
    """A path whose raw bytes are not UTF-8 (as a server hands it over: latin-1 in PATH_INFO)."""
    def send(w: World):
        return getattr(w, who).get("/", environ_overrides={"PATH_INFO": path.decode("latin-1")})
    return send


def get_raw_query(query: bytes, path: str = "/api/v1/availability", who: str = "client"):
    def send(w: World):
        return getattr(w, who).get(path, environ_overrides={"QUERY_STRING": query.decode("latin-1")})
    return send


def form(path: str, data, who: str = "client", content_type: str | None = None):
    def send(w: World):
        url = path.format(token=w.token, provider=w.provider_id)
        kwargs = {"content_type": content_type} if content_type else {}
        return getattr(w, who).post(url, data=data, **kwargs)
    return send


def booking(**changes):
    body = {"service": "evaluation", "provider_id": None, "start": OTHER_START,
            "patient": patient_payload(email="luis@example.com", first_name="Luis")}
    patient = changes.pop("patient", {})
    body["patient"].update(patient)
    body.update(changes)
    return body


def details_form(**changes):
    data = {"start": OTHER_START, **patient_payload(email="luis@example.com", first_name="Luis", sms_opt_in="yes")}
    data.update(changes)
    return data


def _tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def _respelled(token: str) -> str:
    """The same signature bytes spelt differently (base64's spare bits in the last character)."""
    head, _, signature = token.rpartition(".")
    raw = base64_decode(signature)
    assert base64_encode(raw).decode() == signature
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = alphabet[alphabet.index(last) ^ 1]
    return f"{head}.{signature[:-1]}{sibling}"


def _token_variant(kind: str):
    def make(token: str) -> str:
        if kind == "tampered":
            return _tampered(token)
        if kind == "truncated":
            return token[:-5]
        if kind == "re-encoded":  # a link: another base64 spelling; a bearer token: percent-encoded
            return _respelled(token) if "." in token else token.replace("_", "%5F")
        if kind == "padded":
            return token + "=="
        if kind == "upper-cased":
            return token.upper()
        raise AssertionError(kind)
    return make


def token_request(kind: str, surface: str):
    def send(w: World):
        bad = quote(_token_variant(kind)(w.token), safe="")
        if surface == "api get":
            return w.client.get(f"/api/v1/bookings/{bad}")
        if surface == "api cancel":
            return w.client.post(f"/api/v1/bookings/{bad}/cancel", json={})
        if surface == "api reschedule":
            return w.client.post(f"/api/v1/bookings/{bad}/reschedule", json={"start": OTHER_START})
        if surface == "page":
            return w.client.get(f"/appointments/{bad}")
        if surface == "page cancel":
            return w.client.post(f"/appointments/{bad}/cancel", data={"reason": ""})
        if surface == "calendar":
            return w.client.get(f"/appointments/{bad}/calendar.ics")
        if surface == "staff api":
            return w.client.get("/api/v1/staff/appointments",
                                headers={"Authorization": f"Bearer {_token_variant(kind)(w.bearer)}"})
        raise AssertionError(surface)
    return send


ROWS = [
    # NUL
    ("NUL in an API query", get("/api/v1/availability?service=eval%00uation&start=2026-12-01&end=2026-12-02"), {422}, "service"),
    ("NUL in an API body", api_json("POST", "/api/v1/bookings", booking(service="evaluation\u0000")), {422}, "service"),
    ("NUL in an API name", api_json("POST", "/api/v1/bookings", booking(patient={"last_name": "Gar\u0000cia"})), {422}, "last_name"),
    ("NUL in an API cancel reason", api_json("POST", "/api/v1/bookings/{token}/cancel", {"reason": "x\u0000"}), {422}, "reason"),
    ("NUL in a reschedule start", api_json("POST", "/api/v1/bookings/{token}/reschedule", {"start": "2026-12-16T08:00\u0000"}), {422}, "start"),
    ("NUL in a JSON key", api_json("POST", "/api/v1/bookings", {**booking(), "pro\u0000vider_id": 1}), {422}, None),
    ("NUL in a page path", get("/book/evaluation%00"), {404}, None),
    ("NUL in a page query", get("/book/evaluation/any?from=2026-12-01%00"), {400}, None),
    ("NUL in the booking form", form("/book/evaluation/any/details", details_form(note="back\x00pain")), {422}, None),
    ("NUL in the cancel form", form("/appointments/{token}/cancel", {"reason": "moving\x00"}), {422}, None),
    ("NUL in the reschedule form", form("/appointments/{token}/reschedule", {"start": "2026-12-02T13:00:00-07:00\x00"}), {422}, None),
    ("NUL in the sign-in email", form("/staff/login", {"email": "desk@example.com\x00", "password": PASSWORD}), {422}, None),
    ("NUL in a staff query", get("/staff/?date=2026-12-01%00", who="staff"), {400}, None),
    ("NUL in a staff API query", get("/api/v1/staff/appointments?date=2026-12-01%00", bearer="Bearer {bearer}"), {422}, "date"),
    # other control characters
    ("BEL in an API cancel reason", api_json("POST", "/api/v1/bookings/{token}/cancel", {"reason": "call \x07 me"}), {422}, "reason"),
    ("ESC in an API note", api_json("POST", "/api/v1/bookings", booking(patient={"note": "a\x1b[2Jb"})), {422}, "note"),
    ("DEL in a name", api_json("POST", "/api/v1/bookings", booking(patient={"first_name": "Lu\x7fis"})), {422}, "first_name"),
    ("C1 control in a name", api_json("POST", "/api/v1/bookings", booking(patient={"first_name": "Lu\x85is"})), {422}, "first_name"),
    ("BEL in the cancel form", form("/appointments/{token}/cancel", {"reason": "call \x07 me"}), {422}, None),
    ("ESC in the booking form", form("/book/evaluation/any/details", details_form(first_name="\x1b[31mLuis")), {422}, None),
    ("a lone surrogate in JSON", api_json("POST", "/api/v1/bookings", raw=b'{"service": "\\ud800"}'), {422}, "service"),
    # bidi
    ("right-to-left override in a cancel reason", api_json("POST", "/api/v1/bookings/{token}/cancel", {"reason": "gpj\u202eexe"}), {422}, "reason"),
    ("isolate in a name", api_json("POST", "/api/v1/bookings", booking(patient={"first_name": "Luis\u2066"})), {422}, "first_name"),
    ("override in the cancel form", form("/appointments/{token}/cancel", {"reason": "gpj\u202eexe"}), {422}, None),
    ("override in the booking form", form("/book/evaluation/any/details", details_form(last_name="Garc\u202eia")), {422}, None),
    ("override in a staff query", get("/staff/?date=2026-12-01%E2%80%AE", who="staff"), {400}, None),
    # CRLF
    ("CRLF in a page query", get("/book/evaluation/any?from=2026-12-01%0D%0ASet-Cookie:%20x=1"), {400}, None),
    ("CRLF in the sign-in next", form("/staff/login?next=/staff/%0D%0ALocation:%20//evil.example",
                                      {"email": "desk@example.com", "password": "wrong password!"}), {400}, None),
    ("CRLF in an API query", get("/api/v1/availability?service=evaluation%0D%0A&start=2026-12-01&end=2026-12-02"), {422}, "service"),
    ("CRLF in a name", api_json("POST", "/api/v1/bookings", booking(patient={"last_name": "Gar\r\ncia"})), {422}, "last_name"),
    ("CRLF in the booking form name", form("/book/evaluation/any/details", details_form(first_name="Luis\r\nX-A: b")), {422}, None),
    # over-long
    ("an API body over the size limit", api_json("POST", "/api/v1/bookings", raw=b'{"service": "' + b"e" * 70_000 + b'"}'), {413}, None),
    ("a form over the size limit", form("/appointments/{token}/cancel", {"reason": "x" * 70_000}), {413}, None),
    ("a form with too many parts", form("/appointments/{token}/cancel", {f"f{i}": "1" for i in range(300)},
                                        content_type="multipart/form-data"), {413}, None),
    ("a name over 60 characters", api_json("POST", "/api/v1/bookings", booking(patient={"first_name": "L" * 61})), {422}, "first_name"),
    ("a note over 500 characters", api_json("POST", "/api/v1/bookings", booking(patient={"note": "n" * 501})), {422}, "note"),
    ("a cancel reason over 200 characters", api_json("POST", "/api/v1/bookings/{token}/cancel", {"reason": "r" * 201}), {422}, "reason"),
    ("an over-long cancel reason in the form", form("/appointments/{token}/cancel", {"reason": "r" * 201}), {422}, None),
    ("an over-long name in the booking form", form("/book/evaluation/any/details", details_form(first_name="L" * 61)), {422}, None),
    ("an over-long service in a query", get("/api/v1/availability?service=" + "e" * 5000 + "&start=2026-12-01&end=2026-12-02"), {422}, "service"),
    # deeply nested
    ("nested JSON to bookings", api_json("POST", "/api/v1/bookings", raw=NESTED.encode()), {422}, "body"),
    ("nested JSON to cancel", api_json("POST", "/api/v1/bookings/{token}/cancel", raw=NESTED.encode()), {422}, "body"),
    ("nested JSON to reschedule", api_json("POST", "/api/v1/bookings/{token}/reschedule", raw=NESTED.encode()), {422}, "body"),
    ("nested objects to bookings", api_json("POST", "/api/v1/bookings", raw=b'{"a":' * 900 + b"1" + b"}" * 900), {422}, "body"),
    # invalid UTF-8
    ("raw invalid UTF-8 in a JSON body", api_json("POST", "/api/v1/bookings", raw=b'{"service": "eval\xff"}'), {422}, "body"),
    ("raw invalid UTF-8 in a form", form("/appointments/{token}/cancel", b"reason=moving\xffaway",
                                         content_type="application/x-www-form-urlencoded"), {422}, None),
    ("raw invalid UTF-8 in a multipart form", form("/appointments/{token}/cancel",
                                                   b'--b\r\nContent-Disposition: form-data; name="reason"\r\n\r\nmoving\xff\r\n--b--\r\n',
                                                   content_type="multipart/form-data; boundary=b"), {422}, None),
    ("raw invalid UTF-8 in a path", get_raw_path(b"/book/evaluation\xff"), {404}, None),
    ("raw invalid UTF-8 in an API query", get_raw_query(b"service=eval\xc3&start=2026-12-01&end=2026-12-02"), {422}, "query"),
    ("percent-encoded invalid UTF-8 in an API query", get("/api/v1/availability?service=%FF&start=2026-12-01&end=2026-12-02"), {422}, "query"),
    ("percent-encoded invalid UTF-8 in a page path", get("/book/%FF%FE"), {404}, None),
    ("percent-encoded invalid UTF-8 in a page query", get("/book/evaluation/any?from=%C3%28"), {400}, None),
    ("percent-encoded invalid UTF-8 in a form", form("/appointments/{token}/cancel", b"reason=%ED%A0%80",
                                                     content_type="application/x-www-form-urlencoded"), {422}, None),
    ("percent-encoded invalid UTF-8 in the sign-in form", form("/staff/login", b"email=desk%FF@example.com&password=x",
                                                                content_type="application/x-www-form-urlencoded"), {422}, None),
    ("percent-encoded invalid UTF-8 in a staff query", get("/staff/?date=%FF", who="staff"), {400}, None),
    # full-width digits
    ("a full-width provider in a query", get("/api/v1/availability?service=evaluation&start=2026-12-01&end=2026-12-02&provider=%EF%BC%91"), {422}, "provider"),
    ("a full-width provider in a body", api_json("POST", "/api/v1/bookings", booking(provider_id="１")), {422}, "provider_id"),
    ("a full-width date in a query", get("/api/v1/availability?service=evaluation&start=２０２６-12-01&end=2026-12-02"), {422}, "start"),
    ("a full-width start", api_json("POST", "/api/v1/bookings", booking(start="２０２６-12-02T13:00:00-07:00")), {422}, "start"),
    ("a full-width provider in a page path", get("/book/evaluation/%EF%BC%91"), {404}, None),
    ("a full-width day in a page path", get("/book/evaluation/any/２０２６-１２-０２"), {400}, None),
    ("a full-width staff date", get("/staff/?date=２０２６-12-01", who="staff"), {400}, None),
    ("a full-width staff API date", get("/api/v1/staff/appointments?date=２０２６-12-01", bearer="Bearer {bearer}"), {422}, "date"),
    ("a full-width start in the booking form", form("/book/evaluation/any/details", details_form(start="2026-12-02T１３:00:00-07:00")), {422}, None),
    # dates out of range
    ("year 1421 in a query", get("/api/v1/availability?service=evaluation&start=1421-09-22&end=1421-09-23"), {422}, "start"),
    ("year 1 in a query", get("/api/v1/availability?service=evaluation&start=0001-01-01&end=0001-01-02"), {422}, "start"),
    ("year 9999 in a query", get("/api/v1/availability?service=evaluation&start=9999-12-30&end=9999-12-31"), {422}, "start"),
    ("February 30", get("/api/v1/availability?service=evaluation&start=2026-02-30&end=2026-03-01"), {422}, "start"),
    ("a start past the end of time", api_json("POST", "/api/v1/bookings", booking(start="9999-12-31T23:00:00-12:00")), {422}, "start"),
    ("a start before year one", api_json("POST", "/api/v1/bookings/{token}/reschedule", {"start": "0001-01-01T00:00:00+14:00"}), {422}, "start"),
    ("a page day in year 1", get("/book/evaluation/any/0001-01-01"), {400}, None),
    ("a page window from year 9999", get("/book/evaluation/any?from=9999-12-31"), {400}, None),
    ("a staff day in year 1421", get("/staff/?date=1421-09-22", who="staff"), {400}, None),
    ("a staff API day in year 3000", get("/api/v1/staff/appointments?date=3000-01-01", bearer="Bearer {bearer}"), {422}, "date"),
    ("a reschedule page day out of range", get("/appointments/{token}/reschedule/0001-01-01"), {400}, None),
    # skipped and repeated local times (clinic time, no offset)
    ("a skipped local time through the API", api_json("POST", "/api/v1/bookings", booking(start="2027-03-14T02:30:00")), {422}, "start"),
    ("a repeated local time through the API", api_json("POST", "/api/v1/bookings/{token}/reschedule", {"start": "2026-11-01T01:30:00"}), {422}, "start"),
    ("a skipped local time in the booking form", form("/book/evaluation/any/details", details_form(start="2027-03-14T02:30")), {422}, None),
    ("a repeated local time in the reschedule form", form("/appointments/{token}/reschedule", {"start": "2026-11-01T01:30"}), {422}, None),
]

def waitlist_form(**changes):
    data = {"earliest_date": "2026-12-01", "latest_date": "2026-12-18", "time_of_day": "any",
            **patient_payload(email="luis@example.com", first_name="Luis", sms_opt_in="yes")}
    data.update(changes)
    return data


WAITLIST = "/book/evaluation/any/waitlist"
ROWS += [
    ("NUL in the waitlist form", form(WAITLIST, waitlist_form(last_name="Gar\x00cia")), {422}, None),
    ("override in the waitlist form", form(WAITLIST, waitlist_form(first_name="Luis\u202e")), {422}, None),
    ("CRLF in the waitlist form", form(WAITLIST, waitlist_form(first_name="Luis\r\nX-A: b")), {422}, None),
    ("an over-long name in the waitlist form", form(WAITLIST, waitlist_form(first_name="L" * 61)), {422}, None),
    ("a waitlist day in year 1", form(WAITLIST, waitlist_form(earliest_date="0001-01-01")), {422}, None),
    ("a waitlist day in year 9999", form(WAITLIST, waitlist_form(latest_date="9999-12-31")), {422}, None),
    ("a waitlist weekday that is no day", form(WAITLIST, waitlist_form(weekdays="8")), {422}, None),
    ("a waitlist time of day that is none", form(WAITLIST, waitlist_form(time_of_day="midnight\x00")), {422}, None),
    ("a forged waitlist leave link", form("/waitlist/leave/{token}x", {}), {404}, None),
    ("a forged waitlist offer link", form("/waitlist/offers/{token}", {}), {404}, None),
]
for kind in ("tampered", "truncated", "re-encoded", "padded", "upper-cased"):
    for surface in ("api get", "api cancel", "api reschedule", "page", "page cancel", "calendar"):
        ROWS.append((f"a {kind} link: {surface}", token_request(kind, surface), {404}, None))
    ROWS.append((f"a {kind} staff token", token_request(kind, "staff api"), {401}, None))


@pytest.mark.parametrize(("name", "send", "statuses", "field"), ROWS, ids=[row[0] for row in ROWS])
def test_a_hostile_input_gets_a_clear_4xx_and_changes_nothing(world, name, send, statuses, field):
    before = snapshot(world)
    response = send(world)
    assert_clear_refusal(response, statuses, field)
    assert snapshot(world) == before


def test_a_tampered_staff_cookie_signs_no_one_in(world):
    before = snapshot(world)
    cookie = world.staff.get_cookie("session")
    assert cookie is not None and world.staff.get("/staff/").status_code == 200
    intruder = world.client.application.test_client()
    genuine = cookie.value
    flipped = genuine[:-10] + ("A" if genuine[-10] != "A" else "Q") + genuine[-9:]  # inside the signature
    parts = genuine.split(".")
    forged = ".".join([parts[0][:-4] + "AAAA", *parts[1:]])  # the signed data changed
    for value in (flipped, genuine[:-6], forged, "", "."):
        intruder.set_cookie("session", value)
        response = intruder.get("/staff/")
        assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    assert snapshot(world) == before


# --- every method on every route ---------------------------------------------------------------

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE", "PROPFIND")


def _sample_path(rule, w: World) -> str:
    values = {}
    for name in rule.arguments:
        if isinstance(rule._converters[name], NumberConverter):  # int, float and their subclasses
            values[name] = 1
        elif name == "token":
            values[name] = w.token
        elif name == "slug":
            values[name] = "evaluation"
        elif name == "who":
            values[name] = str(w.provider_id)
        elif name == "day":
            values[name] = "2026-12-02"
        elif name == "filename":
            values[name] = "style.css"
        elif name == "kind":
            values[name] = "hours"
        elif name == "code":
            values[name] = "abcdefgh"
        else:
            values[name] = "x"
    return rule.build(values, append_unknown=False)[1]


def test_every_method_a_route_does_not_take_gets_405_with_allow(world):
    before = snapshot(world)
    app = world.client.application
    checked = 0
    adapter = app.url_map.bind("localhost")
    paths = {_sample_path(rule, world) for rule in app.url_map.iter_rules()}
    for path in sorted(paths):
        taken = set(adapter.allowed_methods(path))  # every rule of the path (GET and POST may be two)
        for method in METHODS:
            if method in taken:
                continue
            for who in (world.client, world.staff):
                response = who.open(path, method=method)
                assert response.status_code == 405, (method, path, response.status_code)
                allowed = {m.strip() for m in response.headers["Allow"].split(",")}
                assert allowed == taken, (method, path, allowed)
                if method != "HEAD":  # a HEAD answer has no body to read a message in
                    assert_clear_refusal(response, {405})
                response.close()
                checked += 1
    assert checked > 100
    assert snapshot(world) == before


def test_head_on_every_route_writes_nothing_even_with_a_body(world):
    before = snapshot(world)
    app = world.client.application
    for rule in app.url_map.iter_rules():
        if "HEAD" not in rule.methods:
            continue
        path = _sample_path(rule, world)
        for who in (world.client, world.staff):
            response = who.open(path, method="HEAD", data=details_form(reason="x"))
            assert response.status_code < 500 and response.get_data() == b"", (path, response.status_code)
            response.close()
    assert snapshot(world) == before
