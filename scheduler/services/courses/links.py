"""A course visit's private page shows its sibling visits, each with its own link.

The visits booked together share one random secret: visit n's link carries "<secret>.<n>"
and only its hash is stored (see courses._insert_visits). Holding one visit's link is
enough to derive the others booked with it; visits added later (an extension, a make-up)
have their own secret and links of their own.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Appointment
from scheduler.services.appointments.patient_changes import can_change_online
from scheduler.services.common.tokens import manage_secret, manage_token_for, sha256_hex


@dataclass(frozen=True)
class CourseVisitLink:
    visit: Appointment
    ordinal: int | None      # "visit K of M" among the live visits (None when cancelled)
    token: str | None        # this visit's own private link, when derivable from the one in hand
    can_change: bool


@dataclass(frozen=True)
class CourseOverview:
    visits: list[CourseVisitLink]
    total: int               # live (not cancelled) visits


def course_overview(appointment: Appointment, token: str) -> CourseOverview | None:
    """Every visit of the appointment's course, in date order, for its private page. Reads only."""
    if appointment.course_id is None:
        return None
    visits = list(db.session.scalars(
        select(Appointment).where(Appointment.course_id == appointment.course_id)
        .order_by(Appointment.starts_at, Appointment.id)
    ))
    secret = manage_secret(token) or ""
    course_secret, dot, _number = secret.rpartition(".")
    live = [v for v in visits if v.status != "cancelled"]
    ordinals = {v.id: i for i, v in enumerate(live, 1)}
    links = []
    for visit in visits:
        own = None
        if visit.id == appointment.id:
            own = token
        elif dot:
            candidate = f"{course_secret}.{visit.visit_number}"
            if sha256_hex(candidate) == visit.manage_token_hash:
                own = manage_token_for(candidate)
        links.append(CourseVisitLink(visit, ordinals.get(visit.id), own, can_change_online(visit)))
    return CourseOverview(links, len(live))
