"""Fresh private links for messages (see models/appointment_link.py).

`link_for` is called at send time, in the sender's transaction: the new link opens the
appointment once that transaction commits. What is kept of a sent message has the link
replaced by `LINK_PLACEHOLDER`, so the outbox never holds a working secret.
"""
from __future__ import annotations

from flask import current_app

from ..extensions import db
from ..models import Appointment, AppointmentLink
from .clock import now
from .tokens import manage_token_for, new_secret, sha256_hex

LINK_PLACEHOLDER = "[private link]"


def manage_url(token: str) -> str:
    """The private page's address (the manage blueprint's /appointments/<token>), built
    without a request so the worker can use it."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/appointments/{token}"


def link_for(appointment: Appointment) -> str:
    secret = new_secret()
    db.session.add(AppointmentLink(appointment_id=appointment.id, token_hash=sha256_hex(secret), created_at=now()))
    return manage_url(manage_token_for(secret))


def redact(text: str, links) -> str:
    for link in links:
        text = text.replace(link, LINK_PLACEHOLDER)
    return text
