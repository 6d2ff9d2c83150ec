"""The outbox of patient messages, what patients texted back, and the worker's heartbeat."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class MessageCause(StrEnum):
    """Who caused a message: the patient's own action goes at once, at any hour; the
    others wait for the send window."""

    PATIENT = "patient"
    STAFF = "staff"
    SYSTEM = "system"


class Message(db.Model):
    """A message to a patient, written in the transaction that caused it, sent by the worker."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel_known"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'delivered', 'undelivered', 'failed', 'cancelled', 'expired')",
            name="status_known",
        ),
        CheckConstraint("cause IN ('patient', 'staff', 'system')", name="cause_known"),
        UniqueConstraint("appointment_id", "kind", "channel", "planned_for", name="uq_messages_plan"),
        # The worker's claim query: pending rows by due time.
        Index("ix_messages_status_due", "status", "due_at"),
        # "Is this the first text to this number?" is asked for every SMS sent.
        Index("ix_messages_to_address", "to_address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    # A waitlist offer ("Reply YES to take ..."): rendered from the offer at send time
    waitlist_offer_id: Mapped[int | None] = mapped_column(ForeignKey("waitlist_offers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(24))  # confirmation, reminder, change, cancellation ...
    cause: Mapped[str] = mapped_column(String(8), default=MessageCause.SYSTEM.value, server_default="system")
    planned_for: Mapped[datetime] = mapped_column(UTCDateTime)  # the send time as planned
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # after the send window
    # Never sent at or after this instant (the visit's start, for reminders)
    send_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(11), default=MessageStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A worker's claim: a row left in "sending" past this instant (a killed worker) is retried
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What was sent, kept for the front desk: address, language, subject, text, backend
    to_address: Mapped[str] = mapped_column(String(254), default="", server_default="")
    language: Mapped[str] = mapped_column(String(5), default="en", server_default="en")
    subject: Mapped[str] = mapped_column(String(200), default="", server_default="")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    backend: Mapped[str] = mapped_column(String(10), default="", server_default="")  # twilio, smtp, console
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error_code: Mapped[str] = mapped_column(String(12), default="", server_default="")
    last_error: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    from_e164: Mapped[str] = mapped_column(String(16), index=True)
    body: Mapped[str] = mapped_column(Text)
    interpreted_as: Mapped[str] = mapped_column(String(20), default="")  # confirm, reschedule, stop ...
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reply: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Texts nobody could act on land in the front desk's inbox until someone marks them done
    needs_attention: Mapped[bool] = mapped_column(default=False, server_default="0")
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WorkerRun(db.Model):
    """The last pass of each worker job: health and monitoring read how stale it is."""

    __tablename__ = "worker_runs"

    job: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="", server_default="")
