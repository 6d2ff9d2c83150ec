"""Extra private links to an appointment, minted for the messages that carry them.

Only a hash of each link's secret is stored, so a message cannot reuse the link the patient
got when booking: each message that carries a link mints a fresh one at send time. Each opens
the appointment exactly like the original link (`Appointment.manage_token_hash`).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class AppointmentLink(db.Model):
    __tablename__ = "appointment_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id"), index=True)
    # sha256 of the secret in the link; the secret itself is never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
