"""Loads what the pure availability planner needs from the database."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, literal, select, union_all

from scheduler.domain.availability import (
    BookingRules,
    Closures,
    OpenTimes,
    ProviderSchedule,
    Slot,
    WeeklyWindow,
    find_open_times,
    from_micros,
    last_bookable_day,
)
from scheduler.domain.intervals import Interval
from scheduler.domain.wall_time import to_instant_lenient
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, Closure, Provider, Service, TimeOff, WorkingHours
from scheduler.services.common.clock import clinic_tz, now

# The longest time one appointment may block (visit + buffer); enforced by a CHECK constraint.
MAX_BLOCK = timedelta(hours=12)


def rules_for(service: Service) -> BookingRules:
    """The booking rules patients are held to for this service (notice, horizon, step).
    Reads only."""
    return BookingRules(
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        step=timedelta(minutes=service.slot_step_minutes),
        min_notice=timedelta(minutes=service.min_notice_minutes),
        max_advance_days=service.max_advance_days,
    )


def last_day_for(service: Service) -> date:
    """The last clinic-local date this service can be booked on, as of now. Reads only."""
    return last_bookable_day(now(), clinic_tz(), service.max_advance_days)


def bookable_providers(online_only: bool, provider_id: int | None = None) -> list[Provider]:
    """Active providers (taking online bookings, if asked); only the one named, if any.
    Reads only."""
    if provider_id is not None:
        query = _ONLINE_PROVIDER if online_only else _ACTIVE_PROVIDER
        return list(db.session.scalars(query, {"provider_id": provider_id}))
    return list(db.session.scalars(_ONLINE_PROVIDERS if online_only else _ACTIVE_PROVIDERS))


# Built once: every availability request and every booking sends one of these.
_ACTIVE_PROVIDERS = select(Provider).where(Provider.active.is_(True)).order_by(Provider.id)
_ONLINE_PROVIDERS = _ACTIVE_PROVIDERS.where(Provider.accepts_online_booking.is_(True))
_ACTIVE_PROVIDER = _ACTIVE_PROVIDERS.where(Provider.id == bindparam("provider_id"))
_ONLINE_PROVIDER = _ONLINE_PROVIDERS.where(Provider.id == bindparam("provider_id"))


def bookable_hours(online_only: bool, provider_id: int | None = None) -> dict[int, tuple[WeeklyWindow, ...]]:
    """The weekly windows of each bookable provider (active, taking online bookings if asked;
    only the one named, if any), in order of provider id; a provider without hours has none.

    One query, the providers joined to their hours, for the availability answer: it needs the
    providers' ids only, and a list of them first cost a round trip of its own. Reads only.
    """
    if provider_id is not None and not 0 < provider_id < 2**31:  # no such id; the integer would overflow
        return {}
    if provider_id is None:
        query, params = (_ONLINE_HOURS if online_only else _ACTIVE_HOURS), {}
    else:
        query, params = (_ONLINE_HOURS_OF if online_only else _ACTIVE_HOURS_OF), {"provider_id": provider_id}
    hours: dict[int, list[WeeklyWindow]] = {}
    for found, weekday, start, end, valid_from, valid_to in db.session.connection().execute(query, params).all():
        windows = hours.setdefault(found, [])
        if weekday is not None:  # the outer join's row for a provider without hours
            windows.append(WeeklyWindow(weekday, start, end, valid_from, valid_to))
    return {found: tuple(windows) for found, windows in hours.items()}


# Ordered within a provider too, so providers with the same hours share one plan of the days.
_ACTIVE_HOURS = (
    select(
        Provider.id, WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time,
        WorkingHours.valid_from, WorkingHours.valid_to,
    )
    .outerjoin(WorkingHours, WorkingHours.provider_id == Provider.id)
    .where(Provider.active.is_(True))
    .order_by(Provider.id, WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time)
)
_ONLINE_HOURS = _ACTIVE_HOURS.where(Provider.accepts_online_booking.is_(True))
_ACTIVE_HOURS_OF = _ACTIVE_HOURS.where(Provider.id == bindparam("provider_id"))
_ONLINE_HOURS_OF = _ONLINE_HOURS.where(Provider.id == bindparam("provider_id"))


def live_blocks_overlapping(span: Interval):
    """WHERE terms for non-cancelled appointments whose [starts_at, blocks_until) meets `span`.

    `blocks_until > span.start` alone has no index, so it would read a provider's whole
    history. No appointment blocks longer than MAX_BLOCK (a CHECK constraint, migration 0011),
    so a lower bound on `starts_at` keeps the (provider_id, starts_at) index range tight on
    SQLite and PostgreSQL alike, however many past visits there are. Reads only.
    """
    return (
        Appointment.status != AppointmentStatus.CANCELLED.value,
        Appointment.starts_at < span.end,
        Appointment.starts_at > span.start - MAX_BLOCK,
        Appointment.blocks_until > span.start,
    )


def _range_instants(first_day: date, last_day: date, tz: ZoneInfo) -> Interval:
    # A day of margin on each side covers buffers and DST-length days.
    start = to_instant_lenient(first_day - timedelta(days=1), datetime.min.time(), tz)
    end = to_instant_lenient(last_day + timedelta(days=2), datetime.min.time(), tz)
    return Interval(start, end)


def load_schedules(
    provider_ids: list[int],
    first_day: date,
    last_day: date,
    *,
    ignore_appointment_id: int | None = None,
    count_appointments: bool = True,
) -> list[ProviderSchedule]:
    """Working windows and busy intervals of each provider: two Core queries (no ORM
    objects), the second reading appointments and time off together. Reads only."""
    booked, _unbooked = load_schedules_both_ways(
        provider_ids, first_day, last_day,
        ignore_appointment_id=ignore_appointment_id, count_appointments=count_appointments,
    )
    return booked


def load_schedules_both_ways(
    provider_ids: list[int],
    first_day: date,
    last_day: date,
    *,
    ignore_appointment_id: int | None = None,
    count_appointments: bool = True,
) -> tuple[list[ProviderSchedule], list[ProviderSchedule]]:
    """The schedules with existing appointments counted as busy, and without them (time off
    still counts), from the same two queries: a booking's check tells "taken" apart from
    "never an opening" without asking the database again. Reads only."""
    span = _range_instants(first_day, last_day, clinic_tz())
    connection = db.session.connection()
    windows: dict[int, list[WeeklyWindow]] = defaultdict(list)
    # all() fetches the rows at once: iterating a result fetches them one by one.
    for provider_id, weekday, start, end, valid_from, valid_to in connection.execute(
        _HOURS, {"provider_ids": provider_ids}
    ).all():
        windows[provider_id].append(WeeklyWindow(weekday, start, end, valid_from, valid_to))
    busy: dict[int, list[Interval]] = defaultdict(list)
    time_off: dict[int, list[Interval]] = defaultdict(list)
    for provider_id, starts_at, ends_at, is_appointment in _busy_rows(
        provider_ids, span, ignore_appointment_id=ignore_appointment_id, count_appointments=count_appointments
    ):
        interval = Interval(starts_at, ends_at)
        busy[provider_id].append(interval)
        if not is_appointment:
            time_off[provider_id].append(interval)
    hours = {pid: tuple(windows[pid]) for pid in provider_ids}
    return (
        [ProviderSchedule(pid, hours[pid], tuple(busy[pid])) for pid in provider_ids],
        [ProviderSchedule(pid, hours[pid], tuple(time_off[pid])) for pid in provider_ids],
    )


def _busy_rows(provider_ids: list[int], span: Interval, *, ignore_appointment_id: int | None = None,
               count_appointments: bool = True) -> list:
    """(provider id, start, end, is an appointment) of the providers' time off and, when
    counted, their live appointments overlapping `span`, fetched at once."""
    params = {"provider_ids": provider_ids, "span_start": span.start, "span_end": span.end}
    if count_appointments:
        params |= {"earliest_start": span.start - MAX_BLOCK, "ignore_id": ignore_appointment_id or 0}
    # all() fetches the rows at once: iterating a result fetches them one by one.
    return db.session.connection().execute(_BUSY if count_appointments else _TIME_OFF, params).all()


# Built once with bound parameters: every availability request and every booking sends these,
# and building the expressions anew each time cost more than running them.
_HOURS = select(
    WorkingHours.provider_id, WorkingHours.weekday, WorkingHours.start_time, WorkingHours.end_time,
    WorkingHours.valid_from, WorkingHours.valid_to,
).where(WorkingHours.provider_id.in_(bindparam("provider_ids", expanding=True)))
_TIME_OFF = select(TimeOff.provider_id, TimeOff.starts_at, TimeOff.ends_at, literal(False)).where(
    TimeOff.provider_id.in_(bindparam("provider_ids", expanding=True)),
    TimeOff.starts_at < bindparam("span_end"),
    TimeOff.ends_at > bindparam("span_start"),
)
# Live appointments meeting the span (see live_blocks_overlapping), then time off.
_BUSY = union_all(
    select(Appointment.provider_id, Appointment.starts_at, Appointment.blocks_until, literal(True)).where(
        Appointment.provider_id.in_(bindparam("provider_ids", expanding=True)),
        Appointment.status != AppointmentStatus.CANCELLED.value,
        Appointment.starts_at < bindparam("span_end", type_=Appointment.starts_at.type),
        Appointment.starts_at > bindparam("earliest_start", type_=Appointment.starts_at.type),
        Appointment.blocks_until > bindparam("span_start", type_=Appointment.blocks_until.type),
        Appointment.id != bindparam("ignore_id"),  # 0 when none is to be ignored
    ),
    _TIME_OFF,
)
_CLOSURES = select(Closure.first_day, Closure.last_day, Closure.name).where(
    Closure.first_day <= bindparam("last_day"), Closure.last_day >= bindparam("first_day")
)


def load_closures(first_day: date, last_day: date) -> Closures:
    """The closures meeting [first_day, last_day], as the planner takes them. Reads only."""
    rows = db.session.connection().execute(_CLOSURES, {"first_day": first_day, "last_day": last_day}).all()
    return Closures(tuple((first, last) for first, last, _name in rows), tuple(name for _first, _last, name in rows))


def open_slots(
    service: Service,
    providers: list[Provider],
    first_day: date,
    last_day: date,
    *,
    ignore_appointment_id: int | None = None,
    include_booked: bool = False,
) -> list[Slot]:
    """Open slots for a service; include_booked=True ignores existing appointments
    (used to tell "taken" apart from "never an opening"). Reads only."""
    return open_times(
        service, providers, first_day, last_day,
        ignore_appointment_id=ignore_appointment_id, include_booked=include_booked,
    ).slots()


def open_times(
    service: Service,
    providers: list[Provider],
    first_day: date,
    last_day: date,
    *,
    ignore_appointment_id: int | None = None,
    include_booked: bool = False,
) -> OpenTimes:
    """open_slots as integers: what the JSON answer is written from. Reads only."""
    ids = [p.id for p in providers]
    if not ids:
        return OpenTimes([], 0)
    schedules = load_schedules(
        ids,
        first_day,
        last_day,
        ignore_appointment_id=ignore_appointment_id,
        count_appointments=not include_booked,
    )
    return search(schedules, rules_for(service), first_day, last_day)


def search(schedules: list[ProviderSchedule], rules: BookingRules, first_day: date, last_day: date,
           closures: Closures | None = None) -> OpenTimes:
    """The domain's search in clinic time, as of now; the closures are read unless given.
    Reads only."""
    return find_open_times(
        schedules,
        rules,
        tz=clinic_tz(),
        now=now(),
        first_day=first_day,
        last_day=last_day,
        closures=load_closures(first_day, last_day) if closures is None else closures,
    )


def open_times_of(
    service: Service, hours: dict[int, tuple[WeeklyWindow, ...]], first_day: date, last_day: date
) -> OpenTimes:
    """open_times for the providers and hours bookable_hours found: only the busy times and the
    closures are still to be read. Reads only."""
    if not hours:
        return OpenTimes([], 0)
    ids = list(hours)
    busy: dict[int, list[Interval]] = defaultdict(list)
    for provider_id, starts_at, ends_at, _is_appointment in _busy_rows(
        ids, _range_instants(first_day, last_day, clinic_tz())
    ):
        busy[provider_id].append(Interval(starts_at, ends_at))
    schedules = [ProviderSchedule(pid, hours[pid], tuple(busy[pid])) for pid in ids]
    return search(schedules, rules_for(service), first_day, last_day)


def slots_from(
    service: Service, schedules: list[ProviderSchedule], first_day: date, last_day: date, closures: Closures,
    *, rules: BookingRules | None = None,
) -> list[Slot]:
    """Open slots from schedules already read (a booking's check reads the day once); `rules`
    replaces the service's (a visit moved with its own length). Reads only."""
    return search(schedules, rules or rules_for(service), first_day, last_day, closures).slots()


def open_days(times: OpenTimes, first_day: date, last_day: date) -> dict[date, int]:
    """Number of open start times per clinic-local day (0 for days without openings). Reads only."""
    counts = {first_day + timedelta(days=i): 0 for i in range((last_day - first_day).days + 1)}
    for day in _local_days(times):
        if day in counts:
            counts[day] += 1
    return counts


def _local_days(times: OpenTimes) -> Iterator[date]:
    """The clinic-local day of each open start time, once per time however many are free then."""
    tz = clinic_tz()
    for start in dict.fromkeys(start for start, _provider in times.starts):
        yield from_micros(start).astimezone(tz).date()


def least_busy_first(providers: list[Provider], first_day: date, last_day: date) -> list[int]:
    """Provider ids ordered by how many visits they already have in the range, fewest first.
    Reads only."""
    span = _range_instants(first_day, last_day, clinic_tz())
    counts = dict(
        db.session.execute(
            select(Appointment.provider_id, func.count(Appointment.id))
            .where(
                Appointment.provider_id.in_([p.id for p in providers]),
                *live_blocks_overlapping(span),
            )
            .group_by(Appointment.provider_id)
        ).all()
    )
    return sorted((p.id for p in providers), key=lambda pid: (counts.get(pid, 0), pid))


@dataclass(frozen=True)
class DayLabels:
    """Why a day of the picker has no openings: the clinic is closed (and why), or every
    opening is taken. Other empty days (weekends, days off) are simply without openings."""

    closed: dict[date, str]
    fully_booked: set[date]


def day_labels(
    service: Service,
    providers: list[Provider],
    counts: dict[date, int],
    *,
    ignore_appointment_id: int | None = None,
) -> DayLabels:
    """Why each day without openings in `counts` has none: the clinic is closed (and why),
    or every opening is taken. Reads only."""
    empty = [day for day, count in counts.items() if count == 0]
    if not empty:
        return DayLabels({}, set())
    first, last = min(empty), max(empty)
    closed: dict[date, str] = {}
    for row in db.session.scalars(
        select(Closure).where(Closure.first_day <= last, Closure.last_day >= first).order_by(Closure.first_day)
    ):
        for day in empty:
            if row.first_day <= day <= row.last_day:
                closed.setdefault(day, row.name)
    # Openings there would be if nobody had booked: a day with some is fully booked.
    had_openings = set(_local_days(open_times(service, providers, first, last, include_booked=True)))
    return DayLabels(closed, {day for day in empty if day in had_openings and day not in closed})
