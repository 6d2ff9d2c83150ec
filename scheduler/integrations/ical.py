"""iCalendar (.ics) for appointments: UTC instants, a stable UID, SEQUENCE on every change."""
from __future__ import annotations

import hashlib
import hmac
from datetime import UTC
from urllib.parse import urlparse

from flask import current_app
from flask_babel import gettext as _
from icalendar import Calendar, Event, vCalAddress

from ..domain.patient_details import has_control_chars
from ..models import Appointment, AppointmentStatus


def clean_text(text: str) -> str:
    """No control characters in calendar text: a CR/LF would let a value inject properties."""
    if has_control_chars(text):
        text = "".join(" " if has_control_chars(ch) else ch for ch in text)
    return " ".join(text.split())


def appointment_uid(appointment: Appointment) -> str:
    """Stable across changes (so calendars update in place), unguessable from the id."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"appointment:{appointment.id}".encode(), hashlib.sha256).hexdigest()[:32]
    host = urlparse(current_app.config["PUBLIC_BASE_URL"]).hostname or "scheduler.local"
    return f"{digest}@{host}"


def appointment_event(appointment: Appointment, manage_url: str) -> Event:
    config = current_app.config
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", appointment.updated_at.astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("sequence", appointment.ical_sequence)
    cancelled = appointment.status == AppointmentStatus.CANCELLED.value
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    # In the language the patient reads the page in; the service name is translated too.
    event.add("summary", clean_text(_("%(service)s - %(clinic)s", service=_(appointment.service.name),
                                      clinic=config["CLINIC_NAME"])))
    event.add("location", clean_text(config["CLINIC_NAME"]))
    # Minimum necessary: no clinical detail, just who to call and where to manage the visit.
    event.add(
        "description",
        clean_text(
            _(
                "With %(provider)s. See, move or cancel: %(link)s Office %(office)s, cell %(cell)s.",
                provider=appointment.provider.name,
                link=manage_url,
                office=config["CLINIC_OFFICE_PHONE"],
                cell=config["CLINIC_CELL_PHONE"],
            )
        ),
    )
    event.add("url", manage_url)
    return event


def appointment_calendar(appointment: Appointment, manage_url: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Clinic Scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(appointment_event(appointment, manage_url))
    return calendar.to_ical()




def appointment_invitation(appointment: Appointment, manage_url: str, method: str, attendee_email: str) -> bytes:
    """The calendar file an email carries (iTIP, RFC 5546): METHOD:REQUEST adds or updates the
    visit in the patient's calendar (same UID, higher SEQUENCE on every change), METHOD:CANCEL
    removes it."""
    config = current_app.config
    calendar = Calendar()
    calendar.add("prodid", "-//Clinic Scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = appointment_event(appointment, manage_url)
    if method == "CANCEL":
        event["status"] = "CANCELLED"
    organizer = vCalAddress(f"mailto:{config['MAIL_FROM']}")
    organizer.params["cn"] = clean_text(config["CLINIC_NAME"])
    event.add("organizer", organizer)
    if attendee_email:
        attendee = vCalAddress(f"mailto:{attendee_email}")
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["partstat"] = "ACCEPTED"
        event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical()


def course_calendar(visits: list[tuple[Appointment, str]]) -> bytes:
    """A course's visits (each with its private link) as one calendar to import."""
    calendar = Calendar()
    calendar.add("prodid", "-//Clinic Scheduler//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    for appointment, manage_url in visits:
        calendar.add_component(appointment_event(appointment, manage_url))
    return calendar.to_ical()
