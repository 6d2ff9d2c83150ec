"""Checking what a patient typed: names, a US mobile number, an email address.

Messages are plain English marked with N_() for extraction; the web layer translates them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    return message


NAME_MAX = 60
NOTE_MAX = 500
_TEXTABLE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


class DetailsInvalid(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


@dataclass(frozen=True)
class PatientDetails:
    first_name: str
    last_name: str
    phone_e164: str
    email: str | None
    sms_opt_in: bool
    note: str = ""


def has_control_chars(text: str, *, allow_newlines: bool = False) -> bool:
    allowed = {"\n", "\r", "\t"} if allow_newlines else set()
    return any(unicodedata.category(ch) in {"Cc", "Cf"} and ch not in allowed for ch in text)


def check_name(raw: object) -> tuple[str | None, str | None]:
    """(clean name, None) or (None, error message)."""
    if not isinstance(raw, str) or not raw.strip():
        return None, N_("Please enter a name.")
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        return None, N_("Please use at most 60 characters.")
    if has_control_chars(raw):
        return None, N_("Please use letters, spaces, hyphens or apostrophes only.")
    if not any(ch.isalpha() for ch in name):
        return None, N_("Please enter a name with letters.")
    return name, None


_NOT_PHONE_WRITING = re.compile(r"[^0-9+\-. ()]")


def check_mobile(raw: object, region: str = "US") -> tuple[str | None, str | None]:
    """(E.164 number, None) or (None, error message) for a textable number of the region."""
    if not isinstance(raw, str) or not raw.strip():
        return None, N_("Please enter a mobile phone number.")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None, N_("That does not look like a phone number.")
    if number.extension:
        # A text message cannot reach an extension: refused rather than silently dropped.
        return None, N_("Please enter a mobile number without an extension.")
    if _NOT_PHONE_WRITING.search(raw.strip()):
        # The parser skips what it does not know ("*", "#"): it would take "915-555-0123*"
        # as a number; only digits and the usual separators write one.
        return None, N_("That does not look like a phone number.")
    if not phonenumbers.is_valid_number(number) or phonenumbers.region_code_for_number(number) != region:
        return None, N_("Please enter a valid US mobile number, for example 915-555-0123.")
    if phonenumbers.number_type(number) not in _TEXTABLE_TYPES:
        return None, N_("Please enter a mobile number (not toll-free or premium).")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def check_email(raw: object) -> tuple[str | None, str | None]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, N_("Please enter an email address.")
    if not isinstance(raw, str):
        return None, N_("Please enter a valid email address.")
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None, N_("Please enter a valid email address.")
    return result.normalized, None


EMAIL_OR_TEXTS = N_("Please enter an email address, or agree to text messages at your mobile number.")


def check_patient_details(data: dict, region: str = "US", *, email_optional_with_texts: bool = False) -> PatientDetails:
    """Validate everything at once so the patient sees every problem in one go. With
    `email_optional_with_texts` (booking a visit) the email may be left out when a mobile
    number with text consent is given: the patient is then told by text only."""
    errors: dict[str, str] = {}
    first, err = check_name(data.get("first_name"))
    if err:
        errors["first_name"] = err
    last, err = check_name(data.get("last_name"))
    if err:
        errors["last_name"] = err
    phone, err = check_mobile(data.get("phone"), region)
    if err:
        errors["phone"] = err
    opt_in = data.get("sms_opt_in", False)
    no_email = data.get("email") is None or (isinstance(data.get("email"), str) and not data["email"].strip())
    if email_optional_with_texts and no_email:
        email, err = None, (None if opt_in is True else EMAIL_OR_TEXTS)
    else:
        email, err = check_email(data.get("email"))
    if err:
        errors["email"] = err
    note = data.get("note") or ""
    if not isinstance(note, str):
        errors["note"] = N_("Please enter text.")
    elif len(note) > NOTE_MAX:
        errors["note"] = N_("Please keep the note under 500 characters.")
    elif has_control_chars(note, allow_newlines=True):
        errors["note"] = N_("The note contains characters that are not allowed.")
    if not isinstance(opt_in, bool):
        errors["sms_opt_in"] = N_("Must be true or false.")
    if errors:
        raise DetailsInvalid(errors)
    return PatientDetails(first, last, phone, email, opt_in, note.strip())  # type: ignore[arg-type]


@dataclass(frozen=True)
class Contact:
    """Where a patient asks us to send something: a mobile number (E.164) or an email."""

    channel: str  # "sms" or "email"
    address: str


def check_contact(raw: object, region: str = "US") -> tuple[Contact | None, str | None]:
    """A mobile number or an email address in one field ("send me my link")."""
    if not isinstance(raw, str) or not raw.strip():
        return None, N_("Please enter your mobile number or your email address.")
    if "@" in raw:
        email, err = check_email(raw)
        return (Contact("email", email), None) if email else (None, err)
    phone, err = check_mobile(raw, region)
    return (Contact("sms", phone), None) if phone else (None, err)
