"""Courses of care: preview, book (all or nothing), extend, cancel the rest, cancel one
visit with make-up times, change the time of a visit and all that follow.

Everything a plan needs is read in a fixed number of queries for the whole range (the
providers' hours, bookings and time off, the closures, the patient's other visits), never
one per visit or per day. Each use case is one transaction under the database's overlap
check; every visit is inserted or moved in its own savepoint, and if the database refuses
any of them, nothing of the change is kept and a fresh plan comes back.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, text

from scheduler.domain.availability import ProviderSchedule
from scheduler.domain.courses import Calendar, Fixed, PlannedVisit, Prescription, make_up_options, plan_course
from scheduler.domain.intervals import Interval
from scheduler.domain.patient_details import N_
from scheduler.domain.visit_fit import CLOSED, OUTSIDE_HOURS, misfit
from scheduler.domain.wall_time import WallTimeError, to_instant, to_instant_lenient
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, BookingSource, Course, CourseStatus, Provider, Service
from scheduler.services import events
from scheduler.services.appointments import staff_changes as staff_appointments
from scheduler.services.appointments.booking_input import parse_start
from scheduler.services.appointments.rules import AUDIT_FIELDS, NOT_OPEN, clean_reason, moved_times
from scheduler.services.availability.open_times import load_closures, load_schedules
from scheduler.services.availability.staff_times import check_staff_timing, staff_alternatives, staff_last_day
from scheduler.services.clinic.versions import current_version_id
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import ChangeNotAllowed, NotFound, ServiceError, SlotUnavailable, ValidationFailed
from scheduler.services.common.tokens import manage_token_for, new_secret, sha256_hex
from scheduler.services.common.write_guard import flush_in_savepoint
from scheduler.services.courses import state as course_state
from scheduler.services.courses.prescription import (
    ChosenVisit,
    CourseRequest,
    find_provider,
    parse_hhmm,
    parse_whole_number,
)

CAUSE = "staff"
COURSE_FIELDS = ("status", "weeks", "visits_per_week", "first_day", "cancel_reason")
OPEN = (AppointmentStatus.BOOKED.value, AppointmentStatus.CONFIRMED.value)


class PlanConflict(ServiceError):
    """409: a visit was taken since the preview (or in a race); nothing was booked.
    `plan` is a fresh plan of the same request, `taken` the numbers that were refused."""

    def __init__(self, plan: list[PlannedVisit], taken: list[int]) -> None:
        super().__init__("plan conflict")
        self.plan = plan
        self.taken = taken


@dataclass(frozen=True)
class BookedCourse:
    course: Course
    visits: list[Appointment]
    # The patient's private link of each new visit, by appointment id: handed out once.
    tokens: dict[int, str]


# --- reading the calendar -----------------------------------------------------------------


def _record_booked(actor: audit.Actor, action: str, course: Course, before: dict | None, visits: list) -> None:
    """The audit trail of a booking of visits (a course or weeks added to it), and its messages."""
    audit.record(actor, action, course, before, {**audit.snapshot(course, COURSE_FIELDS), "visits": len(visits)})
    for visit in visits:
        audit.record(actor, "appointment.booked", visit, None, audit.snapshot(visit, AUDIT_FIELDS))
    events.course_booked(course, visits, cause=CAUSE)


def _providers_to_try(provider: Provider, allow_other: bool) -> list[int]:
    if not allow_other:
        return [provider.id]
    others = db.session.scalars(
        select(Provider.id).where(Provider.active.is_(True), Provider.id != provider.id).order_by(Provider.id)
    )
    return [provider.id, *others]


def load_calendar(
    service: Service,
    provider: Provider,
    allow_other: bool,
    first_day: date,
    last_day: date,
    patient_id: int,
    *,
    leave_out: tuple[Appointment, ...] = (),
) -> Calendar:
    """Everything the planner needs for the whole range, in at most six queries.

    `leave_out` are visits about to move: their own time does not count as busy. Reads only."""
    ids = _providers_to_try(provider, allow_other)
    schedules = load_schedules(ids, first_day, last_day)
    if leave_out:
        schedules = [_without(s, leave_out) for s in schedules]
    tz = clinic_tz()
    span_start = to_instant_lenient(first_day - timedelta(days=1), time(0), tz)
    span_end = to_instant_lenient(last_day + timedelta(days=2), time(0), tz)
    left_out_ids = [a.id for a in leave_out]
    patient_busy = db.session.execute(
        select(Appointment.starts_at, Appointment.ends_at).where(
            Appointment.patient_id == patient_id,
            Appointment.status != AppointmentStatus.CANCELLED.value,
            Appointment.starts_at < span_end,
            Appointment.ends_at > span_start,
            *([Appointment.id.not_in(left_out_ids)] if left_out_ids else []),
        )
    )
    return Calendar(
        schedules=tuple(schedules),
        closures=load_closures(first_day, last_day),
        tz=tz,
        duration=timedelta(minutes=service.duration_minutes),
        buffer=timedelta(minutes=service.buffer_minutes),
        step=timedelta(minutes=service.slot_step_minutes),
        not_before=now(),
        patient_busy=tuple(Interval(s, e) for s, e in patient_busy),
    )


def _without(schedule: ProviderSchedule, visits: tuple[Appointment, ...]) -> ProviderSchedule:
    busy = list(schedule.busy)
    for visit in visits:
        if visit.provider_id == schedule.provider_id:
            own = Interval(visit.starts_at, visit.blocks_until)
            if own in busy:
                busy.remove(own)
    return replace(schedule, busy=tuple(busy))


def _last_day(prescription: Prescription) -> date:
    return prescription.first_day + timedelta(days=7 * prescription.weeks - 1)


def _calendar_for(request: CourseRequest) -> Calendar:
    rx = request.prescription
    return load_calendar(request.service, request.provider, rx.allow_other_provider, rx.first_day,
                         _last_day(rx), request.patient.id)


# --- preview and book -------------------------------------------------------------------------


def preview(request: CourseRequest) -> list[PlannedVisit]:
    """The plan of the course as it would be booked now. Reads only."""
    return plan_course(request.prescription, _calendar_for(request))


def _one_patient_at_a_time(patient_id: int) -> None:
    """Two desks booking for one patient at once would each miss the other's visits in the
    patient-overlap check; PostgreSQL serialises them here, SQLite's IMMEDIATE transaction
    already does."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"patient-id:{patient_id}"})


def _check_chosen(chosen: tuple[ChosenVisit, ...], calendar: Calendar) -> list[int]:
    """Numbers (1-based, in date order) of chosen visits that are taken; raises
    ValidationFailed for ones no one could book (closed, outside hours, overlapping)."""
    schedules = {s.provider_id: s for s in calendar.schedules}
    fields: dict[str, str] = {}
    taken: list[int] = []
    own: list[Interval] = []
    for number, visit in enumerate(chosen, 1):
        schedule = schedules.get(visit.provider_id)
        if schedule is None:
            fields[f"visits.{number}.provider_id"] = N_("This course may not use another provider.")
            continue
        end = visit.start + calendar.duration
        blocks = Interval(visit.start, end + calendar.buffer)
        reason = misfit(schedule, visit.start, end, blocks.end, tz=calendar.tz, closures=calendar.closures)
        if reason == CLOSED:
            fields[f"visits.{number}.start"] = N_("The clinic is closed that day.")
        elif reason == OUTSIDE_HOURS:
            fields[f"visits.{number}.start"] = N_("That time is outside the provider's working hours.")
        elif any(blocks.overlaps(o) for o in own):
            fields[f"visits.{number}.start"] = N_("Two visits of the course overlap.")
        elif reason is not None or any(Interval(visit.start, end).overlaps(b) for b in calendar.patient_busy):
            taken.append(number)
        own.append(blocks)
    if fields:
        raise ValidationFailed(fields)
    return taken


def _insert_visits(course: Course, service: Service, wanted: list[tuple[datetime, int]], first_number: int) -> tuple[list[Appointment], dict[int, str]] | None:
    """Insert the visits together in one savepoint (one batched INSERT); None when the
    database refuses an overlap, and then none of them is kept.

    The visits inserted together share one random secret: visit n's private link carries
    "<secret>.<n>", so its page can show the links of its sibling visits, and only the
    hash of each is stored."""
    secret = new_secret()
    moment = now()
    duration = timedelta(minutes=service.duration_minutes)
    buffer = timedelta(minutes=service.buffer_minutes)
    version_id = current_version_id()
    visits = [
        Appointment(
            patient_id=course.patient_id, provider_id=provider_id, service_id=service.id,
            course_id=course.id, visit_number=first_number + offset,
            starts_at=start, ends_at=start + duration, blocks_until=start + duration + buffer,
            status=AppointmentStatus.BOOKED.value, source=BookingSource.DESK.value,
            manage_token_hash=sha256_hex(f"{secret}.{first_number + offset}"), created_at=moment, updated_at=moment,
            clinic_info_version_id=version_id,
        )
        for offset, (start, provider_id) in enumerate(wanted)
    ]
    if not flush_in_savepoint(lambda: db.session.add_all(visits)):
        return None
    return visits, {v.id: manage_token_for(f"{secret}.{v.visit_number}") for v in visits}


def _taken_now(wanted: list[tuple[datetime, int]], calendar: Calendar) -> list[int]:
    """Which of the wanted visits (1-based) the calendar, read again, has taken."""
    schedules = {s.provider_id: s for s in calendar.schedules}
    taken = []
    for number, (start, provider_id) in enumerate(wanted, 1):
        end = start + calendar.duration
        blocks = Interval(start, end + calendar.buffer)
        schedule = schedules.get(provider_id)
        if (schedule is None or any(blocks.overlaps(b) for b in schedule.busy)
                or any(Interval(start, end).overlaps(b) for b in calendar.patient_busy)):
            taken.append(number)
    return taken


def book(request: CourseRequest, *, actor: audit.Actor) -> BookedCourse:
    """Book the whole course or nothing. Commits."""
    rx = request.prescription
    try:
        _one_patient_at_a_time(request.patient.id)
        calendar = _calendar_for(request)
        if request.chosen is not None:
            taken = _check_chosen(request.chosen, calendar)
            if taken:
                raise PlanConflict([], taken)
            wanted = [(v.start, v.provider_id) for v in request.chosen]
        else:
            wanted = [(v.start, v.provider_id) for v in plan_course(rx, calendar) if v.start is not None]
        if not wanted:
            raise ValidationFailed({"first_date": N_("No visit of this course could be placed. Try other days or times.")})
        moment = now()
        course = Course(
            patient_id=request.patient.id, provider_id=request.provider.id, service_id=request.service.id,
            evaluation_id=request.evaluation.id if request.evaluation else None,
            first_day=rx.first_day, weeks=rx.weeks, visits_per_week=rx.visits_per_week,
            weekdays=",".join(str(d) for d in rx.weekdays), preferred_time=rx.preferred_time,
            window_start=rx.window[0] if rx.window else None, window_end=rx.window[1] if rx.window else None,
            min_gap_days=rx.min_gap_days, allow_other_provider=rx.allow_other_provider,
            status=CourseStatus.PLANNED.value, created_at=moment, updated_at=moment,
        )
        db.session.add(course)
        db.session.flush()
        inserted = _insert_visits(course, request.service, wanted, 1)
        if inserted is None:
            raise PlanConflict([], [])
        visits, tokens = inserted
        _record_booked(actor, "course.booked", course, None, visits)
        db.session.commit()
    except PlanConflict as conflict:
        db.session.rollback()
        calendar = _calendar_for(request)
        if not conflict.taken:  # refused by the database in a race: see what is taken now
            conflict.taken = _taken_now(wanted, calendar)
        conflict.plan = plan_course(rx, calendar)
        raise
    except Exception:
        db.session.rollback()
        raise
    return BookedCourse(course, visits, tokens)


# --- reading a course ------------------------------------------------------------------------


def get_course(course_id: int) -> Course:
    """The course with this id; NotFound otherwise. Reads only."""
    course = db.session.get(Course, course_id)
    if course is None:
        raise NotFound("No such course.")
    return course


def visits_of(course: Course) -> list[Appointment]:
    """Every visit of the course, cancelled ones too, by start. Reads only."""
    return list(db.session.scalars(
        select(Appointment).where(Appointment.course_id == course.id).order_by(Appointment.starts_at, Appointment.id)
    ))


def visit_by_number(course: Course, number: int) -> Appointment:
    """The course's visit with this number; NotFound otherwise. Reads only."""
    visit = db.session.scalar(
        select(Appointment).where(Appointment.course_id == course.id, Appointment.visit_number == number)
    )
    if visit is None:
        raise NotFound("No such visit.")
    return visit


def prescription_of(course: Course, weeks: int | None = None) -> Prescription:
    """The prescription the course was booked with (`weeks` long instead, when given).
    Reads only."""
    weekdays = tuple(int(d) for d in course.weekdays.split(",") if d)
    window = (course.window_start, course.window_end) if course.window_start and course.window_end else None
    return Prescription(
        first_day=course.first_day, weeks=weeks or course.weeks, visits_per_week=course.visits_per_week,
        weekdays=weekdays, preferred_time=course.preferred_time if window is None else None, window=window,
        min_gap_days=course.min_gap_days, allow_other_provider=course.allow_other_provider,
    )


def _fixed(visits: list[Appointment]) -> list[Fixed]:
    return [Fixed(v.starts_at, v.blocks_until) for v in visits if v.status != AppointmentStatus.CANCELLED.value]


def _next_number(course: Course) -> int:
    numbers = db.session.scalars(select(Appointment.visit_number).where(Appointment.course_id == course.id))
    return max(numbers, default=0) + 1


def _lock_course(course: Course) -> None:
    db.session.refresh(course, with_for_update=True)


def _require_not_cancelled(course: Course) -> None:
    if course.status == CourseStatus.CANCELLED.value:
        raise ChangeNotAllowed("not_open", N_("This course was cancelled."))


# --- extend -----------------------------------------------------------------------------------


def plan_extension(course: Course, weeks: int) -> list[PlannedVisit]:
    """The plan of `weeks` more weeks like the first ones, around the visits booked. Reads only."""
    rx = prescription_of(course, course.weeks + weeks)
    first_new_day = course.first_day + timedelta(days=7 * course.weeks)
    calendar = load_calendar(course.service, course.provider, rx.allow_other_provider, first_new_day, _last_day(rx),
                             course.patient_id)
    return plan_course(rx, calendar, first_week=course.weeks + 1, first_number=_next_number(course),
                       fixed=_fixed(visits_of(course)))


def extend(course: Course, raw_weeks: object, *, actor: audit.Actor) -> BookedCourse:
    """Plan and book N more weeks like the first ones, all or nothing. Commits."""
    weeks = parse_whole_number(raw_weeks, "weeks", 1, 12)
    try:
        _lock_course(course)
        _require_not_cancelled(course)
        if course.weeks + weeks > 52:
            raise ValidationFailed({"weeks": N_("A course can run at most 52 weeks.")})
        if course.first_day + timedelta(days=7 * (course.weeks + weeks) - 1) > staff_last_day():
            raise ValidationFailed({"weeks": N_("Staff can plan up to a year ahead.")})
        _one_patient_at_a_time(course.patient_id)
        plan = plan_extension(course, weeks)
        wanted = [(v.start, v.provider_id) for v in plan if v.start is not None]
        if not wanted:
            raise ValidationFailed({"weeks": N_("No visit of the added weeks could be placed.")})
        before = audit.snapshot(course, COURSE_FIELDS)
        inserted = _insert_visits(course, course.service, wanted, plan[0].number)
        if inserted is None:
            raise PlanConflict([], [plan[0].number + i for i in range(len(wanted))])
        visits, tokens = inserted
        course.weeks += weeks
        course_state.refresh(course)
        _record_booked(actor, "course.extended", course, before, visits)
        db.session.commit()
    except PlanConflict as conflict:
        db.session.rollback()
        conflict.plan = plan_extension(course, weeks)
        raise
    except Exception:
        db.session.rollback()
        raise
    return BookedCourse(course, visits, tokens)


# --- cancel ------------------------------------------------------------------------------------


def cancel_rest(course: Course, reason: object, *, actor: audit.Actor) -> list[Appointment]:
    """Cancel every open visit not yet begun; the course becomes cancelled. Commits."""
    try:
        _lock_course(course)
        _require_not_cancelled(course)
        clean = clean_reason(reason)
        before = audit.snapshot(course, COURSE_FIELDS)
        moment = now()
        cancelled = []
        for visit in visits_of(course):
            if visit.status in OPEN and visit.starts_at > moment:
                staff_appointments.cancel_in_transaction(visit, clean, actor=actor)
                cancelled.append(visit)
        course.status = CourseStatus.CANCELLED.value
        course.cancel_reason = clean
        course.cancelled_at = moment
        course.ical_sequence += 1
        course.updated_at = moment
        audit.record(actor, "course.cancelled", course, before,
                     {**audit.snapshot(course, COURSE_FIELDS), "visits_cancelled": len(cancelled)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return cancelled


def _week_of(course: Course, visit: Appointment) -> int:
    day = visit.starts_at.astimezone(clinic_tz()).date()
    return max(1, min(course.weeks, (day - course.first_day).days // 7 + 1))


def make_up_times(course: Course, visit: Appointment) -> list[tuple[datetime, int]]:
    """Open times for a make-up of `visit`: its course week first, then one after the end.
    Reads only."""
    rx = prescription_of(course)
    week = _week_of(course, visit)
    first = course.first_day + timedelta(days=7 * (week - 1))
    last = course.first_day + timedelta(days=7 * (course.weeks + 2) - 1)  # room for one after the end
    others = [v for v in visits_of(course) if v.id != visit.id]
    calendar = load_calendar(course.service, course.provider, rx.allow_other_provider, first, last, course.patient_id)
    return make_up_options(rx, calendar, week=week, last_week=course.weeks, fixed=_fixed(others))


def cancel_visit(course: Course, number: int, reason: object, *, actor: audit.Actor) -> tuple[Appointment, list[tuple[datetime, int]]]:
    """Cancel one visit of the course and offer make-up times. Commits."""
    visit = visit_by_number(course, number)
    staff_appointments.cancel(visit, reason, actor=actor)
    return visit, make_up_times(course, visit)


def book_make_up(course: Course, raw_start: object, raw_provider_id: object, *, actor: audit.Actor) -> BookedCourse:
    """Add one visit to the course at a chosen time (a make-up), numbered after the last. Commits."""
    fields: dict[str, str] = {}
    start = provider = None
    try:
        start = parse_start(raw_start)
        check_staff_timing(start)
    except ValidationFailed as exc:
        fields.update(exc.fields)
    try:
        provider = course.provider if raw_provider_id in (None, "") else find_provider(raw_provider_id)
    except ValidationFailed as exc:
        fields.update(exc.fields)
    if provider is not None and provider.id != course.provider_id and not course.allow_other_provider:
        fields["provider_id"] = N_("This course may not use another provider.")
    if fields:
        raise ValidationFailed(fields)
    try:
        _lock_course(course)
        _require_not_cancelled(course)
        _one_patient_at_a_time(course.patient_id)
        day = start.astimezone(clinic_tz()).date()
        calendar = load_calendar(course.service, provider, False, day, day, course.patient_id)
        taken = _check_chosen((ChosenVisit(start, provider.id),), calendar)
        if taken:
            raise SlotUnavailable([])
        inserted = _insert_visits(course, course.service, [(start, provider.id)], _next_number(course))
        if inserted is None:
            raise SlotUnavailable([])
        visits, tokens = inserted
        course_state.refresh(course)
        audit.record(actor, "appointment.booked", visits[0], None, audit.snapshot(visits[0], AUDIT_FIELDS))
        events.course_booked(course, visits, cause=CAUSE)
        db.session.commit()
    except SlotUnavailable as conflict:
        db.session.rollback()
        conflict.alternatives = staff_alternatives(course.service, [provider.id], start)
        raise
    except ValidationFailed as invalid:
        db.session.rollback()
        raise ValidationFailed({k.replace("visits.1.", ""): v for k, v in invalid.fields.items()}) from None
    except Exception:
        db.session.rollback()
        raise
    return BookedCourse(course, visits, tokens)


# --- this and all following -----------------------------------------------------------------


class FollowingConflict(ServiceError):
    """409: some of the visits cannot move to the new time (numbers in `taken`); nothing moved."""

    def __init__(self, taken: list[int]) -> None:
        super().__init__(f"visits {taken} are taken at the new time")
        self.taken = taken


def reschedule_following(course: Course, number: int, raw_time: object, *, actor: audit.Actor) -> list[Appointment]:
    """Move visit `number` and every open visit after it to the same day at a new wall
    time; all of them or none. Commits."""
    new_time = parse_hhmm(raw_time, "time")
    anchor = visit_by_number(course, number)
    try:
        _lock_course(course)
        _require_not_cancelled(course)
        if anchor.status not in OPEN:
            raise ChangeNotAllowed("not_open", NOT_OPEN)
        moving = tuple(v for v in visits_of(course) if v.status in OPEN and v.starts_at >= anchor.starts_at)
        tz = clinic_tz()
        fields: dict[str, str] = {}
        targets: list[tuple[Appointment, datetime]] = []
        for visit in moving:
            day = visit.starts_at.astimezone(tz).date()
            try:
                start = to_instant(day, new_time, tz)
                check_staff_timing(start, "time")
            except WallTimeError:
                fields["time"] = N_("That local time is skipped or repeated by a daylight-saving change on %(day)s.") % {"day": day.isoformat()}
                continue
            except ValidationFailed as exc:
                fields.update(exc.fields)
                continue
            targets.append((visit, start))
        if fields:
            raise ValidationFailed(fields)
        first_day = moving[0].starts_at.astimezone(tz).date()
        last_day = moving[-1].starts_at.astimezone(tz).date()
        provider_ids = {v.provider_id for v in moving}
        calendar = load_calendar(course.service, course.provider, bool(provider_ids - {course.provider_id}) or course.allow_other_provider,
                                 first_day, last_day, course.patient_id, leave_out=moving)
        schedules = {s.provider_id: s for s in calendar.schedules}
        # Each visit keeps its own length (one the desk lengthened stays so), and the checks use it.
        new_times = {visit.id: moved_times(visit, start) for visit, start in targets}
        taken: list[int] = []
        for visit, start in targets:
            end, blocks_until = new_times[visit.id]
            reason = misfit(schedules[visit.provider_id], start, end, blocks_until,
                            tz=tz, closures=calendar.closures)
            if reason in (CLOSED, OUTSIDE_HOURS):
                raise ValidationFailed({"time": N_("That time is outside the provider's working hours on %(day)s.")
                                        % {"day": start.astimezone(tz).date().isoformat()}})
            patient_busy = any(Interval(start, end).overlaps(b) for b in calendar.patient_busy)
            if reason is not None or patient_busy:
                taken.append(visit.visit_number)
        if taken:
            raise FollowingConflict(taken)
        for visit, start in targets:
            before = audit.snapshot(visit, AUDIT_FIELDS)
            previous = visit.starts_at

            end, blocks_until = new_times[visit.id]

            def change(visit=visit, start=start, previous=previous, end=end, blocks_until=blocks_until) -> None:
                visit.ical_sequence += 1
                visit.moved_from = previous
                visit.starts_at = start
                visit.ends_at = end
                visit.blocks_until = blocks_until
                visit.updated_at = now()

            if start == previous:
                continue
            if not flush_in_savepoint(change):
                raise FollowingConflict([visit.visit_number])
            audit.record(actor, "appointment.moved", visit, before, audit.snapshot(visit, AUDIT_FIELDS))
            events.appointment_moved(visit, cause=CAUSE)
        course_state.refresh(course)
        course.preferred_time = new_time if course.window_start is None else course.preferred_time
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return [v for v, _s in targets]
