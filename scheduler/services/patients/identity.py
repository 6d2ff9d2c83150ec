"""Finding the patient a booking belongs to, or creating them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, select

from scheduler.domain.patient_details import PatientDetails
from scheduler.extensions import db
from scheduler.models import Patient
from scheduler.services.common import audit
from scheduler.services.common.clock import now

AUDIT_FIELDS = ("first_name", "last_name", "phone_e164", "email", "language", "sms_consent_at", "sms_opted_out_at")


# Same mobile number and same name (any case) is the same patient. Built once: every
# booking asks it, for the record and for an overlapping visit; same_person_params gives
# the values.
SAME_PERSON: ColumnElement[bool] = and_(
    Patient.phone_e164 == bindparam("person_phone"),
    func.lower(Patient.first_name) == bindparam("person_first_name"),
    func.lower(Patient.last_name) == bindparam("person_last_name"),
)
# A record the desk merged into another comes last: the kept one answers first.
PATIENT_BY_PERSON = (
    select(Patient).where(SAME_PERSON).order_by(Patient.merged_into_id.is_not(None), Patient.id).limit(1)
)


def same_person_params(details: PatientDetails) -> dict[str, str]:
    """The values SAME_PERSON runs with for these details. Reads only."""
    return {
        "person_phone": details.phone_e164,
        "person_first_name": details.first_name.lower(),
        "person_last_name": details.last_name.lower(),
    }


def same_person(details: PatientDetails) -> ColumnElement[bool]:
    """SAME_PERSON with the values filled in, for queries built on the spot. Reads only."""
    return and_(
        Patient.phone_e164 == details.phone_e164,
        func.lower(Patient.first_name) == details.first_name.lower(),
        func.lower(Patient.last_name) == details.last_name.lower(),
    )


@dataclass(frozen=True)
class PatientChange:
    """What the audit trail is to record about the patient a booking found or created."""

    action: str  # "patient.created" or "patient.updated"
    before: dict[str, Any] | None
    after: dict[str, Any]


def find_or_create_patient(details: PatientDetails, language: str, actor: audit.Actor) -> Patient:
    """The patient these details describe; a new record when there is none.

    An anonymous form never overwrites what the clinic already holds, except to fill a
    missing email and to record a fresh SMS consent (an explicit opt-in after an earlier
    STOP is a new consent). Creation and every change go to the audit trail.
    In the caller's transaction.
    """
    patient, change = adopt_or_create(find_person(details), details, language)
    if patient.id is None:
        db.session.flush()  # the audit row names it
    if change is not None:
        audit.record(actor, change.action, patient, change.before, change.after)
    return patient


def find_person(details: PatientDetails) -> Patient | None:
    """The record these details name, if any. Reads only."""
    return kept_record(db.session.scalar(PATIENT_BY_PERSON, same_person_params(details)))


def kept_record(patient: Patient | None) -> Patient | None:
    """The record the desk kept, when this one was merged into it; else this one. Reads only."""
    if patient is not None and patient.merged_into_id is not None:
        # The desk merged that record into another: the booking goes to the one kept.
        return db.session.get(Patient, patient.merged_into_id)
    return patient


def adopt_or_create(
    patient: Patient | None, details: PatientDetails, language: str
) -> tuple[Patient, PatientChange | None]:
    """find_or_create_patient for the record already found (None: a new one, added to the
    session, not yet flushed), leaving the audit record to the caller: a booking writes it
    together with its own. In the caller's transaction."""
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
        return patient, PatientChange("patient.created", None, audit.snapshot(patient, AUDIT_FIELDS))
    before = audit.snapshot(patient, AUDIT_FIELDS)
    if patient.email is None:
        patient.email = details.email
    if details.sms_opt_in and not patient.may_text:
        patient.sms_consent_at = moment
    after = audit.snapshot(patient, AUDIT_FIELDS)
    return patient, (PatientChange("patient.updated", before, after) if after != before else None)
