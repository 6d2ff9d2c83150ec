"""Calendar files and feeds: what each `.ics` says, to whom, and the secret feed links.

- One visit (`visit_calendar_bytes`): the patient's "Add to calendar" file and the invitation
  an email carries (METHOD:REQUEST), or its cancellation (METHOD:CANCEL).
- One course of care (`course_calendar_bytes`): every visit of the course, cancelled ones with
  STATUS:CANCELLED so a calendar that has them drops them.
- A patient's private feed and a provider's staff feed, each behind its own secret URL.

Every visit keeps one UID in every file and feed, and its SEQUENCE is the appointment's
`ical_sequence` (raised by each move and cancel), so calendars update the event in place.
Patient text is in the patient's language and carries no clinical detail: no service or
therapy name, no note, no reason; just the clinic, the time, who to call and the private link.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import timedelta
from urllib.parse import urlparse

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from scheduler.extensions import db
from scheduler.integrations.ical import Method, Person, VisitEvent, calendar_bytes
from scheduler.models import Appointment, AppointmentStatus, Course, Patient, Provider
from scheduler.services.appointments.patient_changes import appointment_for_token
from scheduler.services.clinic.versions import current_details
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.common.errors import NotFound
from scheduler.services.common.tokens import new_secret, sha256_hex

ALARM_BEFORE = timedelta(hours=2)
# Feeds keep the last weeks too: a subscribed calendar deletes whatever a feed stops listing.
FEED_PAST_DAYS = 30
FEED_REFRESH = timedelta(hours=1)

PATIENT_FEED_PATH = "/feeds/patients/{token}.ics"
PROVIDER_FEED_PATH = "/feeds/providers/{token}.ics"
STAFF_DAY_PATH = "/staff/?date={day}"


# --- what the files say -------------------------------------------------------------------


def appointment_uid(appointment: Appointment) -> str:
    """Stable across changes (so calendars update in place), unguessable from the id. Reads only."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"appointment:{appointment.id}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{digest}@{_host()}"


def _host() -> str:
    return urlparse(current_app.config["PUBLIC_BASE_URL"]).hostname or "scheduler.local"


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def clinic_location() -> str:
    """The clinic's name, and its street address when it has one. Reads only."""
    details = current_details()
    return f"{details.name}, {details.address}" if details.address else details.name


def clinic_organizer() -> Person:
    """The clinic as the files' organizer: MAIL_FROM and the clinic's name. Reads only."""
    config = current_app.config
    return Person(config["MAIL_FROM"], current_details().name)


def _locale(language: str | None) -> str:
    """A catalogue locale for a patient's language ("es" -> "es_US"), English if unknown."""
    config = current_app.config
    if language not in config["LANGUAGES"]:
        language = config["BABEL_DEFAULT_LOCALE"]
    return config["LOCALE_REGIONS"].get(language, language)


def _course_sizes(course_ids: Iterable[int | None]) -> dict[int, int]:
    """The number of the last visit of each course ("visit 7 of 18"), in one query."""
    ids = {i for i in course_ids if i is not None}
    if not ids:
        return {}
    rows = db.session.execute(
        select(Appointment.course_id, func.max(Appointment.visit_number))
        .where(Appointment.course_id.in_(ids))
        .group_by(Appointment.course_id)
    )
    return {course_id: size for course_id, size in rows}


def _patient_summary(appointment: Appointment, sizes: dict[int, int]) -> str:
    clinic = current_details().name
    if appointment.course_id is not None and appointment.visit_number is not None:
        return _(
            "Visit %(number)d of %(total)d at %(clinic)s",
            number=appointment.visit_number,
            total=max(sizes.get(appointment.course_id, 0), appointment.visit_number),
            clinic=clinic,
        )
    return _("Appointment at %(clinic)s", clinic=clinic)


def _patient_event(appointment: Appointment, manage_url: str | None, sizes: dict[int, int]) -> VisitEvent:
    """As the patient sees it; call inside force_locale(the patient's language)."""
    details = current_details()
    cancelled = appointment.status == AppointmentStatus.CANCELLED.value
    if manage_url:
        description = _(
            "With %(provider)s. See, move or cancel: %(link)s Office %(office)s, cell %(cell)s.",
            provider=appointment.provider.name, link=manage_url,
            office=details.office.display, cell=details.cell.display,
        )
    else:
        description = _(
            "With %(provider)s. To move or cancel, use the link in your confirmation or call us. "
            "Office %(office)s, cell %(cell)s.",
            provider=appointment.provider.name,
            office=details.office.display, cell=details.cell.display,
        )
    if cancelled:
        description = _("Cancelled.") + " " + description
    summary = _patient_summary(appointment, sizes)
    return _visit_event(
        appointment, summary=summary, description=description, cancelled=cancelled,
        url=manage_url, alarm_before=ALARM_BEFORE, alarm_text=summary,
    )


def _staff_event(appointment: Appointment, sizes: dict[int, int]) -> VisitEvent:
    """For the provider's own calendar: who (first name and initial only: the feed leaves
    the clinic's systems), the visit number, and the day sheet that has the rest."""
    patient = appointment.patient
    who = f"{patient.first_name} {patient.last_name[:1]}.".strip()
    summary = who
    if appointment.course_id is not None and appointment.visit_number is not None:
        summary = _(
            "%(patient)s, visit %(number)d of %(total)d",
            patient=who, number=appointment.visit_number,
            total=max(sizes.get(appointment.course_id, 0), appointment.visit_number),
        )
    day = appointment.starts_at.astimezone(clinic_tz()).date().isoformat()
    cancelled = appointment.status == AppointmentStatus.CANCELLED.value
    description = _("Status: %(status)s. Day sheet: %(link)s", status=appointment.status.replace("_", " "),
                    link=_base_url() + STAFF_DAY_PATH.format(day=day))
    return _visit_event(appointment, summary=summary, description=description, cancelled=cancelled)


def _visit_event(appointment: Appointment, *, summary: str, description: str, cancelled: bool, **extra) -> VisitEvent:
    """The event of one visit: its stable UID, times, SEQUENCE and the clinic's place."""
    return VisitEvent(
        uid=appointment_uid(appointment),
        start=appointment.starts_at,
        end=appointment.ends_at,
        stamp=appointment.updated_at,
        created=appointment.created_at,
        sequence=appointment.ical_sequence,
        cancelled=cancelled,
        summary=summary,
        location=clinic_location(),
        description=description,
        **extra,
    )


def _attendee(patient: Patient) -> Person | None:
    return Person(patient.email, patient.full_name) if patient.email else None


def visit_calendar_bytes(
    appointment: Appointment, *, method: Method, language: str | None = None, manage_url: str | None = None
) -> bytes:
    """One visit: METHOD:PUBLISH for a download, REQUEST for a confirmation or an update sent
    by email, CANCEL for a cancellation. The clinic (MAIL_FROM) is the organizer; with
    REQUEST and CANCEL the patient, when they have an email address, is the attendee.
    `manage_url`, when known, is the patient's private link (the token itself is not stored).
    Reads only."""
    with force_locale(_locale(language or appointment.patient.language)):
        event = _patient_event(appointment, manage_url, _course_sizes([appointment.course_id]))
    return calendar_bytes(
        [event], method=method, organizer=clinic_organizer(), attendee=_attendee(appointment.patient)
    )


def download_method(appointment: Appointment) -> Method:
    """A downloaded file of a cancelled visit asks the calendar to remove it. Reads only."""
    return "CANCEL" if appointment.status == AppointmentStatus.CANCELLED.value else "PUBLISH"


def course_visits(course: Course) -> list[Appointment]:
    """Every visit of the course, cancelled ones too, in visit order. Reads only."""
    return list(
        db.session.scalars(
            select(Appointment)
            .options(joinedload(Appointment.provider), joinedload(Appointment.patient))
            .where(Appointment.course_id == course.id)
            .order_by(Appointment.visit_number, Appointment.starts_at, Appointment.id)
        )
    )


def course_calendar_bytes(
    course: Course, *, language: str | None = None, manage_url: str | None = None, method: Method = "PUBLISH"
) -> bytes:
    """Every visit of a course, cancelled ones included (STATUS:CANCELLED), as the patient
    sees them. `manage_url` is the private link the file was reached from, if any. Reads only."""
    visits = course_visits(course)
    sizes = _course_sizes([course.id])
    with force_locale(_locale(language or course.patient.language)):
        events = [_patient_event(visit, manage_url, sizes) for visit in visits]
        name = _("Visits at %(clinic)s", clinic=current_details().name)
    attendee = _attendee(course.patient)
    return calendar_bytes(events, method=method, organizer=clinic_organizer(), attendee=attendee, name=name)


def course_for_manage_token(token: str) -> tuple[Course, Appointment]:
    """The course of the visit a patient's private link opens (NotFound if it has none).
    Reads only."""
    appointment = appointment_for_token(token)
    if appointment.course_id is None:
        raise NotFound("This visit is not part of a course.")
    return db.session.get(Course, appointment.course_id), appointment


def _feed_window_start():
    return now() - timedelta(days=FEED_PAST_DAYS)


def patient_feed_bytes(patient: Patient) -> bytes:
    """The patient's visits from the last weeks on, cancelled ones marked as such. Reads only."""
    visits = list(
        db.session.scalars(
            select(Appointment)
            .options(joinedload(Appointment.provider))
            .where(Appointment.patient_id == patient.id, Appointment.ends_at >= _feed_window_start())
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    sizes = _course_sizes(v.course_id for v in visits)
    with force_locale(_locale(patient.language)):
        events = [_patient_event(visit, None, sizes) for visit in visits]
        name = _("Visits at %(clinic)s", clinic=current_details().name)
    return calendar_bytes(events, method="PUBLISH", organizer=clinic_organizer(), name=name, refresh=FEED_REFRESH)


def provider_feed_bytes(provider: Provider) -> bytes:
    """The provider's visits from the last weeks on, in the clinic's default language.
    Reads only."""
    visits = list(
        db.session.scalars(
            select(Appointment)
            .options(joinedload(Appointment.patient))
            .where(Appointment.provider_id == provider.id, Appointment.ends_at >= _feed_window_start())
            .order_by(Appointment.starts_at, Appointment.id)
        )
    )
    sizes = _course_sizes(v.course_id for v in visits)
    with force_locale(_locale(None)):
        events = [_staff_event(visit, sizes) for visit in visits]
        name = f"{provider.name} · {current_details().name}"
    return calendar_bytes(events, method="PUBLISH", organizer=clinic_organizer(), name=name, refresh=FEED_REFRESH)


# --- the secret feed links ----------------------------------------------------------------
#
# `feed_token_hash` holds a random key: the SHA-256 of a fresh secret. The URL carries that key
# with an HMAC of it under SECRET_KEY, so
# - the URL can be shown again whenever the patient opens their private page,
# - a copy of the database alone opens no feed (the HMAC needs SECRET_KEY),
# - replacing the key (a new secret) makes the old URL worthless at once.
# Lower-case hex only, so a token has exactly one spelling.

_PATIENT_PURPOSE = "patient-calendar-feed"
_PROVIDER_PURPOSE = "provider-calendar-feed"
_TOKEN = re.compile(r"([0-9a-f]{64})\.([0-9a-f]{32})")


def _signature(purpose: str, key: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{purpose}:{key}".encode(), hashlib.sha256).hexdigest()[:32]


def _token(purpose: str, key: str) -> str:
    return f"{key}.{_signature(purpose, key)}"


def _key_of(purpose: str, token: object) -> str | None:
    match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if match is None:
        return None
    key, signature = match.groups()
    return key if hmac.compare_digest(signature, _signature(purpose, key)) else None


def _new_key() -> str:
    return sha256_hex(new_secret())


def _webcal(url: str) -> str:
    return "webcal://" + url.split("://", 1)[1]


def patient_feed_url(patient: Patient, *, webcal: bool = False) -> str:
    """The patient's private feed URL (http(s)://, or webcal:// for "Subscribe").

    Creates the patient's feed key the first time and commits it; two requests doing so at
    once agree on one key. Commits the first time; reads only after."""
    if patient.feed_token_hash is None:
        db.session.execute(
            update(Patient)
            .where(Patient.id == patient.id, Patient.feed_token_hash.is_(None))
            .values(feed_token_hash=_new_key())
        )
        db.session.commit()
        db.session.refresh(patient)
    url = _base_url() + PATIENT_FEED_PATH.format(token=_token(_PATIENT_PURPOSE, patient.feed_token_hash))
    return _webcal(url) if webcal else url


def patient_webcal_url(patient: Patient) -> str:
    """patient_feed_url as webcal://, for "Subscribe".
    Commits the first time (the feed key); reads only after."""
    return patient_feed_url(patient, webcal=True)


def patient_for_feed_token(token: str) -> Patient:
    """The patient whose feed this token opens; NotFound otherwise. Reads only."""
    key = _key_of(_PATIENT_PURPOSE, token)
    patient = db.session.scalar(select(Patient).where(Patient.feed_token_hash == key)) if key else None
    if patient is None:
        raise NotFound("This calendar link is not valid.")
    return patient


def provider_feed_url(provider_id: int, *, rotate: bool = True) -> str:
    """The provider's staff feed URL. With `rotate` (the default) a new key replaces the old
    one, and the URL handed out before stops working. Commits when it issues a key."""
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("No such provider.")
    if rotate or provider.feed_token_hash is None:
        had_one = provider.feed_token_hash is not None
        provider.feed_token_hash = _new_key()
        audit.record(audit.SYSTEM, "provider.feed_link_issued", provider, None, {"replaced": had_one})
        db.session.commit()
    return _base_url() + PROVIDER_FEED_PATH.format(token=_token(_PROVIDER_PURPOSE, provider.feed_token_hash))


def provider_for_feed_token(token: str) -> Provider:
    """The provider whose staff feed this token opens; NotFound otherwise. Reads only."""
    key = _key_of(_PROVIDER_PURPOSE, token)
    provider = db.session.scalar(select(Provider).where(Provider.feed_token_hash == key)) if key else None
    if provider is None:
        raise NotFound("This calendar link is not valid.")
    return provider
