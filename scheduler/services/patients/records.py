"""The front desk's patient records beyond search (patient_directory): a caller added with
two names and a number, the language, possible duplicates and merging them."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update

from scheduler.domain.patient_details import N_, check_email, check_mobile, check_name
from scheduler.extensions import db
from scheduler.models import Appointment, Course, InboundMessage, Message, Patient, WaitlistEntry
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.patients.identity import AUDIT_FIELDS

LANGUAGES = ("en", "es")


@dataclass(frozen=True)
class NewPatient:
    first_name: str
    last_name: str
    phone_e164: str
    email: str | None
    sms_opt_in: bool
    language: str = "en"  # what the patient reads: their confirmation, reminders and pages


def check_new_patient(data: dict) -> NewPatient:
    """What the desk types for a caller: two names and a mobile number; email optional; the
    language (English unless given). Reads only."""
    fields: dict[str, str] = {}
    first, error = check_name(data.get("first_name"))
    if error:
        fields["first_name"] = error
    last, error = check_name(data.get("last_name"))
    if error:
        fields["last_name"] = error
    phone, error = check_mobile(data.get("phone"))
    if error:
        fields["phone"] = error
    email = None
    if isinstance(data.get("email"), str) and data["email"].strip():
        email, error = check_email(data["email"])
        if error:
            fields["email"] = error
    opt_in = data.get("sms_opt_in", False)
    if opt_in in ("on", "true", "1"):
        opt_in = True
    if opt_in in ("", "false", "0", None):
        opt_in = False
    if not isinstance(opt_in, bool):
        fields["sms_opt_in"] = N_("Must be true or false.")
    language = data.get("language") or "en"
    if language not in LANGUAGES:
        fields["language"] = N_("Choose English or Spanish.")
    if fields:
        raise ValidationFailed(fields)
    return NewPatient(first, last, phone, email, opt_in, language)  # type: ignore[arg-type]


def find_or_add(details: NewPatient, actor: audit.Actor, language: str | None = None) -> Patient:
    """The patient with this number and name, or a new record (the caller of the transaction
    commits). A new record sharing a number or an email with someone of another name is shown
    at the desk as a possible duplicate (`possible_duplicates`). In the caller's transaction."""
    existing = db.session.scalar(
        select(Patient).where(
            Patient.phone_e164 == details.phone_e164,
            func.lower(Patient.first_name) == details.first_name.lower(),
            func.lower(Patient.last_name) == details.last_name.lower(),
        ).order_by(Patient.merged_into_id.is_not(None), Patient.id).limit(1)
    )
    if existing is not None:
        # A record the desk merged away stands for the one it was merged into.
        return db.session.get(Patient, existing.merged_into_id) if existing.merged_into_id else existing
    moment = now()
    patient = Patient(
        first_name=details.first_name, last_name=details.last_name, phone_e164=details.phone_e164,
        email=details.email, language=language or details.language, sms_consent_at=moment if details.sms_opt_in else None,
        created_at=moment,
    )
    db.session.add(patient)
    db.session.flush()
    audit.record(actor, "patient.created", patient, None, audit.snapshot(patient, AUDIT_FIELDS))
    return patient


def possible_duplicates(patient: Patient) -> list[Patient]:
    """Other records with the same mobile number or email but another name: the desk decides
    whether they are one person (merge) or, say, a parent and child sharing a phone. Reads only."""
    same_contact = [Patient.phone_e164 == patient.phone_e164]
    if patient.email:
        same_contact.append(func.lower(Patient.email) == patient.email.lower())
    return list(
        db.session.scalars(
            select(Patient)
            .where(Patient.id != patient.id, Patient.merged_into_id.is_(None), or_(*same_contact))
            .order_by(Patient.id)
        )
    )


def all_possible_duplicates(limit: int = 50) -> list[tuple[Patient, Patient]]:
    """Pairs (older, newer) of live records sharing a number or an email. Reads only."""
    older, newer = Patient.__table__.alias("older"), Patient.__table__.alias("newer")
    pairs = db.session.execute(
        select(older.c.id, newer.c.id)
        .where(
            older.c.id < newer.c.id,
            older.c.merged_into_id.is_(None),
            newer.c.merged_into_id.is_(None),
            or_(
                older.c.phone_e164 == newer.c.phone_e164,
                and_(older.c.email.is_not(None), func.lower(older.c.email) == func.lower(newer.c.email)),
            ),
        )
        .order_by(newer.c.id.desc())
        .limit(limit)
    ).all()
    return [(db.session.get(Patient, a), db.session.get(Patient, b)) for a, b in pairs]


def set_language(patient: Patient, language: str, actor: audit.Actor) -> None:
    """The patient's language for messages and pages, audited when it changes. Commits."""
    if language not in LANGUAGES:
        raise ValidationFailed({"language": "Choose English or Spanish."})
    before = audit.snapshot(patient, AUDIT_FIELDS)
    patient.language = language
    after = audit.snapshot(patient, AUDIT_FIELDS)
    if after != before:
        audit.record(actor, "patient.updated", patient, before, after)
    db.session.commit()


def merge(kept: Patient, duplicate: Patient, actor: audit.Actor) -> int:
    """Moves the duplicate's appointments, courses, messages, texts and waitlist places to the
    kept record and marks the duplicate merged (kept, never deleted, for the audit trail).
    Returns how many appointments moved. Commits."""
    if kept.id == duplicate.id:
        raise ValidationFailed({"duplicate_id": "Choose another record to merge."})
    if kept.merged_into_id is not None or duplicate.merged_into_id is not None:
        raise ValidationFailed({"duplicate_id": "That record was already merged."})
    moved = {}
    for model in (Appointment, Course, Message, InboundMessage, WaitlistEntry):
        result = db.session.execute(
            update(model).where(model.patient_id == duplicate.id).values(patient_id=kept.id)
            .execution_options(synchronize_session="fetch")
        )
        moved[model.__tablename__] = result.rowcount
    before = audit.snapshot(kept, AUDIT_FIELDS)
    if kept.email is None and duplicate.email:
        kept.email = duplicate.email
    duplicate.merged_into_id = kept.id
    audit.record(actor, "patient.merged", kept, before,
                 {**audit.snapshot(kept, AUDIT_FIELDS), "merged_from": duplicate.id, "moved": moved})
    audit.record(actor, "patient.merged_away", duplicate, None, {"merged_into": kept.id})
    db.session.commit()
    return moved["appointments"]
