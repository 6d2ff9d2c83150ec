"""The patient's private link: see, cancel, move, add to calendar; and getting a link again.

The short links in texts and emails (/l/<code>) lead here: scheduler/web/patient/short_links.py."""
from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from scheduler.models import Appointment, Provider
from scheduler.services.appointments import booking_input
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.availability.open_times import day_labels, last_day_for, open_days, open_slots, open_times
from scheduler.services.calendars import files as calendar_feeds
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import (
    AlreadyBooked,
    ChangeNotAllowed,
    NotFound,
    SlotUnavailable,
    ValidationFailed,
)
from scheduler.services.courses.links import course_overview
from scheduler.services.messages import link_requests
from scheduler.web.common.calendar_files import ics_response
from scheduler.web.common.limits import link_request_limit, manage_limit
from scheduler.web.common.presenters import DayWindow, external_url, parse_day, today_local
from scheduler.web.common.site import current_language, use_patients_language

manage_pages = Blueprint("manage", __name__, url_prefix="/appointments")


@manage_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"  # these pages carry a patient's details
    return response


def _invalid_link():
    """A link that is forged, cut short or expired: say so, and offer to send it again."""
    return make_response(render_template("manage/invalid_link.html", value="", error=None), 404)


def _appointment() -> Appointment:
    """The appointment of the link in the URL. Looked up inside the view, after the rate
    limit has counted the request, so guessing links is limited too."""
    cache = request.environ.setdefault("scheduler.appointment", {})
    token = request.view_args["token"]
    if token not in cache:
        try:
            cache[token] = appointment_changes.appointment_for_token(token)
        except NotFound:
            abort(_invalid_link())
        use_patients_language(cache[token].patient)
    return cache[token]


def _render_manage(token: str, *, just_booked: bool = False, error: str | None = None, status: int = 200):
    appointment = _appointment()
    return (
        render_template(
            "manage/show.html",
            appointment=appointment,
            token=token,
            just_booked=just_booked,
            manage_url=external_url("patient.manage.show", token=token),
            can_change=appointment_changes.can_change_online(appointment),
            deadline=appointment_changes.online_change_deadline(appointment),
            error=error,
            course=course_overview(appointment, token),
        ),
        status,
    )


@manage_pages.get("/<token>")
@manage_limit
def show(token: str):
    return _render_manage(token)


@manage_pages.get("/<token>/booked")
@manage_limit
def booked(token: str):
    return _render_manage(token, just_booked=True)


@manage_pages.get("/<token>/calendar.ics")
@manage_limit
def calendar(token: str):
    """Kept after a cancellation: the file of a cancelled visit (METHOD:CANCEL) lets a
    calendar that has the visit remove it."""
    appointment = _appointment()
    body = calendar_feeds.visit_calendar_bytes(
        appointment,
        method=calendar_feeds.download_method(appointment),
        language=current_language(),
        manage_url=external_url("patient.manage.show", token=token),
    )
    return ics_response(body, "appointment.ics")


def _cancel_page(token: str, *, error: str | None = None, reason: str = "", status: int = 200):
    return (
        render_template(
            "manage/cancel.html", appointment=_appointment(), token=token, error=error, reason=reason
        ),
        status,
    )


@manage_pages.get("/<token>/cancel")
@manage_limit
def confirm_cancel(token: str):
    """The confirmation step: a cancel is never one tap away."""
    if not appointment_changes.can_change_online(_appointment()):
        return redirect(url_for("patient.manage.show", token=token))
    return _cancel_page(token)


@manage_pages.post("/<token>/cancel")
@manage_limit
def cancel(token: str):
    reason = request.form.get("reason", "")
    try:
        appointment_changes.cancel(_appointment(), reason=reason)
    except ChangeNotAllowed as refused:
        return _render_manage(token, error=_(refused.message), status=409)
    except ValidationFailed as exc:
        return _cancel_page(token, error=_(next(iter(exc.fields.values()))), reason=reason, status=422)
    flash(_("Your appointment is cancelled."), "success")
    return redirect(url_for("patient.manage.show", token=token), code=303)


@manage_pages.post("/<token>/send-link")
@manage_limit
@link_request_limit
def send_link(token: str):
    """"Text it to me" / "Email it to me": the link of this visit, once more."""
    appointment = _appointment()
    channel = request.form.get("channel")
    try:
        link_requests.send_link_for(appointment, channel)
    except ValidationFailed as exc:
        return _render_manage(token, error=_(next(iter(exc.fields.values()))), status=422)
    if channel == "email":
        flash(_("We are emailing you the link."), "success")
    else:
        flash(_("We are texting you the link."), "success")
    return redirect(url_for("patient.manage.show", token=token), code=303)


@manage_pages.route("/send-link", methods=["GET", "POST"])
@link_request_limit
def send_links():
    """"Send me my link again": the same answer whether or not anyone matched."""
    if request.method == "GET":
        return render_template("manage/send_link.html", value="", error=None)
    value = request.form.get("contact", "")
    try:
        link_requests.send_links_to(value)
    except ValidationFailed as exc:
        return render_template("manage/send_link.html", value=value, error=exc.fields["contact"]), 422
    return render_template("manage/link_sent.html")


# --- moving a visit -------------------------------------------------------------------


def _target_provider(appointment: Appointment) -> Provider:
    """The provider whose times are shown: the visit's own, or another the patient picked."""
    raw = request.values.get("with", "")
    if raw in ("", str(appointment.provider_id)):
        return appointment.provider
    for other in appointment_changes.other_providers(appointment):
        if str(other.id) == raw:
            return other
    abort(404)


@manage_pages.get("/<token>/reschedule")
@manage_limit
def reschedule_days(token: str):
    appointment = _appointment()
    if not appointment_changes.can_change_online(appointment):
        return redirect(url_for("patient.manage.show", token=token))
    provider = _target_provider(appointment)
    today = today_local()
    first = parse_day(request.args.get("from"), today)
    if first is None:
        abort(400, _("That is not a valid date."))
    window = DayWindow.starting(
        first, current_app.config["BOOKING_DAYS_SHOWN"], today, last_day_for(appointment.service)
    )
    times = open_times(
        appointment.service, [provider], window.first, window.last, ignore_appointment_id=appointment.id,
    )
    counts = open_days(times, window.first, window.last)
    return render_template(
        "manage/reschedule_days.html",
        appointment=appointment,
        token=token,
        provider=provider,
        others=appointment_changes.other_providers(appointment),
        window=window,
        counts=counts,
        labels=day_labels(appointment.service, [provider], counts),
    )


def _times_page(
    token: str, day, provider: Provider, *, error: str | None = None, alternatives=None, status: int = 200
):
    appointment = _appointment()
    slots = open_slots(appointment.service, [provider], day, day, ignore_appointment_id=appointment.id)
    if provider.id == appointment.provider_id:
        slots = [s for s in slots if s.start != appointment.starts_at]
    return (
        render_template(
            "manage/reschedule_times.html",
            appointment=appointment,
            token=token,
            day=day,
            provider=provider,
            slots=alternatives if alternatives is not None else slots,
            error=error,
        ),
        status,
    )


@manage_pages.get("/<token>/reschedule/<day>")
@manage_limit
def reschedule_times(token: str, day: str):
    appointment = _appointment()
    if not appointment_changes.can_change_online(appointment):
        return redirect(url_for("patient.manage.show", token=token))
    provider = _target_provider(appointment)
    parsed = parse_day(day, today_local())
    if parsed is None:
        abort(400, _("That is not a valid date."))
    return _times_page(token, parsed, provider)


def _day_of(raw_start: str):
    """The clinic-local day the patient was looking at, for re-showing its times."""
    try:
        return booking_input.parse_start(raw_start).astimezone(clinic_tz()).date()
    except ValidationFailed:
        day = parse_day(request.form.get("day"), today_local())
        return day or today_local()


@manage_pages.post("/<token>/reschedule")
@manage_limit
def reschedule(token: str):
    appointment = _appointment()
    provider = _target_provider(appointment)
    raw_start = request.form.get("start", "")
    day = _day_of(raw_start)
    if not raw_start:
        return _times_page(token, day, provider, error=_("Please choose one of the times."), status=422)
    try:
        appointment_changes.reschedule(appointment, raw_start, provider_id=provider.id)
    except ChangeNotAllowed as refused:
        return _render_manage(token, error=_(refused.message), status=409)
    except ValidationFailed as exc:
        return _times_page(token, day, provider, error=_(next(iter(exc.fields.values()))), status=422)
    except AlreadyBooked as duplicate:
        return _times_page(token, day, provider, error=_(duplicate.message), status=409)
    except SlotUnavailable as conflict:
        return _times_page(
            token,
            day,
            provider,
            error=_("That time was just taken. These are the nearest open times:"),
            alternatives=conflict.alternatives,
            status=409,
        )
    flash(_("Your appointment has been moved."), "success")
    return redirect(url_for("patient.manage.show", token=token), code=303)
