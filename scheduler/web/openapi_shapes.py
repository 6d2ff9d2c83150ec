"""Shapes every part of the OpenAPI document shares, exactly as strict as the app: what the
input guard refuses in any text, dates the app takes, ids."""
from __future__ import annotations

import sys
import unicodedata


def _character_class(excluded) -> str:
    """A regex class body (no brackets) naming the code points `excluded(ch)` is true for, as
    ranges; \\u escapes in the Basic Multilingual Plane, the characters themselves above it."""
    ranges: list[list[int]] = []
    for point in range(sys.maxunicode + 1):
        if 0xD800 <= point <= 0xDFFF or not excluded(chr(point)):
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])

    def one(point: int) -> str:
        return f"\\u{point:04x}" if point <= 0xFFFF else chr(point)

    return "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in ranges)


# What the input guard refuses in any text (scheduler/domain/text_safety.py) and what names,
# notes and reasons refuse on top (control and format characters), so the document says
# exactly what the app takes.
_UNREADABLE = {"\ufffd", "\ufffe", "\uffff"}
_CONTROLS = _character_class(lambda ch: unicodedata.category(ch) in ("Cc", "Cf") or ch in _UNREADABLE)
_CONTROLS_BUT_LINE_BREAKS = _character_class(
    lambda ch: (unicodedata.category(ch) in ("Cc", "Cf") or ch in _UNREADABLE) and ch not in "\t\n\r"
)
_LATIN_LETTER = "A-Za-z\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u024f"

DATE_TIME = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$",
    "description": "ISO-8601 with UTC offset",
}
# Clinic-local dates from 1900 to 2999 (the years the app takes), ASCII digits.
DAY = {"type": "string", "format": "date", "pattern": "^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}$"}
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
    "pattern": "^(\\+1 ?)?[2-9][0-9]{2}[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}$",
    "description": "A US mobile number, without an extension; stored as E.164",
}
# Free text that must say something: at least one character that is not a space.
REQUIRED_TEXT = {
    "type": "string",
    "minLength": 1,
    "pattern": f"^[^{_CONTROLS_BUT_LINE_BREAKS}]*[^\\s{_CONTROLS_BUT_LINE_BREAKS}][^{_CONTROLS_BUT_LINE_BREAKS}]*$",
    "description": "Not only spaces; line breaks allowed; no other control or format characters",
}
