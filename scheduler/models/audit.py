"""An append-only trail of every change: who, what, before and after."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import UTCDateTime


class ActorKind(StrEnum):
    STAFF = "staff"          # a logged-in user or an API token's user
    PATIENT_LINK = "patient_link"
    PATIENT_WEB = "patient_web"  # the public booking pages / public API
    SMS = "sms"
    SYSTEM = "system"
    API = "api"  # the public booking API (a client of the clinic's, not its pages)


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        CheckConstraint(
            "actor_kind IN ('staff', 'patient_link', 'patient_web', 'sms', 'system', 'api')",
            name="actor_kind_known",
        ),
        Index("ix_audit_events_entity", "entity_type", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[int | None] = mapped_column(Integer)  # staff user id when known
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[int] = mapped_column(Integer)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
