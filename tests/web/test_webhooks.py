"""Twilio's webhooks: signatures, what patients text back, and delivery reports."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from scheduler import worker
from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, InboundMessage, Message, Patient
from scheduler.services.common.clock import now
from tests.support.messaging import (
    ANA,
    BASE,
    THURSDAY_10,
    book,
    close_transports,
    messages,
    messaging_app,
    reply_of,
    signed_post,
    text,
)
from tests.support.peers import AUTH_TOKEN


@pytest.fixture
def overrides():
    return {}


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, clock, sink, smtp, overrides):
    sink.reset()
    # CSRF on, as in production: the webhooks are exempt, the staff forms are not.
    app = messaging_app(tmp_path, migrated_sqlite_template, clock, sink_url=sink.url, smtp_port=smtp.port,
                        WTF_CSRF_ENABLED=True, **overrides)
    with app.app_context():
        yield app
        close_transports(app)
        db.session.remove()
        db.engine.dispose()


def patient() -> Patient:
    return db.session.scalars(db.select(Patient).filter_by(phone_e164=ANA)).one()


def visit() -> Appointment:
    return db.session.scalars(db.select(Appointment).filter_by(patient_id=patient().id)).one()


# --- signatures ------------------------------------------------------------------------------

STATUS = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "0" * 32}


def test_a_valid_signature_is_accepted(client):
    assert signed_post(client, "/webhooks/twilio/status", STATUS).status_code == 200


def test_one_changed_parameter_is_refused(client):
    assert signed_post(client, "/webhooks/twilio/status", STATUS, tamper={"MessageStatus": "failed"}).status_code == 403
    assert signed_post(client, "/webhooks/twilio/sms", {**STATUS, "Body": "C", "From": ANA},
                       tamper={"From": "+19155550999"}).status_code == 403


def test_no_signature_is_refused(client):
    assert signed_post(client, "/webhooks/twilio/status", STATUS, signature="").status_code == 403
    assert client.post("/webhooks/twilio/sms", data={"Body": "C", "From": ANA}).status_code == 403


def test_a_signature_made_with_another_token_is_refused(client):
    assert signed_post(client, "/webhooks/twilio/status", STATUS, token="another-token").status_code == 403


def test_a_signature_for_another_url_is_refused(client):
    signature = RequestValidator(AUTH_TOKEN).compute_signature("https://evil.example/webhooks/twilio/status", STATUS)
    assert signed_post(client, "/webhooks/twilio/status", STATUS, signature=signature).status_code == 403


@pytest.mark.parametrize("overrides", [{"TWILIO_AUTH_TOKEN": ""}])
def test_without_an_auth_token_configured_everything_is_refused(client):
    assert signed_post(client, "/webhooks/twilio/status", STATUS, token="").status_code == 403


# --- texts from patients ---------------------------------------------------------------------


def test_c_confirms_the_next_visit_and_is_audited(client):
    book(client, THURSDAY_10)
    answer = reply_of(text(client, " c "))
    assert visit().status == "confirmed" and visit().confirmed_at == now()
    audit = db.session.scalars(db.select(AuditEvent).filter_by(action="appointment.confirmed")).one()
    assert audit.actor_kind == "sms"
    assert "Dec" in answer and "10:00" in answer
    inbound = db.session.scalars(db.select(InboundMessage)).one()
    assert (inbound.interpreted_as, inbound.patient_id, inbound.needs_attention) == ("confirm", patient().id, False)


@pytest.mark.parametrize("word", ["CONFIRM", "yes", "Si", "SÍ", "sí.", "Confirmar"])
def test_every_confirm_word_confirms(client, word):
    book(client, THURSDAY_10)
    reply_of(text(client, word))
    assert visit().status == "confirmed"


def test_a_message_sid_seen_twice_is_handled_once(client):
    book(client, THURSDAY_10)
    first = reply_of(text(client, "C", sid="SM" + "7" * 32))
    second = reply_of(text(client, "C", sid="SM" + "7" * 32))
    assert first and second == ""
    assert db.session.scalar(db.select(db.func.count()).select_from(InboundMessage)) == 1


def test_the_reply_is_in_the_patients_language(client):
    book(client, THURSDAY_10, language="es")
    answer = reply_of(text(client, "C"))
    assert "dic" in answer and answer != reply_of(text(client, "help"))


def test_r_replies_with_a_fresh_link_that_opens_the_visit(client):
    book(client, THURSDAY_10)
    answer = reply_of(text(client, "R"))
    link = next(word for word in answer.split() if word.startswith(BASE))
    page = client.get(link.removeprefix(BASE), follow_redirects=True)
    assert page.status_code == 200 and "10:00" in page.get_data(as_text=True)
    stored = db.session.scalars(db.select(InboundMessage)).one().reply
    assert link not in stored  # the private link is not kept in the database


def test_r_without_a_visit_says_so(client):
    book(client, THURSDAY_10)
    assert reply_of(text(client, "R", sender="+19155550999"))


@pytest.mark.parametrize("word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "revoke", "optout",
                                  "ALTO", "parar", "Baja"])
def test_stop_words_opt_out_and_cancel_no_appointment(client, word):
    book(client, THURSDAY_10)
    text(client, word)
    assert patient().sms_opted_out_at == now() and not patient().may_text
    assert visit().status == "booked"


def test_after_stop_no_text_goes_out_until_start_or_yes(client, clock, sink):
    book(client, THURSDAY_10)
    text(client, "STOP")
    sink.reset()
    worker.run_once()
    assert sink.delivered() == []  # not even the confirmation
    reply_of(text(client, "YES"))  # YES after STOP opts back in, it does not confirm
    assert patient().may_text and visit().status == "booked"
    clock.now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)
    worker.run_once()
    assert [r["form"]["To"] for r in sink.delivered()] == [ANA]  # the 24 h reminder goes again


@pytest.mark.parametrize("word", ["START", "unstop"])
def test_start_opts_back_in(client, word):
    book(client, THURSDAY_10)
    text(client, "STOP")
    text(client, word)
    assert patient().may_text


def test_help_names_the_clinic_and_both_numbers(client):
    book(client, THURSDAY_10)
    answer = reply_of(text(client, "help"))
    assert "Injury Medical" in answer and "915-850-0900" in answer and "915-540-8444" in answer
    assert "915-850-0900" in reply_of(text(client, "ayuda"))


def test_anything_else_gets_the_office_number_and_lands_in_the_inbox(client):
    book(client, THURSDAY_10)
    answer = reply_of(text(client, "Can I bring my daughter?"))
    assert "915-850-0900" in answer
    inbound = db.session.scalars(db.select(InboundMessage)).one()
    assert inbound.needs_attention and inbound.resolved_at is None and inbound.patient_id == patient().id


def test_a_spanish_word_from_an_unknown_number_is_answered_in_spanish(client):
    answer = reply_of(text(client, "AYUDA", sender="+19155550999"))
    assert answer != reply_of(text(client, "HELP", sender="+19155550999"))


# --- delivery reports -----------------------------------------------------------------------


def _sent_sms(client) -> Message:
    book(client, THURSDAY_10)
    worker.run_once()
    return messages(channel="sms")[0]


def report(client, sid: str, status: str, error: str | None = None):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
    if error:
        params["ErrorCode"] = error
    return signed_post(client, "/webhooks/twilio/status", params)


def test_status_callbacks_only_move_forward(client):
    sms = _sent_sms(client)
    sid = sms.provider_message_id
    assert report(client, sid, "sent").status_code == 200
    assert messages(channel="sms")[0].status == "sent"
    report(client, sid, "delivered")
    delivered = messages(channel="sms")[0]
    assert (delivered.status, delivered.delivered_at) == ("delivered", now())
    for late in ("sent", "queued", "undelivered", "failed", "delivered"):
        report(client, sid, late, "30003")
        again = messages(channel="sms")[0]
        assert (again.status, again.error_code, again.delivered_at) == ("delivered", "", now())


def test_an_undelivered_report_records_its_error_code(client):
    sms = _sent_sms(client)
    report(client, sms.provider_message_id, "undelivered", "30005")
    row = messages(channel="sms")[0]
    assert (row.status, row.error_code) == ("undelivered", "30005")


def test_a_failed_report_with_an_opt_out_code_marks_the_patient(client):
    sms = _sent_sms(client)
    report(client, sms.provider_message_id, "failed", "21610")
    assert messages(channel="sms")[0].status == "failed"
    assert not patient().may_text


def test_a_report_for_an_unknown_message_changes_nothing(client):
    _sent_sms(client)
    assert report(client, "SM" + "9" * 32, "failed").status_code == 200
    assert messages(channel="sms")[0].status == "sent"
