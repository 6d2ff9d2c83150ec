"""Fresh private links for messages (see models/appointment_link.py).

`link_for` is called at send time, in the sender's transaction: the new link opens the
appointment once that transaction commits. The link is short (`/l/<secret>`, 60 characters
with a 30-character site address) because a text has 306 characters in two segments; it
redirects to the usual signed private page for the same secret. What is kept of a sent message has the link
replaced by `LINK_PLACEHOLDER`, so the outbox never holds a working secret.
"""
from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentLink
from scheduler.services.common.clock import now
from scheduler.services.common.tokens import manage_token_for, sha256_hex

LINK_PLACEHOLDER = "[private link]"


def short_url(code: str) -> str:
    """The short address a message carries (/l/<code>): it leads to the private page. Reads only."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/l/{code}"


def manage_url(token: str) -> str:
    """The private page's address (the manage blueprint's /appointments/<token>), built
    without a request so the worker can use it. Reads only."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/appointments/{token}"


# 128 random bits: as unguessable as needed, and the link stays short enough for a text.
LINK_SECRET_BYTES = 16


def mint_link(appointment: Appointment) -> tuple[str, dict]:
    """A fresh short link and the appointment_links row that opens it, not yet written (the
    worker writes a batch's rows together with the messages recorded sent). Reads only."""
    secret = secrets.token_urlsafe(LINK_SECRET_BYTES)
    return short_url(secret), {"appointment_id": appointment.id, "token_hash": sha256_hex(secret), "created_at": now()}


def link_for(appointment: Appointment) -> str:
    """A fresh short link whose row joins the session's transaction. In the caller's transaction."""
    url, row = mint_link(appointment)
    db.session.add(AppointmentLink(**row))
    return url


def manage_token_for_code(code: str) -> str | None:
    """The private page's token for a message's short link, None if unknown or expired.

    The page's token wraps the same secret, so it opens through the link's stored hash; a
    link lives as long as the one made at booking (MANAGE_TOKEN_MAX_AGE_DAYS). Reads only."""
    if not code or len(code) > 64:
        return None
    link = db.session.scalar(select(AppointmentLink).where(AppointmentLink.token_hash == sha256_hex(code)))
    if link is None:
        return None
    max_age = timedelta(days=current_app.config["MANAGE_TOKEN_MAX_AGE_DAYS"])
    if now() - link.created_at > max_age:
        return None
    return manage_token_for(code)


def redact(text: str, links) -> str:
    """The text with each of these links replaced by LINK_PLACEHOLDER. Reads only."""
    for link in links:
        text = text.replace(link, LINK_PLACEHOLDER)
    return text
