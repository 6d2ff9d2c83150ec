"""Reading a field of a settings form or JSON body (a row's id, a YYYY-MM-DD day, a
true/false flag), with a message in `fields` when it is wrong."""
from __future__ import annotations

import re
from datetime import date

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_ROW_ID = re.compile(r"[0-9]{1,10}")
MAX_ROW_ID = 2**31 - 1  # the database's integer key


def row_id(raw: object) -> int | None:
    """A row's id as a form or a JSON body names it: ASCII digits (or a JSON integer) within
    the database's key; None for anything else. str.isdigit() is not enough: it takes "²",
    which int() refuses, and "１" and "٣", which int() reads as 1 and 3. Reads only."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        number = raw
    elif isinstance(raw, str) and _ROW_ID.fullmatch(raw):
        number = int(raw)
    else:
        return None
    return number if 0 < number <= MAX_ROW_ID else None


def parse_iso_day(raw: object, name: str, fields: dict[str, str], *, required: bool = True) -> date | None:
    """A YYYY-MM-DD day between 1900 and 2999; None, with a message in `fields` when it is
    wrong (or missing and required). Reads only."""
    if raw in (None, ""):
        if required:
            fields[name] = "Required, as YYYY-MM-DD."
        return None
    if not isinstance(raw, str) or not _ISO_DAY.fullmatch(raw):
        fields[name] = "Use a date as YYYY-MM-DD."
        return None
    try:
        parsed = date.fromisoformat(raw)
    except ValueError:
        fields[name] = "Use a date as YYYY-MM-DD."
        return None
    if not date(1900, 1, 1) <= parsed <= date(2999, 12, 31):
        fields[name] = "Use a date as YYYY-MM-DD."
        return None
    return parsed


def parse_flag(raw: object, name: str, fields: dict[str, str]) -> bool:
    """A ticked box or a JSON boolean; anything else but false is a message (and False).
    Reads only."""
    if raw in (None, "", "false", "0", "off"):  # None: an unticked box, left out of the form
        return False
    if raw in (True, "true", "1", "on"):
        return True
    if raw is False:
        return False
    fields[name] = "Must be true or false."
    return False


def parse_optional_flag(data: dict, name: str, fields: dict[str, str]) -> bool:
    """A flag that may be left out (false); given, it is true or false, never null. Reads only."""
    if name in data and data[name] is None:
        fields[name] = "Must be true or false."
        return False
    return parse_flag(data.get(name, False), name, fields)
