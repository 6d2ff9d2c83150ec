"""Patients waiting for an earlier or specific opening."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"  # an opening is held for them (the worker's offer)
    BOOKED = "booked"
    REMOVED = "removed"  # they left, or the desk took them off


class TimeOfDay(StrEnum):
    ANY = "any"
    MORNING = "morning"  # starts before noon, clinic time
    AFTERNOON = "afternoon"  # starts at noon or later


class WaitlistEntry(db.Model):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("latest_day >= earliest_day", name="latest_not_before_earliest"),
        CheckConstraint("status IN ('waiting', 'offered', 'booked', 'removed')", name="status_known"),
        CheckConstraint("time_of_day IN ('any', 'morning', 'afternoon')", name="time_of_day_known"),
        # Offers go out in order of joining, per service.
        Index("ix_waitlist_entries_service_status_created", "service_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))  # None: any provider
    earliest_day: Mapped[date] = mapped_column(Date)
    latest_day: Mapped[date] = mapped_column(Date)
    # Days of the week wanted, "0,2,4" (Monday = 0); empty: any day
    weekdays: Mapped[str] = mapped_column(String(20), default="", server_default="")
    time_of_day: Mapped[str] = mapped_column(String(10), default=TimeOfDay.ANY.value, server_default="any")
    note: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(10), default=WaitlistStatus.WAITING.value)
    source: Mapped[str] = mapped_column(String(8), default="online", server_default="online")
    # sha256 of the secret in the patient's private "leave the waitlist" link
    leave_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    patient = relationship("Patient")
    service = relationship("Service")
