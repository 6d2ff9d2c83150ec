"""Patients and how they may be contacted."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class Patient(db.Model):
    __tablename__ = "patients"
    __table_args__ = (CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(60))
    last_name: Mapped[str] = mapped_column(String(60))
    phone_e164: Mapped[str] = mapped_column(String(16), index=True)
    email: Mapped[str | None] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(5), default="en")
    # Consent to texts is recorded with its time; an opt-out (STOP) wins over it.
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Twilio refused this number for good (21211 invalid, 21614 not a mobile): no text goes to
    # it again; a corrected phone number (any other value) clears the block.
    sms_failed_number: Mapped[str | None] = mapped_column(String(16))
    sms_failed_code: Mapped[str] = mapped_column(String(12), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # sha256 of the secret in the patient's private calendar feed URL (never stored itself)
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Set when the desk merged this record into another (it is kept for the audit trail)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def opted_out(self) -> bool:
        return self.sms_opted_out_at is not None and (
            self.sms_consent_at is None or self.sms_opted_out_at >= self.sms_consent_at
        )

    @property
    def number_refused(self) -> bool:
        return self.sms_failed_number is not None and self.sms_failed_number == self.phone_e164

    @property
    def may_text(self) -> bool:
        if self.sms_consent_at is None or self.number_refused:
            return False
        return self.sms_opted_out_at is None or self.sms_opted_out_at < self.sms_consent_at
