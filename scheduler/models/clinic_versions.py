"""Versioned clinic settings an admin edits: each save is a new row, the newest is current.

The clinic's details (name, numbers, address, disclaimer) are versioned so that every booking
can keep the version its patient saw; the reminder policy is versioned so the history of who
changed it, and when, is kept."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class ClinicInfoVersion(db.Model):
    __tablename__ = "clinic_info_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None for the first version, seeded from the configuration
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(120))
    office_phone: Mapped[str] = mapped_column(String(40))
    cell_phone: Mapped[str] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(300), default="")
    # Plain text: the first paragraph is the heading, blank lines separate the rest.
    disclaimer_en: Mapped[str] = mapped_column(Text)
    disclaimer_es: Mapped[str] = mapped_column(Text)


class MessagePolicyVersion(db.Model):
    """The admin's reminder policy, in the configuration's own notation ("24,2", "08:00-21:00")."""

    __tablename__ = "message_policy_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    send_window: Mapped[str] = mapped_column(String(20))
    email_offsets: Mapped[str] = mapped_column(String(100))
    sms_offsets: Mapped[str] = mapped_column(String(100))
    course_email_offsets: Mapped[str] = mapped_column(String(100))
    course_sms_offsets: Mapped[str] = mapped_column(String(100))
