"""Blueprints: public booking pages, the patient's manage link, staff pages, the JSON API,
calendar feeds."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from ..extensions import csrf
    from . import settings_api, staff_api, staff_course_api  # noqa: F401  (add the staff routes to the api blueprint)
    from .api import api
    from .booking_pages import booking
    from .desk_calendar import desk
    from .feeds import feeds
    from .manage_pages import manage, short_links
    from .message_pages import message_pages
    from .patient_pages import patients
    from .read_only import register_read_only_views
    from .settings_pages import settings
    from .site import register_site
    from .staff_course_pages import staff_courses
    from .staff_pages import staff
    from .waitlist_desk import waitlist_desk
    from .waitlist_pages import waitlist_pages
    from .webhooks import webhooks

    register_read_only_views(app)  # first: before any hook touches the database
    register_site(app)
    app.register_blueprint(booking)
    app.register_blueprint(manage)
    app.register_blueprint(waitlist_pages)
    app.register_blueprint(short_links)
    app.register_blueprint(staff)
    app.register_blueprint(feeds)  # GETs only: no CSRF exemption
    app.register_blueprint(staff_courses)
    app.register_blueprint(desk)
    app.register_blueprint(patients)
    app.register_blueprint(settings)
    app.register_blueprint(waitlist_desk)
    csrf.exempt(api)  # token- or link-authenticated JSON, no cookies involved
    app.register_blueprint(api)
    csrf.exempt(webhooks)  # cookie-less; each request carries Twilio's signature instead
    app.register_blueprint(webhooks)
    app.register_blueprint(message_pages)
