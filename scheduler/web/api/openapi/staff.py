"""The staff part of the OpenAPI document: the day's appointments, changing one, finding
and adding patients."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import (
    DATE_TIME,
    DAY,
    FORBIDDEN,
    ID,
    INVALID,
    NOT_FOUND,
    NULLABLE_DATE_TIME,
    PATIENT_FIELDS,
    SEARCH_TEXT,
    SECURITY,
    STATUS,
    UNAUTHORIZED,
    VISIT_FIELDS,
    id_param,
    json_response,
    ref,
    request_body,
)

STAFF_SCHEMAS = {
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
            "appointments": {"type": "array", "items": ref("StaffAppointment")},
        },
    },
    "StaffVisit": {
        "type": "object",
        "description": "One appointment as the staff see it",
        "required": ["id", "status", "start", "end", "provider_id", "service", "patient_id", "patient_name",
                     "source", "course_id", "visit_number", "moved_from", "cancel_reason"],
        "properties": {
            "id": {"type": "integer"},
            "status": STATUS,
            "start": DATE_TIME,
            "end": DATE_TIME,
            "provider_id": {"type": "integer"},
            "service": {"type": "string", "description": "Service slug"},
            "patient_id": {"type": "integer"},
            "patient_name": {"type": "string"},
            "source": {"type": "string", "enum": ["online", "desk", "sms", "api"]},
            "course_id": {"type": ["integer", "null"]},
            "visit_number": {"type": ["integer", "null"], "minimum": 1},
            "moved_from": {**NULLABLE_DATE_TIME, "description": "The start before the last move"},
            "cancel_reason": {"type": "string"},
        },
    },
    "StaffMoveRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["start"],
        "properties": {
            "start": DATE_TIME,
            "provider_id": {**ID, "type": ["integer", "null"], "description": "Another provider; omit to keep the same"},
        },
    },
    "StaffStatusRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["confirmed", "checked_in", "completed", "no_show"]}},
    },
    "StaffConflict": {
        "oneOf": [ref("SlotUnavailable"), ref("ChangeNotAllowed"), ref("AlreadyBooked")],
    },
    "Patient": {
        "type": "object",
        "required": ["id", "first_name", "last_name", "phone", "email", "language", "sms_consent"],
        "properties": {
            "id": {"type": "integer"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "phone": {"type": "string", "description": "E.164"},
            "email": {"type": ["string", "null"]},
            "language": {"type": "string", "enum": ["en", "es"]},
            "sms_consent": {"type": "boolean", "description": "Consented to texts and not opted out"},
        },
    },
    "PatientList": {
        "type": "object",
        "required": ["patients"],
        "properties": {"patients": {"type": "array", "maxItems": 25, "items": ref("Patient")}},
    },
    "PatientCreate": {
        "type": "object",
        "additionalProperties": False,
        "description": "The booking API's patient fields, and the language the patient's messages use",
        "required": ["first_name", "last_name", "phone", "email"],
        "properties": {
            **PATIENT_FIELDS,
            "language": {"type": "string", "enum": ["en", "es"], "default": "en"},
        },
    },
}

APPOINTMENT_ID = id_param("appointment_id", "The appointment's id")


def _appointment_action(operation_id: str, summary: str, request: str, ok: str, conflicts: bool,
                        required: bool = True) -> dict:
    responses = {
        "200": json_response(ref("StaffVisit"), ok),
        "401": UNAUTHORIZED,
        "403": FORBIDDEN,
        "404": NOT_FOUND,
        "409": json_response(ref("StaffConflict") if conflicts else ref("ChangeNotAllowed"),
                             "Taken (with the nearest open times), the patient is busy then, or not open"),
        "422": INVALID,
    }
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "security": SECURITY,
            "parameters": [APPOINTMENT_ID],
            "requestBody": request_body(request, required),
            "responses": responses,
        }
    }


def staff_paths() -> dict:
    return {
        "/staff/appointments": {
            "get": {
                "operationId": "listStaffAppointments",
                "summary": "The day's appointments, for the clinic's own tools",
                "security": SECURITY,
                "parameters": [
                    {"name": "date", "in": "query", "required": False,
                     "description": "Clinic-local date; today when absent", "schema": DAY},
                ],
                "responses": {
                    "200": json_response(ref("StaffDay"), "Appointments starting that day, in time order"),
                    "401": UNAUTHORIZED,
                    "422": INVALID,
                },
            }
        },
        "/staff/appointments/{appointment_id}/move": _appointment_action(
            "staffMoveAppointment",
            "Move one appointment (a course visit moves alone); no minimum notice for staff",
            "StaffMoveRequest", "Moved", conflicts=True,
        ),
        "/staff/appointments/{appointment_id}/cancel": _appointment_action(
            "staffCancelAppointment", "Cancel one appointment, whenever it is", "CancelRequest", "Cancelled",
            conflicts=False, required=False,
        ),
        "/staff/appointments/{appointment_id}/status": _appointment_action(
            "staffSetAppointmentStatus",
            "booked -> confirmed | checked_in | no_show; confirmed -> checked_in | no_show; "
            "checked_in -> completed (anything else is 422)",
            "StaffStatusRequest", "Status set", conflicts=False,
        ),
        "/staff/patients": {
            "get": {
                "operationId": "staffFindPatients",
                "summary": "Patients whose name, mobile number or email contains the text",
                "security": SECURITY,
                "parameters": [
                    {"name": "query", "in": "query", "required": True, "schema": SEARCH_TEXT},
                ],
                "responses": {
                    "200": json_response(ref("PatientList"), "Up to 25 patients, by last name"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "422": INVALID,
                },
            },
            "post": {
                "operationId": "staffAddPatient",
                "summary": "Add a patient (the booking API's patient fields)",
                "security": SECURITY,
                "requestBody": request_body("PatientCreate"),
                "responses": {
                    "201": json_response({"allOf": [ref("Patient"), {
                        "type": "object", "required": ["existing"],
                        "properties": {"existing": {
                            "type": "boolean",
                            "description": "true: the same person (mobile number and name) was already known; "
                                           "their record is answered and nothing new was made"}}}]},
                        "The patient"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "422": INVALID,
                },
            },
        },
    }
