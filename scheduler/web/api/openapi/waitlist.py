"""The waitlist part of the OpenAPI document: joining the waitlist for an opening, and
leaving it through the private link."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import (
    ID,
    INVALID,
    LOCAL_DAY,
    RATE_LIMITED,
    SLUG,
    json_response,
    ref,
    request_body,
)

WAITLIST_SCHEMAS = {
    "WaitlistRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["service", "earliest_date", "latest_date", "patient"],
        "properties": {
            "service": {**SLUG, "description": "Service slug (bookable online)"},
            "provider_id": {**ID, "type": ["integer", "null"], "description": "A provider, or omitted/null for any"},
            "earliest_date": LOCAL_DAY,
            "latest_date": {**LOCAL_DAY, "description": "Inclusive; at most 120 days ahead"},
            "weekdays": {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 6},
                         "description": "Days of the week wanted, Monday = 0; omitted or empty: any day"},
            "time_of_day": {"type": "string", "enum": ["any", "morning", "afternoon"], "default": "any"},
            "patient": ref("PatientInput"),
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
}


def waitlist_paths() -> dict:
    return {
        "/waitlist": {
            "post": {
                "operationId": "joinWaitlist",
                "summary": "Join the waitlist for an opening; the same patient and service again updates the preferences "
                           "and keeps the place in line",
                "requestBody": request_body("WaitlistRequest"),
                "responses": {
                    "201": json_response(ref("WaitlistEntry"), "On the waitlist"),
                    "200": json_response(ref("WaitlistEntry"), "Already waiting for this service: preferences updated"),
                    "422": INVALID,
                    "429": RATE_LIMITED,
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
                    "200": json_response(ref("WaitlistEntry"), "Off the waitlist"),
                    "404": json_response(ref("Error"), "Unknown or expired link"),
                    "429": RATE_LIMITED,
                },
            }
        },
    }
