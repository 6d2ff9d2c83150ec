"""Which staff user may act on which provider's calendar (pages and API share the rule)."""
from __future__ import annotations

from scheduler.models import Provider, Role, User


def may_act_for(user: User, provider_id: int | None) -> bool:
    """Admins and the front desk act on every calendar; a provider on their own only."""
    if user.role in (Role.ADMIN.value, Role.FRONT_DESK.value):
        return True
    if user.role == Role.PROVIDER.value and provider_id is not None:
        from scheduler.extensions import db

        provider = db.session.get(Provider, provider_id)
        return provider is not None and provider.user_id == user.id
    return False


def may_manage_patients(user: User) -> bool:
    """Every staff role can look patients up and add them (a therapist starts a course for
    a patient they have just seen)."""
    return user.role in {r.value for r in Role}


def may_plan(user: User, request) -> bool:
    """A course request (services.course_input.CourseRequest) touches its provider's calendar,
    the calendars of hand-picked visits and, when another provider may take a visit, every
    calendar: a provider user may plan only on their own."""
    if user.role in (Role.ADMIN.value, Role.FRONT_DESK.value):
        return True
    if request.prescription.allow_other_provider:
        return False
    providers = {request.provider.id, *(v.provider_id for v in request.chosen or ())}
    return all(may_act_for(user, provider_id) for provider_id in providers)
