"""What the desk calendar shows for a range of days: visits, and the shaded times behind them."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from scheduler.domain import calendar_shading
from scheduler.domain.calendar_shading import Shade, day_span
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, Closure, Provider, TimeOff
from scheduler.services.availability.open_times import load_schedules
from scheduler.services.common.clock import clinic_tz


@dataclass(frozen=True)
class CalendarRange:
    appointments: list[Appointment]
    shades: list[Shade]
    # course id -> its visits that still count (not cancelled): "visit 7 of 18"
    course_sizes: dict[int, int]
    # The earliest opening and latest closing of any working window shown, in wall time
    working_span: tuple[time, time] | None = None


def calendar_range(first_day: date, last_day: date, providers: list[Provider]) -> CalendarRange:
    """The providers' visits meeting the days, the shaded times behind them (off hours, time
    off, closures), the size of each course shown and the span of their working hours.
    Reads only."""
    tz = clinic_tz()
    ids = [p.id for p in providers]
    if not ids:
        return CalendarRange([], [], {})
    start, end = day_span(first_day, tz).start, day_span(last_day, tz).end
    appointments = list(
        db.session.scalars(
            select(Appointment)
            .options(joinedload(Appointment.patient), joinedload(Appointment.service))
            .where(Appointment.provider_id.in_(ids), Appointment.starts_at < end, Appointment.ends_at > start)
            .order_by(Appointment.starts_at, Appointment.provider_id)
        )
    )
    shades: list[Shade] = []
    schedules = load_schedules(ids, first_day, last_day, count_appointments=False)
    for schedule in schedules:
        shades.extend(calendar_shading.off_hours(schedule, first_day, last_day, tz))
    off: dict[int, list[tuple]] = {}
    for row in db.session.scalars(
        select(TimeOff).where(TimeOff.provider_id.in_(ids), TimeOff.starts_at < end, TimeOff.ends_at > start)
    ):
        off.setdefault(row.provider_id, []).append((row.starts_at, row.ends_at, row.reason))
    for provider_id, periods in off.items():
        shades.extend(calendar_shading.time_off(provider_id, periods, first_day, last_day, tz))
    closed = db.session.execute(
        select(Closure.first_day, Closure.last_day, Closure.name).where(
            Closure.first_day <= last_day, Closure.last_day >= first_day
        )
    )
    shades.extend(calendar_shading.closures(ids, [tuple(row) for row in closed], first_day, last_day, tz))
    course_ids = {a.course_id for a in appointments if a.course_id is not None}
    sizes = {}
    if course_ids:
        sizes = dict(
            db.session.execute(
                select(Appointment.course_id, func.count(Appointment.id))
                .where(
                    Appointment.course_id.in_(course_ids),
                    Appointment.status != AppointmentStatus.CANCELLED.value,
                )
                .group_by(Appointment.course_id)
            ).all()
        )
    span = calendar_shading.working_span(schedules, first_day, last_day)
    return CalendarRange(appointments, shades, sizes, span)
