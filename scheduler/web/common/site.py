"""What every page shares: language, the clinic's numbers and disclaimer, headers, errors."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask import Flask, current_app, jsonify, render_template, request, session
from flask_babel import format_date, format_datetime, format_time, get_locale, refresh
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from scheduler.domain.wall_time import is_ambiguous
from scheduler.services.appointments.booking_input import parse_start
from scheduler.services.clinic.versions import current_details
from scheduler.services.common.errors import ValidationFailed
from scheduler.web.common.presenters import local_iso

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def is_staff_request() -> bool:
    """Staff pages (/staff...) are English: they are not patient-facing."""
    return request.path == "/staff" or request.path.startswith("/staff/")


def use_patients_language(patient) -> None:
    """On a patient's private page (their link, its calendar file): the patient's stored
    language decides, whatever the browser says; `?lang` still switches for this visit to
    the site. Called by the view once it knows the patient."""
    request.environ["scheduler.private_patient"] = (patient.id, patient.language)  # this request only
    refresh()


def _chosen_language() -> str:
    languages = current_app.config["LANGUAGES"]
    if is_staff_request():
        return "en"
    private = request.environ.get("scheduler.private_patient")
    requested = request.args.get("lang")
    if requested in languages:
        session["lang"] = requested
        if private is not None:
            session["lang_patient"] = private[0]
        else:
            session.pop("lang_patient", None)
        return requested
    if private is not None:
        patient_id, language = private
        if session.get("lang_patient") == patient_id and session.get("lang") in languages:
            return session["lang"]
        if language in languages:
            return language
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]


def select_locale() -> str:
    """The patient's language with the clinic's region (es_US: 12-hour "1:30 p.m."); gettext
    falls back from es_US to the es catalogue."""
    language = _chosen_language()
    return current_app.config["LOCALE_REGIONS"].get(language, language)


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale else "en"


def format_day_month(day) -> str:
    """"December 1" / "1 de diciembre": month and day in the patient's word order."""
    return format_skeleton("MMMMd", day, locale=get_locale())


def format_weekday_day_month(day) -> str:
    """"Tuesday, December 8" / "martes, 8 de diciembre": a date near enough to need no year."""
    if isinstance(day, datetime):
        day = day.astimezone(ZoneInfo(current_app.config["CLINIC_TIMEZONE"])).date()
    # CLDR has no full-width weekday-month-day skeleton (Babel falls back to "Tue, Dec 8"):
    # the weekday and the day tiles' "December 8" / "8 de diciembre", as every locale has them.
    return f"{format_date(day, 'EEEE')}, {format_day_month(day)}"


def format_clock(instant) -> str:
    """A time of day in the patient's language; during the hour clocks repeat when they fall
    back, the zone is added ("1:30 AM MDT" / "1:30 AM MST") so both passes can be told apart."""
    label = format_time(instant, "short")
    local = instant.astimezone(ZoneInfo(current_app.config["CLINIC_TIMEZONE"]))
    if is_ambiguous(local):
        label = f"{label} {local.tzname()}"
    return label


def clinic_context() -> dict:
    config = current_app.config
    details = current_details()
    return {
        "clinic": {
            "name": details.name,
            "office": details.office,
            "cell": details.cell,
            "email": config["CLINIC_EMAIL"],
            "address": details.address,
            "disclaimer": details.disclaimer(current_language()),
        },
        "language": current_language(),
        # No language switch on staff pages: they are English.
        "other_languages": [] if is_staff_request() else [
            lang for lang in config["LANGUAGES"] if lang != current_language()
        ],
    }


def wants_json() -> bool:
    return request.path.startswith("/api/")


def _error_response(status: int, code: str, message: str, error: HTTPException | None = None):
    if wants_json():
        response = jsonify({"error": code, "message": message})
    else:
        response = current_app.make_response(render_template("error.html", status=status, message=message))
    response.status_code = status
    if error is not None:
        # What the exception says beyond its body: Allow on a 405, WWW-Authenticate on a 401.
        for name, value in error.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


def parse_instant_filter(raw: str):
    """For templates: the chosen start as an instant, or None if it does not parse."""
    try:
        return parse_start(raw)
    except ValidationFailed:
        return None


def translated_filter(text: str | None) -> str:
    """`value | translated`: catalogue text for a value from the database or code (a service
    name, a field's error) as plain text that autoescaping still covers. In templates `_()`
    returns Markup, which is right for literal messages only: `_(service.name)` would let a
    name like "<script>..." through unescaped."""
    return _(text) if text else ""


def capfirst_filter(text: str) -> str:
    """`date | capfirst`: the one rule for dates in every language. A date that starts a
    heading, a line or a tile is capitalised ("Martes, 1 de diciembre"); inside a sentence it
    is left as the locale writes it ("hasta el martes, 1 de diciembre")."""
    return text[:1].upper() + text[1:] if text else text


def register_site(app: Flask) -> None:
    app.context_processor(clinic_context)
    app.add_template_filter(parse_instant_filter, "parse_instant")
    app.add_template_filter(translated_filter, "translated")
    app.add_template_filter(capfirst_filter, "capfirst")
    # Babel's locale-aware formatting, in the clinic's time zone (BABEL_DEFAULT_TIMEZONE)
    app.jinja_env.globals.update(
        format_date=format_date, format_datetime=format_datetime, format_time=format_time, local_iso=local_iso,
        format_day_month=format_day_month, format_clock=format_clock,
        format_weekday_day_month=format_weekday_day_month,
    )

    @app.teardown_request
    def forget_language(error=None):
        # Flask-Babel caches the locale on `g`; when requests share an app context (tests, CLI)
        # the next request must choose its own language again.
        refresh()

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        # Manage links carry a secret in the path: never send it on as a referrer.
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        hsts_seconds = current_app.config.get("HSTS_SECONDS", 0)
        if hsts_seconds and request.is_secure:
            # Served over HTTPS (directly, or behind TRUSTED_PROXY_HOPS proxies saying so):
            # browsers must never come back over plain http.
            response.headers.setdefault("Strict-Transport-Security", f"max-age={hsts_seconds}")
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _error_response(
            400, "csrf_failed", _("This form has expired. Please go back, reload the page and try again.")
        )

    @app.errorhandler(404)
    def not_found(error):
        return _error_response(404, "not_found", _("We could not find that page."))

    @app.errorhandler(429)
    def too_many(error):
        return _error_response(
            429, "rate_limited", _("Too many requests. Please wait a minute, or call us.")
        )

    @app.errorhandler(405)
    def method_not_allowed(error):
        return _error_response(405, "method_not_allowed", _("That action is not available on this page."), error)

    @app.errorhandler(413)
    def too_large(error):
        return _error_response(
            413, "too_large", _("What was sent is too large. Please shorten it and try again."), error
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        # Our own abort(400, _("...")) calls carry a translated description; Werkzeug's
        # defaults for other codes are English, so patients get a general message instead.
        code = error.code or 500
        message = error.description if code == 400 else _("Sorry, that request could not be handled.")
        return _error_response(code, (error.name or "error").lower().replace(" ", "_"), message, error)

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        if current_app.testing:
            raise error
        current_app.logger.exception("unhandled error")
        return _error_response(500, "internal_error", _("Something went wrong on our side. Please call us."))
