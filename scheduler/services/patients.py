"""Finding the patient a booking belongs to, or creating them."""
from __future__ import annotations

from sqlalchemy import func, select

from ..domain.patient_details import PatientDetails
from ..extensions import db
from ..models import Patient
from .clock import now


def find_or_create_patient(details: PatientDetails, language: str) -> Patient:
    """Same mobile and same name is the same patient; anything else is a new record.

    An anonymous form never overwrites what the clinic already holds, except to record a
    fresh SMS consent (an explicit opt-in after an earlier STOP is a new consent).
    """
    patient = db.session.scalar(
        select(Patient).where(
            Patient.phone_e164 == details.phone_e164,
            func.lower(Patient.first_name) == details.first_name.lower(),
            func.lower(Patient.last_name) == details.last_name.lower(),
        ).limit(1)
    )
    moment = now()
    if patient is None:
        patient = Patient(
            first_name=details.first_name,
            last_name=details.last_name,
            phone_e164=details.phone_e164,
            email=details.email,
            language=language,
            created_at=moment,
        )
        db.session.add(patient)
    elif patient.email is None:
        patient.email = details.email
    if details.sms_opt_in and not patient.may_text:
        patient.sms_consent_at = moment
    return patient
