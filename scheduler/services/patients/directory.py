"""The staff's patient directory: find a patient by name, phone or email; add one."""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from scheduler.domain.patient_details import N_, DetailsInvalid, check_patient_details
from scheduler.extensions import db
from scheduler.models import Appointment, Patient
from scheduler.services.common import audit
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.patients.identity import find_or_create_patient, same_person

SEARCH_LIMIT = 25
QUERY_MIN, QUERY_MAX = 2, 100


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(query: object) -> list[Patient]:
    """Patients whose name, email or mobile number contains the text (any case). Reads only."""
    if not isinstance(query, str) or len(query.strip()) < QUERY_MIN:
        raise ValidationFailed({"query": N_("Type at least 2 characters of a name, phone number or email.")})
    text = " ".join(query.split())
    if len(query) > QUERY_MAX:  # as typed, as the API document counts it
        raise ValidationFailed({"query": N_("Please use at most 100 characters.")})
    pattern = _like(text.lower())
    full_name = func.lower(Patient.first_name + " " + Patient.last_name)
    conditions = [
        full_name.like(pattern, escape="\\"),
        func.lower(func.coalesce(Patient.email, "")).like(pattern, escape="\\"),
    ]
    digits = re.sub(r"\D", "", text)
    # "915-555-0123", "(915) 555 0123" and "+1 915..." all name the same stored +19155550123.
    if len(digits) >= 3 and re.fullmatch(r"[\d\s()+.\-]+", text):
        conditions.append(Patient.phone_e164.like(_like(digits), escape="\\"))
    query_rows = (
        select(Patient)
        .where(Patient.merged_into_id.is_(None), or_(*conditions))
        .order_by(func.lower(Patient.last_name), func.lower(Patient.first_name), Patient.id)
        .limit(SEARCH_LIMIT)
    )
    return list(db.session.scalars(query_rows))


RECENT_LIMIT = 25


def recent(limit: int = RECENT_LIMIT) -> list[Patient]:
    """The patients the desk saw last: newest first by their latest booking, or by when the
    record was added if they have none. Reads only."""
    latest = (
        select(Appointment.patient_id, func.max(Appointment.created_at).label("booked_at"))
        .group_by(Appointment.patient_id).subquery()
    )
    seen = func.coalesce(latest.c.booked_at, Patient.created_at)
    rows = (
        select(Patient).outerjoin(latest, latest.c.patient_id == Patient.id)
        .where(Patient.merged_into_id.is_(None))
        .order_by(seen.desc(), Patient.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(rows))


@dataclass(frozen=True)
class Added:
    patient: Patient
    created: bool


def add(data: object, *, language: object, actor: audit.Actor) -> Added:
    """A patient from the booking API's patient fields; the existing record when the same
    person (mobile number and name) is already known. Commits."""
    fields: dict[str, str] = {}
    if language in (None, ""):
        language = "en"
    if language not in ("en", "es"):
        fields["language"] = N_("Use en or es.")
    try:
        details = check_patient_details(data if isinstance(data, dict) else {})
    except DetailsInvalid as exc:
        fields.update(exc.fields)
    if fields:
        raise ValidationFailed(fields)
    try:
        existed = db.session.scalar(select(Patient.id).where(same_person(details)).limit(1)) is not None
        patient = find_or_create_patient(details, language, actor)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return Added(patient, not existed)
