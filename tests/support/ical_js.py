"""ical.js (the iCalendar parser of Mozilla Thunderbird, from npm) as a third, independent
reader of the calendar files, run by node on `ical_js_reader.mjs`.

`read_with_ical_js(body)` gives the calendar as ical.js reads it: each component's name, its
properties (name, value type, value or the error ical.js raised) and its components.
`check_value_types` holds one component to the value types calendar clients expect, and
`check_calendar_types(body)` the whole file.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta

from tests.support.helpers import ROOT, require_or_skip

READER = ROOT / "tests" / "support" / "ical_js_reader.mjs"
ICAL_JS = ROOT / "node_modules" / "ical.js" / "package.json"


def read_with_ical_js(body: bytes) -> dict:
    node = shutil.which("node")
    if node is None or not ICAL_JS.exists():
        require_or_skip("ical.js needs node and node_modules/ical.js (npm ci, done by scripts/setup)")
    done = subprocess.run([node, str(READER)], input=body, capture_output=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return json.loads(done.stdout)


# Every property we write, per component, with the value type a calendar client reads it as.
VALUE_TYPES = {
    "vcalendar": {"prodid": "text", "version": "text", "calscale": "text", "method": "text", "name": "text",
                  "x-wr-calname": "text", "refresh-interval": "duration", "x-published-ttl": "duration"},
    "vevent": {"uid": "text", "dtstamp": "date-time", "created": "date-time", "last-modified": "date-time",
               "dtstart": "date-time", "dtend": "date-time", "sequence": "integer", "status": "text",
               "transp": "text", "summary": "text", "location": "text", "description": "text", "url": "uri",
               "organizer": "cal-address", "attendee": "cal-address"},
    "valarm": {"action": "text", "trigger": "duration", "description": "text"},
}


def check_value_types(component: dict) -> dict[str, object]:
    """Each property of an ical.js component has its expected type and a value of that type."""
    expected = VALUE_TYPES[component["name"]]
    values = {}
    for prop in component["properties"]:
        name = prop["name"]
        assert name in expected, f"unexpected {name} in {component['name']}"
        assert prop["type"] == expected[name], prop
        assert "error" not in prop, prop
        assert prop["count"] == 1 and name not in values, prop
        value = prop["value"]
        if prop["type"] == "date-time":
            assert value["utc"] and not value["is_date"], prop  # UTC instants, no floating times
            value = datetime.fromisoformat(value["time"])
        elif prop["type"] == "duration":
            value = timedelta(seconds=value["seconds"])
            if name in ("refresh-interval", "x-published-ttl"):
                assert value > timedelta(0), prop
        elif prop["type"] == "integer":
            assert isinstance(value, int) and value >= 0, prop
        else:
            assert isinstance(value, str), prop
        values[name] = value
    return values


def check_calendar_types(body: bytes) -> dict:
    """Every component and property of the file, as ical.js reads it, has its expected type."""
    calendar = read_with_ical_js(body)
    assert calendar["name"] == "vcalendar"

    def walk(component: dict) -> None:
        check_value_types(component)
        for child in component["components"]:
            walk(child)

    walk(calendar)
    return calendar
