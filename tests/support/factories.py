"""Every factory of the suite: rows made directly in the database, and request bodies.

Two kinds: `make_*` build what a test names on an empty database (`build_clinic` a small
clinic with staff accounts and tokens) and commit; `demo_*` add rows to the seeded demo clinic
(the `demo` fixture) and only flush, for tests that read them back in the same session.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment, Closure, Course, Patient, Provider, Service, WorkingHours
from scheduler.services.common.tokens import new_secret, sha256_hex
from scheduler.services.staff.accounts import create_user, issue_api_token

PASSWORD = "a long enough password"  # every staff account's password in the tests
DENVER = ZoneInfo("America/Denver")
CREATED = datetime(2026, 11, 1, tzinfo=UTC)


# --- an empty clinic: providers, services, closures, patients, visits --------------------


def make_provider(name="Test Provider", *, windows=((time(8), time(12)), (time(13), time(17))),
                  weekdays=range(5), online=True) -> Provider:
    provider = Provider(name=name, active=True, accepts_online_booking=online)
    provider.hours = [WorkingHours(weekday=d, start_time=s, end_time=e) for d in weekdays for s, e in windows]
    db.session.add(provider)
    db.session.commit()
    return provider


def make_service(slug="evaluation", **overrides) -> Service:
    fields = dict(
        slug=slug, name="Initial evaluation", duration_minutes=60, buffer_minutes=15, online_bookable=True,
        active=True, min_notice_minutes=120, max_advance_days=60, slot_step_minutes=15, cancel_window_hours=24,
    )
    fields.update(overrides)
    service = Service(**fields)
    db.session.add(service)
    db.session.commit()
    return service


def make_closure(day: date, name="Holiday") -> Closure:
    closure = Closure(first_day=day, last_day=day, name=name)
    db.session.add(closure)
    db.session.commit()
    return closure


def patient_payload(**overrides) -> dict:
    patient = {
        "first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123",
        "email": "ana@example.com", "sms_opt_in": True,
    }
    patient.update(overrides)
    return patient


@dataclass
class Clinic:
    maria: Provider  # has a provider account
    daniel: Provider
    therapy: Service
    patient: Patient
    desk_token: str
    maria_token: str
    admin_token: str


def make_patient(first="Ana", last="Garcia", phone="+19155550123", email="ana@example.com", language="en") -> Patient:
    patient = Patient(first_name=first, last_name=last, phone_e164=phone, email=email, language=language,
                      created_at=datetime(2026, 11, 1, tzinfo=UTC))
    db.session.add(patient)
    db.session.commit()
    return patient


def make_visit(patient: Patient, provider: Provider, service: Service, start: str | datetime, **fields) -> Appointment:
    starts_at = datetime.fromisoformat(start) if isinstance(start, str) else start
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    appointment = Appointment(
        patient_id=patient.id, provider_id=provider.id, service_id=service.id,
        starts_at=starts_at, ends_at=ends_at, blocks_until=ends_at + timedelta(minutes=service.buffer_minutes),
        status="booked", source="desk", manage_token_hash=sha256_hex(new_secret()),
        created_at=moment, updated_at=moment, **fields,
    )
    db.session.add(appointment)
    db.session.commit()
    return appointment


def build_clinic() -> Clinic:
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    therapy = make_service("therapy-session", name="Therapy session", duration_minutes=45, buffer_minutes=15,
                           online_bookable=False, min_notice_minutes=120, max_advance_days=60)
    make_closure(datetime(2026, 12, 25).date(), "Christmas Day")
    patient = make_patient()
    create_user("desk@example.com", PASSWORD, "front_desk")
    create_user("admin@example.com", PASSWORD, "admin")
    user = create_user("maria@example.com", PASSWORD, "provider")
    maria.user_id = user.id
    db.session.commit()
    return Clinic(
        maria, daniel, therapy, patient,
        desk_token=issue_api_token("desk@example.com"),
        maria_token=issue_api_token("maria@example.com"),
        admin_token=issue_api_token("admin@example.com"),
    )


# --- the seeded demo clinic ---------------------------------------------------------------


def local(*args) -> datetime:
    return datetime(*args, tzinfo=DENVER).astimezone(UTC)


def wall(instant: datetime) -> str:
    return instant.astimezone(DENVER).strftime("%Y-%m-%d %H:%M")


def demo_service(slug: str = "initial-evaluation") -> Service:
    return db.session.scalar(select(Service).where(Service.slug == slug))


def demo_providers() -> list[Provider]:
    return list(db.session.scalars(select(Provider).order_by(Provider.id)))


def demo_patient(**overrides) -> Patient:
    fields = dict(first_name="Rosa", last_name="Diaz", phone_e164="+19155550177", email="rosa@example.com",
                  language="es", sms_consent_at=CREATED, created_at=CREATED)
    fields.update(overrides)
    patient = Patient(**fields)
    db.session.add(patient)
    db.session.flush()
    return patient


def demo_visit(patient: Patient, start: datetime, *, slug: str = "initial-evaluation", provider_index: int = 1,
               course: Course | None = None, number: int | None = None) -> Appointment:
    chosen = demo_service(slug)
    end = start + timedelta(minutes=chosen.duration_minutes)
    visit = Appointment(
        patient_id=patient.id, provider_id=demo_providers()[provider_index].id, service_id=chosen.id,
        course_id=course.id if course else None, visit_number=number, starts_at=start, ends_at=end,
        blocks_until=end + timedelta(minutes=chosen.buffer_minutes), status="booked", source="desk",
        manage_token_hash=sha256_hex(new_secret()), created_at=CREATED, updated_at=CREATED)
    db.session.add(visit)
    db.session.flush()
    return visit


def demo_course(patient: Patient, starts: list[datetime]) -> tuple[Course, list[Appointment]]:
    therapy = demo_service("therapy-session")
    course = Course(patient_id=patient.id, provider_id=demo_providers()[0].id, service_id=therapy.id,
                    first_day=starts[0].astimezone(DENVER).date(), weeks=6, visits_per_week=2, weekdays="1,3",
                    created_at=CREATED)
    db.session.add(course)
    db.session.flush()
    visits = [demo_visit(patient, start, slug="therapy-session", provider_index=0, course=course, number=n)
              for n, start in enumerate(starts, 1)]
    return course, visits
