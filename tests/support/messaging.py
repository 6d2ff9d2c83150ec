"""Shared set-up for the worker and webhook tests: an app wired to the real peers."""
from __future__ import annotations

import shutil
from urllib.parse import urlsplit

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.models import Message, Provider
from scheduler.services.operations.demo import seed_demo
from tests.support.peers import smtp_settings, twilio_settings

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
