"""The OpenAPI 3.1 description of the JSON API v1 (tests check responses against it)."""
from __future__ import annotations

from functools import lru_cache

from scheduler.web.api.openapi.desk import SETTINGS_SCHEMAS, settings_paths
from scheduler.web.api.openapi.shapes import (
    CONTROL_AND_FORMAT_RANGES,
    DATE_TIME,
    DAY,
    FREE_TEXT,
    ID,
    NAME,
    PHONE,
    SLUG,
    STATUS,
)
from scheduler.web.api.openapi.staff import STAFF_SCHEMAS, staff_paths

__all__ = ["CONTROL_AND_FORMAT_RANGES", "openapi_document", "unknown_fields"]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "404": _json(_ref("Error"), "Unknown or expired link"),
    "409": _json(
        {"oneOf": [_ref("SlotUnavailable"), _ref("ChangeNotAllowed"), _ref("AlreadyBooked")]},
        "Slot taken, change not allowed, or the patient already has a visit then",
    ),
    "422": _json(_ref("ValidationFailed"), "Invalid input, one message per field"),
    "429": _json(_ref("Error"), "Rate limited"),
}

TOKEN_PARAM = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The private manage token from the booking's manage_url",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$"},
}

# What every answer about one appointment carries, public or staff.
VISIT_FIELDS = {
    "id": {"type": "integer"},
    "status": STATUS,
    "start": DATE_TIME,
    "end": DATE_TIME,
    "provider_id": {"type": "integer"},
}

SCHEMAS = {
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
        "properties": {"timezone": {"type": "string"}, "slots": {"type": "array", "items": _ref("Slot")}},
    },
    "PatientInput": {
        "type": "object",
        # Closed like every request body (a misspelt field is refused, never ignored); the staff
        # PatientCreate names these fields and the language on its own rather than extending it.
        "additionalProperties": False,
        "required": ["first_name", "last_name", "phone", "email"],
        "properties": {
            "first_name": NAME,
            "last_name": NAME,
            "phone": PHONE,
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "sms_opt_in": {"type": "boolean", "default": False},
            "note": {**FREE_TEXT, "maxLength": 500},
        },
    },
    "BookingRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["service", "start", "patient"],
        "properties": {
            "service": {**SLUG, "description": "Service slug"},
            "provider_id": {**ID, "type": ["integer", "null"], "description": "Omit or null for first available"},
            "start": DATE_TIME,
            "patient": _ref("PatientInput"),
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
            _ref("Booking"),
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
            "alternatives": {"type": "array", "items": _ref("Slot")},
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
    "StaffAppointment": {
        "type": "object",
        "required": [*VISIT_FIELDS, "service", "patient_name", "source"],
        "properties": {
            **VISIT_FIELDS,
            "service": {"type": "string", "description": "Service slug"},
            "patient_name": {"type": "string"},
            "source": {"type": "string", "enum": ["online", "desk", "sms", "api"]},
        },
    },
    "StaffDay": {
        "type": "object",
        "required": ["date", "appointments"],
        "properties": {
            "date": {"type": "string", "format": "date", "description": "Clinic-local date"},
            "appointments": {"type": "array", "items": _ref("StaffAppointment")},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    },
}


def unknown_fields(body: dict, schema_name: str) -> list[str]:
    """Keys of a request body (and of its documented nested objects) that the schema, closed
    with additionalProperties: false, does not name: a misspelt "provider" must not quietly
    mean "first available"."""
    return _unknown(body, _ref(schema_name), "")


def _named_schema(name: str) -> dict:
    return SCHEMAS.get(name) or STAFF_SCHEMAS.get(name) or SETTINGS_SCHEMAS[name]


def _unknown(value: object, schema: dict, prefix: str) -> list[str]:
    if "$ref" in schema:
        schema = _named_schema(schema["$ref"].rsplit("/", 1)[1])
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [key for index, item in enumerate(value, 1) for key in _unknown(item, schema["items"], f"{prefix}{index}.")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    unknown = []
    for key, item in value.items():
        described = schema["properties"].get(key)
        if described is None:
            if schema.get("additionalProperties", True) is False:
                unknown.append(f"{prefix}{key}")
        else:
            unknown += _unknown(item, described, f"{prefix}{key}.")
    return unknown


# Answers any operation can give, whatever it is: the input guard's (scheduler/web/input_guard.py)
# and the size limit's. Added to every operation, those described below and any added later.
COMMON_RESPONSES = {
    "413": _json(_ref("Error"), "The request body is larger than the server takes (MAX_CONTENT_LENGTH)"),
    "414": {"description": "The address is longer than the server reads (gunicorn's request line limit)"},
    "422": ERRORS["422"],
}


def _with_common_responses(document: dict) -> dict:
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                for status, response in COMMON_RESPONSES.items():
                    operation["responses"].setdefault(status, response)
    return document


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    return _with_common_responses(_document())


def _document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic scheduler API",
            "version": "1.0.0",
            "description": "Online booking of the clinic's services. Times carry their UTC offset; "
            "dates are clinic-local.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/services": {
                "get": {
                    "operationId": "listServices",
                    "responses": {"200": _json({"type": "array", "items": _ref("Service")}, "Services")},
                }
            },
            "/providers": {
                "get": {
                    "operationId": "listProviders",
                    "responses": {"200": _json({"type": "array", "items": _ref("Provider")}, "Providers")},
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
                    "responses": {"200": _json(_ref("Availability"), "Open slots"), "422": ERRORS["422"]},
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
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("BookingRequest")}},
                    },
                    "responses": {
                        "201": _json(_ref("Booking"), "Booked"),
                        "401": _json(_ref("Error"), "A bearer token was sent but is unknown or revoked"),
                        "409": _json(
                            {"oneOf": [_ref("SlotUnavailable"), _ref("AlreadyBooked")]},
                            "The slot is taken, or this patient already has a visit at that time",
                        ),
                        "422": ERRORS["422"],
                        "429": ERRORS["429"],
                    },
                }
            },
            "/bookings/{token}": {
                "get": {
                    "operationId": "getBooking",
                    "parameters": [TOKEN_PARAM],
                    "responses": {
                        "200": _json(_ref("BookingDetail"), "The booking"),
                        "404": ERRORS["404"],
                        "429": ERRORS["429"],
                    },
                }
            },
            "/bookings/{token}/cancel": {
                "post": {
                    "operationId": "cancelBooking",
                    "parameters": [TOKEN_PARAM],
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": _ref("CancelRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("BookingDetail"), "Cancelled"),
                        "404": ERRORS["404"],
                        "409": _json(_ref("ChangeNotAllowed"), "Too close to the visit, or not open"),
                        "422": ERRORS["422"],
                        "429": ERRORS["429"],
                    },
                }
            },
            "/bookings/{token}/reschedule": {
                "post": {
                    "operationId": "rescheduleBooking",
                    "parameters": [TOKEN_PARAM],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("RescheduleRequest")}},
                    },
                    "responses": {
                        "200": _json(_ref("BookingDetail"), "Moved"),
                        "404": ERRORS["404"],
                        "409": ERRORS["409"],
                        "422": ERRORS["422"],
                        "429": ERRORS["429"],
                    },
                }
            },
            "/staff/appointments": {
                "get": {
                    "operationId": "listStaffAppointments",
                    "summary": "The day's appointments, for the clinic's own tools",
                    "security": [{"staffToken": []}],
                    "parameters": [
                        {"name": "date", "in": "query", "required": False,
                         "description": "Clinic-local date; today when absent", "schema": DAY},
                    ],
                    "responses": {
                        "200": _json(_ref("StaffDay"), "Appointments starting that day, in time order"),
                        "401": _json(_ref("Error"), "Missing, unknown or revoked bearer token"),
                        "422": ERRORS["422"],
                    },
                }
            },
            "/staff/courses/{course_id}.ics": {
                "get": {
                    "operationId": "getStaffCourseCalendar",
                    "summary": "A course of care as an iCalendar file: every visit, cancelled ones with "
                               "STATUS:CANCELLED, one stable UID per visit",
                    "security": [{"staffToken": []}],
                    "parameters": [
                        {"name": "course_id", "in": "path", "required": True, "schema": ID},
                    ],
                    "responses": {
                        "200": {"description": "The course's visits (RFC 5545, METHOD:PUBLISH)",
                                "content": {"text/calendar": {"schema": {"type": "string"}}}},
                        "401": _json(_ref("Error"), "Missing, unknown or revoked bearer token"),
                        "403": _json(_ref("Error"), "A provider's token, for another provider's course"),
                        "404": _json(_ref("Error"), "No such course"),
                    },
                }
            },
            **staff_paths(),
            **settings_paths(),
        },
        "components": {
            "schemas": {**SCHEMAS, **STAFF_SCHEMAS, **SETTINGS_SCHEMAS},
            "securitySchemes": {
                "staffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff API token (flask create-api-token EMAIL); sent as Authorization: Bearer",
                }
            },
        },
    }
