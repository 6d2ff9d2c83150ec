"""The desk calendar's JSON: EventCalendar's resources and events, in clinic wall time.

Times go out without an offset ("2026-12-01T09:00:00") and the calendar runs in UTC mode, so
it shows clinic time whatever the browser's zone, and sends back wall times the server reads
in the clinic's zone (refusing the skipped and repeated ones of a DST change)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.calendar_shading import Shade
from scheduler.models import Appointment, Provider

STATUS_LABELS = {
    "booked": "Booked", "confirmed": "Confirmed", "checked_in": "Checked in",
    "completed": "Completed", "no_show": "No-show", "cancelled": "Cancelled",
}
SOURCE_LABELS = {"online": "online", "desk": "front desk", "sms": "text message", "api": "website"}
EDITABLE_STATUSES = {"booked", "confirmed"}
SHORT_VISIT = timedelta(minutes=20)  # one grid line (15 minutes) is all it has
SHADE_LABELS = {"off_hours": "Not working", "time_off": "Time off", "closure": "Clinic closed"}


def wall(instant: datetime, tz: ZoneInfo) -> str:
    return instant.astimezone(tz).replace(tzinfo=None).isoformat(timespec="seconds")


def resource_json(provider: Provider) -> dict:
    return {"id": provider.id, "title": provider.name, "extendedProps": {"colour": provider.colour}}


def course_progress(appointment: Appointment, course_sizes: dict[int, int]) -> str:
    if appointment.course_id is None:
        return ""
    return f"visit {appointment.visit_number} of {course_sizes.get(appointment.course_id, appointment.visit_number)}"


def appointment_event(appointment: Appointment, colours: dict[int, str], course_sizes: dict[int, int], tz: ZoneInfo) -> dict:
    status = appointment.status
    title = f"{appointment.patient.full_name} · {appointment.service.name}"
    if status != "booked":
        title += f" ({STATUS_LABELS[status]})"
    return {
        "id": str(appointment.id),
        "resourceIds": [appointment.provider_id],
        "start": wall(appointment.starts_at, tz),
        "end": wall(appointment.ends_at, tz),
        "title": title,
        "editable": status in EDITABLE_STATUSES,
        "backgroundColor": colours.get(appointment.provider_id, "#2f6f9f"),
        # A short visit has room for one line: the patient's name, not the time the grid shows.
        "classNames": ["visit-event", f"status-{status}"]
        + (["visit-short"] if appointment.ends_at - appointment.starts_at <= SHORT_VISIT else []),
        "extendedProps": {
            "appointment_id": appointment.id,
            "status": status,
            "patient": appointment.patient.full_name,
            "service": appointment.service.slug,
            "course": course_progress(appointment, course_sizes),
        },
    }


def shade_event(shade: Shade, index: int, tz: ZoneInfo) -> dict:
    return {
        "id": f"shade-{index}",
        "resourceIds": [shade.provider_id],
        "start": wall(shade.start, tz),
        "end": wall(shade.end, tz),
        "display": "background",
        "title": shade.label or SHADE_LABELS[shade.kind],
        "classNames": [f"shade-{shade.kind.replace('_', '-')}"],
        "extendedProps": {"kind": shade.kind},
    }


def clinic_moment(instant: datetime, tz: ZoneInfo) -> str:
    """"Dec 1, 9:00 AM": a moment on the staff pages, in clinic time."""
    local = instant.astimezone(tz)
    hour = local.hour % 12 or 12
    return f"{local:%b} {local.day}, {hour}:{local:%M} {'AM' if local.hour < 12 else 'PM'}"


def audit_value(value: object, tz: ZoneInfo) -> str:
    """A value from the audit trail as the desk reads it: an instant (stored as ISO text in
    UTC) in clinic time, anything else as it is."""
    if isinstance(value, str) and "T" in value and len(value) >= 19:
        try:
            instant = datetime.fromisoformat(value)
        except ValueError:
            return value
        if instant.tzinfo is not None:
            return clinic_moment(instant, tz)
    return "" if value is None else str(value)


def audit_changes(before: dict | None, after: dict | None, tz: ZoneInfo) -> list[str]:
    """"starts_at: Dec 1, 9:00 AM → Dec 1, 10:00 AM": what one audit row changed."""
    if before and after:
        return [f"{key}: {audit_value(before.get(key), tz)} → {audit_value(value, tz)}"
                for key, value in after.items() if before.get(key) != value]
    return [f"{key}: {audit_value(value, tz)}" for key, value in (after or {}).items()]
