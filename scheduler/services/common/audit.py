"""Writing the audit trail inside the transaction of the change it records."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import insert

from scheduler.extensions import db
from scheduler.models import ActorKind, AuditEvent, User
from scheduler.services.common.clock import now


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None


SYSTEM = Actor(ActorKind.SYSTEM)
PATIENT_WEB = Actor(ActorKind.PATIENT_WEB)
PATIENT_LINK = Actor(ActorKind.PATIENT_LINK)
API_CLIENT = Actor(ActorKind.API)  # the public API without a staff token


def actor_for(user: User) -> Actor:
    """The one way a staff user (signed in, or the owner of an API token) is named in the audit
    trail. Reads only (nothing at all: it is pure)."""
    return Actor(ActorKind.STAFF, user.id)


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """A JSON-safe picture of some columns of a row. Reads only."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(obj, name)
        if isinstance(value, (datetime, date, time)):
            value = value.isoformat()
        out[name] = value
    return out


def record(actor: Actor, action: str, entity: Any, before: dict | None, after: dict | None) -> None:
    """One audit row, added in the caller's transaction: the row is written exactly when the
    change it records is."""
    db.session.add(AuditEvent(**entry(actor, action, entity, before, after)))


def entry(actor: Actor, action: str, entity: Any, before: dict | None, after: dict | None) -> dict[str, Any]:
    """The columns of one audit row (`entity` has its id). Reads only."""
    return {
        "at": now(),
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "action": action,
        "entity_type": entity.__tablename__,
        "entity_id": entity.id,
        "before": before,
        "after": after,
    }


# Core, not the ORM: nothing reads the rows back, so they need no objects to flush.
_INSERT = insert(AuditEvent.__table__)


def record_all(entries: list[dict[str, Any]]) -> None:
    """Several audit rows (see entry), in their order, in one round trip.
    In the caller's transaction."""
    if entries:
        db.session.connection().execute(_INSERT, entries)
