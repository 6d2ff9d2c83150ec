"""What happened to an appointment, a course or the clinic's hours, told to whoever must follow up.

Every use case that books, moves, cancels or confirms calls one of these inside its own
transaction, before it commits. The followers are the patient's messages (the outbox), the
waitlist (time that freed up) and the course a visit belongs to (its status): they are
written in the same transaction, so a rolled-back change sends nothing and a committed one
never loses its messages.

This is the one module allowed to call up the capability packages (see .importlinter): a
visit change in appointments/ tells its course and the outbox through here, never by
importing courses/ or messages/.

`cause` says who acted: "patient" (online booking, the private link, an SMS reply: the
notice goes at once, at any hour), "staff" or "system" (waits for the send window).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.models import Appointment, Closure, Course, Patient, TimeOff, WaitlistOffer
from scheduler.services.courses import state as course_state
from scheduler.services.messages import outbox
from scheduler.services.waitlist import openings as waitlist_openings

# The public API without a staff token is the clinic's website booking for the patient.
PATIENT_ACTORS = ("patient_web", "patient_link", "sms", "api")


def cause_for(actor) -> str:
    """The cause of a change made by an audit actor: the patient's own pages, link, the public
    API (without a staff token) and SMS replies are "patient"; the desk and staff API tokens
    "staff"; jobs "system".
    Reads only."""
    kind = getattr(actor.kind, "value", actor.kind)
    if kind in PATIENT_ACTORS:
        return "patient"
    return "system" if kind == "system" else "staff"


def appointment_booked(appointment: Appointment, *, cause: str) -> None:
    """A single visit was booked (not part of a course being booked as a whole).
    In the caller's transaction."""
    outbox.plan_booked(appointment, cause=cause)


def appointment_moved(appointment: Appointment, *, cause: str) -> None:
    """A visit's time or provider changed: reminders are re-planned, an update goes out; the
    time it left may suit someone on the waitlist (whoever works then).
    In the caller's transaction."""
    outbox.plan_moved(appointment, cause=cause)
    if appointment.moved_from is not None and appointment.moved_from != appointment.starts_at:
        length = appointment.blocks_until - appointment.starts_at
        waitlist_openings.opening_freed(None, appointment.moved_from, appointment.moved_from + length, "moved")


def appointment_resized(appointment: Appointment, *, cause: str) -> None:
    """Only a visit's length changed (same start, same provider): the calendar files carry the
    new end under a higher SEQUENCE, and nothing tells the patient of a time that did not
    change. In the caller's transaction."""
    outbox.plan_resized(appointment, cause=cause)


def appointment_cancelled(appointment: Appointment, *, cause: str) -> None:
    """A visit was cancelled: its pending messages are cancelled, a notice goes out; its time
    may suit someone on the waitlist. In the caller's transaction."""
    outbox.plan_cancelled(appointment, cause=cause)
    waitlist_openings.opening_freed(appointment.provider_id, appointment.starts_at, appointment.blocks_until, "cancelled")


def appointment_confirmed(appointment: Appointment, *, cause: str) -> None:
    """The patient (or the desk for them) confirmed: nothing to send, reminders stay.
    In the caller's transaction."""
    outbox.plan_confirmed(appointment, cause=cause)


def visit_changed(appointment: Appointment) -> None:
    """A visit changed (moved, resized, cancelled, its status set; by the staff or through the
    patient's link), after the
    change's own event above: the course it belongs to, if any, follows (its status, its
    calendar's sequence). In the caller's transaction."""
    course_state.visit_changed(appointment)


def course_booked(course: Course, visits: list[Appointment], *, cause: str) -> None:
    """A course (or weeks added to one) was booked: one welcome listing the visits, and
    each visit's reminders at the course cadence. In the caller's transaction."""
    outbox.plan_course_booked(course, visits, cause=cause)


def links_requested(appointments: list[Appointment], *, channel: str, cause: str) -> None:
    """The patient asked for their private link(s) again ("send me my link", "text it to
    me"): one message on `channel` ("sms" or "email") carrying a fresh link to each visit.
    In the caller's transaction."""
    outbox.plan_links(appointments, channel=channel, cause=cause)


def closure_lifted(closure: Closure) -> None:
    """A closure was lifted: its days may suit someone on the waitlist (whoever works then).
    In the caller's transaction."""
    waitlist_openings.days_freed(None, closure.first_day, closure.last_day, "closure_removed")


def time_off_lifted(time_off: TimeOff) -> None:
    """A provider's time off was lifted: its hours may suit someone on the waitlist.
    In the caller's transaction."""
    waitlist_openings.opening_freed(time_off.provider_id, time_off.starts_at, time_off.ends_at, "time_off_removed")


def waitlist_offer_made(offer: WaitlistOffer, patient: Patient, hold: timedelta) -> datetime | None:
    """A freed time was offered to a patient on the waitlist: the offer goes by SMS, else by
    email, as the system's (it waits for the send window). Returns when it may go; None when
    it cannot reach them before the time itself (the next patient is offered it instead).
    In the caller's transaction."""
    return outbox.plan_waitlist_offer(offer, patient, hold)
