"""The clinic's details and reminder policy as an admin last saved them.

Each save adds a version row; the newest is current. Pages, emails, SMS and calendar feeds
read the current details once per application context (a request, a worker job, one
message's delivery) through `current_details()`: one query at most, never one per string;
a save in the same context drops the cached copy. The reminder policy works the same way,
with the configuration (MESSAGE_SEND_WINDOW, REMINDER_*) as the default until an admin saves
one. A changed policy applies to messages planned from then on: reminders already planned
keep their times."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import phonenumbers
from flask import current_app, g
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from scheduler.domain.patient_details import has_control_chars
from scheduler.domain.reminders import Policy, parse_offsets, parse_window
from scheduler.extensions import db
from scheduler.models import ClinicInfoVersion, MessagePolicyVersion
from scheduler.services.clinic.contact import Disclaimer, PhoneNumber, disclaimer_source, parse_disclaimer, phone_number
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import ValidationFailed

log = logging.getLogger(__name__)
DETAILS_KEY = "_clinic_details"
POLICY_KEY = "_message_policy"
LANGUAGES = ("en", "es")
NAME_MAX, ADDRESS_MAX, PHONE_MAX, DISCLAIMER_MAX = 120, 300, 40, 5000
DETAIL_FIELDS = ("name", "office_phone", "cell_phone", "address", "disclaimer_en", "disclaimer_es")
POLICY_FIELDS = ("send_window", "email_offsets", "sms_offsets", "course_email_offsets", "course_sms_offsets")
# The configuration setting each policy field defaults to.
POLICY_SETTINGS = {
    "send_window": "MESSAGE_SEND_WINDOW",
    "email_offsets": "REMINDER_EMAIL_OFFSETS_HOURS",
    "sms_offsets": "REMINDER_SMS_OFFSETS_HOURS",
    "course_email_offsets": "COURSE_REMINDER_EMAIL_OFFSETS_HOURS",
    "course_sms_offsets": "COURSE_REMINDER_SMS_OFFSETS_HOURS",
}


@dataclass(frozen=True)
class ClinicDetails:
    version_id: int | None  # None only when no version exists yet (the configuration's values)
    name: str
    office: PhoneNumber
    cell: PhoneNumber
    address: str
    disclaimers: dict[str, Disclaimer]
    source: dict[str, str]  # the stored text of each field, for the edit form

    def disclaimer(self, language: str) -> Disclaimer:
        return self.disclaimers.get(language) or self.disclaimers["en"]


# ---------------------------------------------------------------- the clinic's details


def _details_from(values: dict[str, str], version_id: int | None) -> ClinicDetails:
    region = current_app.config["PHONE_REGION"]
    return ClinicDetails(
        version_id=version_id,
        name=values["name"],
        office=phone_number(values["office_phone"], region),
        cell=phone_number(values["cell_phone"], region),
        address=" ".join(values["address"].split()),
        disclaimers={lang: parse_disclaimer(values[f"disclaimer_{lang}"]) for lang in LANGUAGES},
        source=dict(values),
    )


def _configured_details() -> dict[str, str]:
    config = current_app.config
    return {
        "name": config["CLINIC_NAME"],
        "office_phone": config["CLINIC_OFFICE_PHONE"],
        "cell_phone": config["CLINIC_CELL_PHONE"],
        "address": config.get("CLINIC_ADDRESS") or "",
        **{f"disclaimer_{lang}": disclaimer_source(config["CLINIC_DISCLAIMER_FILE"], lang) for lang in LANGUAGES},
    }


def current_details() -> ClinicDetails:
    """The clinic's details as an admin last saved them (else the configuration's), read
    once per application context. Reads only."""
    cached = g.get(DETAILS_KEY)
    if cached is None:
        try:
            row = db.session.scalars(select(ClinicInfoVersion).order_by(ClinicInfoVersion.id.desc()).limit(1)).first()
        except SQLAlchemyError:
            # An error page for a database that cannot answer still shows the clinic's numbers.
            log.exception("clinic details unreadable: the configuration's are shown")
            return _details_from(_configured_details(), None)
        if row is None:
            cached = _details_from(_configured_details(), None)
        else:
            cached = _details_from({name: getattr(row, name) for name in DETAIL_FIELDS}, row.id)
        setattr(g, DETAILS_KEY, cached)
    return cached


def current_version_id() -> int:
    """For a new booking: the version of the details its patient was shown.

    A booking needs the id, not the details: unless this request already read them, only the
    id is asked for, and the reminder policy its messages are planned with comes back in the
    same round trip (kept for the request, as current_policy() keeps it).

    With no version yet (a database emptied after its migration seeded one), the
    configuration's values, which the patient was shown, become the first version in the
    booking's own transaction; the kept copy is dropped so that a rolled-back booking leaves
    no id behind that no longer exists. In the caller's transaction."""
    cached = g.get(DETAILS_KEY)
    if cached is not None:
        version_id = cached.version_id
    else:
        version_id, *policy_values = db.session.execute(_NEWEST_ID_AND_POLICY).one()
        if g.get(POLICY_KEY) is None:
            setattr(g, POLICY_KEY, _stored_policy(dict(zip(POLICY_FIELDS, policy_values, strict=True))))
    if version_id is not None:
        return version_id
    row = ClinicInfoVersion(created_at=now(), **_configured_details())
    db.session.add(row)
    db.session.flush()
    g.pop(DETAILS_KEY, None)
    return row.id


def details_version(version_id: int) -> ClinicInfoVersion | None:
    """One saved version of the clinic's details. Reads only."""
    return db.session.get(ClinicInfoVersion, version_id)


def details_history(limit: int = 20) -> list[ClinicInfoVersion]:
    """The newest saved versions of the clinic's details, newest first. Reads only."""
    return list(db.session.scalars(select(ClinicInfoVersion).order_by(ClinicInfoVersion.id.desc()).limit(limit)))


def _text(data: dict, name: str, limit: int, errors: dict, *, required: bool = True, multiline: bool = False) -> str:
    raw = str(data.get(name) or "")
    value = raw.replace("\r\n", "\n").strip() if multiline else " ".join(raw.split())
    if required and not value:
        errors[name] = "Required."
    elif len(value) > limit:
        errors[name] = f"At most {limit} characters."
    elif has_control_chars(value, allow_newlines=multiline):
        errors[name] = "Contains characters that cannot be shown."
    return value


def _phone(data: dict, name: str, errors: dict) -> str:
    value = _text(data, name, PHONE_MAX, errors)
    if name not in errors:
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(value, current_app.config["PHONE_REGION"]))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            errors[name] = "Not a valid phone number (for instance 915-850-0900)."
    return value


def _validated_details(data: dict) -> dict[str, str]:
    errors: dict[str, str] = {}
    values = {
        "name": _text(data, "name", NAME_MAX, errors),
        "office_phone": _phone(data, "office_phone", errors),
        "cell_phone": _phone(data, "cell_phone", errors),
        "address": _text(data, "address", ADDRESS_MAX, errors, required=False),
        **{f"disclaimer_{lang}": _text(data, f"disclaimer_{lang}", DISCLAIMER_MAX, errors, multiline=True)
           for lang in LANGUAGES},
    }
    if errors:
        raise ValidationFailed(errors)
    return values


def _add_details_version(values: dict[str, str], actor: audit.Actor) -> ClinicInfoVersion:
    row = ClinicInfoVersion(created_at=now(), created_by=actor.id, **values)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "clinic_info.saved", row, None, audit.snapshot(row, ("name", "office_phone", "cell_phone", "address")))
    g.pop(DETAILS_KEY, None)
    return row


def save_details(data: dict, *, actor: audit.Actor) -> ClinicInfoVersion:
    """A new version of the clinic's details; the newest is what every page shows from now on.
    Commits."""
    row = _add_details_version(_validated_details(data), actor)
    db.session.commit()
    g.pop(DETAILS_KEY, None)
    return row


def change_details(changes: dict, *, actor: audit.Actor) -> ClinicInfoVersion:
    """A new version of the current details with these fields changed, checked as an admin's
    save is (the demo clinic adds its address this way). In the caller's transaction."""
    return _add_details_version(_validated_details({**current_details().source, **changes}), actor)


# ---------------------------------------------------------------- the reminder policy


def _policy_of(values: dict[str, str]) -> tuple[Policy | None, dict[str, str]]:
    """The policy from the five fields, with one message per field that does not parse."""
    parsed, errors = {}, {}
    for name in POLICY_FIELDS:
        raw = " ".join(str(values.get(name) or "").split())
        if len(raw) > 100:
            errors[name] = "At most 100 characters."
            continue
        try:
            parsed[name] = parse_window(raw) if name == "send_window" else parse_offsets(raw)
        except ValueError as problem:
            errors[name] = str(problem)
    if errors:
        return None, errors
    return Policy(
        window=parsed["send_window"], email_offsets=parsed["email_offsets"], sms_offsets=parsed["sms_offsets"],
        course_email_offsets=parsed["course_email_offsets"], course_sms_offsets=parsed["course_sms_offsets"],
    ), {}


def _latest_policy_row() -> MessagePolicyVersion | None:
    return db.session.scalars(select(MessagePolicyVersion).order_by(MessagePolicyVersion.id.desc()).limit(1)).first()


# The newest details version's id and the newest saved policy's fields (NULL without one):
# what a booking reads of the versions, in one statement.
_NEWEST_ID_AND_POLICY = select(
    select(func.max(ClinicInfoVersion.id)).scalar_subquery(),
    *(
        select(getattr(MessagePolicyVersion, name)).order_by(MessagePolicyVersion.id.desc()).limit(1).scalar_subquery()
        for name in POLICY_FIELDS
    ),
)


def _stored_policy(values: dict[str, str | None]) -> Policy:
    """The saved policy with these fields, else (none saved) the configuration's."""
    if values["send_window"] is None:
        return current_app.extensions["message_policy"]
    stored, _errors = _policy_of(values)
    # Rows are validated on save; a bad one falls back, never fails a send.
    return stored or current_app.extensions["message_policy"]


def current_policy() -> Policy:
    """The admin's saved policy, else the configuration's (parsed at start-up). Reads only."""
    cached = g.get(POLICY_KEY)
    if cached is None:
        row = _latest_policy_row()
        cached = _stored_policy({name: getattr(row, name) if row is not None else None for name in POLICY_FIELDS})
        setattr(g, POLICY_KEY, cached)
    return cached


def policy_form_values() -> dict[str, str]:
    """The current policy in the notation the admin edits ("24,2", "08:00-21:00"). Reads only."""
    row = _latest_policy_row()
    if row is not None:
        return {name: getattr(row, name) for name in POLICY_FIELDS}
    return {name: str(current_app.config[setting]) for name, setting in POLICY_SETTINGS.items()}


def save_policy(data: dict, *, actor: audit.Actor) -> MessagePolicyVersion:
    """A new version of the reminder policy: messages planned from now on follow it. Commits."""
    values = {name: " ".join(str(data.get(name) or "").split()) for name in POLICY_FIELDS}
    _policy, errors = _policy_of(values)
    if errors:
        raise ValidationFailed(errors)
    row = MessagePolicyVersion(created_at=now(), created_by=actor.id, **values)
    db.session.add(row)
    db.session.flush()
    audit.record(actor, "message_policy.saved", row, None, dict(values))
    db.session.commit()
    g.pop(POLICY_KEY, None)
    return row
