"""Everything the desk sees on one patient's page, read in a handful of queries."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Course, Message, Patient


@dataclass(frozen=True)
class PatientHistory:
    appointments: list[Appointment]
    courses: list[Course]
    messages: list[Message]
    audit: list[AuditEvent]


def history(patient: Patient, *, audit_limit: int = 100) -> PatientHistory:
    """Everything the desk sees on one patient's page: visits, courses, messages and the
    newest of the audit trail. Reads only."""
    appointments = list(db.session.scalars(
        select(Appointment).options(joinedload(Appointment.provider), joinedload(Appointment.service))
        .where(Appointment.patient_id == patient.id).order_by(Appointment.starts_at.desc())
    ))
    courses = list(db.session.scalars(
        select(Course).where(Course.patient_id == patient.id).order_by(Course.first_day.desc())
    ))
    messages = list(db.session.scalars(
        select(Message).where(Message.patient_id == patient.id).order_by(Message.created_at.desc(), Message.id.desc())
    ))
    ids = [a.id for a in appointments]
    trail = list(db.session.scalars(
        select(AuditEvent).where(
            or_(
                (AuditEvent.entity_type == "patients") & (AuditEvent.entity_id == patient.id),
                (AuditEvent.entity_type == "appointments") & AuditEvent.entity_id.in_(ids or [-1]),
            )
        ).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(audit_limit)
    ))
    return PatientHistory(appointments, courses, messages, trail)
