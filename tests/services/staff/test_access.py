"""services.staff.access, the one rule of which calendars a staff user sees and acts on, and
audit.actor_for, the one way a staff user is named in the audit trail."""
from __future__ import annotations

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import ActorKind, AuditEvent
from scheduler.services.common import audit
from scheduler.services.staff.accounts import create_user
from tests.conftest import make_provider

PASSWORD = "a long enough password"


def test_a_staff_user_is_named_in_the_audit_trail_by_their_own_id(app):
    make_provider("Someone else")  # so a provider's id and the user's cannot line up by chance
    desk = create_user("desk@example.com", PASSWORD, "front_desk")
    other = create_user("admin@example.com", PASSWORD, "admin")
    assert audit.actor_for(desk) == audit.Actor(ActorKind.STAFF, desk.id)
    assert audit.actor_for(other) != audit.actor_for(desk)

    provider = make_provider("Maria Lopez, PT")
    audit.record(audit.actor_for(desk), "provider.changed", provider, None, {"name": provider.name})
    db.session.commit()
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "provider.changed"))
    assert (row.actor_kind, row.actor_id) == ("staff", desk.id)
