"""The outbox of patient messages, and what patients texted back."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class MessageStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Message(db.Model):
    """A message to a patient, written in the transaction that caused it, sent by the worker."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel_known"),
        CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'delivered', 'failed', 'cancelled', 'expired')",
            name="status_known",
        ),
        UniqueConstraint("appointment_id", "kind", "channel", "planned_for", name="uq_messages_plan"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    channel: Mapped[str] = mapped_column(String(5))
    kind: Mapped[str] = mapped_column(String(24))  # confirmation, reminder, change, cancellation ...
    planned_for: Mapped[datetime] = mapped_column(UTCDateTime)  # the send time as planned
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # after quiet hours
    status: Mapped[str] = mapped_column(String(10), default=MessageStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_message_id: Mapped[str | None] = mapped_column(String(64), index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")
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
