"""Bulk data on top of the demo clinic: more providers, a patient pool, N appointments.

Appointments are laid out day by day, walking back from the end of the online booking
horizon: the far future sparse, the coming weeks fuller, the past full (years of it at a
million rows), with cancelled bookings among them; the oldest day is cut to land on
exactly N. Every provider's appointments are non-overlapping (the
database's exclusion constraint would refuse anything else), and every window keeps
gaps, so online booking still finds openings.
"""
from __future__ import annotations

import random
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, insert, select, text

from config import Config
from scheduler import create_app
from scheduler.domain.availability import Closures
from scheduler.domain.intervals import Interval
from scheduler.domain.wall_time import to_instant_lenient
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
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.operations.demo import WEEKLY_WINDOWS

EVALUATION = "initial-evaluation"
THERAPY = "therapy-session"
EXTRA_PROVIDER_NAMES = [
    "Sofia Ramirez, PT", "Ethan Brooks, DC", "Camila Torres, PT", "Noah Castillo, PTA",
    "Valeria Ortiz, PT", "Liam Chavez, DC", "Isabella Flores, PT", "Mateo Vargas, PTA",
    "Emma Delgado, PT", "Lucas Romero, DC", "Mia Herrera, PT", "Diego Morales, PT",
]


@dataclass(frozen=True)
class SeedSummary:
    providers: int
    appointments: int  # in the database, the demo clinic's own included
    seeded: int
    patients: int
    first_day: date
    last_day: date
    today: date
    evaluation_block_minutes: int
    evaluation_min_notice_minutes: int
    evaluation_max_advance_days: int


def _day_plan(rng: random.Random, windows: list[Interval], services: list[tuple[Service, float]]):
    """(starts, ends, blocks_until, service) for one provider-day; a window gets ~2 visits."""
    planned = []
    for window in windows:
        cursor = window.start
        while cursor < window.end:
            draw = rng.random()
            chosen = None
            for service, upto in services:
                if draw < upto:
                    chosen = service
                    break
            if chosen is None:
                cursor += timedelta(minutes=rng.choice((15, 30, 45, 60)))
                continue
            ends = cursor + timedelta(minutes=chosen.duration_minutes)
            if ends > window.end:
                break
            blocks = ends + timedelta(minutes=chosen.buffer_minutes)
            planned.append((cursor, ends, blocks, chosen))
            cursor = blocks
    return planned


# Share of past visits with an earlier, cancelled booking at the same time (cancelled rows
# never block, so they lie under live ones, as in a real clinic's history).
RESCHEDULED_SHARE = 0.08


def _future_density(days_ahead: int) -> float:
    """How full a day is: the past is full; the coming days fill up, the far ones are sparse."""
    if days_ahead < 0:
        return 1.0
    return max(0.15, 0.85 - 0.012 * days_ahead)


def seed(database_url: str, *, appointments: int, providers: int, random_seed: int = 2026) -> SeedSummary:
    """Adds providers up to `providers` and exactly `appointments` appointments (plus the
    demo clinic's own few). Expects `flask seed-demo` to have run."""
    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    rng = random.Random(random_seed)
    with app.app_context():
        try:
            return _seed(rng, appointments, providers)
        finally:
            db.session.remove()
            db.engine.dispose()


def _seed(rng: random.Random, target: int, provider_count: int) -> SeedSummary:
    existing = list(db.session.scalars(select(Provider).order_by(Provider.id)))
    for name in EXTRA_PROVIDER_NAMES[: max(0, provider_count - len(existing))]:
        provider = Provider(name=name, title="", active=True, accepts_online_booking=True)
        provider.hours = [
            WorkingHours(weekday=day, start_time=start, end_time=end)
            for day in range(5)
            for start, end in WEEKLY_WINDOWS
        ]
        db.session.add(provider)
    db.session.commit()
    all_providers = list(db.session.scalars(select(Provider).order_by(Provider.id)))
    hours: dict[int, list[WorkingHours]] = defaultdict(list)
    for row in db.session.scalars(select(WorkingHours)):
        hours[row.provider_id].append(row)

    evaluation = db.session.scalar(select(Service).where(Service.slug == EVALUATION))
    therapy = db.session.scalar(select(Service).where(Service.slug == THERAPY))
    # ~20% of draws place a therapy visit, ~20% an evaluation, the rest leave a gap.
    mix = [(therapy, 0.2), (evaluation, 0.4)]
    closures = Closures(tuple(db.session.execute(select(Closure.first_day, Closure.last_day))))
    taken: dict[int, list[Interval]] = defaultdict(list)  # the demo clinic's own bookings
    for pid, starts, blocks in db.session.execute(
        select(Appointment.provider_id, Appointment.starts_at, Appointment.blocks_until).where(
            Appointment.status != AppointmentStatus.CANCELLED.value
        )
    ):
        taken[pid].append(Interval(starts, blocks))

    tz = clinic_tz()
    moment = now()
    today = moment.astimezone(tz).date()
    last_day = today + timedelta(days=evaluation.max_advance_days)
    planned: list[tuple[int, datetime, datetime, datetime, Service]] = []
    day = last_day
    while len(planned) < target:
        if not closures.closed_on(day):
            for provider in all_providers:
                windows = sorted(
                    Interval(to_instant_lenient(day, h.start_time, tz), to_instant_lenient(day, h.end_time, tz))
                    for h in hours[provider.id]
                    if h.weekday == day.weekday()
                )
                keep = _future_density((day - today).days)
                for starts, ends, blocks, service in _day_plan(rng, windows, mix):
                    if keep < 1 and rng.random() >= keep:
                        continue
                    block = Interval(starts, blocks)
                    if any(block.overlaps(other) for other in taken[provider.id]):
                        continue
                    planned.append((provider.id, starts, ends, blocks, service, False))
                    if day < today and rng.random() < RESCHEDULED_SHARE:
                        # A visit cancelled earlier whose time was then given to someone else.
                        planned.append((provider.id, starts, ends, blocks, service, True))
        day -= timedelta(days=1)
    # Drop the surplus from the oldest day only.
    planned.sort(key=lambda row: row[1], reverse=True)
    planned = planned[:target]
    first_day = min(row[1] for row in planned).astimezone(tz).date() if planned else today

    patient_count = max(50, target // 4)
    patient_rows = [
        {
            "first_name": rng.choice(("Ana", "Luis", "Maria", "John", "Rosa", "Carlos", "Grace", "Omar")),
            "last_name": f"Seeded{index:06d}",
            "phone_e164": f"+1915{7000000 + index:07d}",
            "email": f"patient{index}@example.com",
            "language": "es" if index % 3 == 0 else "en",
            "sms_consent_at": moment,
            "created_at": moment - timedelta(days=400),
        }
        for index in range(patient_count)
    ]
    patient_ids = list(db.session.scalars(insert(Patient).returning(Patient.id), patient_rows))

    rows = []
    for provider_id, starts, ends, blocks, service, was_cancelled in planned:
        past = starts < moment
        draw = rng.random()
        if was_cancelled:
            status = AppointmentStatus.CANCELLED
        elif past:
            status = (AppointmentStatus.COMPLETED if draw < 0.9
                      else AppointmentStatus.NO_SHOW if draw < 0.95 else AppointmentStatus.CANCELLED)
        else:
            status = (AppointmentStatus.BOOKED if draw < 0.6
                      else AppointmentStatus.CONFIRMED if draw < 0.97 else AppointmentStatus.CANCELLED)
        created = min(starts, moment) - timedelta(days=rng.randint(1, 30))
        rows.append({
            "patient_id": rng.choice(patient_ids),
            "provider_id": provider_id,
            "service_id": service.id,
            "starts_at": starts,
            "ends_at": ends,
            "blocks_until": blocks,
            "status": status.value,
            "source": rng.choice((BookingSource.ONLINE, BookingSource.DESK, BookingSource.DESK)).value,
            "patient_note": "",
            "cancel_reason": "",
            "cancelled_at": moment if status is AppointmentStatus.CANCELLED else None,
            "manage_token_hash": secrets.token_hex(32),
            "ical_sequence": 0,
            "created_at": created,
            "updated_at": created,
        })
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(Appointment), rows[start:start + 2000])
    db.session.commit()
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
            conn.commit()

    return SeedSummary(
        providers=len(all_providers),
        appointments=db.session.scalar(select(func.count()).select_from(Appointment)),
        seeded=len(rows),
        patients=db.session.scalar(select(func.count()).select_from(Patient)),
        first_day=first_day,
        last_day=last_day,
        today=today,
        evaluation_block_minutes=evaluation.duration_minutes + evaluation.buffer_minutes,
        evaluation_min_notice_minutes=evaluation.min_notice_minutes,
        evaluation_max_advance_days=evaluation.max_advance_days,
    )


def appointments_between(database_url: str, first_day: date, last_day: date) -> int:
    """Non-cancelled appointments starting on those clinic-local days (inclusive)."""
    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        try:
            tz = clinic_tz()
            start = to_instant_lenient(first_day, time(0), tz)
            end = to_instant_lenient(last_day + timedelta(days=1), time(0), tz)
            return db.session.scalar(
                select(func.count()).select_from(Appointment).where(
                    Appointment.starts_at >= start,
                    Appointment.starts_at < end,
                    Appointment.status != AppointmentStatus.CANCELLED.value,
                )
            )
        finally:
            db.session.remove()
            db.engine.dispose()

