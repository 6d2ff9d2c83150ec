"""Blueprints: public booking pages, the patient's manage link, staff pages, the JSON API."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from ..extensions import csrf
    from .api import api
    from .booking_pages import booking
    from .manage_pages import manage
    from .read_only import register_read_only_views
    from .site import register_site
    from .staff_pages import staff

    register_read_only_views(app)  # first: before any hook touches the database
    register_site(app)
    app.register_blueprint(booking)
    app.register_blueprint(manage)
    app.register_blueprint(staff)
    csrf.exempt(api)  # token- or link-authenticated JSON, no cookies involved
    app.register_blueprint(api)
