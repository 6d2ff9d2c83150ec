"""The front desk calendar: a column per provider, fed by JSON; booking a caller; the
appointment panel. Cookie-session JSON: POSTs carry the CSRF token in X-CSRFToken."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, Course, Message, Service
from scheduler.services.appointments import desk_booking, visit_length
from scheduler.services.appointments import staff_changes as staff_appointments
from scheduler.services.appointments.booking_input import parse_provider_id
from scheduler.services.calendars.desk_calendar import calendar_range
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import AlreadyBooked, ChangeNotAllowed, SlotUnavailable, ValidationFailed
from scheduler.services.messages import desk as message_admin
from scheduler.services.patients import directory as patient_directory
from scheduler.services.patients import records as patient_records
from scheduler.services.staff.access import may_act_for, visible_providers
from scheduler.web.common.presenters import parse_day, slot_json, today_local
from scheduler.web.desk.presenters import (
    SOURCE_LABELS,
    STATUS_LABELS,
    appointment_event,
    course_progress,
    resource_json,
    shade_event,
    wall,
)
from scheduler.web.desk.roles import DESK, EVERY_ROLE, staff_only, visible_appointment

calendar_pages = Blueprint("calendar", __name__, url_prefix="/staff")

MAX_RANGE_DAYS = 62


@calendar_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"  # patient names and numbers
    return response


def _fields_json(fields: dict[str, str]):
    return jsonify({"error": "validation_failed", "fields": fields}), 422


@calendar_pages.errorhandler(ValidationFailed)
def _invalid(exc: ValidationFailed):
    return _fields_json(exc.fields)


@calendar_pages.errorhandler(SlotUnavailable)
def _taken(exc: SlotUnavailable):
    return jsonify({
        "error": "slot_unavailable",
        "message": "That time is taken or overlaps another visit. Nothing was changed.",
        "alternatives": [slot_json(s) for s in exc.alternatives],
    }), 409


@calendar_pages.errorhandler(AlreadyBooked)
def _already(exc: AlreadyBooked):
    return jsonify({"error": "already_booked", "message": "The patient already has a visit at that time."}), 409


@calendar_pages.errorhandler(ChangeNotAllowed)
def _not_allowed(exc: ChangeNotAllowed):
    return jsonify({"error": exc.reason, "message": exc.message}), 409


@calendar_pages.get("/calendar")
@staff_only(*EVERY_ROLE)
def calendar():
    today = today_local()
    shown = parse_day(request.args.get("date"), today) or today
    providers = visible_providers(current_user)
    services = db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.id)).all()
    worked = {hours.weekday for p in providers for hours in p.hours}
    hidden_days = sorted((weekday + 1) % 7 for weekday in range(7) if weekday not in worked) if worked else []
    return render_template(
        "staff/calendar.html", day=shown, providers=providers, services=services, hidden_days=hidden_days,
        resources=[resource_json(p) for p in providers],
        view="resourceTimeGridDay" if request.args.get("view") == "day" else "resourceTimeGridWeek",
    )


@calendar_pages.get("/calendar/events")
@staff_only(*EVERY_ROLE)
def calendar_events():
    """?start=YYYY-MM-DD&end=YYYY-MM-DD (end exclusive, as the calendar asks): the visible
    providers, their visits and the shaded times."""
    fields = {}
    first = parse_day(request.args.get("start", "")[:10], None)
    end = parse_day(request.args.get("end", "")[:10], None)
    if first is None:
        fields["start"] = N_("Use a date as YYYY-MM-DD.")
    if end is None:
        fields["end"] = N_("Use a date as YYYY-MM-DD.")
    if first and end:
        if end <= first:
            fields["end"] = "The end must be after the start."
        elif (end - first).days > MAX_RANGE_DAYS:
            fields["end"] = "Ask for at most 62 days at a time."
    if fields:
        return _fields_json(fields)
    providers = visible_providers(current_user)
    data = calendar_range(first, end - timedelta(days=1), providers)
    tz = clinic_tz()
    colours = {p.id: p.colour for p in providers}
    span = data.working_span
    return jsonify({
        "timezone": current_app.config["CLINIC_TIMEZONE"],
        # The grid shows the earliest opening to the latest closing of the days asked for.
        "hours": None if span is None else {"start": span[0].strftime("%H:%M"), "end": span[1].strftime("%H:%M")},
        "resources": [resource_json(p) for p in providers],
        "events": [appointment_event(a, colours, data.course_sizes, tz) for a in data.appointments]
        + [shade_event(s, i, tz) for i, s in enumerate(data.shades)],
    })


@calendar_pages.get("/patients/lookup")
@staff_only(*EVERY_ROLE)
def patient_lookup():
    """The booking panel's search: a few patients by name, phone or email."""
    try:
        found = patient_directory.search(request.args.get("query", ""))[:10]
    except ValidationFailed:
        found = []  # fewer than two characters typed so far
    return jsonify({
        "patients": [{"id": p.id, "name": p.full_name, "phone": p.phone_e164, "email": p.email or ""} for p in found]
    })


@calendar_pages.post("/calendar/bookings")
@staff_only(*EVERY_ROLE)
def book_caller():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"body": "Send a JSON object."})
    appointment = desk_booking.book_for_caller(
        body, visible=visible_providers(current_user), actor=audit.actor_for(current_user)
    )
    event = appointment_event(appointment, {appointment.provider_id: appointment.provider.colour}, {}, clinic_tz())
    duplicates = patient_records.possible_duplicates(appointment.patient)
    return jsonify({"event": event, "possible_duplicates": [p.id for p in duplicates]}), 201


@calendar_pages.get("/appointments/<int:appointment_id>/panel")
@staff_only(*EVERY_ROLE)
def appointment_panel(appointment_id: int):
    """The panel beside the calendar (an HTML fragment, escaped by Jinja)."""
    appointment = visible_appointment(appointment_id)
    return render_template("staff/appointment_panel.html", **panel_context(appointment))


def panel_context(appointment: Appointment) -> dict:
    course_sizes = {}
    if appointment.course_id is not None:
        course_sizes[appointment.course_id] = db.session.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.course_id == appointment.course_id,
                Appointment.status != AppointmentStatus.CANCELLED.value,
            )
        )
    messages = db.session.scalars(
        select(Message).where(Message.appointment_id == appointment.id).order_by(Message.created_at, Message.id)
    ).all()
    course = db.session.get(Course, appointment.course_id) if appointment.course_id else None
    return {
        "a": appointment,
        "course": course,
        "progress": course_progress(appointment, course_sizes),
        "messages": messages,
        "status_labels": STATUS_LABELS,
        "source_labels": SOURCE_LABELS,
        "wall": lambda instant: wall(instant, clinic_tz()),
        "duplicates": patient_records.possible_duplicates(appointment.patient),
        "providers": visible_providers(current_user),
        "reminder": _latest_reminder(appointment) if current_user.role in DESK else None,
        "sms": message_admin.sms_state(appointment.patient),
        "steps": staff_appointments.status_steps(appointment),
    }


# --- changes to one appointment: JSON from the calendar, or a plain form without script ---


def _payload() -> dict:
    body = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(body, dict):
        raise ValidationFailed({"body": "Send a JSON object."})
    return body


def _changed(appointment: Appointment, message: str):
    if request.is_json or request.accept_mimetypes.best == "application/json":
        colours = {appointment.provider_id: appointment.provider.colour}
        return jsonify({"message": message, "event": appointment_event(appointment, colours, {}, clinic_tz())})
    flash(message, "success")
    day = wall(appointment.starts_at, clinic_tz())[:10]
    return redirect(url_for("desk.calendar.calendar", date=day, open=appointment.id), code=303)


def _named_provider(raw: object) -> int | None:
    """The provider a move names, read as the move itself reads it (so 2.0 is provider 2);
    None when it names none or nothing readable, which the move then refuses on its own."""
    try:
        return parse_provider_id(raw)
    except ValidationFailed:
        return None


@calendar_pages.post("/appointments/<int:appointment_id>/move")
@staff_only(*EVERY_ROLE)
def move(appointment_id: int):
    """{"start", "provider_id"?}: a drag to another time or column."""
    appointment = visible_appointment(appointment_id)
    body = _payload()
    target = body.get("provider_id")
    named = _named_provider(target)
    if named is not None and not may_act_for(current_user, named):
        abort(403)
    staff_appointments.move(appointment, body.get("start"), provider_id=target, actor=audit.actor_for(current_user))
    return _changed(appointment, "Moved.")


@calendar_pages.post("/appointments/<int:appointment_id>/resize")
@staff_only(*EVERY_ROLE)
def resize(appointment_id: int):
    """{"end"}: the visit's end dragged to another time."""
    appointment = visible_appointment(appointment_id)
    visit_length.resize(appointment, _payload().get("end"), actor=audit.actor_for(current_user))
    return _changed(appointment, "Length changed.")


@calendar_pages.post("/appointments/<int:appointment_id>/status")
@staff_only(*EVERY_ROLE)
def set_status(appointment_id: int):
    """{"status": confirmed | checked_in | completed | no_show}"""
    appointment = visible_appointment(appointment_id)
    status = _payload().get("status")
    if status not in staff_appointments.STATUS_CHOICES:
        raise ValidationFailed({"status": "Use confirmed, checked_in, completed or no_show."})
    staff_appointments.set_status(appointment, status, actor=audit.actor_for(current_user))
    return _changed(appointment, f"Marked {STATUS_LABELS[status].lower()}.")


def _latest_reminder(appointment: Appointment) -> Message | None:
    return db.session.scalar(
        select(Message)
        .where(Message.appointment_id == appointment.id, Message.kind == "reminder",
               Message.status.in_(message_admin.RESENDABLE))  # one still waiting goes anyway
        .order_by(Message.planned_for.desc(), Message.id.desc())
        .limit(1)
    )


@calendar_pages.post("/appointments/<int:appointment_id>/resend-reminder")
@staff_only(*DESK)
def resend_reminder(appointment_id: int):
    """Send the visit's reminder again (messaging's resend: a staff message, within the send window)."""
    appointment = visible_appointment(appointment_id)
    if not appointment.is_open:
        raise ChangeNotAllowed("not_open", "This visit is cancelled or past: no reminder to send.")
    reminder = _latest_reminder(appointment)
    if reminder is None:
        raise ValidationFailed({"reminder": "No reminder has been sent for this visit yet."})
    message_admin.resend(reminder.id, current_user)
    return _changed(appointment, "The reminder will be sent again (within the send window).")


@calendar_pages.post("/appointments/<int:appointment_id>/cancel")
@staff_only(*EVERY_ROLE)
def cancel(appointment_id: int):
    """{"reason"}: cancelled by the clinic; the patient is told (events, cause "staff")."""
    appointment = visible_appointment(appointment_id)
    staff_appointments.cancel(appointment, _payload().get("reason", ""), actor=audit.actor_for(current_user))
    return _changed(appointment, "Cancelled.")
