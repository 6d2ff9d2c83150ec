"""Appointments: one visit of one patient with one provider."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .clinic import Provider
from .clinic_versions import ClinicInfoVersion
from .patient import Patient
from .service import Service
from .types import UTCDateTime


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"


class BookingSource(StrEnum):
    ONLINE = "online"
    DESK = "desk"
    SMS = "sms"
    API = "api"


# Statuses the patient can still change from the manage link.
OPEN_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)


def _in_list(values) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


class Appointment(db.Model):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("blocks_until >= ends_at", name="block_covers_visit"),
        CheckConstraint(f"status IN ({_in_list(AppointmentStatus)})", name="status_known"),
        CheckConstraint(f"source IN ({_in_list(BookingSource)})", name="source_known"),
        CheckConstraint(
            "(course_id IS NULL) = (visit_number IS NULL)", name="visit_number_with_course"
        ),
        Index("ix_appointments_provider_time", "provider_id", "starts_at"),
        # On PostgreSQL the migration adds an exclusion constraint (no_overlap) over
        # tstzrange(starts_at, blocks_until) per provider for non-cancelled rows.
        # Migration 0011 adds ck_appointments_block_at_most_12_hours (written per dialect):
        # range queries rely on it for a lower bound on starts_at (services/availability/open_times.py).
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id"), index=True)
    visit_number: Mapped[int | None] = mapped_column(Integer)

    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # ends_at + the service's buffer: the time the provider is not free again
    blocks_until: Mapped[datetime] = mapped_column(UTCDateTime)

    status: Mapped[str] = mapped_column(String(12), default=AppointmentStatus.BOOKED.value)
    source: Mapped[str] = mapped_column(String(8), default=BookingSource.ONLINE.value)
    patient_note: Mapped[str] = mapped_column(String(500), default="")
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    # sha256 of the secret in the patient's private link; the secret itself is never stored
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # iCalendar SEQUENCE: bumped on every change a calendar client must pick up
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0)
    # The start before the last move (shown at the desk as "moved from ...")
    moved_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The clinic details (and disclaimer) the patient saw when booking; None before versions
    clinic_info_version_id: Mapped[int | None] = mapped_column(ForeignKey("clinic_info_versions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    patient: Mapped[Patient] = relationship()
    provider: Mapped[Provider] = relationship()
    service: Mapped[Service] = relationship()
    clinic_info_version: Mapped[ClinicInfoVersion | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
