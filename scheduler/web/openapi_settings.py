"""The clinic-settings part of the OpenAPI document: closures with the visits they hit."""
from __future__ import annotations

from .openapi_shapes import DAY, REQUIRED_TEXT
from .openapi_staff import INVALID, SECURITY, UNAUTHORIZED, _json, _ref

DATE = {**DAY, "description": "Clinic-local date, YYYY-MM-DD"}

SETTINGS_SCHEMAS = {
    "ClosureRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["start_date", "end_date", "reason"],
        "properties": {
            "start_date": DATE,
            "end_date": {**DATE, "description": "The last closed day (inclusive)"},
            "reason": {**REQUIRED_TEXT, "maxLength": 120},
            "preview": {"type": "boolean", "default": False,
                        "description": "true: only list the open visits the closure would hit; nothing is saved"},
            "cancel_affected": {"type": "boolean", "default": False,
                                "description": "On saving, cancel those visits and notify their patients"},
        },
    },
    "ClosurePreview": {
        "type": "object",
        "required": ["affected"],
        "properties": {"affected": {"type": "array", "items": _ref("StaffVisit")}},
    },
    "ClosureSaved": {
        "type": "object",
        "required": ["id", "start_date", "end_date", "reason", "affected", "cancelled"],
        "properties": {
            "id": {"type": "integer"},
            "start_date": DATE,
            "end_date": DATE,
            "reason": {"type": "string"},
            "affected": {"type": "array", "items": _ref("StaffVisit"),
                         "description": "The open visits on those days (as they are after saving)"},
            "cancelled": {"type": "array", "items": {"type": "integer"}, "description": "Ids of the visits cancelled"},
        },
    },
}


def settings_paths() -> dict:
    return {
        "/staff/closures": {
            "post": {
                "operationId": "staffAddClosure",
                "summary": "Close the clinic for a run of days (admins): preview the visits it hits, then save, "
                           "optionally cancelling them and notifying the patients in the same step",
                "security": SECURITY,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ClosureRequest")}}},
                "responses": {
                    "200": _json(_ref("ClosurePreview"), "Preview: the open visits on those days; nothing saved"),
                    "201": _json(_ref("ClosureSaved"), "Saved; from now on availability offers nothing on those days"),
                    "401": UNAUTHORIZED,
                    "403": _json(_ref("Error"), "Only admins change clinic settings"),
                    "422": INVALID,
                },
            }
        }
    }


