"""Patients waiting for an earlier or specific opening."""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint
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


class OpeningStatus(StrEnum):
    OPEN = "open"  # the worker still looks for someone (or an offer is out)
    DONE = "done"  # taken, passed, or nobody waiting matches


class OfferStatus(StrEnum):
    OPEN = "open"  # held for the patient until expires_at
    TAKEN = "taken"  # they answered YES and it is booked
    EXPIRED = "expired"  # no answer in time: it passed to the next patient
    GONE = "gone"  # the time was taken or closed before they answered


class WaitlistOpening(db.Model):
    """A span of time that may have freed up (a cancellation, a move away, a closure or time
    off removed), written in the transaction that freed it and offered by the worker."""

    __tablename__ = "waitlist_openings"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'done')", name="status_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_waitlist_openings_status_starts", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))  # None: any provider
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cause: Mapped[str] = mapped_column(String(20))  # cancelled, moved, closure_removed, time_off_removed
    status: Mapped[str] = mapped_column(String(5), default=OpeningStatus.OPEN.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WaitlistOffer(db.Model):
    """One time offered to one waiting patient, held until expires_at."""

    __tablename__ = "waitlist_offers"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'taken', 'expired', 'gone')", name="status_known"),
        # One offer of an opening per entry: an opening passes on, never back.
        UniqueConstraint("opening_id", "entry_id", name="uq_waitlist_offers_opening_entry"),
        Index("ix_waitlist_offers_status_expires", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("waitlist_openings.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("waitlist_entries.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(8), default=OfferStatus.OPEN.value)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    entry = relationship("WaitlistEntry")
    patient = relationship("Patient")
    service = relationship("Service")
