"""The staff part of the OpenAPI document: changing appointments, patients, courses."""
from __future__ import annotations

DATE_TIME = {"type": "string", "format": "date-time", "description": "ISO-8601 with UTC offset"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
STATUS = {"type": "string", "enum": ["booked", "confirmed", "checked_in", "completed", "no_show", "cancelled"]}
SECURITY = [{"staffToken": []}]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


def _id_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": {"type": "integer"}}


UNAUTHORIZED = _json(_ref("Error"), "Missing, unknown or revoked bearer token")
FORBIDDEN = _json(_ref("Error"), "The token's role may not act on this provider's calendar")
NOT_FOUND = _json(_ref("Error"), "No such appointment, patient or course")
INVALID = _json(_ref("ValidationFailed"), "Invalid input, one message per field")

STAFF_SCHEMAS = {
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
        "required": ["start"],
        "properties": {
            "start": {**DATE_TIME, "description": "With an offset, or clinic wall time without one"},
            "provider_id": {"type": ["integer", "null"], "description": "Another provider; omit to keep the same"},
        },
    },
    "StaffStatusRequest": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["confirmed", "checked_in", "completed", "no_show"]}},
    },
    "StaffConflict": {
        "oneOf": [_ref("SlotUnavailable"), _ref("ChangeNotAllowed"), _ref("AlreadyBooked")],
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
        "properties": {"patients": {"type": "array", "maxItems": 25, "items": _ref("Patient")}},
    },
    "PatientCreate": {
        "allOf": [
            _ref("PatientInput"),
            {"type": "object", "properties": {"language": {"type": "string", "enum": ["en", "es"], "default": "en"}}},
        ]
    },
}

APPOINTMENT_ID = _id_param("appointment_id", "The appointment's id")


def _appointment_action(operation_id: str, summary: str, request: str, ok: str, conflicts: bool,
                        required: bool = True) -> dict:
    responses = {
        "200": _json(_ref("StaffVisit"), ok),
        "401": UNAUTHORIZED,
        "403": FORBIDDEN,
        "404": NOT_FOUND,
        "409": _json(_ref("StaffConflict") if conflicts else _ref("ChangeNotAllowed"),
                     "Taken (with the nearest open times), the patient is busy then, or not open"),
        "422": INVALID,
    }
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "security": SECURITY,
            "parameters": [APPOINTMENT_ID],
            "requestBody": _body(request, required),
            "responses": responses,
        }
    }


def staff_paths() -> dict:
    return {
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
                    {"name": "query", "in": "query", "required": True,
                     "schema": {"type": "string", "minLength": 2, "maxLength": 100}},
                ],
                "responses": {
                    "200": _json(_ref("PatientList"), "Up to 25 patients, by last name"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "422": INVALID,
                },
            },
            "post": {
                "operationId": "staffAddPatient",
                "summary": "Add a patient (the booking API's patient fields)",
                "security": SECURITY,
                "requestBody": _body("PatientCreate"),
                "responses": {
                    "201": _json(_ref("Patient"), "Added"),
                    "200": _json(_ref("Patient"), "The same person (mobile number and name) was already known"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "422": INVALID,
                },
            },
        },
    }
