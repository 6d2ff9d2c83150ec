"""Reading a YYYY-MM-DD field of a settings form or JSON body, with a message when it is wrong."""
from __future__ import annotations

import re
from datetime import date

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def parse_iso_day(raw: object, name: str, fields: dict[str, str], *, required: bool = True) -> date | None:
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
