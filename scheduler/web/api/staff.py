"""Staff API: the day's appointments, change any appointment, find and add patients
(bearer token, role-checked)."""
from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, Patient
from scheduler.services.appointments import staff_changes as staff_appointments
from scheduler.services.appointments.day_sheet import appointments_on
from scheduler.services.common import audit
from scheduler.services.common.errors import NotFound, ValidationFailed
from scheduler.services.patients import directory as patient_directory
from scheduler.services.staff.access import may_act_for, may_manage_patients, visible_providers
from scheduler.web.api.base import json_body, require, staff_token_required, validation_error
from scheduler.web.common.presenters import local_iso, parse_day, today_local

staff_api = Blueprint("staff", __name__)


def staff_appointment_json(appointment: Appointment) -> dict:
    return {
        "id": appointment.id,
        "status": appointment.status,
        "start": local_iso(appointment.starts_at),
        "end": local_iso(appointment.ends_at),
        "provider_id": appointment.provider_id,
        "service": appointment.service.slug,
        "patient_id": appointment.patient_id,
        "patient_name": appointment.patient.full_name,
        "source": appointment.source,
        "course_id": appointment.course_id,
        "visit_number": appointment.visit_number,
        "moved_from": local_iso(appointment.moved_from) if appointment.moved_from else None,
        "cancel_reason": appointment.cancel_reason,
    }


def patient_json(patient: Patient) -> dict:
    return {
        "id": patient.id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "phone": patient.phone_e164,
        "email": patient.email,
        "language": patient.language,
        "sms_consent": patient.may_text,
    }


def _staff_appointment(appointment_id: int) -> Appointment:
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound("No such appointment.")
    require(may_act_for(g.staff_user, appointment.provider_id))
    return appointment


@staff_api.get("/staff/appointments")
@staff_token_required
def appointments():
    """The day's appointments (clinic-local date), for the front desk's own tools; a
    provider's token sees only their own."""
    raw = request.args.get("date")
    day = parse_day(raw, today_local()) if raw != "" else None  # absent: today; empty: a mistake
    if day is None:
        return validation_error({"date": N_("Use a date as YYYY-MM-DD.")})
    rows = appointments_on(day, visible_providers(g.staff_user))
    return jsonify(
        {
            "date": day.isoformat(),
            "appointments": [
                {
                    "id": a.id,
                    "status": a.status,
                    "start": local_iso(a.starts_at),
                    "end": local_iso(a.ends_at),
                    "provider_id": a.provider_id,
                    "service": a.service.slug,
                    "patient_name": a.patient.full_name,
                    "source": a.source,
                }
                for a in rows
            ],
        }
    )


@staff_api.post("/staff/appointments/<int:appointment_id>/move")
@staff_token_required
def move(appointment_id: int):
    appointment = _staff_appointment(appointment_id)
    body = json_body("StaffMoveRequest")
    provider_id = body.get("provider_id")
    if provider_id not in (None, ""):
        # A provider may move a visit only within their own calendar.
        try:
            target = int(provider_id) if not isinstance(provider_id, bool) else None
        except (TypeError, ValueError):
            target = None
        if target is not None:
            require(may_act_for(g.staff_user, target))
    staff_appointments.move(appointment, body.get("start"), provider_id=provider_id, actor=audit.actor_for(g.staff_user))
    return jsonify(staff_appointment_json(appointment))


@staff_api.post("/staff/appointments/<int:appointment_id>/cancel")
@staff_token_required
def cancel(appointment_id: int):
    appointment = _staff_appointment(appointment_id)
    body = json_body("CancelRequest") if request.get_data() else {}  # no body: no reason
    reason = body.get("reason", "")
    if reason is None:  # the document says text: null is refused, not read as no reason
        raise ValidationFailed({"reason": N_("Please enter text.")})
    staff_appointments.cancel(appointment, reason, actor=audit.actor_for(g.staff_user))
    return jsonify(staff_appointment_json(appointment))


@staff_api.post("/staff/appointments/<int:appointment_id>/status")
@staff_token_required
def set_status(appointment_id: int):
    appointment = _staff_appointment(appointment_id)
    status = json_body("StaffStatusRequest").get("status")
    if status not in staff_appointments.STATUS_CHOICES:
        raise ValidationFailed({"status": N_("Use confirmed, checked_in, completed or no_show.")})
    staff_appointments.set_status(appointment, status, actor=audit.actor_for(g.staff_user))
    return jsonify(staff_appointment_json(appointment))


@staff_api.get("/staff/patients")
@staff_token_required
def find_patients():
    require(may_manage_patients(g.staff_user))
    found = patient_directory.search(request.args.get("query"))
    return jsonify({"patients": [patient_json(p) for p in found]})


@staff_api.post("/staff/patients")
@staff_token_required
def add_patient():
    require(may_manage_patients(g.staff_user))
    body = json_body("PatientCreate")
    added = patient_directory.add(body, language=body.get("language"), actor=audit.actor_for(g.staff_user))
    # 201 either way (the patient record the booking fields name); "existing" tells the
    # same person (mobile number and name) was already known and nothing new was made.
    return jsonify({**patient_json(added.patient), "existing": not added.created}), 201
