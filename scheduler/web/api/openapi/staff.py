"""The staff part of the OpenAPI document: changing appointments, patients, courses."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import DATE_TIME, DAY, FREE_TEXT, ID, NAME, PHONE, SEARCH_TEXT, SLUG, STATUS

NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
SECURITY = [{"staffToken": []}]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(name: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


def _id_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": ID}


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
        "type": "object",
        "additionalProperties": False,
        "description": "The booking API's patient fields, and the language the patient's messages use",
        "required": ["first_name", "last_name", "phone", "email"],
        "properties": {
            "first_name": NAME,
            "last_name": NAME,
            "phone": PHONE,
            "email": {"type": "string", "format": "email", "maxLength": 254},
            "sms_opt_in": {"type": "boolean", "default": False},
            "note": {**FREE_TEXT, "maxLength": 500},
            "language": {"type": "string", "enum": ["en", "es"], "default": "en"},
        },
    },
}

HHMM = {"type": "string", "pattern": "^([01]?[0-9]|2[0-3]):[0-5][0-9]$", "description": "Clinic wall time, HH:MM"}
COURSE_STATUS = {"type": "string", "enum": ["planned", "active", "completed", "cancelled"]}

COURSE_SCHEMAS = {
    "CourseRequest": {
        "type": "object",
        "additionalProperties": False,
        "required": ["patient_id", "provider_id", "first_date", "visits_per_week"],
        "description": "Give either time or window. With preview false, `visits` (optional) are the "
        "visits to book exactly as previewed and edited; without it the plan made now is booked.",
        "oneOf": [{"required": ["time"], "not": {"required": ["window"]}},
                  {"required": ["window"], "not": {"required": ["time"]}}],
        "properties": {
            "patient_id": ID,
            "provider_id": ID,
            "service": {**SLUG, "default": "therapy-session", "description": "Service slug"},
            "first_date": {**DAY, "description": "Clinic-local; week 1 starts on it"},
            "weeks": {"type": "integer", "minimum": 1, "maximum": 12, "default": 6},
            "visits_per_week": {"type": "integer", "minimum": 1, "maximum": 5},
            "weekdays": {
                "type": "array", "uniqueItems": True, "maxItems": 5,
                "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]},
                "description": "As many as visits_per_week; omit to spread the visits over Monday to Friday",
            },
            "time": HHMM,
            "window": {"type": "array", "items": HHMM, "minItems": 2, "maxItems": 2,
                       "description": "[opens, closes]: each visit lies wholly inside it"},
            "min_gap_days": {"type": "integer", "minimum": 0, "maximum": 6, "default": 1},
            "allow_other_provider": {"type": "boolean", "default": False},
            "evaluation_id": {**ID, "type": ["integer", "null"], "description": "The evaluation the course follows"},
            "preview": {"type": "boolean", "default": True},
            "visits": {
                "type": "array", "minItems": 1, "maxItems": 120,
                "items": {"type": "object", "additionalProperties": False, "required": ["start", "provider_id"],
                          "properties": {"start": DATE_TIME, "provider_id": ID}},
            },
        },
    },
    "PlannedVisit": {
        "type": "object",
        "required": ["number", "week", "preferred_date", "start", "end", "provider_id", "status", "reason"],
        "properties": {
            "number": {"type": "integer", "minimum": 1},
            "week": {"type": "integer", "minimum": 1},
            "preferred_date": {"type": "string", "format": "date"},
            "start": NULLABLE_DATE_TIME,
            "end": NULLABLE_DATE_TIME,
            "provider_id": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": ["as_requested", "moved", "unplaceable"]},
            "reason": {"type": ["string", "null"], "description": "Why it moved, or why it cannot be placed"},
        },
    },
    "CoursePlan": {
        "type": "object",
        "required": ["status", "visits", "ics_url", "feed_url"],
        "properties": {
            "status": {"const": "preview"},
            "visits": {"type": "array", "items": _ref("PlannedVisit")},
            "ics_url": {"type": "null"},
            "feed_url": {"type": "null"},
        },
    },
    "CourseVisit": {
        "type": "object",
        "required": ["number", "appointment_id", "start", "end", "provider_id", "status", "reason"],
        "properties": {
            "number": {"type": "integer", "minimum": 1},
            "appointment_id": {"type": "integer"},
            "start": DATE_TIME,
            "end": DATE_TIME,
            "provider_id": {"type": "integer"},
            "status": STATUS,
            "reason": {"type": ["string", "null"], "description": "The cancellation reason, if any"},
            "manage_url": {"type": "string", "format": "uri",
                           "description": "The patient's private link; only in the answer that booked the visit"},
        },
    },
    "Course": {
        "type": "object",
        "required": ["id", "status", "patient_id", "provider_id", "service", "evaluation_id", "first_date", "weeks",
                     "visits_per_week", "counts", "visits", "ics_url", "feed_url"],
        "properties": {
            "id": {"type": "integer"},
            "status": COURSE_STATUS,
            "patient_id": {"type": "integer"},
            "provider_id": {"type": "integer"},
            "service": {"type": "string"},
            "evaluation_id": {"type": ["integer", "null"]},
            "first_date": {"type": "string", "format": "date"},
            "weeks": {"type": "integer", "minimum": 1},
            "visits_per_week": {"type": "integer", "minimum": 1},
            "counts": {
                "type": "object",
                "required": ["attended", "no_show", "cancelled", "remaining"],
                "properties": {k: {"type": "integer", "minimum": 0}
                               for k in ("attended", "no_show", "cancelled", "remaining")},
            },
            "visits": {"type": "array", "items": _ref("CourseVisit")},
            "ics_url": {"type": "string", "format": "uri"},
            "feed_url": {"type": ["string", "null"], "format": "uri"},
        },
    },
    "CourseWithMakeUp": {
        "allOf": [
            _ref("Course"),
            {"type": "object", "required": ["make_up"],
             "properties": {"make_up": {"type": "array", "items": _ref("Slot"),
                                        "description": "Open times in the same week, then one after the end"}}},
        ]
    },
    "CourseConflict": {
        "type": "object",
        "required": ["error", "message", "taken"],
        "properties": {
            "error": {"const": "slot_unavailable"},
            "message": {"type": "string"},
            "taken": {"type": "array", "items": {"type": "integer"}, "description": "Numbers of the refused visits"},
            "plan": _ref("CoursePlan"),
        },
    },
    "ExtendRequest": {
        "type": "object", "additionalProperties": False, "required": ["weeks"],
        "properties": {"weeks": {"type": "integer", "minimum": 1, "maximum": 12}},
    },
    "MakeUpRequest": {
        "type": "object", "additionalProperties": False, "required": ["start"],
        "properties": {"start": DATE_TIME, "provider_id": {**ID, "type": ["integer", "null"]}},
    },
    "FollowingRequest": {"type": "object", "additionalProperties": False, "required": ["time"],
                         "properties": {"time": HHMM}},
}
STAFF_SCHEMAS.update(COURSE_SCHEMAS)

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


COURSE_ID = _id_param("course_id", "The course's id")
VISIT_NUMBER = _id_param("number", "The visit's number in the course")


def _course_op(operation_id: str, summary: str, request: str | None, ok: dict, extra: dict | None = None,
               params: tuple = (COURSE_ID,), method: str = "post") -> dict:
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "security": SECURITY,
        "parameters": list(params),
        "responses": {**ok, "401": UNAUTHORIZED, "403": FORBIDDEN, "404": NOT_FOUND, **(extra or {})},
    }
    if request:
        operation["requestBody"] = _body(request, request != "CancelRequest")
    return {method: operation}


def course_paths() -> dict:
    course = _json(_ref("Course"), "The whole course")
    refused = _json(_ref("ChangeNotAllowed"), "The course was cancelled, or the visit is not open")
    return {
        "/staff/courses": {
            "post": {
                "operationId": "staffPlanCourse",
                "summary": "Preview a course plan, or book it all or nothing",
                "security": SECURITY,
                "requestBody": _body("CourseRequest"),
                "responses": {
                    "200": _json(_ref("CoursePlan"), "The plan (preview true)"),
                    "201": _json(_ref("Course"), "Booked (preview false); each visit's manage_url is given once"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "409": _json(_ref("CourseConflict"), "A visit was taken since the preview: nothing was "
                                 "booked, a fresh plan is in the body"),
                    "422": INVALID,
                },
            }
        },
        "/staff/courses/{course_id}": _course_op("staffGetCourse", "A course with its visits and counts", None,
                                                 {"200": course}, method="get"),
        "/staff/courses/{course_id}/extend": _course_op(
            "staffExtendCourse", "Plan and book N more weeks like the first ones (all or nothing)", "ExtendRequest",
            {"200": course}, {"409": _json({"oneOf": [_ref("CourseConflict"), _ref("ChangeNotAllowed")]},
                                           "Taken meanwhile (nothing booked), or the course was cancelled"),
                              "422": INVALID}),
        "/staff/courses/{course_id}/cancel": _course_op(
            "staffCancelCourse", "Cancel the visits not yet begun; the course becomes cancelled", "CancelRequest",
            {"200": course}, {"409": refused, "422": INVALID}),
        "/staff/courses/{course_id}/make-up": _course_op(
            "staffAddMakeUpVisit", "Add one visit (a make-up) at a chosen time", "MakeUpRequest",
            {"201": _json(_ref("Course"), "Added; the new visit's manage_url is given once")},
            {"409": _json({"oneOf": [_ref("SlotUnavailable"), _ref("ChangeNotAllowed")]}, "Taken, or cancelled"),
             "422": INVALID}),
        "/staff/courses/{course_id}/visits/{number}/cancel": _course_op(
            "staffCancelCourseVisit", "Cancel one visit; the answer offers make-up times", "CancelRequest",
            {"200": _json(_ref("CourseWithMakeUp"), "Cancelled, with make-up times")},
            {"409": refused, "422": INVALID}, params=(COURSE_ID, VISIT_NUMBER)),
        "/staff/courses/{course_id}/visits/{number}/reschedule-following": _course_op(
            "staffRescheduleFollowing", "Move this visit and every open one after it to a new time of their day",
            "FollowingRequest", {"200": course},
            {"409": _json({"oneOf": [_ref("CourseConflict"), _ref("ChangeNotAllowed")]},
                          "Some are taken at that time (nothing moved), or not open"),
             "422": INVALID}, params=(COURSE_ID, VISIT_NUMBER)),
    }


def staff_paths() -> dict:
    return {
        **course_paths(),
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
                    "201": _json({"allOf": [_ref("Patient"), {
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
