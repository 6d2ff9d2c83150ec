"""services.staff.access, the one rule of which calendars a staff user sees and acts on, and
audit.actor_for, the one way a staff user is named in the audit trail.

Maria's provider account is linked to her calendar, Daniel's to a deactivated account; Rosa's
provider account is linked to no calendar. Every "no" below would be a "yes" under a rule that
allows what it does not recognise."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import ActorKind, AuditEvent, User
from scheduler.services.common import audit
from scheduler.services.staff import access
from scheduler.services.staff.accounts import create_user
from tests.support.factories import PASSWORD, make_provider


@pytest.fixture
def clinic(app):
    make_provider("Someone else")  # so a provider's id and a user's cannot line up by chance
    maria, daniel, retired = make_provider("Maria Lopez, PT"), make_provider("Daniel Reyes, PT"), make_provider("Retired")
    retired.active = False
    users = {
        "admin": create_user("admin@example.com", PASSWORD, "admin"),
        "front_desk": create_user("desk@example.com", PASSWORD, "front_desk"),
        "provider": create_user("maria@example.com", PASSWORD, "provider", provider_id=maria.id),
        "unlinked provider": create_user("rosa@example.com", PASSWORD, "provider"),
    }
    for role in ("admin", "front_desk", "provider"):
        linked = daniel.id if role == "provider" else None
        gone = create_user(f"gone-{role}@example.com", PASSWORD, role, provider_id=linked)
        gone.active = False
        users[f"inactive {role}"] = gone
    db.session.commit()
    # A role the rule does not know, on an account that is even linked to Maria's calendar (the
    # database refuses such a role, so this one is never saved).
    users["unknown role"] = User(id=users["provider"].id, email="odd@example.com", role="billing", active=True)
    return SimpleNamespace(maria=maria, daniel=daniel, retired=retired, users=users)


EVERY_CALENDAR = ("admin", "front_desk")
NOTHING = ("unlinked provider", "unknown role", "inactive admin", "inactive front_desk", "inactive provider")


@pytest.mark.parametrize(("who", "maria", "daniel"), [
    ("admin", True, True),
    ("front_desk", True, True),
    ("provider", True, False),
    *((who, False, False) for who in NOTHING),
])
def test_who_sees_and_acts_on_which_calendar(clinic, who, maria, daniel):
    user = clinic.users[who]
    assert access.may_see(user, clinic.maria.id) is maria
    assert access.may_see(user, clinic.daniel.id) is daniel
    assert access.may_act_for(user, clinic.maria.id) is maria
    assert access.may_act_for(user, clinic.daniel.id) is daniel


@pytest.mark.parametrize("who", [*EVERY_CALENDAR, "provider", *NOTHING])
def test_no_provider_is_no_calendar(clinic, who):
    assert access.may_see(clinic.users[who], None) is False
    assert access.may_act_for(clinic.users[who], None) is False


def test_an_inactive_providers_calendar_stays_readable_by_the_desk_only(clinic):
    assert access.may_see(clinic.users["admin"], clinic.retired.id)
    assert access.may_see(clinic.users["front_desk"], clinic.retired.id)
    assert not access.may_see(clinic.users["provider"], clinic.retired.id)
    # An id no provider has: the desk's request goes on to be refused as an unknown provider.
    assert access.may_act_for(clinic.users["front_desk"], 9999)
    assert not access.may_act_for(clinic.users["provider"], 9999)


@pytest.mark.parametrize(("who", "columns"), [
    ("admin", ["Someone else", "Maria Lopez, PT", "Daniel Reyes, PT"]),
    ("front_desk", ["Someone else", "Maria Lopez, PT", "Daniel Reyes, PT"]),
    ("provider", ["Maria Lopez, PT"]),
    *((who, []) for who in NOTHING),
])
def test_the_columns_each_user_sees_are_active_providers_they_may_see(clinic, who, columns):
    shown = access.visible_providers(clinic.users[who])
    assert [p.name for p in shown] == columns
    assert all(access.may_see(clinic.users[who], p.id) for p in shown)


def course_request(provider, *, chosen=(), allow_other_provider=False):
    """The parts of a CourseRequest the rule reads."""
    return SimpleNamespace(provider=provider, chosen=tuple(SimpleNamespace(provider_id=p.id) for p in chosen) or None,
                           prescription=SimpleNamespace(allow_other_provider=allow_other_provider))


def test_who_may_plan_a_course(clinic):
    users, maria, daniel = clinic.users, clinic.maria, clinic.daniel
    anywhere = course_request(daniel, chosen=[maria], allow_other_provider=True)
    for who in EVERY_CALENDAR:
        assert access.may_plan(users[who], anywhere), who
    assert access.may_plan(users["provider"], course_request(maria, chosen=[maria]))
    assert not access.may_plan(users["provider"], course_request(daniel))
    assert not access.may_plan(users["provider"], course_request(maria, chosen=[maria, daniel]))
    assert not access.may_plan(users["provider"], course_request(maria, allow_other_provider=True))
    for who in NOTHING:
        assert not access.may_plan(users[who], course_request(maria)), who


@pytest.mark.parametrize(("who", "allowed"), [
    *((who, True) for who in ("admin", "front_desk", "provider", "unlinked provider")),
    *((who, False) for who in ("unknown role", "inactive admin", "inactive front_desk", "inactive provider")),
])
def test_who_may_look_up_and_add_patients(clinic, who, allowed):
    assert access.may_manage_patients(clinic.users[who]) is allowed


def test_a_staff_user_is_named_in_the_audit_trail_by_their_own_id(clinic):
    desk, admin = clinic.users["front_desk"], clinic.users["admin"]
    assert audit.actor_for(desk) == audit.Actor(ActorKind.STAFF, desk.id)
    assert audit.actor_for(admin) != audit.actor_for(desk)

    audit.record(audit.actor_for(desk), "provider.changed", clinic.maria, None, {"name": clinic.maria.name})
    db.session.commit()
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "provider.changed"))
    assert (row.actor_kind, row.actor_id) == ("staff", desk.id)
