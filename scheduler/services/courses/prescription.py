"""Reading a course prescription from a JSON body or a form: every bad field gets its message."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from scheduler.domain.courses import WEEKDAY_NAMES, Prescription
from scheduler.domain.patient_details import N_
from scheduler.extensions import db
from scheduler.models import Appointment, Patient, Provider, Service
from scheduler.services.appointments.booking_input import collect_errors, parse_start
from scheduler.services.availability.staff_times import check_staff_timing, staff_last_day
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import ValidationFailed

WEEKS_RANGE = (1, 12)
VISITS_RANGE = (1, 5)
GAP_RANGE = (0, 6)
DEFAULT_SERVICE = "therapy-session"
_HHMM = re.compile(r"(\d{1,2}):(\d{2})", re.ASCII)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class ChosenVisit:
    """A visit as the staff want it booked (a previewed one, possibly edited)."""

    start: datetime
    provider_id: int


@dataclass(frozen=True)
class CourseRequest:
    patient: Patient
    provider: Provider
    service: Service
    prescription: Prescription
    evaluation: Appointment | None
    preview: bool
    chosen: tuple[ChosenVisit, ...] | None  # None: book the plan as the planner makes it


def whole_number(raw: object) -> int | None:
    """A JSON integer (5, or 5.0: JSON Schema's integer too) or a form's ASCII digits; else None.
    Reads only."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        return int(raw.strip())
    return None


def parse_whole_number(raw: object, field: str, low: int, high: int, default: int | None = None) -> int:
    """A whole number from `low` to `high` (`default` when left out, if given);
    ValidationFailed on `field` otherwise. Reads only."""
    if raw is None or raw == "":
        if default is not None:
            return default
        raise ValidationFailed({field: N_("Required.")})
    value = whole_number(raw)
    if value is None or not low <= value <= high:
        raise ValidationFailed({field: N_("Use a whole number from %(low)d to %(high)d.") % {"low": low, "high": high}})
    return value


def _boolean(raw: object, field: str) -> bool:
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "on", "1", "yes"):
        return True
    if isinstance(raw, str) and raw.lower() in ("false", "off", "0", "no"):
        return False
    raise ValidationFailed({field: N_("Must be true or false.")})


def parse_hhmm(raw: object, field: str) -> time:
    """HH:MM as a clock time; ValidationFailed on `field` otherwise. Reads only."""
    match = _HHMM.fullmatch(raw.strip()) if isinstance(raw, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValidationFailed({field: N_("Use a time as HH:MM, for example 09:00.")})
    return time(int(match[1]), int(match[2]))


def parse_date(raw: object, field: str) -> date:
    """YYYY-MM-DD as a date; ValidationFailed on `field` otherwise. Reads only."""
    if not isinstance(raw, str) or not _ISO_DAY.fullmatch(raw.strip()):
        raise ValidationFailed({field: N_("Use a date as YYYY-MM-DD.")})
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise ValidationFailed({field: N_("Use a date as YYYY-MM-DD.")}) from None


def _weekdays(raw: object, visits_per_week: int | None) -> tuple[int, ...]:
    if raw is None or raw == [] or raw == "":
        return ()
    if isinstance(raw, str):
        raw = [part for part in re.split(r"[\s,]+", raw) if part]
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        raise ValidationFailed({"weekdays": N_("Give weekday names: mon, tue, wed, thu, fri, sat, sun.")})
    names = [d.strip().lower()[:3] if d.strip().lower() in _LONG_NAMES else d.strip().lower() for d in raw]
    unknown = [d for d in names if d not in WEEKDAY_NAMES]
    if unknown:
        raise ValidationFailed({"weekdays": N_("Unknown weekday. Use mon, tue, wed, thu, fri, sat or sun.")})
    days = tuple(sorted({WEEKDAY_NAMES.index(d) for d in names}))
    if len(days) != len(names):
        raise ValidationFailed({"weekdays": N_("Name each weekday once.")})
    if visits_per_week is not None and len(days) != visits_per_week:
        raise ValidationFailed({"weekdays": N_("Choose as many weekdays as visits per week.")})
    return days


_LONG_NAMES = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}


def _timing(data: dict, fields: dict[str, str]) -> tuple[time | None, tuple[time, time] | None]:
    raw_time, raw_window = data.get("time"), data.get("window")
    has_time = raw_time not in (None, "")
    has_window = raw_window not in (None, "", [], ["", ""])
    if has_time == has_window:
        message = N_("Give either a preferred time or a time window, not both.") if has_time else N_(
            "Give a preferred time or a time window.")
        fields["time"] = message
        fields["window"] = message
        return None, None
    if has_time:
        return collect_errors(fields, parse_hhmm, raw_time, "time"), None
    if not isinstance(raw_window, list) or len(raw_window) != 2:
        fields["window"] = N_("Give the window as two times, for example [\"08:00\", \"11:00\"].")
        return None, None
    opens = collect_errors(fields, parse_hhmm, raw_window[0], "window")
    closes = collect_errors(fields, parse_hhmm, raw_window[1], "window") if "window" not in fields else None
    if opens is not None and closes is not None and closes <= opens:
        fields["window"] = N_("The window must end after it starts.")
        return None, None
    return None, (opens, closes) if opens and closes else None


def find_patient(raw: object) -> Patient:
    """The patient with this id; ValidationFailed otherwise. Reads only."""
    number = whole_number(raw)
    patient = db.session.get(Patient, number) if number is not None and 0 < number < 2**31 else None
    if patient is None:
        raise ValidationFailed({"patient_id": N_("Unknown patient.")})
    return patient


def find_provider(raw: object, field: str = "provider_id") -> Provider:
    """The active provider with this id; ValidationFailed on `field` otherwise. Reads only."""
    number = whole_number(raw)
    provider = db.session.get(Provider, number) if number is not None and 0 < number < 2**31 else None
    if provider is None or not provider.active:
        raise ValidationFailed({field: N_("Unknown provider.")})
    return provider


def find_course_service(raw: object) -> Service:
    """The active service the course books (therapy sessions unless another is named);
    ValidationFailed otherwise. Reads only."""
    slug = DEFAULT_SERVICE if raw in (None, "") else raw
    service = None
    if isinstance(slug, str):
        service = db.session.scalar(select(Service).where(Service.slug == slug, Service.active.is_(True)))
    if service is None:
        raise ValidationFailed({"service": N_("Unknown service.")})
    return service


def _evaluation(raw: object, patient: Patient | None) -> Appointment | None:
    if raw in (None, ""):
        return None
    number = whole_number(raw)
    appointment = db.session.get(Appointment, number) if number is not None and 0 < number < 2**31 else None
    if appointment is None or (patient is not None and appointment.patient_id != patient.id):
        raise ValidationFailed({"evaluation_id": N_("Unknown evaluation for this patient.")})
    return appointment


def _chosen(raw: object, fields: dict[str, str]) -> tuple[ChosenVisit, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw or len(raw) > 12 * 5 * 2:
        fields["visits"] = N_("Give the visits to book as a list of {\"start\", \"provider_id\"}.")
        return None
    chosen = []
    for index, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            fields[f"visits.{index}"] = N_("Give the visit as {\"start\", \"provider_id\"}.")
            continue
        start = None
        try:
            start = parse_start(item.get("start"))
            check_staff_timing(start)
        except ValidationFailed as exc:
            fields[f"visits.{index}.start"] = exc.fields["start"]
        provider = collect_errors(local := {}, find_provider, item.get("provider_id"))
        if local:
            fields[f"visits.{index}.provider_id"] = local["provider_id"]
        if start is not None and provider is not None:
            chosen.append(ChosenVisit(start, provider.id))
    return tuple(sorted(chosen, key=lambda v: v.start))


def parse_course_request(data: object) -> CourseRequest:
    """Everything a course needs, or ValidationFailed naming every bad field at once. Reads only."""
    if not isinstance(data, dict):
        raise ValidationFailed({"body": N_("Send a JSON object with Content-Type: application/json.")})
    fields: dict[str, str] = {}
    patient = collect_errors(fields, find_patient, data.get("patient_id"))
    provider = collect_errors(fields, find_provider, data.get("provider_id"))
    service = collect_errors(fields, find_course_service, data.get("service"))
    first_day = collect_errors(fields, parse_date, data.get("first_date"), "first_date")
    weeks = collect_errors(fields, parse_whole_number, data.get("weeks"), "weeks", *WEEKS_RANGE, default=6)
    per_week = collect_errors(fields, parse_whole_number, data.get("visits_per_week"), "visits_per_week", *VISITS_RANGE)
    weekdays = collect_errors(fields, _weekdays, data.get("weekdays"), per_week)
    preferred, window = _timing(data, fields)
    gap = collect_errors(fields, parse_whole_number, data.get("min_gap_days"), "min_gap_days", *GAP_RANGE, default=1)
    other = collect_errors(fields, _boolean, data.get("allow_other_provider"), "allow_other_provider")
    preview = collect_errors(fields, _boolean, data.get("preview", True), "preview")
    evaluation = collect_errors(fields, _evaluation, data.get("evaluation_id"), patient)
    chosen = _chosen(data.get("visits"), fields)
    if first_day is not None:
        today = now().astimezone(clinic_tz()).date()
        if first_day < today:
            fields["first_date"] = N_("The first date has already passed.")
        elif first_day > staff_last_day() or (
                weeks is not None and first_day + timedelta(days=7 * weeks - 1) > staff_last_day()):
            fields["first_date"] = N_("Staff can plan up to a year ahead.")
    if fields:
        raise ValidationFailed(fields)
    prescription = Prescription(
        first_day=first_day, weeks=weeks, visits_per_week=per_week, weekdays=weekdays,
        preferred_time=preferred, window=window, min_gap_days=gap, allow_other_provider=other,
    )
    return CourseRequest(patient, provider, service, prescription, evaluation, preview, chosen)
