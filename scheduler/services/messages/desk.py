"""The front desk's view of messages: an appointment's messages, resending one, the inbox of
texts nobody could act on, and each patient's SMS state. Small on purpose: the desk pages
call these."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from scheduler.extensions import db
from scheduler.models import (
    Appointment,
    AuditEvent,
    InboundMessage,
    Message,
    MessageCause,
    MessageStatus,
    Patient,
    User,
)
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import ChangeNotAllowed, NotFound, ValidationFailed

# What can be sent again: a message that went (or failed for good). One still waiting is sent
# anyway, and one cancelled or expired was stopped on purpose (the visit moved, was cancelled
# or began).
RESENDABLE = frozenset({MessageStatus.SENT.value, MessageStatus.DELIVERED.value,
                        MessageStatus.UNDELIVERED.value, MessageStatus.FAILED.value})


class NotResendable(ChangeNotAllowed):
    """409: the message is still waiting, or was cancelled or expired."""

    def __init__(self, appointment_id: int | None) -> None:
        super().__init__("not_resendable", "Only a sent or failed message can be sent again.")
        self.appointment_id = appointment_id


def appointment_with_messages(appointment_id: int) -> tuple[Appointment, list[Message]]:
    """An appointment and its messages, by due time; NotFound if there is no such
    appointment. Reads only."""
    appointment = db.session.get(Appointment, appointment_id, options=[joinedload(Appointment.patient)])
    if appointment is None:
        raise NotFound("No such appointment.")
    messages = list(db.session.scalars(
        select(Message).where(Message.appointment_id == appointment_id).order_by(Message.due_at, Message.id)
    ))
    return appointment, messages


def causes_of(messages: list[Message]) -> dict[int, str]:
    """What caused each message: "patient" (their own change), "staff" (a change by the
    clinic: the desk, a provider, the API), "system" (reminders) or "resend" (the desk's
    Resend). Reads only: one query for the resends among them."""
    ids = [m.id for m in messages]
    resent = set(db.session.scalars(select(AuditEvent.entity_id).where(
        AuditEvent.action == "message.resent", AuditEvent.entity_type == Message.__tablename__,
        AuditEvent.entity_id.in_(ids)))) if ids else set()
    return {m.id: "resend" if m.id in resent else m.cause for m in messages}


def resend(message_id: int, user: User) -> Message:
    """A new message of the same kind and channel, caused by staff: it waits for the send
    window like any staff message, and is re-checked (visit cancelled or begun) when sent.
    Only a sent or failed message is sent again (NotResendable otherwise). Commits."""
    original = db.session.get(Message, message_id)
    if original is None:
        raise NotFound("No such message.")
    if original.status not in RESENDABLE:
        raise NotResendable(original.appointment_id)
    patient = db.session.get(Patient, original.patient_id)
    moment = now()
    # One plan per (appointment, kind, channel, planned_for): a resend in the very microsecond
    # of another plan of that kind takes the next one.
    latest = db.session.scalar(select(func.max(Message.planned_for)).where(
        Message.appointment_id == original.appointment_id, Message.kind == original.kind,
        Message.channel == original.channel))
    planned = moment if latest is None or latest < moment else latest + timedelta(microseconds=1)
    copy = Message(
        patient_id=original.patient_id, appointment_id=original.appointment_id, course_id=original.course_id,
        channel=original.channel, kind=original.kind, cause=MessageCause.STAFF.value,
        planned_for=planned, due_at=moment, send_before=original.send_before,
        status=MessageStatus.PENDING.value, attempts=0,
        to_address=(patient.phone_e164 if original.channel == "sms" else patient.email or ""),
        language=patient.language, created_at=moment, updated_at=moment,
    )
    db.session.add(copy)
    db.session.flush()
    audit.record(audit.actor_for(user), "message.resent", copy, None, {"resends": original.id, "kind": copy.kind})
    db.session.commit()
    return copy


# The outbox page's states: what each shows.
OUTBOX_STATES = {
    "due": (MessageStatus.PENDING.value,),
    "sending": (MessageStatus.SENDING.value,),
    "sent": (MessageStatus.SENT.value, MessageStatus.DELIVERED.value),
    "failed": (MessageStatus.FAILED.value, MessageStatus.UNDELIVERED.value),
    "expired": (MessageStatus.EXPIRED.value,),
}
OUTBOX_LIMIT = 200


def outbox(state: object = None, channel: object = None) -> list[tuple[Message, Patient]]:
    """The outbox for the desk: messages due (pending and past their due time), sending, sent,
    failed or expired (`state`; all of these when empty), on one channel if given; newest
    first, at most OUTBOX_LIMIT, with their patients. ValidationFailed for an unknown state or
    channel. Reads only."""
    state = state or None
    channel = channel or None
    fields: dict[str, str] = {}
    if state is not None and state not in OUTBOX_STATES:
        fields["state"] = "Use due, sending, sent, failed or expired."
    if channel is not None and channel not in ("sms", "email"):
        fields["channel"] = "Use sms or email."
    if fields:
        raise ValidationFailed(fields)
    moment = now()
    shown = [state] if state else list(OUTBOX_STATES)
    statuses = [status for name in shown for status in OUTBOX_STATES[name]]
    query = (select(Message, Patient).join(Patient, Patient.id == Message.patient_id)
             .where(Message.status.in_(statuses)))
    if "due" in shown:  # a pending message is only due once its time has come
        query = query.where((Message.status != MessageStatus.PENDING.value) | (Message.due_at <= moment))
    if channel is not None:
        query = query.where(Message.channel == channel)
    rows = db.session.execute(query.order_by(Message.due_at.desc(), Message.id.desc()).limit(OUTBOX_LIMIT))
    return [(message, patient) for message, patient in rows]


def record_messages_viewed(user: User, patient_ids: list[int], where: str) -> None:
    """A member of staff read these patients' messages (`where`: the page): one audit row per
    patient, as any look at a record. Commits."""
    audit.record_all([
        audit.entry(audit.actor_for(user), "patient.messages_viewed", _PatientRef(patient_id), None, {"page": where})
        for patient_id in dict.fromkeys(patient_ids)
    ])
    db.session.commit()


@dataclass(frozen=True)
class _PatientRef:
    id: int
    __tablename__ = Patient.__tablename__


def inbox(*, include_done: bool = False) -> list[InboundMessage]:
    """Texts that need the desk (those not done yet, unless asked), newest first, at most
    200. Reads only."""
    query = select(InboundMessage).where(InboundMessage.needs_attention.is_(True))
    if not include_done:
        query = query.where(InboundMessage.resolved_at.is_(None))
    return list(db.session.scalars(query.order_by(InboundMessage.received_at.desc()).limit(200)))


def mark_done(inbound_id: int, user: User) -> None:
    """The desk has dealt with a text (again changes nothing); NotFound for any other. Commits."""
    inbound = db.session.get(InboundMessage, inbound_id)
    if inbound is None or not inbound.needs_attention:
        raise NotFound("No such text.")
    if inbound.resolved_at is None:
        inbound.resolved_at = now()
        audit.record(audit.actor_for(user), "inbound.done", inbound, None, {"resolved_at": inbound.resolved_at.isoformat()})
    db.session.commit()


def patient_for_inbound(inbound: InboundMessage) -> Patient | None:
    """The patient a text came from, if known. Reads only."""
    return db.session.get(Patient, inbound.patient_id) if inbound.patient_id else None


@dataclass(frozen=True)
class SmsState:
    code: str  # texts, no_consent, opted_out, number_refused
    since: object = None
    detail: str = ""


def sms_state(patient: Patient) -> SmsState:
    """Whether the patient can be texted, and if not, why and since when. Reads only."""
    if patient.number_refused:
        return SmsState("number_refused", detail=patient.sms_failed_code)
    if patient.opted_out:
        return SmsState("opted_out", since=patient.sms_opted_out_at)
    if patient.sms_consent_at is None:
        return SmsState("no_consent")
    return SmsState("texts", since=patient.sms_consent_at)
