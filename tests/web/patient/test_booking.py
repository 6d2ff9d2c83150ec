"""The public booking pages through Flask's test client: flow, errors, conflicts."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Patient, Provider
from tests.support.factories import make_closure, make_provider, make_service

DETAILS = {
    "first_name": "Ana", "last_name": "Garcia", "phone": "(915) 555-0123",
    "email": "ana@example.com", "sms_opt_in": "yes", "note": "Left shoulder",
}


def _times_on(client, path):
    html = client.get(path).get_data(as_text=True)
    return re.findall(r'details\?start=([^"]+)"', html)


def test_services_providers_days_and_times(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    make_closure(datetime(2026, 12, 2).date(), "Staff training")
    assert "Initial evaluation" in client.get("/").get_data(as_text=True)
    page = client.get("/book/evaluation").get_data(as_text=True)
    assert "First available" in page and "Maria Lopez, PT" in page

    days = client.get("/book/evaluation/any").get_data(as_text=True)
    # Monday (08:00 now + 2 h notice) still has openings; the closure and the weekend have none.
    assert 'href="/book/evaluation/any/2026-11-30"' in days
    assert 'href="/book/evaluation/any/2026-12-02"' not in days
    assert 'href="/book/evaluation/any/2026-12-05"' not in days
    assert days.count("No openings") >= 3  # Wed closure, Sat, Sun

    starts = _times_on(client, f"/book/evaluation/{provider.id}/2026-12-01")
    assert starts[0].startswith("2026-12-01T08:00:00-07:00")
    # 60 min + 15 buffer, 15 min steps, 08-12 and 13-17: 4 + 4 + ... starts that fit
    assert "2026-12-01T11:00:00-07:00" in starts
    assert "2026-12-01T11:15:00-07:00" not in starts  # would run into lunch
    assert "2026-12-01T16:00:00-07:00" in starts


def test_book_through_pages_shows_confirmation(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    start = _times_on(client, f"/book/evaluation/{provider.id}/2026-12-01")[0].replace("%2B", "+")
    form = client.get(f"/book/evaluation/{provider.id}/details?start={start}")
    assert form.status_code == 200
    response = client.post(f"/book/evaluation/{provider.id}/details", data={"start": start, **DETAILS})
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"])
    html = confirmation.get_data(as_text=True)
    assert confirmation.status_code == 200
    assert "You&#39;re booked" in html or "You're booked" in html
    assert "Tuesday, December 1, 2026, 8:00" in html
    assert "Maria Lopez, PT" in html
    manage_path = response.headers["Location"].removesuffix("/booked")
    assert f"http://localhost{manage_path}" in html
    assert f'href="{manage_path}/calendar.ics"' in html
    appointment = db.session.scalar(select(Appointment))
    assert appointment.patient.phone_e164 == "+19155550123"
    assert appointment.patient.sms_consent_at is not None
    assert appointment.patient_note == "Left shoulder"
    assert appointment.starts_at == datetime.fromisoformat(start)
    assert confirmation.headers["Cache-Control"] == "no-store"


def test_invalid_details_rerender_form_with_what_was_typed(app, client):
    provider = make_provider()
    make_service()
    bad = {**DETAILS, "phone": "555-12", "email": "not-an-email", "first_name": "A" * 61}
    response = client.post(
        f"/book/evaluation/{provider.id}/details", data={"start": "2026-12-01T08:00:00-07:00", **bad}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="phone-error"' in html and 'id="email-error"' in html and 'id="first_name-error"' in html
    assert 'value="555-12"' in html and 'value="not-an-email"' in html
    assert "Left shoulder</textarea>" in html
    assert 'aria-invalid="true"' in html
    assert db.session.scalar(select(func.count(Appointment.id))) == 0


def test_bad_start_values_are_field_errors_not_500(app, client):
    provider = make_provider()
    make_service()
    path = f"/book/evaluation/{provider.id}/details"
    cases = {
        "yesterday-ish": "2026-11-29T09:00:00-07:00",   # in the past
        "inside notice": "2026-11-30T09:00:00-07:00",   # now is 08:00, notice is 2 h
        "too far": "2027-03-01T09:00:00-07:00",          # beyond 60 days
        "not a slot": "2026-12-01T08:07:00-07:00",
        "after hours": "2026-12-01T20:00:00-07:00",
        "garbage": "tomorrow at nine",
    }
    for label, start in cases.items():
        response = client.post(path, data={"start": start, **DETAILS})
        assert response.status_code == 422, label
        assert 'id="start-error"' in response.get_data(as_text=True), label
    assert client.get(f"{path}?start=not-a-time").status_code == 400
    assert client.get("/book/evaluation/any/2026-13-45").status_code == 400
    assert client.get("/book/evaluation/any?from=nope").status_code == 400
    assert client.get("/book/no-such-service").status_code == 404
    assert client.get("/book/evaluation/999").status_code == 404


def test_taken_slot_gives_409_with_nearest_times_and_keeps_details(app, client):
    provider = make_provider()
    make_service()
    path = f"/book/evaluation/{provider.id}/details"
    start = "2026-12-01T09:00:00-07:00"
    assert client.post(path, data={"start": start, **DETAILS}).status_code == 303
    other = {**DETAILS, "first_name": "Luis", "phone": "915-555-0199"}
    response = client.post(path, data={"start": start, **other})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    # The summary keeps the date and time that was asked for.
    assert "Sorry, Tuesday, December 1, 2026, 9:00\u202fAM was just taken." in html
    offered = re.findall(r'name="start" value="([^"]+)"', html)
    assert offered and start not in offered
    assert 'value="Luis"' in html
    # Booking one of the offered times succeeds.
    assert client.post(path, data={"start": offered[0], **other}).status_code == 303
    assert db.session.scalar(select(func.count(Appointment.id))) == 2


def test_first_available_spreads_over_providers(app, client):
    first = make_provider("First")
    second = make_provider("Second")
    make_service()
    start = "2026-12-01T09:00:00-07:00"
    for n in range(2):
        response = client.post("/book/evaluation/any/details", data={
            "start": start, **{**DETAILS, "first_name": f"Pat{'ab'[n]}", "phone": f"915-555-010{n}"}})
        assert response.status_code == 303
    third = client.post("/book/evaluation/any/details", data={"start": start, **{**DETAILS, "first_name": "Late"}})
    assert third.status_code == 409
    providers = set(db.session.scalars(select(Appointment.provider_id)))
    assert providers == {first.id, second.id}


def test_same_patient_is_reused_and_audited(app, client):
    provider = make_provider()
    make_service()
    path = f"/book/evaluation/{provider.id}/details"
    client.post(path, data={"start": "2026-12-01T09:00:00-07:00", **DETAILS})
    client.post(path, data={"start": "2026-12-02T09:00:00-07:00", **{**DETAILS, "first_name": "ana"}})
    assert db.session.scalar(select(func.count(Patient.id))) == 1
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "appointment.booked")).all()
    assert len(events) == 2 and all(e.actor_kind == "patient_web" for e in events)


def test_csrf_is_required_on_forms(tmp_path, migrated_sqlite_template, clock):
    import shutil

    path = tmp_path / "csrf.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "WTF_CSRF_ENABLED": True,
                                     "CLOCK": clock})
    with app.app_context():
        provider = make_provider()
        make_service()
        client = app.test_client()
        path_ = f"/book/evaluation/{provider.id}/details"
        start = "2026-12-01T09:00:00-07:00"
        refused = client.post(path_, data={"start": start, **DETAILS})
        assert refused.status_code == 400
        assert "This form has expired" in refused.get_data(as_text=True)
        page = client.get(f"{path_}?start={start.replace('+', '%2B')}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        accepted = client.post(path_, data={"start": start, "csrf_token": token, **DETAILS})
        assert accepted.status_code == 303
        db.session.remove()
        db.engine.dispose()


def test_security_headers(app, client):
    make_service()
    response = client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    html = response.get_data(as_text=True)
    # Scripts come from files on this site only, never inline.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/pages.js" defer>']


def test_first_available_offers_the_least_busy_provider_and_books_them(app, client):
    busy = make_provider("Busy")
    free = make_provider("Free")
    make_service()
    client.post(f"/book/evaluation/{busy.id}/details", data={"start": "2026-12-01T13:00:00-07:00", **DETAILS})
    html = client.get("/book/evaluation/any/2026-12-01").get_data(as_text=True)
    link = re.search(r'href="(/book/evaluation/any/details\?start=2026-12-01T09:00:00-07:00[^"]*)"', html).group(1)
    assert f"prefer={free.id}" in link
    details = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "With Free" in details and f'name="prefer" value="{free.id}"' in details
    response = client.post("/book/evaluation/any/details", data={
        "start": "2026-12-01T09:00:00-07:00", "prefer": str(free.id), **{**DETAILS, "first_name": "Luis"}})
    assert response.status_code == 303
    booked = db.session.scalar(select(Appointment).where(Appointment.starts_at == datetime.fromisoformat(
        "2026-12-01T09:00:00-07:00")))
    assert booked.provider_id == free.id


def test_pressing_book_twice_does_not_give_the_patient_two_visits(app, client):
    make_provider("First")
    make_provider("Second")
    make_service()
    start = "2026-12-01T09:00:00-07:00"
    first = client.post("/book/evaluation/any/details", data={"start": start, **DETAILS})
    assert first.status_code == 303
    manage_path = first.headers["Location"].removesuffix("/booked")
    again = client.post("/book/evaluation/any/details", data={"start": start, **DETAILS})
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "You already booked this time" in html and f'href="{manage_path}"' in html
    # Overlapping, not just equal, times count; another person and a later time do not.
    overlapping = client.post("/book/evaluation/any/details", data={"start": "2026-12-01T09:30:00-07:00", **DETAILS})
    assert overlapping.status_code == 409
    assert "You already have a visit at this time" in overlapping.get_data(as_text=True)
    other_person = {**DETAILS, "first_name": "Luis", "phone": "915-555-0199"}
    assert client.post("/book/evaluation/any/details", data={"start": start, **other_person}).status_code == 303
    assert client.post("/book/evaluation/any/details",
                       data={"start": "2026-12-01T11:00:00-07:00", **DETAILS}).status_code == 303
    assert db.session.scalar(select(func.count(Appointment.id))) == 3


def test_day_picker_pages_stop_at_the_booking_horizon(app, client):
    make_provider()
    make_service(max_advance_days=20)
    first_page = client.get("/book/evaluation/any").get_data(as_text=True)
    assert "Later days" in first_page and "Earlier days" not in first_page
    last_page = client.get("/book/evaluation/any?from=2026-12-14").get_data(as_text=True)
    assert "Later days" not in last_page and "Earlier days" in last_page
    # Asking for a page past the horizon shows its last page rather than empty weeks.
    beyond = client.get("/book/evaluation/any?from=2027-06-01").get_data(as_text=True)
    assert 'href="/book/evaluation/any/2026-12-18"' in beyond


def test_patient_records_and_consent_changes_are_audited(app, client):
    provider = make_provider()
    make_service()
    path = f"/book/evaluation/{provider.id}/details"
    no_texts = {**DETAILS, "sms_opt_in": ""}
    client.post(path, data={"start": "2026-12-01T09:00:00-07:00", **no_texts})
    client.post(path, data={"start": "2026-12-02T09:00:00-07:00", **DETAILS})  # now opts in
    client.post(path, data={"start": "2026-12-03T09:00:00-07:00", **DETAILS})  # nothing new
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "patients")
                                .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["patient.created", "patient.updated"]
    assert events[0].after["phone_e164"] == "+19155550123" and events[0].after["sms_consent_at"] is None
    assert events[1].before["sms_consent_at"] is None and events[1].after["sms_consent_at"]
    assert all(e.actor_kind == "patient_web" for e in events)


FORM_TEXT = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["", " ", "2026-12-01T09:00:00-07:00", "2026-12-01T09:00", "9999-12-31T23:59:59+14:00",
                     "0001-01-01T00:00:00-12:00", "915-555-0123", "+52 55 1234 5678", "ana@example.com",
                     "\x00", "\r\nX-Injected: 1", "<script>alert(1)</script>", "A" * 600]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(form=st.fixed_dictionaries({}, optional={
    name: FORM_TEXT for name in ("start", "first_name", "last_name", "phone", "email", "note", "sms_opt_in", "prefer")
}), who=st.sampled_from(["any", "1", "2"]))
def test_any_form_input_gets_a_page_never_a_500(app, client, form, who):
    if db.session.get(Provider, 1) is None:
        make_provider("First")
        make_provider("Second")
        make_service()
    response = client.post(f"/book/evaluation/{who}/details", data=form)
    assert response.status_code in (303, 409, 422, 429), response.status_code
    if response.status_code != 303:
        html = response.get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html  # autoescaped
        assert "915-850-0900" in html


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=FORM_TEXT, page=st.sampled_from([
    "/book/evaluation/any?from={}", "/book/evaluation/1/{}", "/book/evaluation/any/details?start={}",
    "/book/{}", "/book/evaluation/{}", "/appointments/{}", "/appointments/{}/calendar.ics",
]))
def test_any_address_gets_a_page_never_a_500(app, client, value, page):
    if db.session.get(Provider, 1) is None:
        make_provider("First")
        make_service()
    response = client.get(page.format(quote(value, safe="")))
    assert response.status_code in (200, 308, 400, 404), (page, value, response.status_code)


def test_the_details_page_books_without_an_email_when_the_patient_agrees_to_texts(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    start = "2026-12-01T09:00:00-07:00"
    path = f"/book/evaluation/{provider.id}/details"
    form = client.get(f"{path}?start={start.replace('+', '%2B')}").get_data(as_text=True)
    assert "Optional if you agree to text messages" in form
    patient = {"first_name": "Rosa", "last_name": "Mendez", "phone": "915-555-0177", "email": ""}
    refused = client.post(path, data={"start": start, **patient})
    assert refused.status_code == 422
    assert "Please enter an email address, or agree to text messages" in refused.get_data(as_text=True)
    booked = client.post(path, data={"start": start, **patient, "sms_opt_in": "yes"})
    assert booked.status_code == 303


def test_the_time_and_details_pages_say_when_a_visit_can_no_longer_be_changed_online(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    notice = "Visits within 24 hours can only be changed by phone."
    assert notice in client.get(f"/book/evaluation/{provider.id}/2026-12-01").get_data(as_text=True)
    details = client.get(f"/book/evaluation/{provider.id}/details?start=2026-12-01T09:00:00-07:00")
    assert notice in details.get_data(as_text=True)
    spanish = client.get(f"/book/evaluation/{provider.id}/2026-12-01?lang=es").get_data(as_text=True)
    assert "Las citas de las próximas 24 horas solo se pueden cambiar por teléfono." in spanish
