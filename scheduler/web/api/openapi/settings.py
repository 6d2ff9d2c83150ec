"""The clinic settings part of the OpenAPI document (admins): closures, previewed with the
visits they hit."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import (
    INVALID,
    LOCAL_DAY,
    REQUIRED_TEXT,
    SECURITY,
    UNAUTHORIZED,
    json_response,
    ref,
    request_body,
)

SETTINGS_SCHEMAS = {
    "ClosureRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["start_date", "end_date", "reason"],
        "properties": {
            "start_date": LOCAL_DAY,
            "end_date": {**LOCAL_DAY, "description": "The last closed day (inclusive)"},
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
        "properties": {"affected": {"type": "array", "items": ref("StaffVisit")}},
    },
    "ClosureSaved": {
        "type": "object",
        "required": ["id", "start_date", "end_date", "reason", "affected", "cancelled"],
        "properties": {
            "id": {"type": "integer"},
            "start_date": LOCAL_DAY,
            "end_date": LOCAL_DAY,
            "reason": {"type": "string"},
            "affected": {"type": "array", "items": ref("StaffVisit"),
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
                "requestBody": request_body("ClosureRequest"),
                "responses": {
                    "200": json_response(ref("ClosurePreview"),
                                         "Preview: the open visits on those days; nothing saved"),
                    "201": json_response(ref("ClosureSaved"),
                                         "Saved; from now on availability offers nothing on those days"),
                    "401": UNAUTHORIZED,
                    "403": json_response(ref("Error"), "Only admins change clinic settings"),
                    "422": INVALID,
                },
            }
        },
    }
