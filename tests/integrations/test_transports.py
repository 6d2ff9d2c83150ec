"""The transports against real peers: the twilio SDK against Prism (Twilio's own API
description), through a real HTTP sink for the provider's bad days; SMTP against aiosmtpd."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler.integrations.email import ConsoleEmail, Email, SmtpEmail, email_from_config
from scheduler.integrations.sms import ConsoleSms, TwilioSms, sms_from_config
from scheduler.integrations.transport import SendFailed
from tests.support.peers import ACCOUNT_SID, AUTH_TOKEN, mime_parts

SENT_AT = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)


@pytest.fixture
def twilio(sink):
    sink.reset()
    client = TwilioSms(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+19155550100",
                       base_url=sink.url, status_callback="https://clinic.example/webhooks/twilio/status", timeout=5)
    yield client
    client.close()


def test_the_sdk_sends_through_prism_with_the_callback_url(twilio, sink):
    handed = twilio.send("+19155550123", "Injury Medical: visit Tue Dec 1, 9:00 AM. Reply C to confirm.")
    assert handed.backend == "twilio"
    assert handed.provider_message_id.startswith("SM") and len(handed.provider_message_id) == 34
    [request] = sink.delivered()
    assert request["path"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["form"]["To"] == "+19155550123"
    assert request["form"]["From"] == "+19155550100"
    assert request["form"]["StatusCallback"] == "https://clinic.example/webhooks/twilio/status"


def test_a_messaging_service_replaces_the_from_number(prism):
    client = TwilioSms(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, messaging_service_sid="MG" + "a" * 32,
                       base_url=prism.url, timeout=5)
    assert client.send("+19155550123", "hello").provider_message_id.startswith("SM")
    client.close()


def test_prism_refuses_a_malformed_account_sid_and_it_is_not_retried_forever(prism):
    client = TwilioSms(account_sid="ACnot-a-sid", auth_token=AUTH_TOKEN, from_number="+19155550100",
                       base_url=prism.url, timeout=5)
    with pytest.raises(SendFailed) as failure:
        client.send("+19155550123", "hello")
    client.close()
    assert failure.value.code.startswith("http_4") or failure.value.code.isdigit()
    assert failure.value.transient is False


@pytest.mark.parametrize("status", [503, 500, 429])
def test_provider_trouble_is_transient(twilio, sink, status):
    sink.fail(1, status)
    with pytest.raises(SendFailed) as failure:
        twilio.send("+19155550123", "hello")
    assert failure.value.transient is True
    assert twilio.send("+19155550123", "hello").provider_message_id  # recovered: next one goes


@pytest.mark.parametrize("code", [21610, 21211, 21614])
def test_opted_out_and_invalid_numbers_are_permanent(twilio, sink, code):
    sink.fail(1, 400, code)
    with pytest.raises(SendFailed) as failure:
        twilio.send("+19155550123", "hello")
    assert failure.value.code == str(code)
    assert failure.value.transient is False


def test_an_unreachable_provider_is_a_transient_network_error():
    client = TwilioSms(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, from_number="+19155550100",
                       base_url="http://127.0.0.1:9", timeout=2)
    with pytest.raises(SendFailed) as failure:
        client.send("+19155550123", "hello")
    client.close()
    assert (failure.value.code, failure.value.transient) == ("network", True)


def test_unconfigured_transports_are_the_console():
    config = {"PUBLIC_BASE_URL": "http://x", "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "",
              "SMTP_HOST": "", "MAIL_FROM": "a@b.c"}
    assert isinstance(sms_from_config(config), ConsoleSms)
    assert isinstance(email_from_config(config), ConsoleEmail)
    handed = ConsoleSms().send("+19155550123", "hello")
    assert (handed.backend, handed.provider_message_id) == ("console", None)


def test_sms_from_config_aims_the_sdk_at_twilio_base_url(sink):
    sink.reset()
    config = {"PUBLIC_BASE_URL": "https://clinic.example/", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
              "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": "+19155550100", "TWILIO_BASE_URL": sink.url}
    client = sms_from_config(config)
    client.send("+19155550123", "hello")
    client.close()
    assert sink.delivered()[0]["form"]["StatusCallback"] == "https://clinic.example/webhooks/twilio/status"


def _smtp_client(smtp) -> SmtpEmail:
    return SmtpEmail(host="127.0.0.1", port=smtp.port, starttls=False, mail_from="clinic@example.com", timeout=5)


ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def test_email_is_text_and_html_alternatives_with_the_calendar_file(smtp):
    smtp.received.clear()
    handed = _smtp_client(smtp).send(
        Email(to="ana@example.com", subject="Su cita", text="Hola, su cita es el martes.",
              html="<p>Hola, su cita es el <b>martes</b>.</p>", ics=ICS, ics_method="REQUEST"),
        sent_at=SENT_AT,
    )
    assert handed.backend == "smtp" and handed.provider_message_id.startswith("<")
    [received] = smtp.received
    assert received["To"] == "ana@example.com" and received["Subject"] == "Su cita"
    assert received["Message-ID"] == handed.provider_message_id
    parts = mime_parts(received)
    assert set(parts) == {"text/plain", "text/html", "text/calendar"}
    assert "martes" in parts["text/plain"].get_content()
    assert "<b>martes</b>" in parts["text/html"].get_content()
    calendar = parts["text/calendar"]
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_filename() == "appointment.ics"
    assert calendar.get_payload(decode=True) == ICS
    alternative = next(p for p in received.walk() if p.get_content_type() == "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]


def test_a_cancellation_carries_method_cancel(smtp):
    smtp.received.clear()
    _smtp_client(smtp).send(Email(to="ana@example.com", subject="Cancelled", text="x", html="<p>x</p>",
                                  ics=ICS.replace(b"REQUEST", b"CANCEL"), ics_method="CANCEL"), sent_at=SENT_AT)
    assert mime_parts(smtp.received[0])["text/calendar"].get_param("method") == "CANCEL"


@pytest.mark.parametrize(("reply", "transient"), [("451 4.3.0 try later", True), ("550 5.1.1 no such user", False)])
def test_smtp_4xx_is_transient_and_5xx_permanent(smtp, reply, transient):
    smtp.refuse(reply)
    try:
        with pytest.raises(SendFailed) as failure:
            _smtp_client(smtp).send(Email(to="ana@example.com", subject="s", text="t"), sent_at=SENT_AT)
    finally:
        smtp.refuse(None)
    assert failure.value.transient is transient
    assert failure.value.code == "smtp_" + reply[:3]


def test_an_unreachable_smtp_server_is_transient():
    client = SmtpEmail(host="127.0.0.1", port=9, starttls=False, mail_from="clinic@example.com", timeout=2)
    with pytest.raises(SendFailed) as failure:
        client.send(Email(to="ana@example.com", subject="s", text="t"), sent_at=SENT_AT)
    assert failure.value.transient is True
