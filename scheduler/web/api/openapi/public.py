"""The public part of the OpenAPI document: services, providers, open times, bookings and
a booking's private link."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import (
    DATE_TIME,
    DAY,
    FREE_TEXT,
    ID,
    INVALID,
    PATIENT_FIELDS,
    RATE_LIMITED,
    SLUG,
    VISIT_FIELDS,
    json_response,
    ref,
    request_body,
)

UNKNOWN_LINK = json_response(ref("Error"), "Unknown or expired link")
CONFLICT = json_response(
    {"oneOf": [ref("SlotUnavailable"), ref("ChangeNotAllowed"), ref("AlreadyBooked")]},
    "Slot taken, change not allowed, or the patient already has a visit then",
)

TOKEN_PARAM = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The private manage token from the booking's manage_url",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"},
}

PUBLIC_SCHEMAS = {
    "Service": {
        "type": "object",
        "required": ["slug", "name", "duration_minutes", "online_bookable"],
        "properties": {
            "slug": {"type": "string"},
            "name": {"type": "string"},
            "duration_minutes": {"type": "integer", "minimum": 1},
            "online_bookable": {"type": "boolean"},
        },
    },
    "Provider": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    },
    "Slot": {
        "type": "object",
        "required": ["start", "end", "provider_id"],
        "properties": {"start": DATE_TIME, "end": DATE_TIME, "provider_id": {"type": "integer"}},
    },
    "Availability": {
        "type": "object",
        "required": ["timezone", "slots"],
        "properties": {"timezone": {"type": "string"}, "slots": {"type": "array", "items": ref("Slot")}},
    },
    "PatientInput": {
        "type": "object",
        # Closed like every request body (a misspelt field is refused, never ignored); the staff
        # PatientCreate names these fields and the language on its own rather than extending it.
        "additionalProperties": False,
        "required": ["first_name", "last_name", "phone", "email"],
        "properties": PATIENT_FIELDS,
    },
    "BookingPatientInput": {
        # A booking's patient: the email may be left out when a mobile number with text consent
        # (sms_opt_in true) is given; the confirmation then goes by text only. Without either,
        # the 422 names the email field and says which of the two is needed.
        "type": "object",
        "additionalProperties": False,
        "required": ["first_name", "last_name", "phone"],
        "description": "email is required unless sms_opt_in is true",
        "anyOf": [{"required": ["email"]}, {"required": ["sms_opt_in"], "properties": {"sms_opt_in": {"const": True}}}],
        "properties": PATIENT_FIELDS,
    },
    "BookingRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["service", "start", "patient"],
        "properties": {
            "service": {**SLUG, "description": "Service slug"},
            "provider_id": {**ID, "type": ["integer", "null"], "description": "Omit or null for first available"},
            "start": DATE_TIME,
            "patient": ref("BookingPatientInput"),
        },
    },
    "Booking": {
        "type": "object",
        "required": [*VISIT_FIELDS, "manage_url", "ics_url"],
        "properties": {
            **VISIT_FIELDS,
            "manage_url": {"type": "string", "format": "uri"},
            "ics_url": {"type": "string", "format": "uri"},
        },
    },
    "BookingDetail": {
        "allOf": [
            ref("Booking"),
            {
                "type": "object",
                "required": ["service", "provider_name", "can_change_online", "change_deadline"],
                "properties": {
                    "service": {"type": "string"},
                    "provider_name": {"type": "string"},
                    "can_change_online": {"type": "boolean"},
                    "change_deadline": DATE_TIME,
                },
            },
        ]
    },
    "RescheduleRequest": {
        "type": "object", "additionalProperties": False, "required": ["start"], "properties": {"start": DATE_TIME},
    },
    "CancelRequest": {
        "type": "object", "additionalProperties": False, "properties": {"reason": {**FREE_TEXT, "maxLength": 200}},
    },
    "ValidationFailed": {
        "type": "object",
        "required": ["error", "fields"],
        "properties": {
            "error": {"const": "validation_failed"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "SlotUnavailable": {
        "type": "object",
        "required": ["error", "alternatives"],
        "properties": {
            "error": {"const": "slot_unavailable"},
            "alternatives": {"type": "array", "items": ref("Slot")},
        },
    },
    "AlreadyBooked": {
        "type": "object",
        "required": ["error", "message"],
        "description": "The same patient (mobile number and name) already has a visit overlapping that time",
        "properties": {"error": {"const": "already_booked"}, "message": {"type": "string"}},
    },
    "ChangeNotAllowed": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "enum": ["inside_window", "not_open"],
                "description": "inside_window: too close to the visit to change online; "
                "not_open: cancelled or already past",
            },
            "message": {"type": "string"},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
}


def public_paths() -> dict:
    return {
        "/services": {
            "get": {
                "operationId": "listServices",
                "responses": {"200": json_response({"type": "array", "items": ref("Service")}, "Services")},
            }
        },
        "/providers": {
            "get": {
                "operationId": "listProviders",
                "responses": {"200": json_response({"type": "array", "items": ref("Provider")}, "Providers")},
            }
        },
        "/availability": {
            "get": {
                "operationId": "getAvailability",
                "parameters": [
                    {"name": "service", "in": "query", "required": True, "schema": SLUG},
                    {"name": "start", "in": "query", "required": True, "schema": DAY},
                    {"name": "end", "in": "query", "required": True,
                     "description": "Inclusive; at most 62 days after start", "schema": DAY},
                    {"name": "provider", "in": "query", "required": False, "schema": ID},
                ],
                "responses": {"200": json_response(ref("Availability"), "Open slots"), "422": INVALID},
            }
        },
        "/bookings": {
            "post": {
                "operationId": "createBooking",
                "description": (
                    "Stored with source 'api'. Without a token the booking is recorded as made by an "
                    "API client; with a staff bearer token, as made by that staff user."
                ),
                "security": [{}, {"staffToken": []}],
                "requestBody": request_body("BookingRequest"),
                "responses": {
                    "201": json_response(ref("Booking"), "Booked"),
                    "401": json_response(ref("Error"), "A bearer token was sent but is unknown or revoked"),
                    "409": json_response(
                        {"oneOf": [ref("SlotUnavailable"), ref("AlreadyBooked")]},
                        "The slot is taken, or this patient already has a visit at that time",
                    ),
                    "422": INVALID,
                    "429": RATE_LIMITED,
                },
            }
        },
        "/bookings/{token}": {
            "get": {
                "operationId": "getBooking",
                "parameters": [TOKEN_PARAM],
                "responses": {
                    "200": json_response(ref("BookingDetail"), "The booking"),
                    "404": UNKNOWN_LINK,
                    "429": RATE_LIMITED,
                },
            }
        },
        "/bookings/{token}/cancel": {
            "post": {
                "operationId": "cancelBooking",
                "parameters": [TOKEN_PARAM],
                "requestBody": request_body("CancelRequest", required=False),
                "responses": {
                    "200": json_response(ref("BookingDetail"), "Cancelled"),
                    "404": UNKNOWN_LINK,
                    "409": json_response(ref("ChangeNotAllowed"), "Too close to the visit, or not open"),
                    "422": INVALID,
                    "429": RATE_LIMITED,
                },
            }
        },
        "/bookings/{token}/reschedule": {
            "post": {
                "operationId": "rescheduleBooking",
                "parameters": [TOKEN_PARAM],
                "requestBody": request_body("RescheduleRequest"),
                "responses": {
                    "200": json_response(ref("BookingDetail"), "Moved"),
                    "404": UNKNOWN_LINK,
                    "409": CONFLICT,
                    "422": INVALID,
                    "429": RATE_LIMITED,
                },
            }
        },
    }
