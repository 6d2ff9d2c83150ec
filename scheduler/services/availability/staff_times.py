"""Open times as the staff see them: no minimum notice, up to a year ahead.

Patients booking online are held to a service's notice and booking horizon; the front desk
and therapists are not, but they may not book into the past or outside working hours.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from scheduler.domain.availability import BookingRules, Slot, nearest
from scheduler.domain.patient_details import N_
from scheduler.domain.visit_fit import BUSY, CLOSED, OUTSIDE_HOURS, misfit
from scheduler.models import Service
from scheduler.services.availability.open_times import load_closures, load_schedules, search
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import SlotUnavailable, ValidationFailed

STAFF_HORIZON_DAYS = 366
ALTERNATIVE_DAYS_BEFORE = 2
ALTERNATIVE_DAYS_AFTER = 7


def staff_rules(service: Service) -> BookingRules:
    """The booking rules staff are held to: no notice, up to a year ahead. Reads only."""
    return BookingRules(
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        step=timedelta(minutes=service.slot_step_minutes),
        min_notice=timedelta(0),
        max_advance_days=STAFF_HORIZON_DAYS,
    )


def staff_last_day() -> date:
    """The last clinic-local day staff may plan. Reads only."""
    return now().astimezone(clinic_tz()).date() + timedelta(days=STAFF_HORIZON_DAYS)


def check_staff_timing(start: datetime, field: str = "start") -> None:
    """ValidationFailed (on `field`) for a time already past or beyond the staff's horizon.
    Reads only."""
    if start <= now():
        raise ValidationFailed({field: N_("That time has already passed.")})
    if start.astimezone(clinic_tz()).date() > staff_last_day():
        raise ValidationFailed({field: N_("Staff can plan up to a year ahead.")})


def staff_slots(
    service: Service, provider_ids: list[int], first_day: date, last_day: date, *, ignore_appointment_id: int | None = None
) -> list[Slot]:
    """Open times as the staff see them, for these providers and days. Reads only."""
    if not provider_ids:
        return []
    schedules = load_schedules(provider_ids, first_day, last_day, ignore_appointment_id=ignore_appointment_id)
    return search(schedules, staff_rules(service), first_day, last_day).slots()


def staff_alternatives(
    service: Service, provider_ids: list[int], start: datetime, *, ignore_appointment_id: int | None = None
) -> list[Slot]:
    """The open times nearest to `start` (offered after a conflict). Reads only."""
    day = start.astimezone(clinic_tz()).date()
    slots = staff_slots(
        service,
        provider_ids,
        day - timedelta(days=ALTERNATIVE_DAYS_BEFORE),
        day + timedelta(days=ALTERNATIVE_DAYS_AFTER),
        ignore_appointment_id=ignore_appointment_id,
    )
    return nearest(slots, start)


def require_fit(provider_id: int, start, end, blocks_until, *, ignore_appointment_id: int | None = None) -> None:
    """Inside one of the provider's working windows on an open day; a taken time is a 409.
    Reads only."""
    tz = clinic_tz()
    day = start.astimezone(tz).date()
    schedule = load_schedules([provider_id], day, day, ignore_appointment_id=ignore_appointment_id)[0]
    reason = misfit(schedule, start, end, blocks_until, tz=tz, closures=load_closures(day, day))
    if reason == CLOSED:
        raise ValidationFailed({"start": N_("The clinic is closed that day.")})
    if reason == OUTSIDE_HOURS:
        raise ValidationFailed({"start": N_("That time is outside the provider's working hours.")})
    if reason == BUSY:
        raise SlotUnavailable([])
