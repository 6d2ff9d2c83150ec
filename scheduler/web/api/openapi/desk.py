"""The front desk's part of the OpenAPI document: closures with the visits they hit, and the
public waitlist."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import DAY, ID, REQUIRED_TEXT, SLUG
from scheduler.web.api.openapi.staff import INVALID, SECURITY, UNAUTHORIZED, _json, _ref

DATE = {**DAY, "description": "Clinic-local date, YYYY-MM-DD"}

SETTINGS_SCHEMAS = {
    "WaitlistRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["service", "earliest_date", "latest_date", "patient"],
        "properties": {
            "service": {**SLUG, "description": "Service slug (bookable online)"},
            "provider_id": {**ID, "type": ["integer", "null"], "description": "A provider, or omitted/null for any"},
            "earliest_date": DATE,
            "latest_date": {**DATE, "description": "Inclusive; at most 120 days ahead"},
            "weekdays": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6},
                         "description": "Days of the week wanted, Monday = 0; omitted or empty: any day"},
            "time_of_day": {"type": "string", "enum": ["any", "morning", "afternoon"], "default": "any"},
            "patient": _ref("PatientInput"),
        },
    },
    "WaitlistEntry": {
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "integer"},
            "status": {"type": "string", "enum": ["waiting", "offered", "booked", "removed"]},
            "leave_url": {"type": "string", "format": "uri",
                          "description": "The patient's private link to leave the waitlist (POST)"},
        },
    },
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
        "/waitlist": {
            "post": {
                "operationId": "joinWaitlist",
                "summary": "Join the waitlist for an opening; the same patient and service again updates the preferences "
                           "and keeps the place in line",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("WaitlistRequest")}}},
                "responses": {
                    "201": _json(_ref("WaitlistEntry"), "On the waitlist"),
                    "200": _json(_ref("WaitlistEntry"), "Already waiting for this service: preferences updated"),
                    "422": INVALID,
                    "429": _json(_ref("Error"), "Rate limited"),
                },
            }
        },
        "/waitlist/{token}/leave": {
            "post": {
                "operationId": "leaveWaitlist",
                "summary": "Leave the waitlist through the private link",
                "parameters": [{"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
                                "description": "The token from leave_url"}],
                "responses": {
                    "200": _json(_ref("WaitlistEntry"), "Off the waitlist"),
                    "404": _json(_ref("Error"), "Unknown or expired link"),
                    "429": _json(_ref("Error"), "Rate limited"),
                },
            }
        },
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


