"""Patients, visits and courses made directly in the database, for the message tests."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, Course, Patient, Provider, Service
from scheduler.services.common.tokens import new_secret, sha256_hex

DENVER = ZoneInfo("America/Denver")
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=DENVER).astimezone(UTC)


def wall(instant: datetime) -> str:
    return instant.astimezone(DENVER).strftime("%Y-%m-%d %H:%M")


def service(slug: str = "initial-evaluation") -> Service:
    return db.session.scalar(select(Service).where(Service.slug == slug))


def providers() -> list[Provider]:
    return list(db.session.scalars(select(Provider).order_by(Provider.id)))


def make_patient(**overrides) -> Patient:
    fields = dict(first_name="Rosa", last_name="Diaz", phone_e164="+19155550177", email="rosa@example.com",
                  language="es", sms_consent_at=CREATED, created_at=CREATED)
    fields.update(overrides)
    patient = Patient(**fields)
    db.session.add(patient)
    db.session.flush()
    return patient


def make_visit(patient: Patient, start: datetime, *, slug: str = "initial-evaluation", provider_index: int = 1,
               course: Course | None = None, number: int | None = None) -> Appointment:
    chosen = service(slug)
    end = start + timedelta(minutes=chosen.duration_minutes)
    visit = Appointment(
        patient_id=patient.id, provider_id=providers()[provider_index].id, service_id=chosen.id,
        course_id=course.id if course else None, visit_number=number, starts_at=start, ends_at=end,
        blocks_until=end + timedelta(minutes=chosen.buffer_minutes), status="booked", source="desk",
        manage_token_hash=sha256_hex(new_secret()), created_at=CREATED, updated_at=CREATED)
    db.session.add(visit)
    db.session.flush()
    return visit


def make_course(patient: Patient, starts: list[datetime]) -> tuple[Course, list[Appointment]]:
    therapy = service("therapy-session")
    course = Course(patient_id=patient.id, provider_id=providers()[0].id, service_id=therapy.id,
                    first_day=starts[0].astimezone(DENVER).date(), weeks=6, visits_per_week=2, weekdays="1,3",
                    created_at=CREATED)
    db.session.add(course)
    db.session.flush()
    visits = [make_visit(patient, start, slug="therapy-session", provider_index=0, course=course, number=n)
              for n, start in enumerate(starts, 1)]
    return course, visits
