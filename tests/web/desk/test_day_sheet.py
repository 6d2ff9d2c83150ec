"""Staff sign-in, roles and the day sheet."""
from __future__ import annotations

import re

import pytest

from scheduler.extensions import db
from scheduler.models import Provider
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import make_provider, make_service, patient_payload

PASSWORD = "a long enough password"


def _book(client, provider_id, start, **patient):
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(**patient)})
    assert response.status_code == 201, response.get_json()


def _sign_in(client, email, password=PASSWORD, next_=None):
    url = "/staff/login" + (f"?next={next_}" if next_ else "")
    return client.post(url, data={"email": email, "password": password})


def test_day_sheet_needs_sign_in_and_lists_the_days_visits(app, client):
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    make_service()
    _book(client, maria.id, "2026-12-01T09:00:00-07:00")
    _book(client, daniel.id, "2026-12-01T13:00:00-07:00", first_name="Luis", phone="915-555-0188")
    _book(client, daniel.id, "2026-12-02T13:00:00-07:00", first_name="Rosa", phone="915-555-0177")
    create_user("desk@example.com", PASSWORD, "front_desk")

    anonymous = client.get("/staff/?date=2026-12-01")
    assert anonymous.status_code == 302 and "/staff/login?next=" in anonymous.headers["Location"]
    signed_in = _sign_in(client, "Desk@Example.com", next_="/staff/?date=2026-12-01")
    assert signed_in.status_code == 303 and signed_in.headers["Location"] == "/staff/?date=2026-12-01"
    page = client.get("/staff/?date=2026-12-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Maria Lopez, PT" in html and "Daniel Reyes, PT" in html
    assert "Ana Garcia" in html and "Luis Garcia" in html and "Rosa" not in html
    assert 'href="tel:+19155550188"' in html
    assert html.index("Ana Garcia") < html.index("Daniel Reyes, PT") < html.index("Luis Garcia")
    assert "915-850-0900" in html  # the clinic's numbers and disclaimer are on staff pages too
    assert client.get("/staff/?date=not-a-day").status_code == 400


@pytest.fixture
def maria_and_daniel(app, client):
    """Two providers with one visit each on 2026-12-01; Maria has a provider account."""
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    make_service()
    _book(client, maria.id, "2026-12-01T09:00:00-07:00")
    _book(client, daniel.id, "2026-12-01T13:00:00-07:00", first_name="Luis", phone="915-555-0188")
    user = create_user("maria@example.com", PASSWORD, "provider")
    db.session.get(Provider, maria.id).user_id = user.id
    db.session.commit()
    return maria, daniel


def test_a_provider_sees_only_their_own_visits(client, maria_and_daniel):
    _sign_in(client, "maria@example.com")
    html = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "Ana Garcia" in html and "Luis Garcia" not in html and "Daniel Reyes, PT" not in html


def test_wrong_password_inactive_user_and_open_redirects_are_refused(app, client):
    create_user("desk@example.com", PASSWORD, "front_desk")
    wrong = _sign_in(client, "desk@example.com", "not the password")
    assert wrong.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert 'value="desk@example.com"' in wrong.get_data(as_text=True)
    assert _sign_in(client, "nobody@example.com").status_code == 401
    for target in ("//evil.example.com/", "https://evil.example.com/", "/\\evil.example.com"):
        response = _sign_in(client, "desk@example.com", next_=target)
        assert response.status_code == 303 and response.headers["Location"] == "/staff/", target
        client.post("/staff/logout")
    user = create_user("gone@example.com", PASSWORD, "admin")
    user.active = False
    db.session.commit()
    assert _sign_in(client, "gone@example.com").status_code == 401


def test_sign_out(app, client):
    create_user("desk@example.com", PASSWORD, "front_desk")
    _sign_in(client, "desk@example.com")
    assert client.get("/staff/").status_code == 200
    assert client.get("/staff/logout").status_code == 405  # signing out is a POST (with CSRF)
    out = client.post("/staff/logout")
    assert out.status_code == 303
    assert "You are signed out." in client.get(out.headers["Location"]).get_data(as_text=True)
    assert client.get("/staff/").status_code == 302


def test_sign_in_form_carries_a_csrf_token(app, client):
    html = client.get("/staff/login").get_data(as_text=True)
    assert re.search(r'name="csrf_token" value="[^"]+"', html)
    assert 'autocomplete="current-password"' in html


def test_a_providers_api_token_sees_only_their_visits(client, maria_and_daniel):
    maria, daniel = maria_and_daniel
    create_user("desk@example.com", PASSWORD, "front_desk")
    for email, expected in (("maria@example.com", {maria.id}), ("desk@example.com", {maria.id, daniel.id})):
        token = issue_api_token(email)
        listed = client.get("/api/v1/staff/appointments?date=2026-12-01",
                            headers={"Authorization": f"Bearer {token}"}).get_json()["appointments"]
        assert {a["provider_id"] for a in listed} == expected, email


def test_signing_out_ends_sessions_elsewhere_even_with_a_copied_cookie(app, client):
    from flask import g

    create_user("desk@example.com", PASSWORD, "front_desk")
    _sign_in(client, "desk@example.com")
    copied = client.get_cookie("session").value
    other_device = app.test_client()
    other_device.set_cookie("session", copied)
    g.pop("_login_user", None)  # the fixture's app context would otherwise remember the user
    assert other_device.get("/staff/").status_code == 200
    client.post("/staff/logout")
    g.pop("_login_user", None)
    assert other_device.get("/staff/").status_code == 302  # the copied cookie is worthless now
    # Signing in again works, with a fresh session.
    g.pop("_login_user", None)
    assert _sign_in(client, "desk@example.com").status_code == 303
    assert client.get("/staff/").status_code == 200


def test_api_bookings_are_recorded_as_such_and_the_day_sheet_tells_them_apart(app, client):
    from sqlalchemy import select

    from scheduler.models import Appointment, AuditEvent

    maria = make_provider("Maria Lopez, PT")
    make_service()
    desk = create_user("desk@example.com", PASSWORD, "front_desk")
    token = issue_api_token("desk@example.com")
    client.post("/book/evaluation/1/details", data={
        "start": "2026-12-01T08:00:00-07:00", "first_name": "Web", "last_name": "Patient", "phone": "915-555-0111",
        "email": "web@example.com"})
    _book(client, maria.id, "2026-12-01T10:00:00-07:00", first_name="Anon", phone="915-555-0122")
    with_token = client.post("/api/v1/bookings", headers={"Authorization": f"Bearer {token}"}, json={
        "service": "evaluation", "provider_id": maria.id, "start": "2026-12-01T13:00:00-07:00",
        "patient": patient_payload(first_name="Desk", phone="915-555-0133")})
    assert with_token.status_code == 201
    bad_token = client.post("/api/v1/bookings", headers={"Authorization": "Bearer sk_wrong"}, json={
        "service": "evaluation", "provider_id": maria.id, "start": "2026-12-01T15:00:00-07:00",
        "patient": patient_payload(first_name="Nobody", phone="915-555-0144")})
    assert bad_token.status_code == 401  # refused, not quietly recorded as an anonymous client

    rows = {a.patient.first_name: a for a in db.session.scalars(select(Appointment))}
    assert {name: a.source for name, a in rows.items()} == {"Web": "online", "Anon": "api", "Desk": "api"}
    actors = {
        name: db.session.execute(select(AuditEvent.actor_kind, AuditEvent.actor_id).where(
            AuditEvent.action == "appointment.booked", AuditEvent.entity_id == a.id)).one()
        for name, a in rows.items()
    }
    assert actors == {"Web": ("patient_web", None), "Anon": ("api", None), "Desk": ("staff", desk.id)}

    _sign_in(client, "desk@example.com")
    html = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    visits = dict(re.findall(r'<span class="visit-who">(?:<a [^>]*>)?(\w+) [^<]*(?:</a>)?</span>.*?<span class="visit-source">(.*?)</span>',
                             html, re.S))
    assert visits["Web"].strip() == "booked online"
    assert visits["Anon"].strip() == "booked through the API"
    assert " ".join(visits["Desk"].split()) == "booked through the API by desk@example.com"


def test_day_sheet_shows_cancel_reason_language_and_moves(app, client):
    maria = make_provider("Maria Lopez, PT")
    make_service()
    create_user("desk@example.com", PASSWORD, "front_desk")
    moved = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": maria.id, "start": "2026-12-01T09:00:00-07:00",
        "patient": patient_payload(first_name="Rosa", phone="915-555-0177")}, headers={"Accept-Language": "es"})
    token = moved.get_json()["manage_url"].rsplit("/", 1)[1]
    client.post(f"/appointments/{token}/reschedule", data={"start": "2026-12-01T13:00:00-07:00"})
    cancelled = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": maria.id, "start": "2026-12-01T10:30:00-07:00",
        "patient": patient_payload(first_name="Luis", phone="915-555-0188")}).get_json()
    client.post(f"/api/v1/bookings/{cancelled['manage_url'].rsplit('/', 1)[1]}/cancel", json={"reason": "Car broke down"})

    _sign_in(client, "desk@example.com")
    html = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    rosa = html[html.index("Rosa Garcia"):html.index("Luis Garcia")] if html.index("Rosa") < html.index("Luis") \
        else html[html.index("Rosa Garcia"):]
    assert "Speaks Spanish" in rosa
    assert "Moved from Tuesday, December 1, 9:00\u202fAM" in rosa
    luis = html[html.index("Luis Garcia"):]
    assert "Speaks English" in luis and "Cancellation reason: Car broke down" in luis


def test_staff_pages_are_english_with_no_language_switch(app, client):
    """A Spanish choice on a patient page, a Spanish browser or ?lang=es never turns a staff
    page Spanish, and staff pages offer no switch."""
    make_provider("Maria Lopez, PT")
    make_service()
    create_user("desk@example.com", PASSWORD, "front_desk")
    spanish = {"Accept-Language": "es-MX,es;q=0.9"}
    assert 'lang="es"' in client.get("/?lang=es").get_data(as_text=True)  # chosen on a patient page
    assert 'lang="en"' in client.get("/staff/login", headers=spanish).get_data(as_text=True)
    _sign_in(client, "desk@example.com")
    for path in ("/staff/?date=2026-12-01", "/staff/?date=2026-12-01&lang=es", "/staff/patients/"):
        html = client.get(path, headers=spanish).get_data(as_text=True)
        assert '<html lang="en">' in html and 'hreflang="es"' not in html, path
        assert "Español" not in html
    assert 'lang="es"' in client.get("/", headers=spanish).get_data(as_text=True)  # the patient's choice stays
