"""Booking a caller at the front desk: a patient on file (or one added in the same step),
a service, a provider's column and a start time picked on the calendar. One transaction."""
from __future__ import annotations

from datetime import timedelta

from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, BookingSource, Patient, Provider
from scheduler.services import events
from scheduler.services.appointments.booking_input import collect_errors, find_service, parse_provider_id, parse_start
from scheduler.services.appointments.rules import (
    ALREADY_BOOKED,
    AUDIT_FIELDS,
    one_patient_at_a_time,
    overlapping_visit,
)
from scheduler.services.availability.staff_times import check_staff_timing, require_fit, staff_alternatives
from scheduler.services.clinic.versions import current_version_id
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import AlreadyBooked, SlotUnavailable, ValidationFailed
from scheduler.services.common.tokens import new_secret, sha256_hex
from scheduler.services.common.write_guard import flush_in_savepoint
from scheduler.services.patients.records import check_new_patient, find_or_add


def book_for_caller(data: dict, *, visible: list[Provider], actor: audit.Actor) -> Appointment:
    """data: service (slug), provider_id, start (clinic wall time or ISO with offset), and
    either patient_id or patient {first_name, last_name, phone, email?, sms_opt_in?}. Commits."""
    fields: dict[str, str] = {}
    service = collect_errors(fields, find_service, data.get("service"), online=False)
    provider_id = collect_errors(fields, parse_provider_id, data.get("provider_id"))
    if "provider_id" not in fields and provider_id not in {p.id for p in visible}:
        fields["provider_id"] = N_("Unknown provider.")
    start = collect_errors(fields, parse_start, data.get("start"))
    if start is not None:
        collect_errors(fields, check_staff_timing, start)
    patient = None
    details = None
    if data.get("patient_id") not in (None, ""):
        raw_id = data.get("patient_id")
        patient = db.session.get(Patient, int(raw_id)) if str(raw_id).isdigit() else None
        if patient is None or patient.merged_into_id is not None:
            fields["patient_id"] = "Choose a patient from the list."
    else:
        raw = data.get("patient")
        try:
            details = check_new_patient(raw if isinstance(raw, dict) else {})
        except ValidationFailed as exc:
            fields.update({f"patient.{k}": v for k, v in exc.fields.items()})
    if fields:
        raise ValidationFailed(fields)

    try:
        one_patient_at_a_time(patient.phone_e164 if patient else details.phone_e164)
        if patient is None:
            patient = find_or_add(details, actor)
        ends_at = start + timedelta(minutes=service.duration_minutes)
        if overlapping_visit(Patient.id == patient.id, start, ends_at) is not None:
            raise AlreadyBooked(ALREADY_BOOKED)
        blocks_until = ends_at + timedelta(minutes=service.buffer_minutes)
        require_fit(provider_id, start, ends_at, blocks_until)
        moment = now()
        appointment = Appointment(
            patient=patient, provider_id=provider_id, service_id=service.id,
            starts_at=start, ends_at=ends_at,
            blocks_until=blocks_until,
            status=AppointmentStatus.BOOKED.value, source=BookingSource.DESK.value,
            manage_token_hash=sha256_hex(new_secret()), created_at=moment, updated_at=moment,
            clinic_info_version_id=current_version_id(),
        )
        if not flush_in_savepoint(lambda: db.session.add(appointment)):
            raise SlotUnavailable([])
        audit.record(actor, "appointment.booked", appointment, None, audit.snapshot(appointment, AUDIT_FIELDS))
        events.appointment_booked(appointment, cause="staff")
        db.session.commit()
    except SlotUnavailable as conflict:
        db.session.rollback()
        conflict.alternatives = staff_alternatives(service, [provider_id], start)
        raise
    except Exception:
        db.session.rollback()
        raise
    return appointment
