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
from scheduler.web.desk import desk
from scheduler.web.desk.calendar import calendar_pages
from scheduler.web.desk.courses import course_pages
from scheduler.web.desk.day_sheet import day_sheet_pages
from scheduler.web.desk.messages import message_pages
from scheduler.web.desk.patients import patient_pages
from scheduler.web.desk.settings import settings_pages
from scheduler.web.desk.waitlist import waitlist_pages as desk_waitlist_pages
from scheduler.web.patient import patient
from scheduler.web.patient.booking import booking_pages
from scheduler.web.patient.feeds import feeds
from scheduler.web.patient.manage import manage_pages
from scheduler.web.patient.short_links import short_links
from scheduler.web.patient.waitlist import waitlist_pages as patient_waitlist_pages
from scheduler.web.webhooks import webhooks

# Each audience's parts, nested on its parent blueprint so that endpoints read
# `<audience>.<module>.<view>`. The API's parent (api/base.py: /api/v1, bearer tokens, the JSON
# error answers) applies its hooks to every part. Nested here, once per process: Flask refuses
# to change a blueprint after an app has registered it, and the app is made often.
PATIENT_PARTS = (booking_pages, manage_pages, patient_waitlist_pages, short_links, feeds)
DESK_PARTS = (day_sheet_pages, course_pages, calendar_pages, patient_pages, settings_pages, desk_waitlist_pages,
              message_pages)
API_PARTS = (public_api, waitlist_api, staff_api, courses_api, settings_api)
for _parent, _parts in ((patient, PATIENT_PARTS), (desk, DESK_PARTS), (api, API_PARTS)):
    for _part in _parts:
        _parent.register_blueprint(_part)

BLUEPRINTS = (
    metrics,
    patient,  # feeds are GETs only: no CSRF exemption needed
    desk,
    api,
    webhooks,
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
