"""A course of care: a prescribed series of visits planned and booked as one."""
from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class CourseStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Course(db.Model):
    __tablename__ = "courses"
    __table_args__ = (
        CheckConstraint("weeks BETWEEN 1 AND 52", name="weeks_range"),
        CheckConstraint("visits_per_week BETWEEN 1 AND 7", name="visits_range"),
        CheckConstraint("min_gap_days >= 0", name="gap_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    # use_alter: courses and appointments refer to each other
    evaluation_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", use_alter=True))
    # The prescription
    first_day: Mapped[date] = mapped_column(Date)
    weeks: Mapped[int] = mapped_column(Integer)
    visits_per_week: Mapped[int] = mapped_column(Integer)
    weekdays: Mapped[str] = mapped_column(String(20), default="")  # "0,2,4": Mon, Wed, Fri
    preferred_time: Mapped[time | None] = mapped_column(Time)
    window_start: Mapped[time | None] = mapped_column(Time)
    window_end: Mapped[time | None] = mapped_column(Time)
    min_gap_days: Mapped[int] = mapped_column(Integer, default=1)
    allow_other_provider: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(10), default=CourseStatus.PLANNED.value)
    cancel_reason: Mapped[str] = mapped_column(String(200), default="", server_default="")
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # iCalendar SEQUENCE of the course's own calendar file
    ical_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    evaluation = relationship("Appointment", foreign_keys=[evaluation_id])
    patient = relationship("Patient")
    provider = relationship("Provider")
    service = relationship("Service")
