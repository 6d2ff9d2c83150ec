"""The front desk's message pages: an appointment's messages and their states, resending,
patients' SMS state, and the inbox of texts nobody could act on."""
from __future__ import annotations

import re
import shutil

import pytest
from flask import g

from config import TestingConfig
from scheduler import create_app, worker
from scheduler.extensions import db
from scheduler.models import AuditEvent, InboundMessage, Patient, Provider, User
from scheduler.services.common.clock import now
from scheduler.services.messages.inbound import handle_inbound
from scheduler.services.staff.accounts import create_user
from tests.support.messaging import book, messages

PASSWORD = "a long enough password"
THURSDAY_10 = "2026-12-03T10:00:00-07:00"


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, clock):
    """Console transports (no Twilio, no SMTP settings) and CSRF on, as in production."""
    path = tmp_path / "scheduler.db"
    shutil.copyfile(migrated_sqlite_template, path)
    app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock,
                                     "WTF_CSRF_ENABLED": True})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def sign_in(client, email: str, role: str = "front_desk") -> None:
    create_user(email, PASSWORD, role)
    token = csrf_token(client.get("/staff/login").get_data(as_text=True))
    assert client.post("/staff/login", data={"email": email, "password": PASSWORD, "csrf_token": token}).status_code == 303
    g.pop("_login_user", None)


@pytest.fixture
def booked(client):
    booking = book(client, THURSDAY_10)
    worker.run_once()  # confirmations recorded by the console backends
    return booking


def page_of(client, appointment_id: int):
    g.pop("_login_user", None)
    return client.get(f"/staff/appointments/{appointment_id}")


def test_the_appointment_page_needs_sign_in(client, booked):
    response = page_of(client, booked["id"])
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_staff_see_each_message_and_its_state(client, booked):
    sign_in(client, "desk@example.com")
    page = page_of(client, booked["id"]).get_data(as_text=True)
    assert "Ana Garcia" in page
    rows = re.findall(r'<tr class="message message-(\w+)" id="message-(\d+)">', page)
    by_id = {m.id: m for m in messages(appointment_id=booked["id"])}
    assert {int(i): status for status, i in rows} == {m.id: m.status for m in by_id.values()}
    assert {"sent", "pending"} <= {status for status, _ in rows}
    # The console backend recorded the confirmations; the page says they never left.
    assert page.count("Not really sent") == 2
    assert "Waiting to be sent" in page and "Agreed to texts" in page


def test_the_day_sheet_links_to_the_appointment(client, booked):
    sign_in(client, "desk@example.com")
    day = client.get("/staff/?date=2026-12-03").get_data(as_text=True)
    assert f'/staff/appointments/{booked["id"]}' in day


def test_resend_makes_a_new_staff_message_of_that_kind(client, clock, booked):
    sign_in(client, "desk@example.com")
    confirmation = messages(appointment_id=booked["id"], kind="confirmation", channel="sms")[0]
    token = csrf_token(page_of(client, booked["id"]).get_data(as_text=True))
    response = client.post(f"/staff/messages/{confirmation.id}/resend", data={"csrf_token": token})
    assert response.status_code == 303
    copies = [m for m in messages(appointment_id=booked["id"], kind="confirmation", channel="sms")
              if m.id != confirmation.id]
    assert len(copies) == 1
    copy = copies[0]
    assert (copy.cause, copy.status, copy.due_at, copy.to_address) == ("staff", "pending", now(), "+19155550123")
    audit = db.session.scalars(db.select(AuditEvent).filter_by(action="message.resent")).one()
    assert audit.actor_kind == "staff" and audit.after["resends"] == confirmation.id
    assert worker.run_once()["send_due"] == {"sent": 1}  # 08:00 in Denver: inside the send window
    # Pressed again in the same instant: another copy, not an error.
    assert client.post(f"/staff/messages/{confirmation.id}/resend", data={"csrf_token": token}).status_code == 303
    assert len(messages(appointment_id=booked["id"], kind="confirmation", channel="sms")) == 3


def test_resend_keeps_csrf(client, booked):
    sign_in(client, "desk@example.com")
    message = messages(appointment_id=booked["id"])[0]
    assert client.post(f"/staff/messages/{message.id}/resend").status_code == 400
    assert len(messages(appointment_id=booked["id"])) == 5


def test_a_provider_sees_only_their_own_appointments_and_cannot_resend(client, booked):
    sign_in(client, "prov@example.com", role="provider")
    assert page_of(client, booked["id"]).status_code == 404  # not their visit
    provider = db.session.get(Provider, booked["provider_id"])
    provider.user_id = db.session.scalars(db.select(User).filter_by(email="prov@example.com")).one().id
    db.session.commit()
    page = page_of(client, booked["id"])
    assert page.status_code == 200 and "Resend" not in page.get_data(as_text=True)
    token = csrf_token(client.get("/staff/").get_data(as_text=True))
    message = messages(appointment_id=booked["id"])[0]
    assert client.post(f"/staff/messages/{message.id}/resend", data={"csrf_token": token}).status_code == 403


def test_failed_messages_and_refused_numbers_show(client, booked):
    sign_in(client, "desk@example.com")
    message = messages(appointment_id=booked["id"], channel="sms")[-1]
    message.status, message.error_code, message.last_error = "failed", "21211", "not a valid phone number"
    patient = db.session.get(Patient, message.patient_id)
    patient.sms_failed_number, patient.sms_failed_code = patient.phone_e164, "21211"
    db.session.commit()
    page = page_of(client, booked["id"]).get_data(as_text=True)
    assert "Error 21211" in page and "cannot receive texts" in page


def test_an_opted_out_patient_shows_as_such(client, booked):
    sign_in(client, "desk@example.com")
    handle_inbound("SM" + "5" * 32, "+19155550123", "STOP")
    assert "Opted out" in page_of(client, booked["id"]).get_data(as_text=True)


def test_the_inbox_lists_texts_to_answer_until_marked_done(client, booked):
    handle_inbound("SM" + "1" * 32, "+19155550123", "Can I bring my daughter?")
    handle_inbound("SM" + "2" * 32, "+19155550123", "C")  # acted on: not in the inbox
    g.pop("_login_user", None)
    assert client.get("/staff/inbox").status_code == 302
    sign_in(client, "desk@example.com")
    page = client.get("/staff/inbox").get_data(as_text=True)
    assert "Can I bring my daughter?" in page and "Ana Garcia" in page
    assert page.count('class="inbound') == 1
    inbound = db.session.scalars(db.select(InboundMessage).filter_by(needs_attention=True)).one()
    assert client.post(f"/staff/inbox/{inbound.id}/done").status_code == 400  # CSRF kept
    g.pop("_login_user", None)
    response = client.post(f"/staff/inbox/{inbound.id}/done", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(InboundMessage, inbound.id).resolved_at == now()
    g.pop("_login_user", None)
    assert "Can I bring my daughter?" not in client.get("/staff/inbox").get_data(as_text=True)
    g.pop("_login_user", None)
    assert "Can I bring my daughter?" in client.get("/staff/inbox?done=1").get_data(as_text=True)


def test_a_provider_has_no_inbox(client):
    sign_in(client, "prov@example.com", role="provider")
    assert client.get("/staff/inbox").status_code == 403


def _labels(page: str) -> dict[int, str]:
    rows = re.findall(r'id="message-(\d+)">\s*<td>.*?<span class="muted cause">([^<]+)</span>', page, re.S)
    return {int(i): label for i, label in rows}


def test_each_message_is_labelled_by_what_caused_it(client, booked):
    from scheduler.models import Appointment
    from scheduler.services.appointments import staff_changes
    from scheduler.services.common import audit as audit_trail

    sign_in(client, "desk@example.com")
    desk_user = db.session.scalars(db.select(User).filter_by(email="desk@example.com")).one()
    visit = db.session.get(Appointment, booked["id"])
    staff_changes.move(visit, "2026-12-03T14:00:00", actor=audit_trail.actor_for(desk_user))
    page = page_of(client, booked["id"]).get_data(as_text=True)
    assert "sent again by staff" not in page  # a move at the desk is not a resend
    labels = _labels(page)
    by_id = {m.id: m for m in messages(appointment_id=booked["id"])}
    assert set(labels) == set(by_id)
    changes = [m.id for m in by_id.values() if m.kind == "change"]
    assert changes and {labels[i] for i in changes} == {"after a change by the clinic"}
    assert {labels[m.id] for m in by_id.values() if m.kind == "reminder"} == {"planned automatically"}
    sent = next(m for m in by_id.values() if m.status == "sent")
    token = csrf_token(page)
    assert client.post(f"/staff/messages/{sent.id}/resend", data={"csrf_token": token}).status_code == 303
    labels = _labels(page_of(client, booked["id"]).get_data(as_text=True))
    copy = max(labels)
    assert labels[copy] == "sent again by staff"
    assert list(labels.values()).count("sent again by staff") == 1


def test_resend_is_offered_and_allowed_only_on_a_sent_or_failed_message(client, booked):
    sign_in(client, "desk@example.com")
    page = page_of(client, booked["id"]).get_data(as_text=True)
    offered = {int(i) for i in re.findall(r'/staff/messages/(\d+)/resend', page)}
    by_status = {m.id: m.status for m in messages(appointment_id=booked["id"])}
    assert offered and offered == {i for i, status in by_status.items() if status in ("sent", "failed")}
    pending = next(i for i, status in by_status.items() if status == "pending")
    cancelled = messages(appointment_id=booked["id"], status="pending")[-1]
    cancelled.status = "cancelled"
    db.session.commit()
    token = csrf_token(page)
    for message_id in (pending, cancelled.id):
        g.pop("_login_user", None)
        refused = client.post(f"/staff/messages/{message_id}/resend", data={"csrf_token": token})
        assert refused.status_code == 409
        assert "Only a sent or failed message can be sent again" in refused.get_data(as_text=True)
    assert len(messages(appointment_id=booked["id"])) == len(by_status)


def test_the_appointment_page_and_the_inbox_carry_the_staff_navigation(client, booked):
    sign_in(client, "desk@example.com")
    assert 'class="staff-nav"' in page_of(client, booked["id"]).get_data(as_text=True)
    g.pop("_login_user", None)
    assert 'class="staff-nav"' in client.get("/staff/inbox").get_data(as_text=True)


def _views() -> list[AuditEvent]:
    return list(db.session.scalars(db.select(AuditEvent).filter_by(action="patient.messages_viewed")))


def test_staff_read_what_each_message_said_with_the_link_masked(client, booked):
    sign_in(client, "desk@example.com")
    sent = [m for m in messages(appointment_id=booked["id"]) if m.status == "sent"]
    text = next(m for m in sent if m.channel == "sms")
    assert "[private link]" in text.body
    page = page_of(client, booked["id"]).get_data(as_text=True)
    assert _escaped(text.body) in page and "/l/" not in page
    views = _views()
    assert [(v.actor_kind, v.entity_type, v.entity_id) for v in views] == [("staff", "patients", text.patient_id)]
    g.pop("_login_user", None)
    record = client.get(f"/staff/patients/{text.patient_id}").get_data(as_text=True)
    assert _escaped(text.body) in record
    assert len(_views()) == 2


def _escaped(body: str) -> str:
    from markupsafe import escape
    return str(escape(body))


def test_the_outbox_page_lists_messages_by_state_with_their_text(client, booked):
    sign_in(client, "desk@example.com")
    day = client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/inbox"' in day and 'href="/staff/outbox"' in day
    g.pop("_login_user", None)
    everything = client.get("/staff/outbox").get_data(as_text=True)
    # The outbox shows patients' texts: one audit row per patient shown.
    assert [(v.entity_type, v.entity_id) for v in _views()] == [("patients", messages()[0].patient_id)]
    rows = set(re.findall(r'<tr class="message message-(\w+)" id="message-(\d+)">', everything))
    assert {int(i) for _s, i in rows} == {m.id for m in messages() if m.status != "pending" or m.due_at <= now()}
    assert any(m.status == "pending" and m.due_at > now() for m in messages())  # reminders not due yet: left out
    g.pop("_login_user", None)
    sent = client.get("/staff/outbox?state=sent").get_data(as_text=True)
    sent_rows = {int(i) for _s, i in re.findall(r'<tr class="message message-(\w+)" id="message-(\d+)">', sent)}
    assert sent_rows == {m.id for m in messages(status="sent")}
    sms = next(m for m in messages(status="sent") if m.channel == "sms")
    assert _escaped(sms.body) in sent and "console" in sent  # the text and the provider's answer
    g.pop("_login_user", None)
    due = client.get("/staff/outbox?state=due&channel=email").get_data(as_text=True)
    due_rows = {int(i) for _s, i in re.findall(r'<tr class="message message-(\w+)" id="message-(\d+)">', due)}
    assert due_rows == {m.id for m in messages(status="pending", channel="email") if m.due_at <= now()}
    g.pop("_login_user", None)
    assert client.get("/staff/outbox?state=lost").status_code == 422


def test_a_provider_has_no_outbox(client):
    sign_in(client, "prov@example.com", role="provider")
    assert client.get("/staff/outbox").status_code == 403
