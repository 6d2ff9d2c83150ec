"""Which provider's calendar a staff user may see and act on: the one rule, asked by every staff
page, API endpoint and calendar feed; nothing else decides it.

Admins and the front desk see and act on every calendar; a provider account only on the
calendar of the provider it is linked to. Everything else is denied: an inactive user, a role
this module does not name, no provider, a provider account linked to no provider or to another.

Every function here only reads; none commits or writes.
"""
from __future__ import annotations

from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Provider, Role, User

_EVERY_CALENDAR = frozenset({Role.ADMIN.value, Role.FRONT_DESK.value})
_STAFF = frozenset(role.value for role in Role)


def _sees_every_calendar(user: User) -> bool:
    return user.active and user.role in _EVERY_CALENDAR


def _is_provider_account(user: User) -> bool:
    return user.active and user.role == Role.PROVIDER.value


def visible_providers(user: User) -> list[Provider]:
    """The active providers whose calendars the user sees, by id: the columns of the calendar
    and the day sheet. Reads only."""
    query = select(Provider).where(Provider.active.is_(True)).order_by(Provider.id)
    if _sees_every_calendar(user):
        return list(db.session.scalars(query))
    if _is_provider_account(user):
        return list(db.session.scalars(query.where(Provider.user_id == user.id)))
    return []


def may_see(user: User, provider_id: int | None) -> bool:
    """Whether the user may see the provider's calendar (an inactive provider's too: their past
    visits and courses stay readable). Reads only."""
    if provider_id is None:
        return False
    if _sees_every_calendar(user):
        return True
    if _is_provider_account(user):
        own = select(Provider.id).where(Provider.id == provider_id, Provider.user_id == user.id)
        return db.session.scalar(own) is not None
    return False


def may_act_for(user: User, provider_id: int | None) -> bool:
    """Whether the user may book, move, cancel or change visits on the provider's calendar:
    whoever sees a calendar may change it. Reads only."""
    return may_see(user, provider_id)


def may_plan(user: User, request) -> bool:
    """Whether the user may book a course request (services.courses.prescription.CourseRequest):
    it touches its provider's calendar, the calendars of hand-picked visits and, when another
    provider may take a visit, every calendar. Reads only."""
    if _sees_every_calendar(user):
        return True
    if request.prescription.allow_other_provider:
        return False
    providers = {request.provider.id, *(v.provider_id for v in request.chosen or ())}
    return all(may_act_for(user, provider_id) for provider_id in providers)


def may_manage_patients(user: User) -> bool:
    """Whether the user may look patients up and add them: every active staff role (a therapist
    starts a course for a patient they have just seen). Reads only."""
    return user.active and user.role in _STAFF
