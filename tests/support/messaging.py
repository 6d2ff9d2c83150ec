"""Shared set-up for the worker, webhook and waitlist tests: an app wired to the real peers, and
a patient's phone: signed texts to the webhook, the reply read back, offers joined and taken."""
from __future__ import annotations

import shutil
import uuid
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Appointment, Message, Patient, Provider
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.common import audit
from scheduler.services.operations.demo import seed_demo
from tests.support.peers import AUTH_TOKEN, smtp_settings, twilio_settings

PATIENT = {"first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123", "email": "ana@example.com",
           "sms_opt_in": True}


def messaging_app(tmp_path, template, clock, *, sink_url: str, smtp_port: int, **overrides):
    path = tmp_path / "scheduler.db"
    shutil.copyfile(template, path)
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "CLOCK": clock, "PUBLIC_BASE_URL": "https://clinic.example",
        **twilio_settings(sink_url), **smtp_settings(smtp_port), **overrides,
    }
    return create_app(TestingConfig, settings)


def close_transports(app) -> None:
    found = app.extensions.get("message_transports")
    if found is not None:
        found.sms.close()


def first_provider_id() -> int:
    return db.session.scalars(db.select(Provider).order_by(Provider.id)).first().id


def book(client, start: str, language: str = "en", **patient) -> dict:
    """A visit booked online (the API): the patient's own action."""
    seed_demo()
    response = client.post(f"/api/v1/bookings?lang={language}", json={
        "service": "initial-evaluation", "provider_id": first_provider_id(), "start": start,
        "patient": {**PATIENT, **patient},
    })
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def token_of(booking: dict) -> str:
    return urlsplit(booking["manage_url"]).path.rsplit("/", 1)[1]


def messages(**filters) -> list[Message]:
    query = db.select(Message).filter_by(**filters).order_by(Message.due_at, Message.id)
    return list(db.session.scalars(query))


# --- Twilio's webhooks as a patient's phone calls them ----------------------------------

BASE = "https://clinic.example"
THURSDAY_10 = "2026-12-03T10:00:00-07:00"
ANA = "+19155550123"
BEA = "+19155550124"


def signed_post(client, path: str, params: dict, *, token: str = AUTH_TOKEN, tamper: dict | None = None,
                signature: str | None = None):
    signature = signature if signature is not None else RequestValidator(token).compute_signature(BASE + path, params)
    sent = {**params, **(tamper or {})}
    headers = {"X-Twilio-Signature": signature} if signature != "" else {}
    return client.post(path, data=sent, headers=headers)


def text(client, body: str, sender: str = ANA, sid: str | None = None):
    params = {"MessageSid": sid or "SM" + uuid.uuid4().hex, "From": sender, "To": "+19155550100", "Body": body,
              "AccountSid": "AC" + "0" * 32, "NumMedia": "0"}
    return signed_post(client, "/webhooks/twilio/sms", params)


def reply_of(response) -> str:
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    body = response.get_data(as_text=True)
    return body.split("<Message>")[1].split("</Message>")[0] if "<Message>" in body else ""


# --- the waitlist through messages ------------------------------------------------------


def join(client, first_name: str, phone: str, language: str = "en", **preferences) -> int:
    body = {"service": "initial-evaluation", "earliest_date": "2026-12-01", "latest_date": "2026-12-10",
            "patient": {**PATIENT, "first_name": first_name, "phone": phone, "email": f"{first_name}@example.com"},
            **preferences}
    response = client.post(f"/api/v1/waitlist?lang={language}", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def texts_to(sink, number: str) -> list[str]:
    return [r["form"]["Body"] for r in sink.requests if r["form"].get("To") == number and not r["failed"]]


def ana_cancels() -> Appointment:
    ana = db.session.scalars(db.select(Patient).filter_by(phone_e164=ANA)).one()
    visit = db.session.scalars(db.select(Appointment).filter_by(patient_id=ana.id)).one()
    appointment_changes.cancel(visit, actor=audit.PATIENT_LINK)
    return visit
