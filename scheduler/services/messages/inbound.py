"""What patients text back, and Twilio's delivery reports.

Each inbound text is stored once (its MessageSid is unique): a webhook Twilio retries is
answered with nothing the second time. Opt-outs are kept per phone number (every patient
record with that number), and no text goes to it again until START, UNSTOP or YES.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from scheduler.domain.sms_keywords import Intent, interpret, looks_spanish
from scheduler.extensions import db
from scheduler.models import (
    OPEN_STATUSES,
    ActorKind,
    Appointment,
    AppointmentStatus,
    InboundMessage,
    Message,
    MessageStatus,
    Patient,
)
from scheduler.services import events
from scheduler.services.appointments.rules import AUDIT_FIELDS
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.messages.links import link_for
from scheduler.services.messages.render import render_reply
from scheduler.services.messages.sending import refuse_number
from scheduler.services.waitlist import offers as waitlist_offers

SMS_ACTOR = audit.Actor(ActorKind.SMS)
_CONSENT_FIELDS = ("sms_consent_at", "sms_opted_out_at")


@dataclass(frozen=True)
class InboundOutcome:
    reply: str | None  # the text to answer with (None: a repeated MessageSid, answer nothing)
    interpreted_as: str


def _patients_with(number: str) -> list[Patient]:
    return list(db.session.scalars(select(Patient).where(Patient.phone_e164 == number).order_by(Patient.id.desc())))


def _next_visit(patients: list[Patient]) -> Appointment | None:
    if not patients:
        return None
    return db.session.scalars(
        select(Appointment)
        .where(Appointment.patient_id.in_([p.id for p in patients]),
               Appointment.status.in_([s.value for s in OPEN_STATUSES]),
               Appointment.starts_at > now())
        .order_by(Appointment.starts_at)
        .limit(1)
    ).first()


def handle_inbound(message_sid: str, from_number: str, body: str) -> InboundOutcome:
    """Interpret, act and store one inbound text in one transaction; returns the reply. Commits."""
    moment = now()
    inbound = InboundMessage(provider_message_id=message_sid, from_e164=from_number[:16], body=body[:1600],
                             received_at=moment)
    try:
        with db.session.begin_nested():
            db.session.add(inbound)
            db.session.flush()
    except IntegrityError:  # Twilio retried a webhook we already handled
        db.session.rollback()
        return InboundOutcome(None, "duplicate")

    patients = _patients_with(inbound.from_e164)
    visit = _next_visit(patients)
    patient = visit.patient if visit else (patients[0] if patients else None)
    opted_out = any(p.opted_out for p in patients)
    offer = waitlist_offers.open_offer_to(patients)
    last_offer = waitlist_offers.last_text_was_offer(inbound.from_e164) if offer is None else None
    intent = interpret(body, opted_out=opted_out, offer_held=offer is not None, offer_last=last_offer is not None)
    if intent in (Intent.TAKE_OFFER, Intent.OFFER_GONE):
        offer = offer or last_offer
        patient = db.session.get(Patient, offer.patient_id)  # the one it was offered to
    language = patient.language if patient else ("es" if looks_spanish(body) else "en")

    kind, appointment, link = "unknown", None, None
    if intent is Intent.STOP:
        for each in patients:
            _set_consent(each, opted_out_at=moment, action="patient.sms_opted_out")
        kind = "opted_out"
    elif intent is Intent.START:
        for each in patients:
            _set_consent(each, consent_at=moment, opted_out_at=None, action="patient.sms_opted_in")
        kind = "opted_in"
    elif intent is Intent.CONFIRM:
        if visit is None:
            kind = "nothing_to_confirm"
        else:
            _confirm(visit, moment)
            kind, appointment = "confirmed", visit
    elif intent is Intent.RESCHEDULE:
        if visit is None:
            kind = "no_visit"
        else:
            kind, appointment, link = "reschedule", visit, link_for(visit)
    elif intent in (Intent.TAKE_OFFER, Intent.OFFER_GONE):
        if opted_out:  # the carrier has re-subscribed the number on YES
            for each in patients:
                _set_consent(each, consent_at=moment, opted_out_at=None, action="patient.sms_opted_in")
        taken = waitlist_offers.take(offer.id, SMS_ACTOR)
        if taken.appointment is not None:
            kind, appointment, link = "offer_taken", taken.appointment, link_for(taken.appointment)
        else:
            kind = "offer_gone"
    elif intent is Intent.HELP:
        kind = "help"
    else:
        inbound.needs_attention = True  # the front desk reads it in /staff/inbox

    reply = render_reply(kind, patient, language, appointment=appointment, link=link)
    inbound.interpreted_as = intent.value
    inbound.patient_id = patient.id if patient else None
    inbound.reply = reply.stored_body
    db.session.commit()
    return InboundOutcome(reply.body, intent.value)


def _set_consent(patient: Patient, *, action: str, **values) -> None:
    before = audit.snapshot(patient, _CONSENT_FIELDS)
    if "consent_at" in values:
        patient.sms_consent_at = values["consent_at"]
    patient.sms_opted_out_at = values.get("opted_out_at")
    audit.record(SMS_ACTOR, action, patient, before, audit.snapshot(patient, _CONSENT_FIELDS))


def _confirm(visit: Appointment, moment) -> None:
    if visit.status == AppointmentStatus.CONFIRMED.value:
        return  # "C" twice: still confirmed, nothing new to record
    before = audit.snapshot(visit, AUDIT_FIELDS)
    visit.status = AppointmentStatus.CONFIRMED.value
    visit.confirmed_at = moment
    visit.updated_at = moment
    audit.record(SMS_ACTOR, "appointment.confirmed", visit, before, audit.snapshot(visit, AUDIT_FIELDS))
    events.appointment_confirmed(visit, cause="patient")


# Twilio's message statuses -> ours. Only forward: a report never moves a message back, and
# once delivered, undelivered or failed, later or repeated reports change nothing.
_FINAL = {
    "delivered": MessageStatus.DELIVERED.value,
    "read": MessageStatus.DELIVERED.value,
    "undelivered": MessageStatus.UNDELIVERED.value,
    "failed": MessageStatus.FAILED.value,
}
_BEFORE_FINAL = (MessageStatus.SENDING.value, MessageStatus.SENT.value)


def record_status(message_sid: str, status: str, error_code: str | None) -> bool:
    """Applies one status callback; True when it moved a message forward. Commits."""
    target = _FINAL.get(status.lower())
    if target is None:  # queued, accepted, sending, sent: we recorded "sent" ourselves
        return False
    moment = now()
    values: dict = {"status": target, "updated_at": moment}
    if target == MessageStatus.DELIVERED.value:
        values["delivered_at"] = moment
    if error_code:
        values["error_code"] = error_code[:12]
    moved = db.session.execute(
        update(Message)
        .where(Message.provider_message_id == message_sid, Message.status.in_(_BEFORE_FINAL))
        .values(**values)
        .returning(Message.id, Message.patient_id, Message.channel, Message.to_address)
        .execution_options(synchronize_session=False)
    ).first()
    if moved is not None and error_code and moved.channel == "sms":
        refuse_number(moved.patient_id, moved.to_address, error_code)
    db.session.commit()
    return moved is not None
