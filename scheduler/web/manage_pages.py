"""The patient's private link: see, cancel, move, add to calendar."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..models import Appointment
from ..services import appointment_changes, booking_input, calendar_feeds, message_links
from ..services.availability import last_day_for, open_days, open_slots
from ..services.clock import clinic_tz
from ..services.course_links import course_overview
from ..services.errors import AlreadyBooked, ChangeNotAllowed, NotFound, SlotUnavailable, ValidationFailed
from .feeds import ics_response
from .limits import manage_limit
from .presenters import DayWindow, external_url, parse_day, today_local
from .site import current_language

manage = Blueprint("manage", __name__, url_prefix="/appointments")
# The short links texts and emails carry (/l/<code>), leading to the private page.
short_links = Blueprint("short_links", __name__)


@manage.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"  # these pages carry a patient's details
    return response


def _appointment() -> Appointment:
    """The appointment of the link in the URL. Looked up inside the view, after the rate
    limit has counted the request, so guessing links is limited too."""
    cache = request.environ.setdefault("scheduler.appointment", {})
    token = request.view_args["token"]
    if token not in cache:
        try:
            cache[token] = appointment_changes.appointment_for_token(token)
        except NotFound:
            abort(404)
    return cache[token]


def _render_manage(token: str, *, just_booked: bool = False, error: str | None = None, status: int = 200):
    appointment = _appointment()
    return (
        render_template(
            "manage/show.html",
            appointment=appointment,
            token=token,
            just_booked=just_booked,
            manage_url=external_url("manage.show", token=token),
            can_change=appointment_changes.can_change_online(appointment),
            deadline=appointment_changes.online_change_deadline(appointment),
            error=error,
            course=course_overview(appointment, token),
        ),
        status,
    )




@manage.get("/<token>")
@manage_limit
def show(token: str):
    return _render_manage(token)


@manage.get("/<token>/booked")
@manage_limit
def booked(token: str):
    return _render_manage(token, just_booked=True)


@manage.get("/<token>/calendar.ics")
@manage_limit
def calendar(token: str):
    """Kept after a cancellation: the file of a cancelled visit (METHOD:CANCEL) lets a
    calendar that has the visit remove it."""
    appointment = _appointment()
    body = calendar_feeds.visit_calendar_bytes(
        appointment,
        method=calendar_feeds.download_method(appointment),
        language=current_language(),
        manage_url=external_url("manage.show", token=token),
    )
    return ics_response(body, "appointment.ics")


@manage.post("/<token>/cancel")
@manage_limit
def cancel(token: str):
    try:
        appointment_changes.cancel(_appointment(), reason=request.form.get("reason", ""))
    except ChangeNotAllowed as refused:
        return _render_manage(token, error=_(refused.message), status=409)
    except ValidationFailed as exc:
        return _render_manage(token, error=_(next(iter(exc.fields.values()))), status=422)
    flash(_("Your appointment is cancelled."), "success")
    return redirect(url_for("manage.show", token=token), code=303)


@manage.get("/<token>/reschedule")
@manage_limit
def reschedule_days(token: str):
    appointment = _appointment()
    if not appointment_changes.can_change_online(appointment):
        return redirect(url_for("manage.show", token=token))
    today = today_local()
    first = parse_day(request.args.get("from"), today)
    if first is None:
        abort(400, _("That is not a valid date."))
    window = DayWindow.starting(
        first, current_app.config["BOOKING_DAYS_SHOWN"], today, last_day_for(appointment.service)
    )
    slots = open_slots(
        appointment.service, [appointment.provider], window.first, window.last,
        ignore_appointment_id=appointment.id,
    )
    return render_template(
        "manage/reschedule_days.html",
        appointment=appointment,
        token=token,
        window=window,
        counts=open_days(slots, window.first, window.last),
    )


def _times_page(token: str, day, *, error: str | None = None, alternatives=None, status: int = 200):
    appointment = _appointment()
    slots = open_slots(
        appointment.service, [appointment.provider], day, day, ignore_appointment_id=appointment.id
    )
    slots = [s for s in slots if s.start != appointment.starts_at]
    return (
        render_template(
            "manage/reschedule_times.html",
            appointment=appointment,
            token=token,
            day=day,
            slots=alternatives if alternatives is not None else slots,
            error=error,
        ),
        status,
    )


@manage.get("/<token>/reschedule/<day>")
@manage_limit
def reschedule_times(token: str, day: str):
    if not appointment_changes.can_change_online(_appointment()):
        return redirect(url_for("manage.show", token=token))
    parsed = parse_day(day, today_local())
    if parsed is None:
        abort(400, _("That is not a valid date."))
    return _times_page(token, parsed)


def _day_of(raw_start: str):
    """The clinic-local day the patient was looking at, for re-showing its times."""
    try:
        return booking_input.parse_start(raw_start).astimezone(clinic_tz()).date()
    except ValidationFailed:
        return today_local()


@manage.post("/<token>/reschedule")
@manage_limit
def reschedule(token: str):
    appointment = _appointment()
    raw_start = request.form.get("start", "")
    try:
        appointment_changes.reschedule(appointment, raw_start)
    except ChangeNotAllowed as refused:
        return _render_manage(token, error=_(refused.message), status=409)
    except ValidationFailed as exc:
        return _times_page(token, _day_of(raw_start), error=_(next(iter(exc.fields.values()))), status=422)
    except AlreadyBooked as duplicate:
        return _times_page(token, _day_of(raw_start), error=_(duplicate.message), status=409)
    except SlotUnavailable as conflict:
        return _times_page(
            token,
            _day_of(raw_start),
            error=_("That time was just taken. These are the nearest open times:"),
            alternatives=conflict.alternatives,
            status=409,
        )
    flash(_("Your appointment has been moved."), "success")
    return redirect(url_for("manage.show", token=token), code=303)



@short_links.get("/l/<code>")
@manage_limit
def short_link(code: str):
    token = message_links.manage_token_for_code(code)
    if token is None:
        abort(404)
    response = redirect(url_for("manage.show", token=token), code=303)
    response.headers["Cache-Control"] = "no-store"
    return response
