"""iCalendar (RFC 5545) writer: plain event data in, `.ics` bytes out.

No Flask and no database here: scheduler/services/calendars/files.py decides what each file
says (language, links, which visits); this module only writes it safely:
- instants in UTC (a `Z` time needs no VTIMEZONE, and a visit crossing a daylight-saving
  change keeps its real instant; calendars show it in their own zone),
- every text value cleaned of control characters, so a CR/LF in a name or a setting can
  never start a property or a component of its own,
- ORGANIZER and ATTENDEE only as mailto: addresses, their CN without quotes or backslashes.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vText

from ..domain.patient_details import has_control_chars

Method = Literal["PUBLISH", "REQUEST", "CANCEL"]
METHODS: tuple[str, ...] = ("PUBLISH", "REQUEST", "CANCEL")
PRODID = "-//Clinic Scheduler//Appointments//EN"


def clean_text(text: str) -> str:
    """No control characters in calendar text: a CR/LF would let a value inject properties."""
    if has_control_chars(text):
        text = "".join(" " if has_control_chars(ch) else ch for ch in text)
    return " ".join(text.split())


def _clean_parameter(text: str) -> str:
    # A parameter value cannot carry a double quote at all (RFC 5545 3.2), and a backslash,
    # which is no escape there, makes readers (icalendar) swallow the next parameter.
    return clean_text(text).replace('"', "'").replace("\\", "/")


@dataclass(frozen=True)
class Person:
    email: str
    name: str = ""

    def address(self, **parameters: str) -> vCalAddress | None:
        email = "".join(clean_text(self.email).split())
        if "@" not in email or any(ch in email for ch in ':;,"<>\\'):
            return None
        address = vCalAddress(f"mailto:{email}")
        if self.name and _clean_parameter(self.name):
            address.params["CN"] = _clean_parameter(self.name)
        for key, value in parameters.items():
            address.params[key] = value
        return address


@dataclass(frozen=True)
class VisitEvent:
    """One visit as a calendar shows it. Text is written as given (after cleaning)."""

    uid: str
    start: datetime
    end: datetime
    stamp: datetime  # when this version of the visit was made (DTSTAMP, LAST-MODIFIED)
    sequence: int
    cancelled: bool
    summary: str
    location: str
    description: str
    url: str | None = None
    created: datetime | None = None
    alarm_before: timedelta | None = None  # a display alarm this long before the start
    alarm_text: str = ""


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("calendar times must carry their zone")
    return instant.astimezone(UTC)


def _event(visit: VisitEvent, organizer: Person | None, attendee: Person | None) -> Event:
    event = Event()
    event.add("uid", clean_text(visit.uid))
    event.add("dtstamp", _utc(visit.stamp))
    if visit.created is not None:
        event.add("created", _utc(visit.created))
    event.add("last-modified", _utc(visit.stamp))
    event.add("dtstart", _utc(visit.start))
    event.add("dtend", _utc(visit.end))
    event.add("sequence", max(0, int(visit.sequence)))
    event.add("status", "CANCELLED" if visit.cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if visit.cancelled else "OPAQUE")
    event.add("summary", vText(clean_text(visit.summary)))
    event.add("location", vText(clean_text(visit.location)))
    event.add("description", vText(clean_text(visit.description)))
    if visit.url:
        event.add("url", clean_text(visit.url).replace(" ", "%20"))
    if organizer is not None and (address := organizer.address()) is not None:
        event.add("organizer", address)
    if attendee is not None:
        address = attendee.address(ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="FALSE")
        if address is not None:
            event.add("attendee", address)
    if visit.alarm_before is not None and not visit.cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -visit.alarm_before)
        alarm.add("description", vText(clean_text(visit.alarm_text or visit.summary)))
        event.add_component(alarm)
    return event


def calendar_bytes(
    visits: Iterable[VisitEvent],
    *,
    method: Method | None,
    organizer: Person | None = None,
    attendee: Person | None = None,
    name: str | None = None,
    refresh: timedelta | None = None,
) -> bytes:
    """A VCALENDAR of the visits.

    `method` is the iTIP method (RFC 5546): PUBLISH for files and feeds, REQUEST for an
    invitation or an update, CANCEL to have a calendar remove the visits; None for a plain
    subscription feed. `attendee` (the patient) belongs only to REQUEST and CANCEL.
    `name` and `refresh` describe a subscribed feed (RFC 7986 NAME, REFRESH-INTERVAL).
    """
    if method is not None and method not in METHODS:
        raise ValueError(f"unknown iTIP method {method!r}")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method is not None:
        calendar.add("method", method)
    if name:
        calendar.add("name", vText(clean_text(name)))
        calendar.add("x-wr-calname", vText(clean_text(name)))
    if refresh is not None:
        calendar.add("refresh-interval", refresh, parameters={"VALUE": "DURATION"})
        # Outlook reads X-PUBLISHED-TTL only as a duration (PT1H); an X- property has no
        # known type, so it is written as one explicitly.
        calendar.add("x-published-ttl", vDuration(refresh))
    with_attendee = attendee if method in ("REQUEST", "CANCEL") else None
    for visit in visits:
        calendar.add_component(_event(visit, organizer, with_attendee))
    return calendar.to_ical()
