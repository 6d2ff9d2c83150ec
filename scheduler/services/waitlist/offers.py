"""Offering freed times to the waitlist, one patient at a time.

A booking change that frees time (a cancellation, a move away, a closure or time off
removed) records an opening in its own transaction (`openings.opening_freed`). The worker's
`offer_openings` then, for each opening:
- expires offers whose hold ran out (the opening passes to the next patient);
- finds the waiting entries that want a time in it (service, provider or any, date range,
  days, time of day) where the time is still free for their service, orders them (active
  course patients first for a time in their course's week, then order of joining) and
  offers the first one's time: an outbox message (planned through events.py), by SMS when
  the patient may be texted, else by email, planned like any system message (it waits for
  the send window); the hold (WAITLIST_HOLD_MINUTES) runs from when the message may go.

The patient takes it with YES (see inbound_sms.py) or the email's link: `take` books it in
one transaction under the database's conflict check; a second YES finds the offer taken
and is told the time is gone. Every offer, expiry and answer is audited.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from scheduler.domain.availability import Slot
from scheduler.domain.waitlist_match import Preferences, in_course_week, offer_order, wants
from scheduler.extensions import db
from scheduler.models import (
    ActorKind,
    Appointment,
    AppointmentStatus,
    BookingSource,
    Course,
    CourseStatus,
    Message,
    MessageStatus,
    OfferStatus,
    OpeningStatus,
    Patient,
    Service,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOpening,
    WaitlistStatus,
)
from scheduler.services import events
from scheduler.services.appointments.rules import AUDIT_FIELDS as APPOINTMENT_FIELDS
from scheduler.services.appointments.rules import overlapping_visit
from scheduler.services.availability.open_times import bookable_providers, open_slots
from scheduler.services.clinic.versions import current_version_id
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import NotFound
from scheduler.services.common.tokens import new_secret, sha256_hex
from scheduler.services.common.write_guard import flush_in_savepoint

OFFER_FIELDS = ("status", "entry_id", "patient_id", "provider_id", "starts_at", "expires_at", "appointment_id")
ENTRY_FIELDS = ("status",)
_TAKE_SALT = "waitlist-offer-take"


def hold() -> timedelta:
    """How long an offered time is held for the patient (WAITLIST_HOLD_MINUTES). Reads only."""
    return timedelta(minutes=current_app.config["WAITLIST_HOLD_MINUTES"])


# ---------------------------------------------------------------- the worker's job


@dataclass(frozen=True)
class Candidate:
    entry: WaitlistEntry
    slot: Slot
    course_week: bool


def offer_openings() -> dict[str, int]:
    """Expire held offers past their time, then offer each open opening to the next patient.
    One transaction per expiry and per opening. Commits."""
    counts = {"expired": 0, "offered": 0, "closed": 0}
    counts["expired"] = expire_offers()
    opening_ids = list(db.session.scalars(
        select(WaitlistOpening.id).where(WaitlistOpening.status == OpeningStatus.OPEN.value)
        .order_by(WaitlistOpening.starts_at, WaitlistOpening.id)
    ))
    db.session.rollback()
    for opening_id in opening_ids:
        outcome = _offer_one(opening_id)
        if outcome in counts:
            counts[outcome] += 1
    return counts


def expire_offers() -> int:
    """Offers whose hold ran out expire, and their entries wait again; one transaction per
    offer. Returns how many expired. Commits."""
    moment = now()
    ids = list(db.session.scalars(
        select(WaitlistOffer.id).where(WaitlistOffer.status == OfferStatus.OPEN.value,
                                       WaitlistOffer.expires_at <= moment)
    ))
    db.session.rollback()
    expired = 0
    for offer_id in ids:
        offer = _locked_offer(offer_id)
        if offer is None or offer.status != OfferStatus.OPEN.value or offer.expires_at > now():
            db.session.rollback()
            continue
        _close(offer, OfferStatus.EXPIRED, audit.SYSTEM, "waitlist.offer_expired")
        entry = offer.entry
        if entry.status == WaitlistStatus.OFFERED.value:  # still waiting for other times
            _set_entry(entry, WaitlistStatus.WAITING, audit.SYSTEM, "waitlist.waiting_again")
        db.session.commit()
        expired += 1
    return expired


def _offer_one(opening_id: int) -> str:
    try:
        opening = db.session.get(WaitlistOpening, opening_id)
        if opening is None or opening.status != OpeningStatus.OPEN.value:
            return "skipped"
        held = db.session.scalar(select(WaitlistOffer.id).where(
            WaitlistOffer.opening_id == opening.id, WaitlistOffer.status == OfferStatus.OPEN.value).limit(1))
        if held is not None:
            return "held"  # one patient at a time
        candidate = _next_candidate(opening)
        if candidate is None:
            opening.status = OpeningStatus.DONE.value
            db.session.commit()
            return "closed"
        _make_offer(opening, candidate)
        db.session.commit()
        return "offered"
    except Exception:
        db.session.rollback()
        raise


def _next_candidate(opening: WaitlistOpening) -> Candidate | None:
    moment = now()
    if opening.ends_at <= moment:
        return None
    tz = clinic_tz()
    already = select(WaitlistOffer.entry_id).where(WaitlistOffer.opening_id == opening.id)
    held = {(o.provider_id, o.starts_at) for o in db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.status == OfferStatus.OPEN.value))}
    first_day = opening.starts_at.astimezone(tz).date()
    last_day = opening.ends_at.astimezone(tz).date()
    entries = db.session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.status == WaitlistStatus.WAITING.value,
            WaitlistEntry.earliest_day <= last_day,
            WaitlistEntry.latest_day >= first_day,
            WaitlistEntry.id.not_in(already),
        ).order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    in_course = _patients_in_a_course()
    first: Candidate | None = None
    slots_by_need: dict[tuple, list[Slot]] = {}
    for entry in entries:  # in order of joining
        if first is not None and entry.patient_id not in in_course:
            continue  # only a course patient can still come before the first one found
        if entry.provider_id is not None and opening.provider_id not in (None, entry.provider_id):
            continue
        provider_id = entry.provider_id or opening.provider_id
        key = (entry.service_id, provider_id, entry.source == "online")
        if key not in slots_by_need:
            slots_by_need[key] = _slots_in(opening, entry.service, provider_id, online=key[2])
        prefs = Preferences(entry.earliest_day, entry.latest_day, entry.weekdays, entry.time_of_day)
        for slot in slots_by_need[key]:
            if (slot.provider_id, slot.start) in held or not wants(prefs, slot.start.astimezone(tz)):
                continue
            end = slot.start + timedelta(minutes=entry.service.duration_minutes)
            if overlapping_visit(Patient.id == entry.patient_id, slot.start, end) is not None:
                continue
            course_week = entry.patient_id in in_course and _in_course_week(entry.patient_id, slot.start)
            found = Candidate(entry, slot, course_week)
            if first is None or offer_order(course_week, entry.created_at, entry.id) < offer_order(
                    first.course_week, first.entry.created_at, first.entry.id):
                first = found
            break
        if first is not None and first.course_week:
            return first  # the earliest-joined course patient for a time in their course's week
    return first


def _patients_in_a_course() -> set[int]:
    return set(db.session.scalars(select(Course.patient_id).where(Course.status == CourseStatus.ACTIVE.value)))


def _slots_in(opening: WaitlistOpening, service: Service, provider_id: int | None, *, online: bool) -> list[Slot]:
    tz = clinic_tz()
    providers = bookable_providers(online, provider_id)
    if not providers:
        return []
    slots = open_slots(service, providers, opening.starts_at.astimezone(tz).date(),
                       opening.ends_at.astimezone(tz).date())
    return sorted((s for s in slots if opening.starts_at <= s.start < opening.ends_at),
                  key=lambda s: (s.start, s.provider_id))


def _in_course_week(patient_id: int, start: datetime) -> bool:
    tz = clinic_tz()
    days = [s.astimezone(tz).date() for s in db.session.scalars(
        select(Appointment.starts_at).join(Course, Course.id == Appointment.course_id).where(
            Course.patient_id == patient_id,
            Course.status == CourseStatus.ACTIVE.value,
            Appointment.status != AppointmentStatus.CANCELLED.value,
        ))]
    return in_course_week(start.astimezone(tz).date(), days)


def _make_offer(opening: WaitlistOpening, candidate: Candidate) -> WaitlistOffer:
    entry, moment = candidate.entry, now()
    offer = WaitlistOffer(opening_id=opening.id, entry_id=entry.id, patient_id=entry.patient_id,
                          service_id=entry.service_id, provider_id=candidate.slot.provider_id,
                          starts_at=candidate.slot.start, status=OfferStatus.OPEN.value,
                          expires_at=moment + hold(), created_at=moment)
    db.session.add(offer)
    db.session.flush()
    due = events.waitlist_offer_made(offer, entry.patient, hold())
    if due is None:  # neither texted nor emailed, or not before the time itself: the next one
        offer.status = OfferStatus.GONE.value
        offer.answered_at = moment
        audit.record(audit.SYSTEM, "waitlist.offer_unreachable", offer, None, audit.snapshot(offer, OFFER_FIELDS))
        return offer
    offer.expires_at = due + hold()
    _set_entry(entry, WaitlistStatus.OFFERED, audit.SYSTEM, "waitlist.offered_time")
    audit.record(audit.SYSTEM, "waitlist.offered", offer, None, audit.snapshot(offer, OFFER_FIELDS))
    return offer


# ---------------------------------------------------------------- answers


@dataclass(frozen=True)
class Taken:
    offer: WaitlistOffer
    appointment: Appointment | None  # None: the time is gone


def open_offer_to(patients: list[Patient]) -> WaitlistOffer | None:
    """The newest offer still held for one of these patients (one phone number). Reads only."""
    if not patients:
        return None
    return db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.patient_id.in_([p.id for p in patients]),
                                    WaitlistOffer.status == OfferStatus.OPEN.value,
                                    WaitlistOffer.expires_at > now())
        .order_by(WaitlistOffer.created_at.desc(), WaitlistOffer.id.desc()).limit(1)
    ).first()


def last_text_was_offer(number: str) -> WaitlistOffer | None:
    """The offer the newest text sent to this number carried, if it carried one. Reads only."""
    latest = db.session.scalars(
        select(Message).where(Message.channel == "sms", Message.to_address == number,
                              Message.status.in_([MessageStatus.SENT.value, MessageStatus.DELIVERED.value]))
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(1)
    ).first()
    if latest is None or latest.waitlist_offer_id is None:
        return None
    return db.session.get(WaitlistOffer, latest.waitlist_offer_id)


def take(offer_id: int, actor: audit.Actor) -> Taken:
    """Book the offered time for the patient, if the offer is still held and the time still
    free (the database's conflict check has the last word); the answer is audited either way.
    In the caller's transaction."""
    offer = _locked_offer(offer_id)
    if offer is None:
        raise NotFound("This link is not valid or has expired.")
    moment = now()
    if offer.status == OfferStatus.TAKEN.value:
        audit.record(actor, "waitlist.offer_answered_again", offer, None, audit.snapshot(offer, OFFER_FIELDS))
        return Taken(offer, db.session.get(Appointment, offer.appointment_id))
    if offer.status != OfferStatus.OPEN.value or offer.expires_at <= moment or offer.starts_at <= moment:
        audit.record(actor, "waitlist.offer_answered_late", offer, None, audit.snapshot(offer, OFFER_FIELDS))
        return Taken(offer, None)
    appointment = _book(offer, moment, actor)
    if appointment is None:
        _close(offer, OfferStatus.GONE, actor, "waitlist.offer_gone")
        if offer.entry.status == WaitlistStatus.OFFERED.value:
            _set_entry(offer.entry, WaitlistStatus.WAITING, actor, "waitlist.waiting_again")
        return Taken(offer, None)
    offer.appointment_id = appointment.id
    _close(offer, OfferStatus.TAKEN, actor, "waitlist.offer_taken")
    _set_entry(offer.entry, WaitlistStatus.BOOKED, actor, "waitlist.booked")
    # The opening stays open: a span (a lifted closure) may hold more times for the next
    # patients; once nothing in it is free, the worker's next pass closes it.
    return Taken(offer, appointment)


def _book(offer: WaitlistOffer, moment: datetime, actor: audit.Actor) -> Appointment | None:
    service = db.session.get(Service, offer.service_id)
    end = offer.starts_at + timedelta(minutes=service.duration_minutes)
    if overlapping_visit(Patient.id == offer.patient_id, offer.starts_at, end) is not None:
        return None
    tz = clinic_tz()
    day = offer.starts_at.astimezone(tz).date()
    providers = bookable_providers(False, offer.provider_id)
    if not any(s.start == offer.starts_at for s in open_slots(service, providers, day, day)):
        return None  # booked, closed or off since the offer
    appointment = Appointment(
        patient_id=offer.patient_id, service_id=service.id, provider_id=offer.provider_id,
        starts_at=offer.starts_at, ends_at=end, blocks_until=end + timedelta(minutes=service.buffer_minutes),
        status=AppointmentStatus.BOOKED.value, source=_source(actor), manage_token_hash=sha256_hex(new_secret()),
        clinic_info_version_id=current_version_id(), created_at=moment, updated_at=moment,
    )
    if not flush_in_savepoint(lambda: db.session.add(appointment)):
        return None  # the database refused an overlap: someone else was faster
    audit.record(actor, "appointment.booked", appointment, None, audit.snapshot(appointment, APPOINTMENT_FIELDS))
    events.appointment_booked(appointment, cause="patient")
    return appointment


def _source(actor: audit.Actor) -> str:
    """A YES books with source "sms"; the email's link, like the booking pages, "online"."""
    return BookingSource.SMS.value if actor.kind == ActorKind.SMS else BookingSource.ONLINE.value


def _locked_offer(offer_id: int) -> WaitlistOffer | None:
    """The offer, re-read and (on PostgreSQL) locked: two answers at once take turns."""
    return db.session.scalars(
        select(WaitlistOffer).where(WaitlistOffer.id == offer_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _close(offer: WaitlistOffer, status: OfferStatus, actor: audit.Actor, action: str) -> None:
    before = audit.snapshot(offer, OFFER_FIELDS)
    offer.status = status.value
    offer.answered_at = now()
    for message in db.session.scalars(select(Message).where(Message.waitlist_offer_id == offer.id,
                                                            Message.status == MessageStatus.PENDING.value)):
        message.status = MessageStatus.CANCELLED.value
        message.updated_at = offer.answered_at
    audit.record(actor, action, offer, before, audit.snapshot(offer, OFFER_FIELDS))


def _set_entry(entry: WaitlistEntry, status: WaitlistStatus, actor: audit.Actor, action: str) -> None:
    before = audit.snapshot(entry, ENTRY_FIELDS)
    entry.status = status.value
    entry.updated_at = now()
    audit.record(actor, action, entry, before, audit.snapshot(entry, ENTRY_FIELDS))


# ---------------------------------------------------------------- the email's link


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_TAKE_SALT)


def take_token_for(offer: WaitlistOffer) -> str:
    """The signed token of the email's link that takes this offer. Reads only."""
    return _signer().dumps(offer.id)


def offer_for_token(token: str) -> WaitlistOffer:
    """The offer a take link names; NotFound otherwise. Reads only."""
    try:
        offer_id = _signer().loads(token)
    except BadSignature:
        offer_id = None
    offer = db.session.get(WaitlistOffer, offer_id) if isinstance(offer_id, int) else None
    if offer is None:
        raise NotFound("This link is not valid or has expired.")
    return offer


def take_url(offer: WaitlistOffer) -> str:
    """The email's link that takes the offer. Reads only."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/waitlist/offers/{take_token_for(offer)}"
