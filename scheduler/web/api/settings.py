"""Staff API for clinic settings (admins): closures, previewed with the visits they hit.

Registered on the `api` blueprint, so its error answers are the public API's."""
from __future__ import annotations

from flask import g, jsonify

from scheduler.models import Role
from scheduler.services.appointments.staff_changes import staff_actor
from scheduler.services.closures import closing
from scheduler.web.api.public import api, json_body, staff_token_required
from scheduler.web.api.staff import require, staff_appointment_json


@api.post("/staff/closures")
@staff_token_required
def staff_add_closure():
    require(g.staff_user.role == Role.ADMIN.value)
    result = closing.closure(json_body("ClosureRequest"), actor=staff_actor(g.staff_user.id))
    affected = [staff_appointment_json(a) for a in result.affected]
    if result.saved is None:
        return jsonify({"affected": affected})
    row = result.saved
    return jsonify({
        "id": row.id, "start_date": row.first_day.isoformat(), "end_date": row.last_day.isoformat(),
        "reason": row.name, "affected": affected, "cancelled": list(result.cancelled),
    }), 201
