"""Staff sign-in and the day sheet: who is coming today, per provider."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from scheduler.extensions import limiter, login_manager
from scheduler.services.appointments.day_sheet import appointments_on, booked_by_staff
from scheduler.services.staff.access import visible_providers
from scheduler.services.staff.accounts import authenticate, end_all_sessions, user_for_session
from scheduler.web.common.presenters import parse_day, today_local
from scheduler.web.desk.roles import EVERY_ROLE, staff_only

day_sheet_pages = Blueprint("day_sheet", __name__, url_prefix="/staff")

# All of the staff session set-up in one place.
login_manager.login_view = "desk.day_sheet.login"
login_manager.session_protection = "strong"
login_manager.user_loader(user_for_session)


def _session_identifier() -> str:
    """What "strong" session protection ties a sign-in to: the browser's address and user agent.
    Flask-Login's default takes the address from X-Forwarded-For as the client sent it, so a
    copied cookie plus a forged header would pass; remote_addr is the peer (or, behind
    TRUSTED_PROXY_HOPS proxies, the address ProxyFix took from them)."""
    return hashlib.sha512(f"{request.remote_addr}|{request.headers.get('User-Agent')}".encode()).hexdigest()


login_manager._session_identifier_generator = _session_identifier


@day_sheet_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"  # patient names and numbers
    return response


@login_manager.unauthorized_handler
def _sign_in_first():
    if request.is_json or request.accept_mimetypes.best == "application/json":
        return jsonify({"error": "unauthorized", "message": "Please sign in again."}), 401
    return redirect(url_for("desk.day_sheet.login", next=request.full_path if request.query_string else request.path))


# A path on this site: one slash, then printable ASCII only. Browsers drop tabs and newlines
# from URLs and read a backslash as a slash, so "/\t/evil.example" would mean "//evil.example".
_LOCAL_PATH = re.compile(r"/(?![/\\])[!-~]*", re.ASCII)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and _LOCAL_PATH.fullmatch(target) and "\\" not in target:
        return target
    return url_for("desk.day_sheet.day")


@day_sheet_pages.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("desk.day_sheet.day"))
    email = request.form.get("email", "")
    if request.method == "POST":
        user = authenticate(email, request.form.get("password", ""))
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")), code=303)
        return render_template("staff/login.html", email=email, error=_("Wrong email or password.")), 401
    return render_template("staff/login.html", email=email, error=None)


@day_sheet_pages.post("/logout")
@staff_only(*EVERY_ROLE)
def logout():
    end_all_sessions(current_user)
    logout_user()
    flash(_("You are signed out."), "success")
    return redirect(url_for("desk.day_sheet.login"), code=303)


@day_sheet_pages.get("/")
@staff_only(*EVERY_ROLE)
def day():
    """The day sheet: every visible provider's visits of a day; ?provider=ID shows one
    provider's sheet alone (the one to print for their door)."""
    today = today_local()
    shown = parse_day(request.args.get("date"), today)
    if shown is None:
        abort(400, _("That is not a valid date."))
    providers = visible_providers(current_user)
    only = request.args.get("provider", "")
    if only:
        providers = [p for p in providers if str(p.id) == only]
        if not providers:
            abort(404)
    appointments = appointments_on(shown, providers)
    by_provider = {p.id: [a for a in appointments if a.provider_id == p.id] for p in providers}
    return render_template(
        "staff/day.html",
        day=shown,
        today=today,
        previous_day=shown - timedelta(days=1),
        next_day=shown + timedelta(days=1),
        providers=providers,
        by_provider=by_provider,
        single=bool(only),
        booked_by=booked_by_staff(appointments),
    )
