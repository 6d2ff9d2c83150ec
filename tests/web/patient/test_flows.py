"""What a first-time patient meets beyond the happy path: pressing "Book" again, cancelling
on purpose, moving a visit, broken links, closed days, keeping the private link, and the
same capitalisation of dates on every Spanish page. (Browser checks: test_browser_pages.py.)"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent
from scheduler.services.messages import outbox
from tests.support.factories import make_closure, make_provider, make_service, patient_payload

DETAILS = {
    "first_name": "Ana", "last_name": "Garcia", "phone": "(915) 555-0123",
    "email": "ana@example.com", "sms_opt_in": "yes",
}
START = "2026-12-01T09:00:00-07:00"


@pytest.fixture
def links_sent(monkeypatch):
    """Every call of the outbox's link planner: the hook events.links_requested forwards to."""
    calls = []
    monkeypatch.setattr(
        outbox, "plan_links",
        lambda appointments, *, channel, cause: calls.append(([a.id for a in appointments], channel, cause)),
    )
    return calls


def _book_page(client, who, start=START, **details):
    return client.post(f"/book/evaluation/{who}/details", data={"start": start, **DETAILS, **details})


def _book_api(client, provider_id, start=START, **patient):
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(**patient)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _manage_path(api_answer) -> str:
    return api_answer["manage_url"].removeprefix("http://localhost")


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', "", html)


# --- 1. back, then "Book appointment" again ------------------------------------------


def test_booking_again_from_another_device_offers_to_send_the_link(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    assert _book_page(client, provider.id).status_code == 303
    other_device = app.test_client()  # no session: this browser never saw the link
    again = _book_page(other_device, provider.id)
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "You already booked this time" in html
    assert "Tuesday, December 1, 2026, 9:00\u202fAM" in html and "With Maria Lopez, PT" in html
    assert "/appointments/" not in re.sub(r'action="/appointments/send-link"', "", html)  # no link leaks
    assert 'action="/appointments/send-link"' in html and 'value="(915) 555-0123"' in html
    assert "Please check the fields" not in html and "Your confirmation has the link" not in html
    assert db.session.scalar(select(db.func.count(Appointment.id))) == 1


def test_the_session_keeps_only_the_latest_few_links(app, client):
    provider = make_provider()
    make_service()
    tokens = []
    for day in (1, 2, 3, 4, 7):
        booked = _book_page(client, provider.id, start=f"2026-12-0{day}T09:00:00-07:00")
        assert booked.status_code == 303
        tokens.append(booked.headers["Location"].split("/")[2])
    with client.session_transaction() as session:
        kept = session["recent_bookings"]
    assert len(kept) == 3 and list(kept) == ["3", "4", "5"]
    # The cookie is signed, not encrypted: it holds each link masked, never the link itself.
    assert not any(token in str(kept) or token.split(".")[0] in str(kept) for token in tokens)
    # A value that was tampered with, or moved to another visit, opens nothing.
    with client.session_transaction() as session:
        session["recent_bookings"] = {"1": kept["5"], "5": kept["5"][:-4] + "AAAA"}
    for day in (1, 7):
        again = _book_page(client, provider.id, start=f"2026-12-0{day}T09:00:00-07:00")
        assert again.status_code == 409 and "See my appointment" not in again.get_data(as_text=True)


# --- 2. cancel asks first ---------------------------------------------------------------


def test_cancel_asks_first_naming_the_visit(app, client):
    provider = make_provider("Dr. Alex Jimenez, DC")
    make_service()
    path = _manage_path(_book_api(client, provider.id, start="2026-12-08T15:00:00-07:00"))
    page = client.get(path).get_data(as_text=True)
    assert f'href="{path}/cancel"' in page
    assert f'action="{path}/cancel"' not in page  # one tap does not cancel
    confirm = client.get(f"{path}/cancel").get_data(as_text=True)
    assert "Cancel Tuesday, December 8 at 3:00\u202fPM with Dr. Alex Jimenez, DC?" in confirm
    assert f'action="{path}/cancel"' in confirm and "Yes, cancel it" in confirm
    assert db.session.scalar(select(Appointment)).status == "booked"
    done = client.post(f"{path}/cancel", data={"reason": "Feeling better"})
    after = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Your appointment is cancelled." in after and 'href="/book/evaluation"' in after
    # Too late or already cancelled: the confirmation step sends the patient back.
    assert client.get(f"{path}/cancel").status_code == 302


# --- 3. "first available" -----------------------------------------------------------------


def test_first_available_tiles_show_no_name_and_the_confirmation_says_who_if_it_changed(app, client):
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    make_service()
    _book_api(client, daniel.id, start="2026-12-01T13:00:00-07:00", first_name="Rosa", phone="915-555-0177")
    times = client.get("/book/evaluation/any/2026-12-01").get_data(as_text=True)
    assert "Maria Lopez, PT" not in times and "Daniel Reyes, PT" not in times
    assert "with any of 2 providers" in times  # 09:00: both free
    tile_13 = re.search(r'start=2026-12-01T13:00:00-07:00[^"]*">(.*?)</a>', times, re.S).group(1)
    assert "with any of" not in tile_13  # only Maria is free at 13:00
    # The patient was shown Maria at 09:00; she is booked a moment before they press "Book".
    details = client.get(f"/book/evaluation/any/details?start={START}&prefer={maria.id}").get_data(as_text=True)
    assert "With Maria Lopez, PT" in details and "The first available provider at this time" in details
    _book_api(client, maria.id, first_name="Luis", phone="915-555-0188")
    response = _book_page(client, "any", prefer=str(maria.id))
    assert response.status_code == 303
    confirmation = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Maria Lopez, PT was booked at this time a moment ago, so your visit is with Daniel Reyes, PT." in confirmation
    assert re.search(r'<dd class="with">Daniel Reyes, PT</dd>', confirmation)


# --- 4. moving a visit -----------------------------------------------------------------------


def test_move_states_the_provider_offers_others_and_preselects_nothing(app, client):
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    make_service()
    path = _manage_path(_book_api(client, maria.id))
    days = client.get(f"{path}/reschedule").get_data(as_text=True)
    assert "These are the open times of Maria Lopez, PT, who you are booked with." in days
    assert f'href="{path}/reschedule?with={daniel.id}"' in days
    times = client.get(f"{path}/reschedule/2026-12-03").get_data(as_text=True)
    assert 'name="start"' in times and "checked" not in times
    nothing_chosen = client.post(f"{path}/reschedule", data={"day": "2026-12-03"})
    assert nothing_chosen.status_code == 422
    assert "Please choose one of the times." in nothing_chosen.get_data(as_text=True)
    assert db.session.scalar(select(Appointment)).starts_at == datetime.fromisoformat(START)

    other = client.get(f"{path}/reschedule/2026-12-03?with={daniel.id}").get_data(as_text=True)
    assert "Open times of Daniel Reyes, PT" in other and "your provider changes from Maria Lopez, PT" in other
    assert f'name="with" value="{daniel.id}"' in other
    moved = client.post(f"{path}/reschedule", data={"start": "2026-12-03T10:00:00-07:00", "with": str(daniel.id)})
    assert moved.status_code == 303
    appointment = db.session.scalar(select(Appointment))
    assert appointment.provider_id == daniel.id
    assert appointment.starts_at == datetime.fromisoformat("2026-12-03T10:00:00-07:00")
    assert appointment.moved_from == datetime.fromisoformat(START)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "appointment.rescheduled"))
    assert event.before["provider_id"] == maria.id and event.after["provider_id"] == daniel.id
    # A provider who does not take online bookings cannot be chosen.
    hidden = make_provider("Offline", online=False)
    assert client.get(f"{path}/reschedule?with={hidden.id}").status_code == 404
    refused = client.post(f"{path}/reschedule", data={"start": "2026-12-04T10:00:00-07:00", "with": str(hidden.id)})
    assert refused.status_code == 404


def test_reschedule_service_keeps_the_provider_unless_told(app, client):
    from scheduler.services.appointments.patient_changes import reschedule
    from scheduler.services.common.errors import ValidationFailed

    maria = make_provider("Maria Lopez, PT")
    make_service()
    _book_api(client, maria.id)
    appointment = db.session.scalar(select(Appointment))
    reschedule(appointment, "2026-12-02T10:00:00-07:00")
    assert appointment.provider_id == maria.id and appointment.moved_from == datetime.fromisoformat(START)
    with pytest.raises(ValidationFailed):
        reschedule(appointment, "2026-12-03T10:00:00-07:00", provider_id=999)


# --- 5. a link that does not work ----------------------------------------------------------


def test_broken_links_explain_and_offer_to_send_the_link_again(app, client, clock):
    provider = make_provider()
    make_service()
    path = _manage_path(_book_api(client, provider.id))
    for broken in (path[:-3] + "abc", path[:-10], "/appointments/1"):
        response = client.get(broken)
        html = response.get_data(as_text=True)
        assert response.status_code == 404, broken
        assert "This link is not valid or has expired." in html
        assert 'href="tel:+19158500900"' in html and 'href="tel:+19155408444"' in html
        assert 'action="/appointments/send-link"' in html and 'name="contact"' in html
    app.config["MANAGE_TOKEN_MAX_AGE_DAYS"] = 30
    clock.advance(days=31)
    assert "has expired" in client.get(path).get_data(as_text=True)


def test_send_me_my_link_answers_the_same_and_sends_only_to_a_match(app, client, clock, links_sent):
    provider = make_provider()
    make_service()
    upcoming = _book_api(client, provider.id)["id"]
    later = _book_api(client, provider.id, start="2026-12-03T09:00:00-07:00")["id"]
    cancelled = _manage_path(_book_api(client, provider.id, start="2026-12-04T09:00:00-07:00"))
    client.post(f"{cancelled}/cancel")
    client.get(cancelled)  # shows (and so uses up) the "cancelled" notice
    sister = _book_api(client, provider.id, start="2026-12-02T09:00:00-07:00", first_name="Rosa",
                       email="rosa@example.com")["id"]  # same phone, another patient
    _book_api(client, provider.id, start="2026-12-02T13:00:00-07:00", first_name="Luis",
              phone="915-555-0199", email="luis@example.com")

    matched = client.post("/appointments/send-link", data={"contact": "915 555 0123"})
    unknown = client.post("/appointments/send-link", data={"contact": "915-555-0142"})
    by_email = client.post("/appointments/send-link", data={"contact": "ANA@example.com"})
    unknown_email = client.post("/appointments/send-link", data={"contact": "nobody@example.com"})
    answers = {_without_csrf(r.get_data(as_text=True)) for r in (matched, unknown, by_email, unknown_email)}
    assert [r.status_code for r in (matched, unknown, by_email, unknown_email)] == [200] * 4
    assert len(answers) == 1 and "Check your phone or email" in answers.pop()
    # One message per patient with their upcoming open visits; cancelled and past ones left out.
    assert links_sent == [
        ([upcoming, later], "sms", "patient"),
        ([sister], "sms", "patient"),
        ([upcoming, later], "email", "patient"),
    ]
    links_sent.clear()
    clock.now = datetime.fromisoformat("2026-12-02T08:00:00-07:00")
    client.post("/appointments/send-link", data={"contact": "915-555-0123"})
    assert links_sent == [([later], "sms", "patient"), ([sister], "sms", "patient")]

    bad = client.post("/appointments/send-link", data={"contact": "call me"})
    assert bad.status_code == 422 and 'id="contact-error"' in bad.get_data(as_text=True)
    assert 'value="call me"' in bad.get_data(as_text=True)


# --- 6. closed days -------------------------------------------------------------------------


def test_closed_and_fully_booked_days_say_so(app, client):
    provider = make_provider(windows=((datetime(2026, 1, 1, 8).time(), datetime(2026, 1, 1, 10).time()),))
    make_service(slot_step_minutes=60)
    make_closure(datetime(2026, 12, 2).date(), "Christmas Day")
    _book_api(client, provider.id, start="2026-12-03T08:00:00-07:00")  # 08:00-09:15: the day's only hour
    days = client.get("/book/evaluation/any").get_data(as_text=True)

    def tile(day: str) -> str:
        return re.search(rf"<li>\s*<(?:a|span)[^>]*>\s*<span class=\"day-name\">[^<]*</span>\s*"
                         rf"<span class=\"day-date\">{day}</span>(.*?)</li>", days, re.S).group(1)

    assert "Closed: Christmas Day" in tile("December 2")
    assert "Fully booked" in tile("December 3")
    assert "No openings" in tile("December 5")  # Saturday: nobody works
    spanish = client.get("/book/evaluation/any?lang=es").get_data(as_text=True)
    assert "Cerrado: Navidad" in spanish and "Completo" in spanish


# --- 9. Spanish dates -----------------------------------------------------------------------


def test_spanish_dates_are_capitalised_only_where_they_start_a_line(app, client):
    provider = make_provider("Maria Lopez, PT")
    make_service()
    client.get("/?lang=es")
    days = client.get(f"/book/evaluation/{provider.id}").get_data(as_text=True)
    assert '<span class="day-name">Martes</span>' in days
    assert 'class="date">Martes, 1 de diciembre de 2026</h1>' in client.get(
        f"/book/evaluation/{provider.id}/2026-12-01").get_data(as_text=True)
    details = client.get(f"/book/evaluation/{provider.id}/details?start={START}").get_data(as_text=True)
    assert '<span class="chosen-when">Martes, 1 de diciembre de 2026, 9:00' in details
    path = _manage_path(_book_api(client, provider.id))
    manage = client.get(path).get_data(as_text=True)
    assert '<span class="date">Martes, 1 de diciembre de 2026' in manage
    assert "hasta el lunes, 30 de noviembre de 2026" in manage  # inside a sentence: as written
    move = client.get(f"{path}/reschedule").get_data(as_text=True)
    assert "Cita actual: martes, 1 de diciembre de 2026" in move
    # One rule, in the markup: no style sheet re-capitalises dates behind it.
    assert "first-letter" not in (Path(app.static_folder) / "style.css").read_text()


# --- 10. keeping the private link -------------------------------------------------------------


def test_text_or_email_the_link_to_me(app, client, links_sent):
    provider = make_provider()
    make_service()
    booked = _book_api(client, provider.id)
    path = _manage_path(booked)
    page = client.get(path).get_data(as_text=True)
    assert "Copy link" in page and "data-copy=" in page
    assert "Text it to me" in page and "Email it to me" in page
    texted = client.post(f"{path}/send-link", data={"channel": "sms"})
    assert texted.status_code == 303
    assert "We are texting you the link." in client.get(texted.headers["Location"]).get_data(as_text=True)
    client.post(f"{path}/send-link", data={"channel": "email"})
    assert links_sent == [([booked["id"]], "sms", "patient"), ([booked["id"]], "email", "patient")]
    assert client.post(f"{path}/send-link", data={"channel": "fax"}).status_code == 422
    assert client.post("/appointments/forged/send-link", data={"channel": "sms"}).status_code == 404
    assert len(links_sent) == 2
