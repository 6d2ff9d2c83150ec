"""What every part of the OpenAPI document shares: shapes exactly as strict as the app (what
the input guard refuses in any text, dates the app takes, ids), the helpers that write
references, bodies and answers, and the answers many operations give."""
from __future__ import annotations

# Control (Cc) and format (Cf) characters, as unicodedata of this Python names them
# (tests/cross_cutting/test_input_defects.py checks the list against it). Names, notes and reasons refuse
# them (domain/patient_details.py: has_control_chars), and the input guard refuses U+FFFD-U+FFFF.
CONTROL_AND_FORMAT_RANGES = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x13438), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)
_UNREADABLE = ((0xFFFD, 0xFFFF),)
_LINE_BREAKS = {0x09, 0x0A, 0x0D}


def _character_class(ranges, *, except_points=frozenset()) -> str:
    """A regex class body (no brackets): \\u escapes in the Basic Multilingual Plane, the
    characters themselves above it (the one spelling both ECMA-262 and Python read alike)."""

    def one(point: int) -> str:
        return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)

    parts = []
    for first, last in ranges:
        points = [p for p in range(first, last + 1) if p not in except_points]
        # split a range where excepted points were taken out
        run: list[int] = []
        for point in points + [None]:
            if point is not None and (not run or point == run[-1] + 1):
                run.append(point)
                continue
            if run:
                parts.append(one(run[0]) if len(run) == 1 else f"{one(run[0])}-{one(run[-1])}")
            run = [point] if point is not None else []
    return "".join(parts)


_CONTROLS = _character_class(sorted(CONTROL_AND_FORMAT_RANGES + _UNREADABLE))
_CONTROLS_BUT_LINE_BREAKS = _character_class(sorted(CONTROL_AND_FORMAT_RANGES + _UNREADABLE), except_points=_LINE_BREAKS)
# What the input guard refuses in any key (line breaks too) and any string value
# (scheduler/domain/text_safety.py): C0 and C1 controls, DEL, bidi embeddings, overrides and
# isolates, U+FFFD to U+FFFF.
_GUARD_RANGES = ((0x0000, 0x001F), (0x007F, 0x009F), (0x202A, 0x202E), (0x2066, 0x2069), (0xFFFD, 0xFFFF))
GUARDED = _character_class(_GUARD_RANGES)
GUARDED_BUT_LINE_BREAKS = _character_class(_GUARD_RANGES, except_points=_LINE_BREAKS)
_LATIN_LETTER = "A-Za-z\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f"

DATE_TIME = {
    "type": "string",
    "format": "date-time",
    # Years 1900 to 2999 as for dates (year 0 is no date, and year 1 with an offset is before
    # the first instant Python has); months, days, hours and minutes in their ranges, so that
    # generated examples are mostly real times (the format is checked on top: no 31 February).
    "pattern": r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
               r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$",
    "description": "ISO-8601 with UTC offset",
}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
# Clinic-local dates from 1900 to 2999 (the years the app takes), ASCII digits.
DAY = {"type": "string", "format": "date",
       "pattern": "^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"}
LOCAL_DAY = {**DAY, "description": "Clinic-local date, YYYY-MM-DD"}
SLUG = {"type": "string", "minLength": 1, "maxLength": 60, "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"}
# Row ids: PostgreSQL integer keys (int4), as the URL converter takes them (scheduler.RowIdConverter).
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": 60,
    "pattern": f"^[^{_CONTROLS}]*[{_LATIN_LETTER}][^{_CONTROLS}]*$",
    "description": "At least one letter; no control or format characters",
}
FREE_TEXT = {"type": "string", "pattern": f"^[^{_CONTROLS_BUT_LINE_BREAKS}]*$",
             "description": "Line breaks allowed; no other control or format characters"}
PHONE = {
    "type": "string",
    # The spellings a US caller writes: 915-555-0123, (915) 555-0123, 1-915-555-0123, +1 915 555 0123
    "pattern": "^ *(\\+?1[ .-]?)?(\\([2-9][0-9]{2}\\) ?|[2-9][0-9]{2}[ .-]?)[2-9][0-9]{2}[ .-]?[0-9]{4} *$",
    "description": "A US mobile number, without an extension; stored as E.164",
}
# Free text that must say something: at least one character that is not a space.
REQUIRED_TEXT = {
    "type": "string",
    "minLength": 1,
    "pattern": f"^[^{_CONTROLS_BUT_LINE_BREAKS}]*[^\\s{_CONTROLS_BUT_LINE_BREAKS}][^{_CONTROLS_BUT_LINE_BREAKS}]*$",
    "description": "Not only spaces; line breaks allowed; no other control or format characters",
}
# Text in an address (a query parameter), as the input guard takes it (GUARDED); a search
# wants two characters that are not spaces.
SEARCH_TEXT = {
    "type": "string",
    "minLength": 2,
    "maxLength": 100,
    "pattern": f"^[^{GUARDED}]*[^\\s{GUARDED}][^{GUARDED}]*"
               f"[^\\s{GUARDED}][^{GUARDED}]*$",
}
# An appointment's status, in every answer about one.
STATUS = {"type": "string", "enum": ["booked", "confirmed", "checked_in", "completed", "no_show", "cancelled"]}
# What every answer about one appointment carries, public or staff.
VISIT_FIELDS = {
    "id": {"type": "integer"},
    "status": STATUS,
    "start": DATE_TIME,
    "end": DATE_TIME,
    "provider_id": {"type": "integer"},
}


# --- writing the document -------------------------------------------------------------


def ref(name: str) -> dict:
    """A reference to the schema of that name (components/schemas)."""
    return {"$ref": f"#/components/schemas/{name}"}


def json_response(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def request_body(name: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": ref(name)}}}


def id_param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description, "schema": ID}


SECURITY = [{"staffToken": []}]
INVALID = json_response(ref("ValidationFailed"), "Invalid input, one message per field")
RATE_LIMITED = json_response(ref("Error"), "Rate limited")
UNAUTHORIZED = json_response(ref("Error"), "Missing, unknown or revoked bearer token")
FORBIDDEN = json_response(ref("Error"), "The token's role may not act on this provider's calendar")
NOT_FOUND = json_response(ref("Error"), "No such appointment, patient or course")

# A patient's own fields as every request names them (a booking, the waitlist, the desk's
# new patient): written once, so the three can never drift apart.
PATIENT_FIELDS = {
    "first_name": NAME,
    "last_name": NAME,
    "phone": PHONE,
    "email": {"type": "string", "format": "email", "maxLength": 254},
    "sms_opt_in": {"type": "boolean", "default": False},
    "note": {**FREE_TEXT, "maxLength": 500},
}
