"""Staff API for clinic settings (admins): closures, previewed with the visits they hit."""
from __future__ import annotations

from flask import Blueprint, g, jsonify

from scheduler.models import Role
from scheduler.services.closures import closing
from scheduler.services.common import audit
from scheduler.web.api.base import json_body, require, staff_token_required
from scheduler.web.api.staff import staff_appointment_json

settings_api = Blueprint("settings", __name__)


@settings_api.post("/staff/closures")
@staff_token_required
def add_closure():
    require(g.staff_user.role == Role.ADMIN.value)
    result = closing.closure(json_body("ClosureRequest"), actor=audit.actor_for(g.staff_user))
    affected = [staff_appointment_json(a) for a in result.affected]
    if result.saved is None:
        return jsonify({"affected": affected})
    row = result.saved
    return jsonify({
        "id": row.id, "start_date": row.first_day.isoformat(), "end_date": row.last_day.isoformat(),
        "reason": row.name, "affected": affected, "cancelled": list(result.cancelled),
    }), 201
