"""Clinic settings, for admins: providers and their weekly hours, time off, closures and
holidays, services. Adding a closure or time off shows the visits it hits first."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date, format_datetime
from flask_login import current_user
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Closure, Provider, Service, TimeOff, WorkingHours
from scheduler.services.clinic import settings as clinic_settings
from scheduler.services.clinic import versions as clinic_versions
from scheduler.services.closures import closing
from scheduler.services.common import audit
from scheduler.services.common.errors import ValidationFailed
from scheduler.web.desk.roles import ADMIN, EVERY_ROLE, staff_only

settings_pages = Blueprint("settings", __name__, url_prefix="/staff/settings")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@settings_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(status: int = 200, **extra):
    closures, time_off = closing.upcoming()
    context = dict(
        providers=db.session.scalars(select(Provider).order_by(Provider.id)).all(),
        services=db.session.scalars(select(Service).order_by(Service.id)).all(),
        closures=closures, time_off=time_off, weekdays=WEEKDAYS,
        form=request.form if request.method == "POST" else {}, errors={}, preview=None, preview_of=None,
        details=clinic_versions.current_details(), details_history=clinic_versions.details_history(),
        policy_values=clinic_versions.policy_form_values(),
    )
    context.update(extra)
    return render_template("staff/settings.html", **context), status


@settings_pages.get("/")
@staff_only(*ADMIN)
def index():
    return _page()


def _back(section: str):
    """Back to the settings page at the section just saved."""
    return redirect(url_for("desk.settings.index") + f"#{section}", code=303)


def _moment(instant) -> str:
    return format_datetime(instant, "EEE MMM d, h:mm a")


def describe(row: Closure | TimeOff | WorkingHours) -> str:
    """What a closure, a time off or a working window is, in a few words, for the notice
    after a save and the question before a removal."""
    if isinstance(row, Closure):
        days = format_date(row.first_day, "EEE MMM d, yyyy")
        if row.last_day != row.first_day:
            days += f" to {format_date(row.last_day, 'EEE MMM d, yyyy')}"
        return f"{row.name} ({days})"
    if isinstance(row, TimeOff):
        reason = f" ({row.reason})" if row.reason else ""
        return f"{row.provider.name}, {_moment(row.starts_at)} to {_moment(row.ends_at)}{reason}"
    span = f"{WEEKDAYS[row.weekday]} {row.start_time:%H:%M}–{row.end_time:%H:%M}"
    if row.valid_from or row.valid_to:
        span += f" (from {row.valid_from or 'always'} to {row.valid_to or 'further notice'})"
    return f"{row.provider.name}, {span}"


def _blocking(kind: str, change):
    """A closure or time off: a preview lists the visits; saving says what was cancelled."""
    data = request.form.to_dict()
    try:
        result = change(data, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(422, errors={f"{kind}.{k}": v for k, v in exc.fields.items()}, preview_of=kind)
    if result.saved is None:
        return _page(preview=result.affected, preview_of=kind)
    label = f"{'Closure' if kind == 'closure' else 'Time off'} saved: {describe(result.saved)}"
    flash(f"{label}; {len(result.cancelled)} visit(s) cancelled and their patients notified."
          if result.cancelled else f"{label}.", "success")
    return _back("closures" if kind == "closure" else "time-off")


@settings_pages.post("/closures")
@staff_only(*ADMIN)
def add_closure():
    return _blocking("closure", closing.closure)


@settings_pages.post("/time-off")
@staff_only(*ADMIN)
def add_time_off():
    return _blocking("time_off", closing.time_off)


@settings_pages.post("/hours")
@staff_only(*ADMIN)
def add_hours():
    try:
        row = clinic_settings.add_hours(request.form.to_dict(), actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(422, errors={f"hours.{k}": v for k, v in exc.fields.items()}, preview_of="hours")
    flash(f"Working hours added: {describe(row)}.", "success")
    return _back("hours")


REMOVABLE = {"closure": Closure, "time-off": TimeOff, "hours": WorkingHours}
# Lifting a closure or time off frees its time for the waitlist; a working window just goes.
REMOVE = {"closure": closing.lift, "time-off": closing.lift, "hours": clinic_settings.remove}
SECTIONS = {"closure": "closures", "time-off": "time-off", "hours": "hours"}


@settings_pages.post("/<kind>/<int:row_id>/remove")
@staff_only(*ADMIN)
def remove(kind: str, row_id: int):
    model = REMOVABLE.get(kind)
    row = db.session.get(model, row_id) if model else None
    if row is None:
        abort(404)
    what = describe(row)
    if request.form.get("confirm") != "yes":
        # The first press asks: the page names what would go, and only its button removes it.
        return render_template("staff/settings_remove.html", kind=kind, row_id=row_id, what=what,
                               section=SECTIONS[kind])
    REMOVE[kind](row, audit.actor_for(current_user))
    flash(f"Removed: {what}.", "success")
    return _back(SECTIONS[kind])


@settings_pages.post("/services/<int:service_id>")
@staff_only(*ADMIN)
def update_service(service_id: int):
    service = db.session.get(Service, service_id) or abort(404)
    try:
        clinic_settings.update_service(service, request.form.to_dict(), actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(422, errors={f"service{service_id}.{k}": v for k, v in exc.fields.items()}, preview_of="service")
    flash(f"{service.name} saved.", "success")
    return _back("services")


@settings_pages.post("/providers")
@settings_pages.post("/providers/<int:provider_id>")
@staff_only(*ADMIN)
def save_provider(provider_id: int | None = None):
    provider = None
    if provider_id is not None:
        provider = db.session.get(Provider, provider_id) or abort(404)
    key = f"provider{provider_id or 'new'}"
    try:
        saved = clinic_settings.save_provider(provider, request.form.to_dict(), actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(422, errors={f"{key}.{k}": v for k, v in exc.fields.items()}, preview_of="provider")
    flash(f"{saved.name} saved.", "success")
    return _back("providers")


@settings_pages.get("/clinic-details/<int:version_id>")
@staff_only(*EVERY_ROLE)
def clinic_details_version(version_id: int):
    """One version of the clinic's details as patients saw it (linked from a visit's panel)."""
    version = clinic_versions.details_version(version_id) or abort(404)
    return render_template("staff/clinic_version.html", version=version,
                           current=version.id == clinic_versions.current_details().version_id)


@settings_pages.post("/clinic-details")
@staff_only(*ADMIN)
def save_clinic_details():
    """A new version of the clinic's name, numbers, address and disclaimers."""
    try:
        saved = clinic_versions.save_details(request.form.to_dict(), actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(422, errors={f"details.{k}": v for k, v in exc.fields.items()}, preview_of="details")
    flash(f"Clinic details saved as version {saved.id}.", "success")
    return _back("clinic-details")


@settings_pages.post("/reminders")
@staff_only(*ADMIN)
def save_reminder_policy():
    """The send window and reminder offsets for messages planned from now on."""
    try:
        clinic_versions.save_policy(request.form.to_dict(), actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(422, errors={f"policy.{k}": v for k, v in exc.fields.items()}, preview_of="policy")
    flash("Reminder policy saved; it applies to messages planned from now on.", "success")
    return _back("reminders")
