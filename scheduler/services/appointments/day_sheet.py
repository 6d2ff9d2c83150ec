"""A day's appointments for the clinic's staff, in the columns services.staff.access lets each user see."""
from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from scheduler.domain.wall_time import to_instant_lenient
from scheduler.extensions import db
from scheduler.models import ActorKind, Appointment, AuditEvent, Provider, User
from scheduler.services.common.clock import clinic_tz


def appointments_on(day: date, providers: list[Provider]) -> list[Appointment]:
    """Every appointment starting on a clinic-local day (cancelled ones too), by start time.
    Reads only."""
    tz = clinic_tz()
    start = to_instant_lenient(day, time(0), tz)
    end = to_instant_lenient(day + timedelta(days=1), time(0), tz)
    query = (
        select(Appointment)
        .options(joinedload(Appointment.patient), joinedload(Appointment.service), joinedload(Appointment.provider))
        .where(
            Appointment.provider_id.in_([p.id for p in providers]),
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at, Appointment.provider_id)
    )
    return list(db.session.scalars(query))


def booked_by_staff(appointments: list[Appointment]) -> dict[int, str]:
    """The staff user (email) who booked each of these visits, for those booked by staff or
    through the API with a staff token; the day sheet names them. Reads only."""
    ids = [a.id for a in appointments]
    if not ids:
        return {}
    rows = db.session.execute(
        select(AuditEvent.entity_id, User.email)
        .join(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.entity_type == Appointment.__tablename__,
            AuditEvent.entity_id.in_(ids),
            AuditEvent.action == "appointment.booked",
            AuditEvent.actor_kind == ActorKind.STAFF.value,
        )
    )
    return dict(rows.all())
