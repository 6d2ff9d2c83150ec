"""What can be booked, and the rules for booking it."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class Service(db.Model):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("buffer_minutes >= 0", name="buffer_not_negative"),
        CheckConstraint("slot_step_minutes > 0", name="step_positive"),
        CheckConstraint("min_notice_minutes >= 0", name="notice_not_negative"),
        CheckConstraint("max_advance_days > 0", name="advance_positive"),
        CheckConstraint("cancel_window_hours >= 0", name="cancel_window_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(500), default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    # Time after the visit the room/provider stays blocked (notes, cleaning)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    online_bookable: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    min_notice_minutes: Mapped[int] = mapped_column(Integer, default=120)
    max_advance_days: Mapped[int] = mapped_column(Integer, default=60)
    slot_step_minutes: Mapped[int] = mapped_column(Integer, default=15)
    # Patients may cancel or move online until this many hours before the visit
    cancel_window_hours: Mapped[int] = mapped_column(Integer, default=24)

    def __repr__(self) -> str:
        return f"<Service {self.slug}>"
