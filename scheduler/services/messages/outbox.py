"""The outbox: planning, re-planning and cancelling a patient's messages (see events.py).

Every function here runs inside the caller's transaction and never commits: the rows are
written, changed or cancelled together with the booking change that causes them. When to
send is the pure domain's business (domain/reminders.py); this module reads the rows and
the settings and writes the plan.

Kinds: "confirmation", "change", "cancellation", "reminder", "course_welcome", "links".
A row's unique key is (appointment, kind, channel, planned_for): a re-plan that lands on a
key already used revives that row when it was never sent (pending, cancelled, expired); a
reminder already sent for that very moment is not sent again; a notice moves its
planned_for on by a microsecond (two notices of one visit in the same instant are two).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select

from scheduler.domain.reminders import (
    Cadence,
    Channels,
    Decision,
    Planned,
    Policy,
    SendFacts,
    course_cadences,
    plan_notice,
    plan_reminders,
    send_decision,
)
from scheduler.extensions import db
from scheduler.models import (
    OPEN_STATUSES,
    Appointment,
    AppointmentStatus,
    Course,
    CourseStatus,
    Message,
    MessageStatus,
    OfferStatus,
    Patient,
    WaitlistOffer,
)
from scheduler.services.clinic import versions as clinic_versions
from scheduler.services.common.clock import clinic_tz, now

NEVER_SENT = (MessageStatus.PENDING.value, MessageStatus.CANCELLED.value, MessageStatus.EXPIRED.value)
PENDING = MessageStatus.PENDING.value
PATIENT_CAUSE = "patient"
ONE_TICK = timedelta(microseconds=1)
# "Text it to me" pressed again while the first text is on its way: a request repeated within
# this long, for the same visit (or patient) and channel, sends nothing more.
LINK_REPEAT_WINDOW = timedelta(minutes=5)
# A link message in these states is on its way or went: a repeat of its request adds nothing.
_LINK_UNDER_WAY = (MessageStatus.PENDING.value, MessageStatus.SENDING.value, MessageStatus.SENT.value,
                   MessageStatus.DELIVERED.value)


def policy() -> Policy:
    """The admin's saved policy, else the configuration's: read once per app context. Reads only."""
    return clinic_versions.current_policy()


def channels_for(patient: Patient) -> Channels:
    """How the patient may be reached: by text (consent, no opt-out), by email (an address).
    Reads only."""
    return Channels(sms=patient.may_text, email=bool(patient.email))


# ---------------------------------------------------------------- the hooks (events.py)


def plan_booked(appointment: Appointment, *, cause: str) -> None:
    """The confirmation and the reminders of a visit created in this transaction. No message
    of a new visit can exist yet, so none is looked for to revive: the rows go in at once, in
    one round trip (no two share a key: they differ in kind, channel or planned time).
    In the caller's transaction."""
    _ensure_id(appointment)
    moment = now()
    patient = appointment.patient
    rows = [_new_row(patient, planned, cause, moment, appointment=appointment)
            for planned in _notice_plans("confirmation", appointment, cause, moment)]
    rows += [_new_row(patient, planned, "system", moment, appointment=appointment)
             for planned in _reminder_plans(appointment, _cadence_of(appointment), moment)]
    if rows:
        db.session.connection().execute(_INSERT_MESSAGE, rows)


def plan_moved(appointment: Appointment, *, cause: str) -> None:
    """Pending reminders of the old time are cancelled and the new time's planned. The update
    goes by the confirmation's channels, unless a confirmation or update still waiting there
    will carry the new time anyway (it is rendered at send time). In the caller's transaction."""
    moment = now()
    _cancel_pending(appointment, kinds=("reminder",), moment=moment)
    patient = appointment.patient
    for planned in plan_notice(
        "change", channels_for(patient), cause, moment, appointment.starts_at, policy().window, clinic_tz()
    ):
        waiting = db.session.scalars(
            select(Message).where(
                Message.appointment_id == appointment.id,
                Message.channel == planned.channel,
                Message.kind.in_(("confirmation", "change")),
                Message.status == PENDING,
            )
        ).all()
        if waiting:
            for message in waiting:
                message.due_at = min(message.due_at, planned.due_at)
                if cause == PATIENT_CAUSE:  # now the patient's own action: it goes at once
                    message.cause = cause
                message.send_before = appointment.starts_at
                message.updated_at = moment
            continue
        _add(patient, planned, cause, moment, appointment=appointment)
    _add_reminders(appointment, _cadence_of(appointment), moment)


def plan_resized(appointment: Appointment, *, cause: str) -> None:
    """Nothing to send when only the length changed: the reminders and any notice still
    waiting name the start, which stays, and the calendar files read the new end (their
    SEQUENCE went up with the change). Reads only."""


def plan_cancelled(appointment: Appointment, *, cause: str) -> None:
    """Everything still waiting for the visit is cancelled; a notice goes by the same channels
    as a confirmation (by email with the calendar's METHOD:CANCEL). In the caller's transaction."""
    moment = now()
    _cancel_pending(appointment, kinds=None, moment=moment)
    _add_notices("cancellation", appointment, cause, moment)


def plan_confirmed(appointment: Appointment, *, cause: str) -> None:
    """Nothing to send: the reminders stay (they help with the visit, not only the decision).
    Reads only."""
    return None


def plan_course_booked(course: Course, visits: list[Appointment], *, cause: str) -> None:
    """One welcome listing the course's visits, and each visit's reminders: the full cadence
    for the course's first visit and the first after a long gap, the lighter one for the rest.
    In the caller's transaction."""
    if not visits:
        return
    for visit in visits:
        _ensure_id(visit)
    moment = now()
    visits = sorted(visits, key=lambda v: v.starts_at)
    patient = course.patient if course.patient is not None else visits[0].patient
    last_start = visits[-1].starts_at
    for planned in plan_notice(
        "course_welcome", channels_for(patient), cause, moment, last_start, policy().window, clinic_tz()
    ):
        _add(patient, planned, cause, moment, course=course)
    new_ids = {v.id for v in visits}
    earlier = db.session.scalar(
        select(Appointment.starts_at)
        .where(
            Appointment.course_id == course.id,
            Appointment.status != AppointmentStatus.CANCELLED.value,
            Appointment.starts_at < visits[0].starts_at,
            Appointment.id.not_in(new_ids),
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    )
    for visit, cadence in zip(visits, course_cadences([v.starts_at for v in visits], earlier), strict=True):
        _add_reminders(visit, cadence, moment)


def plan_links(appointments: list[Appointment], *, channel: str, cause: str) -> None:
    """One message on `channel` with a fresh private link to each visit. For one visit the row
    belongs to it; for several it belongs to the patient, and is rendered with their upcoming
    open visits at send time. A request repeated within LINK_REPEAT_WINDOW (the button pressed
    again while the first text is on its way) adds nothing. In the caller's transaction."""
    if not appointments:
        return
    for appointment in appointments:
        _ensure_id(appointment)
    patient = appointments[0].patient
    reachable = channels_for(patient)
    if not getattr(reachable, channel, False):
        return
    moment = now()
    single = appointments[0] if len(appointments) == 1 else None
    if _links_recently_requested(patient, single, channel, moment):
        return
    send_before = max(a.starts_at for a in appointments)
    for planned in plan_notice(
        "links", Channels(sms=channel == "sms", email=channel == "email"), cause, moment, send_before,
        policy().window, clinic_tz(),
    ):
        _add(patient, planned, cause, moment, appointment=single)


def _links_recently_requested(patient: Patient, single: Appointment | None, channel: str,
                              moment: datetime) -> bool:
    query = select(Message.id).where(
        Message.kind == "links", Message.channel == channel, Message.status.in_(_LINK_UNDER_WAY),
        Message.created_at > moment - LINK_REPEAT_WINDOW,
    )
    if single is not None:
        query = query.where(Message.appointment_id == single.id)
    else:
        query = query.where(Message.appointment_id.is_(None), Message.patient_id == patient.id)
    return db.session.scalar(query.limit(1)) is not None


def plan_waitlist_offer(offer, patient: Patient, hold: timedelta) -> datetime | None:
    """The offer of a freed time: by SMS when the patient may be texted, else by email. The
    system offers it, so it waits for the send window; it is never sent once the hold (counted
    from when it may go) has run out. Returns when it may go (None: it cannot go at all).
    In the caller's transaction."""
    moment = now()
    reachable = channels_for(patient)
    channel = "sms" if reachable.sms else ("email" if reachable.email else None)
    if channel is None:
        return None
    planned = plan_notice("waitlist_offer", Channels(sms=channel == "sms", email=channel == "email"), "system",
                          moment, offer.starts_at, policy().window, clinic_tz())
    if not planned or planned[0].due_at + hold > offer.starts_at:
        return None
    first = planned[0]
    db.session.add(Message(
        patient_id=patient.id, waitlist_offer_id=offer.id, channel=channel, kind="waitlist_offer", cause="system",
        planned_for=first.planned_for, due_at=first.due_at, send_before=first.due_at + hold, status=PENDING,
        attempts=0, to_address=_address(patient, channel), language=patient.language, last_error="",
        created_at=moment, updated_at=moment,
    ))
    return first.due_at


# ---------------------------------------------------------------- at send time


def send_decision_for(message: Message, moment: datetime | None = None) -> Decision:
    """Send, defer (until) or expire a claimed message, re-reading what it is about. Reads only."""
    moment = moment or now()
    patient = db.session.get(Patient, message.patient_id)
    cancelled = False
    started = False
    if message.appointment_id is not None:
        appointment = db.session.get(Appointment, message.appointment_id)
        cancelled = appointment.status == AppointmentStatus.CANCELLED.value
        started = message.kind != "cancellation" and (
            moment >= appointment.starts_at or appointment.status not in OPEN_STATUSES and not cancelled
        )
    elif message.kind == "course_welcome" and message.course_id is not None:
        course = db.session.get(Course, message.course_id)
        cancelled = course.status == CourseStatus.CANCELLED.value or not upcoming_visits(patient, moment, course)
    elif message.kind == "links":
        cancelled = not upcoming_visits(patient, moment)
    elif message.waitlist_offer_id is not None:
        offer = db.session.get(WaitlistOffer, message.waitlist_offer_id)
        cancelled = offer.status != OfferStatus.OPEN.value
    allowed = patient.may_text if message.channel == "sms" else bool(patient.email)
    facts = SendFacts(
        kind=message.kind,
        cause=message.cause,
        send_before=message.send_before,
        channel_allowed=allowed,
        appointment_cancelled=cancelled,
        appointment_started=started,
    )
    return send_decision(facts, moment, policy().window, clinic_tz())


def upcoming_visits(patient: Patient, moment: datetime, course: Course | None = None) -> list[Appointment]:
    """The patient's open visits that have not begun (of one course, if given), soonest first.
    Reads only."""
    query = (
        select(Appointment)
        .where(
            Appointment.patient_id == patient.id,
            Appointment.status.in_([s.value for s in OPEN_STATUSES]),
            Appointment.starts_at > moment,
        )
        .order_by(Appointment.starts_at)
    )
    if course is not None:
        query = query.where(Appointment.course_id == course.id)
    return list(db.session.scalars(query))


# ---------------------------------------------------------------- writing rows


def _ensure_id(appointment: Appointment) -> None:
    if appointment.id is None:
        db.session.flush()


def _cadence_of(appointment: Appointment) -> Cadence:
    """A single visit: full. A visit of a course booked on its own: as course_cadences would
    have it, after the course's previous visit."""
    if appointment.course_id is None:
        return Cadence.FULL
    previous = db.session.scalar(
        select(Appointment.starts_at)
        .where(
            Appointment.course_id == appointment.course_id,
            Appointment.id != appointment.id,
            Appointment.status != AppointmentStatus.CANCELLED.value,
            Appointment.starts_at < appointment.starts_at,
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    )
    return course_cadences([appointment.starts_at], previous)[0]


def _notice_plans(kind: str, appointment: Appointment, cause: str, moment: datetime) -> list[Planned]:
    return plan_notice(kind, channels_for(appointment.patient), cause, moment, appointment.starts_at,
                       policy().window, clinic_tz())


def _reminder_plans(appointment: Appointment, cadence: Cadence, moment: datetime) -> list[Planned]:
    """A reminder is the system's, whoever booked: it always waits for the window."""
    if appointment.status not in OPEN_STATUSES:
        return []
    return plan_reminders(appointment.starts_at, moment, channels_for(appointment.patient), cadence, policy(),
                          clinic_tz())


def _add_notices(kind: str, appointment: Appointment, cause: str, moment: datetime) -> None:
    for planned in _notice_plans(kind, appointment, cause, moment):
        _add(appointment.patient, planned, cause, moment, appointment=appointment)


def _add_reminders(appointment: Appointment, cadence: Cadence, moment: datetime) -> None:
    for planned in _reminder_plans(appointment, cadence, moment):
        _add(appointment.patient, planned, "system", moment, appointment=appointment)


def _cancel_pending(appointment: Appointment, *, kinds, moment: datetime) -> None:
    query = select(Message).where(Message.appointment_id == appointment.id, Message.status == PENDING)
    if kinds is not None:
        query = query.where(Message.kind.in_(kinds))
    for message in db.session.scalars(query):
        message.status = MessageStatus.CANCELLED.value
        message.updated_at = moment


def _add(
    patient: Patient,
    planned: Planned,
    cause: str,
    moment: datetime,
    *,
    appointment: Appointment | None = None,
    course: Course | None = None,
) -> Message | None:
    planned_for = planned.planned_for
    while True:
        query = select(Message).where(
            Message.kind == planned.kind, Message.channel == planned.channel, Message.planned_for == planned_for
        )
        if appointment is not None:
            query = query.where(Message.appointment_id == appointment.id)
        else:
            query = query.where(
                Message.appointment_id.is_(None),
                Message.patient_id == patient.id,
                Message.course_id == course.id if course is not None else Message.course_id.is_(None),
            )
        existing = db.session.scalars(query.limit(1)).first()
        if existing is None:
            break
        if existing.status in NEVER_SENT:
            _reset(existing, planned, cause, moment, patient)
            return existing
        if planned.kind == "reminder":
            return None  # already reminded at this very moment for this very time
        planned_for += ONE_TICK
    message = Message(**_new_row(patient, planned, cause, moment, appointment=appointment, course=course,
                                 planned_for=planned_for))
    db.session.add(message)
    return message


# Core, not the ORM: the rows need no objects, and a statement compiled once serves every booking.
_INSERT_MESSAGE = insert(Message.__table__)


def _new_row(patient: Patient, planned: Planned, cause: str, moment: datetime, *,
             appointment: Appointment | None = None, course: Course | None = None,
             planned_for: datetime | None = None) -> dict:
    """The columns of a new pending message (`planned_for`: when a taken plan moved it on)."""
    if course is None and appointment is not None:
        course_id = appointment.course_id
    else:
        course_id = course.id if course is not None else None
    return {
        "patient_id": patient.id,
        "appointment_id": appointment.id if appointment is not None else None,
        "course_id": course_id,
        "channel": planned.channel,
        "kind": planned.kind,
        "cause": cause,
        "planned_for": planned_for or planned.planned_for,
        "due_at": planned.due_at,
        "send_before": planned.send_before,
        "status": PENDING,
        "attempts": 0,
        "to_address": _address(patient, planned.channel),
        "language": patient.language,
        "last_error": "",
        "created_at": moment,
        "updated_at": moment,
    }


def _reset(message: Message, planned: Planned, cause: str, moment: datetime, patient: Patient) -> None:
    message.status = PENDING
    message.cause = cause
    message.due_at = planned.due_at
    message.send_before = planned.send_before
    message.attempts = 0
    message.next_attempt_at = None
    message.claimed_until = None
    message.error_code = ""
    message.last_error = ""
    message.to_address = _address(patient, planned.channel)
    message.language = patient.language
    message.updated_at = moment


def _address(patient: Patient, channel: str) -> str:
    return patient.phone_e164 if channel == "sms" else (patient.email or "")
