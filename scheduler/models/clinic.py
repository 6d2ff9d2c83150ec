"""Who works when: providers, their weekly hours, time off, and clinic closures."""
from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import UTCDateTime


class Provider(db.Model):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    title: Mapped[str] = mapped_column(String(120), default="")
    colour: Mapped[str] = mapped_column(String(7), default="#2f6f9f")
    active: Mapped[bool] = mapped_column(default=True)
    accepts_online_booking: Mapped[bool] = mapped_column(default=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    # sha256 of the secret in the provider's staff calendar feed URL
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    hours: Mapped[list[WorkingHours]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="WorkingHours.weekday"
    )
    time_off: Mapped[list[TimeOff]] = relationship(
        back_populates="provider", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Provider {self.id} {self.name}>"


class WorkingHours(db.Model):
    """One working window on a weekday, in clinic wall time. Two rows a day make a break."""

    __tablename__ = "working_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday_range"),
        CheckConstraint("end_time > start_time", name="end_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0, as date.weekday()
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    # Optional validity for schedule changes (inclusive dates, clinic-local)
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)

    provider: Mapped[Provider] = relationship(back_populates="hours")


class TimeOff(db.Model):
    __tablename__ = "time_off"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")

    provider: Mapped[Provider] = relationship(back_populates="time_off")


class Closure(db.Model):
    """A clinic-wide closed day or run of days (holidays), inclusive, clinic-local dates."""

    __tablename__ = "closures"
    __table_args__ = (CheckConstraint("last_day >= first_day", name="last_not_before_first"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[date] = mapped_column(Date, index=True)
    last_day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(120))
