"""Finding the patient a booking belongs to, or creating them."""
from __future__ import annotations

from sqlalchemy import ColumnElement, and_, func, select

from ..domain.patient_details import PatientDetails
from ..extensions import db
from ..models import Patient
from . import audit
from .clock import now

AUDIT_FIELDS = ("first_name", "last_name", "phone_e164", "email", "language", "sms_consent_at", "sms_opted_out_at")


def same_person(details: PatientDetails) -> ColumnElement[bool]:
    """Same mobile number and same name (any case) is the same patient."""
    return and_(
        Patient.phone_e164 == details.phone_e164,
        func.lower(Patient.first_name) == details.first_name.lower(),
        func.lower(Patient.last_name) == details.last_name.lower(),
    )


def find_or_create_patient(details: PatientDetails, language: str, actor: audit.Actor) -> Patient:
    """The patient these details describe; a new record when there is none.

    An anonymous form never overwrites what the clinic already holds, except to fill a
    missing email and to record a fresh SMS consent (an explicit opt-in after an earlier
    STOP is a new consent). Creation and every change go to the audit trail.
    """
    patient = db.session.scalar(
        select(Patient).where(same_person(details)).order_by(Patient.merged_into_id.is_not(None), Patient.id).limit(1)
    )
    if patient is not None and patient.merged_into_id is not None:
        # The desk merged that record into another: the booking goes to the one kept.
        patient = db.session.get(Patient, patient.merged_into_id)
    moment = now()
    if patient is None:
        patient = Patient(
            first_name=details.first_name,
            last_name=details.last_name,
            phone_e164=details.phone_e164,
            email=details.email,
            language=language,
            sms_consent_at=moment if details.sms_opt_in else None,
            created_at=moment,
        )
        db.session.add(patient)
        db.session.flush()
        audit.record(actor, "patient.created", patient, None, audit.snapshot(patient, AUDIT_FIELDS))
        return patient
    before = audit.snapshot(patient, AUDIT_FIELDS)
    if patient.email is None:
        patient.email = details.email
    if details.sms_opt_in and not patient.may_text:
        patient.sms_consent_at = moment
    after = audit.snapshot(patient, AUDIT_FIELDS)
    if after != before:
        audit.record(actor, "patient.updated", patient, before, after)
    return patient
