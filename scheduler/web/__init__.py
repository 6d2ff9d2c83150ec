"""Blueprints: public booking pages, the patient's manage link, staff pages, the JSON API,
calendar feeds."""
from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from scheduler.web.api import courses as staff_course_api  # noqa: F401
    from scheduler.web.api import settings as settings_api  # noqa: F401  (add the staff routes to the api blueprint)
    from scheduler.web.api import staff as staff_api  # noqa: F401
    from scheduler.web.api.public import api
    from scheduler.web.common.read_only import register_read_only_views
    from scheduler.web.common.site import register_site
    from scheduler.web.desk.calendar import desk
    from scheduler.web.desk.courses import staff_courses
    from scheduler.web.desk.day_sheet import staff
    from scheduler.web.desk.messages import message_pages
    from scheduler.web.desk.patients import patients
    from scheduler.web.desk.settings import settings
    from scheduler.web.desk.waitlist import waitlist_desk
    from scheduler.web.patient.booking import booking
    from scheduler.web.patient.feeds import feeds
    from scheduler.web.patient.manage import manage, short_links
    from scheduler.web.patient.waitlist import waitlist_pages

    from ..extensions import csrf
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
