"""Blueprints: public booking pages, the patient's manage link, staff pages, the JSON API."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from ..extensions import csrf
    from .api import api
    from .booking_pages import booking
    from .manage_pages import manage, short_links
    from .message_pages import message_pages
    from .site import register_site
    from .staff_pages import staff
    from .webhooks import webhooks

    register_site(app)
    app.register_blueprint(booking)
    app.register_blueprint(manage)
    app.register_blueprint(short_links)
    app.register_blueprint(staff)
    csrf.exempt(api)  # token- or link-authenticated JSON, no cookies involved
    app.register_blueprint(api)
    csrf.exempt(webhooks)  # cookie-less; each request carries Twilio's signature instead
    app.register_blueprint(webhooks)
    app.register_blueprint(message_pages)
