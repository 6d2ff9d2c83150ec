"""Reading what a booking request says: service, provider, start time, timing rules.

Each check raises ValidationFailed with a message per field; collect_errors gathers them so
the patient sees every problem at once.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, select

from scheduler.domain.patient_details import N_, DetailsInvalid
from scheduler.domain.wall_time import WallTimeError, to_instant
from scheduler.extensions import db
from scheduler.models import Provider, Service
from scheduler.services.availability.open_times import bookable_providers, last_day_for
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import ValidationFailed

# RFC 3339 date-time (offset optional: then it is clinic wall time), ASCII digits only.
# datetime.fromisoformat alone takes more: trailing NUL, full-width digits, week dates.
_ISO_INSTANT = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?", re.ASCII
)
_ASCII_ID = re.compile(r"[1-9][0-9]{0,17}", re.ASCII)


def parse_start(raw: object) -> datetime:
    """An ISO-8601 instant; without an offset it is read as clinic wall time. Reads only."""
    if not isinstance(raw, str) or not raw.strip():
        raise ValidationFailed({"start": N_("Please choose a time.")})
    match = _ISO_INSTANT.fullmatch(raw.strip())
    if match is None:
        raise ValidationFailed({"start": N_("That is not a valid date and time.")})
    day, clock_time, fraction, offset = match.groups()
    canonical = f"{day}T{clock_time}" + (f".{fraction[:6].ljust(6, '0')}" if fraction else "")
    canonical += "+00:00" if offset in ("Z", "z") else (offset or "")
    try:
        parsed = datetime.fromisoformat(canonical)
        if parsed.tzinfo is not None:
            return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: e.g. 9999-12-31T23:00-12:00 is past datetime.max
        raise ValidationFailed({"start": N_("That is not a valid date and time.")}) from None
    try:
        return to_instant(parsed.date(), parsed.time(), clinic_tz())
    except WallTimeError:
        raise ValidationFailed(
            {"start": N_("That local time is skipped or repeated by a daylight-saving change.")}
        ) from None
    except OverflowError:
        raise ValidationFailed({"start": N_("That is not a valid date and time.")}) from None


def parse_provider_id(raw: object) -> int | None:
    """None means "first available". Reads only."""
    if raw in (None, "", "any"):
        return None
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        # int() would quietly turn true into provider 1 and 1.5 into provider 1
        raise ValidationFailed({"provider_id": N_("Unknown provider.")})
    if isinstance(raw, str):
        # ASCII digits only: int() would read the full-width "１" as provider 1.
        if not _ASCII_ID.fullmatch(raw):
            raise ValidationFailed({"provider_id": N_("Unknown provider.")})
        return int(raw)
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValidationFailed({"provider_id": N_("Unknown provider.")}) from None


# Built once: every availability request and every booking looks its service up.
_ACTIVE_SERVICE = select(Service).where(Service.slug == bindparam("slug"), Service.active.is_(True))


def find_service(slug: object, *, online: bool) -> Service:
    """The active service with this slug (bookable online, if asked); ValidationFailed
    otherwise. Reads only."""
    service = None
    if isinstance(slug, str):
        service = db.session.scalar(_ACTIVE_SERVICE, {"slug": slug})
    if service is None:
        raise ValidationFailed({"service": N_("Unknown service.")})
    if online and not service.online_bookable:
        raise ValidationFailed({"service": N_("This service cannot be booked online. Please call us.")})
    return service


def choose_providers(provider_id: int | None, *, online: bool) -> list[Provider]:
    """The bookable providers to try: the one asked for, or every one (None: first
    available); ValidationFailed for an unknown one. Reads only."""
    if provider_id is not None and not 0 < provider_id < 2**31:  # no such id; the database's integer would overflow
        raise ValidationFailed({"provider_id": N_("Unknown provider.")})
    providers = bookable_providers(online_only=online, provider_id=provider_id)
    if not providers and provider_id is not None:
        raise ValidationFailed({"provider_id": N_("Unknown provider.")})
    return providers


def collect_errors(fields: dict[str, str], fn, *args, **kwargs):
    """Run one check; on failure add its messages to `fields` and return None.
    In the caller's transaction, as `fn` is."""
    try:
        return fn(*args, **kwargs)
    except ValidationFailed as exc:
        fields.update(exc.fields)
    except DetailsInvalid as exc:
        fields.update(exc.fields)
    return None


def check_timing(service: Service, start: datetime) -> None:
    """ValidationFailed unless `start` is ahead, after the service's minimum notice and
    within its online booking horizon (what a patient is held to). Reads only."""
    moment = now()
    if start <= moment:
        raise ValidationFailed({"start": N_("That time has already passed.")})
    if start < moment + timedelta(minutes=service.min_notice_minutes):
        raise ValidationFailed({"start": N_("That time is too soon to book online. Please call us.")})
    if start.astimezone(clinic_tz()).date() > last_day_for(service):
        raise ValidationFailed({"start": N_("That time is too far ahead to book yet.")})
