"""The courses part of the OpenAPI document: planning and booking a course of care, reading,
extending and cancelling it, changing its visits, and its calendar file."""
from __future__ import annotations

from scheduler.web.api.openapi.shapes import (
    DATE_TIME,
    DAY,
    FORBIDDEN,
    ID,
    INVALID,
    NOT_FOUND,
    NULLABLE_DATE_TIME,
    SECURITY,
    SLUG,
    STATUS,
    UNAUTHORIZED,
    id_param,
    json_response,
    ref,
    request_body,
)

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
            "visits": {"type": "array", "items": ref("PlannedVisit")},
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
            "visits": {"type": "array", "items": ref("CourseVisit")},
            "ics_url": {"type": "string", "format": "uri"},
            "feed_url": {"type": ["string", "null"], "format": "uri"},
        },
    },
    "CourseWithMakeUp": {
        "allOf": [
            ref("Course"),
            {"type": "object", "required": ["make_up"],
             "properties": {"make_up": {"type": "array", "items": ref("Slot"),
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
            "plan": ref("CoursePlan"),
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

COURSE_ID = id_param("course_id", "The course's id")
VISIT_NUMBER = id_param("number", "The visit's number in the course")


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
        operation["requestBody"] = request_body(request, request != "CancelRequest")
    return {method: operation}


def course_paths() -> dict:
    course = json_response(ref("Course"), "The whole course")
    refused = json_response(ref("ChangeNotAllowed"), "The course was cancelled, or the visit is not open")
    return {
        "/staff/courses": {
            "post": {
                "operationId": "staffPlanCourse",
                "summary": "Preview a course plan, or book it all or nothing",
                "security": SECURITY,
                "requestBody": request_body("CourseRequest"),
                "responses": {
                    "200": json_response(ref("CoursePlan"), "The plan (preview true)"),
                    "201": json_response(ref("Course"),
                                         "Booked (preview false); each visit's manage_url is given once"),
                    "401": UNAUTHORIZED,
                    "403": FORBIDDEN,
                    "409": json_response(ref("CourseConflict"), "A visit was taken since the preview: nothing was "
                                         "booked, a fresh plan is in the body"),
                    "422": INVALID,
                },
            }
        },
        "/staff/courses/{course_id}": _course_op("staffGetCourse", "A course with its visits and counts", None,
                                                 {"200": course}, method="get"),
        "/staff/courses/{course_id}/extend": _course_op(
            "staffExtendCourse", "Plan and book N more weeks like the first ones (all or nothing)", "ExtendRequest",
            {"200": course}, {"409": json_response({"oneOf": [ref("CourseConflict"), ref("ChangeNotAllowed")]},
                                                   "Taken meanwhile (nothing booked), or the course was cancelled"),
                              "422": INVALID}),
        "/staff/courses/{course_id}/cancel": _course_op(
            "staffCancelCourse", "Cancel the visits not yet begun; the course becomes cancelled", "CancelRequest",
            {"200": course}, {"409": refused, "422": INVALID}),
        "/staff/courses/{course_id}/make-up": _course_op(
            "staffAddMakeUpVisit", "Add one visit (a make-up) at a chosen time", "MakeUpRequest",
            {"201": json_response(ref("Course"), "Added; the new visit's manage_url is given once")},
            {"409": json_response({"oneOf": [ref("SlotUnavailable"), ref("ChangeNotAllowed")]}, "Taken, or cancelled"),
             "422": INVALID}),
        "/staff/courses/{course_id}/visits/{number}/cancel": _course_op(
            "staffCancelCourseVisit", "Cancel one visit; the answer offers make-up times", "CancelRequest",
            {"200": json_response(ref("CourseWithMakeUp"), "Cancelled, with make-up times")},
            {"409": refused, "422": INVALID}, params=(COURSE_ID, VISIT_NUMBER)),
        "/staff/courses/{course_id}/visits/{number}/reschedule-following": _course_op(
            "staffRescheduleFollowing", "Move this visit and every open one after it to a new time of their day",
            "FollowingRequest", {"200": course},
            {"409": json_response({"oneOf": [ref("CourseConflict"), ref("ChangeNotAllowed")]},
                                  "Some are taken at that time (nothing moved), or not open"),
             "422": INVALID}, params=(COURSE_ID, VISIT_NUMBER)),
        "/staff/courses/{course_id}.ics": {
            "get": {
                "operationId": "getStaffCourseCalendar",
                "summary": "A course of care as an iCalendar file: every visit, cancelled ones with "
                           "STATUS:CANCELLED, one stable UID per visit",
                "security": SECURITY,
                "parameters": [
                    {"name": "course_id", "in": "path", "required": True, "schema": ID},
                ],
                "responses": {
                    "200": {"description": "The course's visits (RFC 5545, METHOD:PUBLISH)",
                            "content": {"text/calendar": {"schema": {"type": "string"}}}},
                    "401": UNAUTHORIZED,
                    "403": json_response(ref("Error"), "A provider's token, for another provider's course"),
                    "404": json_response(ref("Error"), "No such course"),
                },
            }
        },
    }
