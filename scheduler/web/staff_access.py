"""Which staff user may act on which provider's calendar (pages and API share the rule)."""
from __future__ import annotations

from ..models import Provider, Role, User


def may_act_for(user: User, provider_id: int | None) -> bool:
    """Admins and the front desk act on every calendar; a provider on their own only."""
    if user.role in (Role.ADMIN.value, Role.FRONT_DESK.value):
        return True
    if user.role == Role.PROVIDER.value and provider_id is not None:
        from ..extensions import db

        provider = db.session.get(Provider, provider_id)
        return provider is not None and provider.user_id == user.id
    return False


def may_manage_patients(user: User) -> bool:
    """Every staff role can look patients up and add them (a therapist starts a course for
    a patient they have just seen)."""
    return user.role in {r.value for r in Role}
