"""The web layer: a package per audience, one blueprint per module, registered from the
lists below.

patient/ (no sign-in: private links and rate limits guard it), desk/ (the staff's pages:
session cookie, roles, CSRF), api/ (the JSON API: bearer tokens for staff, private links
for patients), webhooks.py (Twilio), common/ (what they share).
"""
from __future__ import annotations

from flask import Flask

from scheduler.extensions import csrf
from scheduler.web.api.base import api
from scheduler.web.api.courses import courses_api
from scheduler.web.api.public import public_api
from scheduler.web.api.settings import settings_api
from scheduler.web.api.staff import staff_api
from scheduler.web.api.waitlist import waitlist_api
from scheduler.web.common.metrics import metrics
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
from scheduler.web.patient.manage import manage
from scheduler.web.patient.short_links import short_links
from scheduler.web.patient.waitlist import waitlist_pages
from scheduler.web.webhooks import webhooks

# The JSON API's parts, nested on its parent (api/base.py: /api/v1, bearer tokens, the JSON
# error answers, which Flask applies to every part). Nested here, once per process: Flask
# refuses to change a blueprint after an app has registered it, and the app is made often.
API_PARTS = (public_api, waitlist_api, staff_api, courses_api, settings_api)
for _part in API_PARTS:
    api.register_blueprint(_part)

BLUEPRINTS = (
    metrics,
    booking,
    manage,
    waitlist_pages,
    short_links,
    staff,
    feeds,  # GETs only: no CSRF exemption
    staff_courses,
    desk,
    patients,
    settings,
    waitlist_desk,
    api,  # with API_PARTS
    webhooks,
    message_pages,
)

# Cookie-less, so a CSRF token would guard nothing: the API's parts are token- or
# link-authenticated JSON; each webhook request carries Twilio's signature instead.
# Flask-WTF looks up the blueprint a view belongs to (api.staff, not api), so each part of
# the API is exempted, never its parent alone.
CSRF_EXEMPT = (*API_PARTS, webhooks)


def register_blueprints(app: Flask) -> None:
    register_read_only_views(app)  # first: before any hook touches the database
    register_site(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    for blueprint in CSRF_EXEMPT:
        csrf.exempt(blueprint)
