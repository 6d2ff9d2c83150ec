"""Who may open a staff page or call a staff endpoint: signed in, and one of the roles named.

Every staff view is wrapped by `staff_only(...)`; the wrapper records the roles on the view
(`allowed_roles`), so a test can walk the URL map and find any staff route left without a check.
"""
from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from scheduler.extensions import db
from scheduler.models import Appointment, Role
from scheduler.services.staff.access import visible_providers

EVERY_ROLE = (Role.ADMIN.value, Role.FRONT_DESK.value, Role.PROVIDER.value)
DESK = (Role.ADMIN.value, Role.FRONT_DESK.value)
ADMIN = (Role.ADMIN.value,)


def staff_only(*roles: str):
    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(roles)
        return wrapper

    return decorate


def visible_appointment(appointment_id: int) -> Appointment:
    """An appointment in a column the user may see; any other id is a 404, as if it did not exist."""
    appointment = db.session.get(Appointment, appointment_id)
    if appointment is None or appointment.provider_id not in {p.id for p in visible_providers(current_user)}:
        abort(404)
    return appointment
