"""The API's parent blueprint, /api/v1: what every part of the JSON API shares.

Each module of this package adds its routes to a child blueprint, nested on this one
(scheduler/web/__init__.py). Flask runs a parent's hooks and error handlers for its
children's views, so the JSON error answers below (422, 409, 404, 403) are the same for the
public endpoints and the staff ones. Here too: the bearer-token check of the staff
endpoints and json_body, the one way a view reads its request body.
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, g, jsonify, request
from flask_babel import gettext as _

from scheduler.domain.patient_details import N_
from scheduler.services.common.errors import (
    AlreadyBooked,
    ChangeNotAllowed,
    NotFound,
    SlotUnavailable,
    ValidationFailed,
)
from scheduler.services.staff.accounts import user_for_api_token
from scheduler.web.api.openapi.document import unknown_fields
from scheduler.web.common.presenters import slot_json

api = Blueprint("api", __name__, url_prefix="/api/v1")


class Forbidden(Exception):
    """403: the token's user may not act on this provider's calendar."""


def require(allowed: bool) -> None:
    if not allowed:
        raise Forbidden()


def validation_error(fields: dict[str, str]):
    return jsonify({"error": "validation_failed", "fields": {k: _(v) for k, v in fields.items()}}), 422


@api.errorhandler(ValidationFailed)
def _validation_failed(exc: ValidationFailed):
    return validation_error(exc.fields)


@api.errorhandler(SlotUnavailable)
def _slot_unavailable(exc: SlotUnavailable):
    return jsonify({"error": "slot_unavailable", "alternatives": [slot_json(s) for s in exc.alternatives]}), 409


@api.errorhandler(AlreadyBooked)
def _already_booked(exc: AlreadyBooked):
    return jsonify({"error": "already_booked", "message": _(exc.message)}), 409


@api.errorhandler(ChangeNotAllowed)
def _change_not_allowed(exc: ChangeNotAllowed):
    return jsonify({"error": exc.reason, "message": _(exc.message)}), 409


@api.errorhandler(NotFound)
def _not_found(exc: NotFound):
    return jsonify({"error": "not_found", "message": _("This link is not valid or has expired.")}), 404


@api.errorhandler(Forbidden)
def _forbidden(exc: Forbidden):
    return jsonify({"error": "forbidden", "message": "Your role may not act on this calendar."}), 403


def json_body(schema_name: str) -> dict:
    """The request's JSON object, holding only the fields its documented schema names."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"body": N_("Send a JSON object with Content-Type: application/json.")})
    unknown = unknown_fields(body, schema_name)
    if unknown:
        raise ValidationFailed({key: N_("Unknown field.") for key in unknown})
    return body


# --- bearer tokens --------------------------------------------------------------------


def unauthorized():
    response = jsonify({"error": "unauthorized", "message": "A valid bearer token is required."})
    response.headers["WWW-Authenticate"] = 'Bearer realm="staff"'
    return response, 401


def bearer_user():
    """(sent a token, its user or None)."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if not header:
        return False, None
    return True, user_for_api_token(token.strip()) if scheme.lower() == "bearer" else None


def staff_token_required(view):
    """The staff endpoints: 401 without a working token; the token's user is g.staff_user."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        _sent, user = bearer_user()
        if user is None:
            return unauthorized()
        g.staff_user = user
        return view(*args, **kwargs)

    return wrapper
