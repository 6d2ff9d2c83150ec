"""An idempotent demo clinic: three providers, two services, a holiday, a few bookings, and a
street address in the clinic's details."""
from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select

from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import (
    Appointment,
    AppointmentStatus,
    BookingSource,
    Closure,
    Patient,
    Provider,
    Service,
    WorkingHours,
)
from scheduler.services.availability.open_times import open_slots
from scheduler.services.clinic.versions import change_details, current_details, current_version_id
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.tokens import new_secret, sha256_hex

PROVIDERS = [
    ("Dr. Alex Jimenez, DC", N_("Chiropractor"), "#1f6f8b"),
    ("Maria Lopez, PT", N_("Physical therapist"), "#7a4f9a"),
    ("Daniel Reyes, PT", N_("Physical therapist"), "#2e7d4f"),
]
# Monday to Friday, 08:00-12:00 and 13:00-17:00: the lunch hour is the break.
WEEKLY_WINDOWS = [(time(8), time(12)), (time(13), time(17))]
SERVICES = [
    dict(slug="initial-evaluation", name=N_("Initial evaluation"), duration_minutes=60, buffer_minutes=15,
         online_bookable=True, min_notice_minutes=120, max_advance_days=60, slot_step_minutes=15,
         cancel_window_hours=24,
         description=N_("A first visit: history, examination and a plan of care.")),
    dict(slug="therapy-session", name=N_("Therapy session"), duration_minutes=45, buffer_minutes=0,
         online_bookable=False, min_notice_minutes=0, max_advance_days=120, slot_step_minutes=15,
         cancel_window_hours=24, description=N_("A treatment visit in a course of care.")),
]
# A demo value, no one's real address: an admin replaces it under Settings.
DEMO_ADDRESS = "1200 Example Ave, Suite 100, El Paso, TX 79902"
DEMO_PATIENTS = [
    ("Ana", "Garcia", "+19155550101", "ana.garcia@example.com"),
    ("James", "Miller", "+19155550102", "james.miller@example.com"),
    ("Lucia", "Hernandez", "+19155550103", "lucia.hernandez@example.com"),
    ("Robert", "Nguyen", "+19155550104", "robert.nguyen@example.com"),
]


def _holidays(today: date) -> list[tuple[date, str]]:
    """The next Thanksgiving, Christmas Day and New Year's Day from today."""

    def next_on_or_after(make) -> date:
        day = make(today.year)
        return day if day >= today else make(today.year + 1)

    def thanksgiving(year: int) -> date:  # the fourth Thursday of November
        first = date(year, 11, 1)
        return first + timedelta(days=(3 - first.weekday()) % 7 + 21)

    return [
        (next_on_or_after(thanksgiving), N_("Thanksgiving Day")),
        (next_on_or_after(lambda year: date(year, 12, 25)), N_("Christmas Day")),
        (next_on_or_after(lambda year: date(year, 1, 1)), N_("New Year's Day")),
    ]


def seed_demo() -> dict[str, int]:
    """Adds whatever of the demo clinic is missing; running it twice changes nothing. Commits."""
    created = {"providers": 0, "services": 0, "closures": 0, "appointments": 0}
    if not current_details().address:  # a version of the details with the demo's address
        change_details({"address": DEMO_ADDRESS}, actor=audit.SYSTEM)
    for name, title, colour in PROVIDERS:
        if db.session.scalar(select(Provider).where(Provider.name == name)) is None:
            provider = Provider(name=name, title=title, colour=colour, active=True)
            provider.hours = [
                WorkingHours(weekday=day, start_time=start, end_time=end)
                for day in range(5)
                for start, end in WEEKLY_WINDOWS
            ]
            db.session.add(provider)
            created["providers"] += 1
    for spec in SERVICES:
        if db.session.scalar(select(Service).where(Service.slug == spec["slug"])) is None:
            db.session.add(Service(active=True, **spec))
            created["services"] += 1
    today = now().astimezone(clinic_tz()).date()
    for day, name in _holidays(today):
        if db.session.scalar(select(Closure).where(Closure.first_day == day)) is None:
            db.session.add(Closure(first_day=day, last_day=day, name=name))
            created["closures"] += 1
    db.session.flush()
    created["appointments"] = _seed_bookings(today)
    db.session.commit()
    return created


def _seed_bookings(today: date) -> int:
    if db.session.scalar(select(Patient).where(Patient.phone_e164 == DEMO_PATIENTS[0][2])) is not None:
        return 0
    providers = list(db.session.scalars(select(Provider).order_by(Provider.id)))
    evaluation = db.session.scalar(select(Service).where(Service.slug == "initial-evaluation"))
    therapy = db.session.scalar(select(Service).where(Service.slug == "therapy-session"))
    moment = now()
    count = 0
    for index, (first, last, phone, email) in enumerate(DEMO_PATIENTS):
        patient = Patient(first_name=first, last_name=last, phone_e164=phone, email=email,
                          language="es" if index % 2 else "en", sms_consent_at=moment, created_at=moment)
        db.session.add(patient)
        service = evaluation if index % 2 == 0 else therapy
        provider = providers[index % len(providers)]
        day = today + timedelta(days=1 + index)
        slots = open_slots(service, [provider], day, day + timedelta(days=7))
        if not slots:
            continue
        slot = slots[len(slots) // 3]
        appointment = Appointment(
            patient=patient, provider_id=provider.id, service_id=service.id,
            starts_at=slot.start, ends_at=slot.end,
            blocks_until=slot.end + timedelta(minutes=service.buffer_minutes),
            status=AppointmentStatus.BOOKED.value, source=BookingSource.DESK.value,
            manage_token_hash=sha256_hex(new_secret()), created_at=moment, updated_at=moment,
            clinic_info_version_id=current_version_id(),
        )
        db.session.add(appointment)
        db.session.flush()
        audit.record(audit.SYSTEM, "appointment.booked", appointment, None, {"demo": True})
        count += 1
    return count
