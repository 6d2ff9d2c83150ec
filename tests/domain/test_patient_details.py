"""What a patient types: names, a US mobile number, an email address and a note."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.patient_details import (
    NAME_MAX,
    NOTE_MAX,
    DetailsInvalid,
    PatientDetails,
    check_email,
    check_mobile,
    check_name,
    check_patient_details,
)


def details(**overrides) -> dict:
    data = {
        "first_name": "Ana",
        "last_name": "Garcia",
        "phone": "915-555-0123",
        "email": "ana@example.com",
        "sms_opt_in": True,
    }
    data.update(overrides)
    return data


def errors_for(**overrides) -> dict[str, str]:
    with pytest.raises(DetailsInvalid) as caught:
        check_patient_details(details(**overrides))
    return caught.value.fields


# ------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Ana", "Ana"),
        ("  Ana   María  ", "Ana María"),
        ("O'Brien-Smith", "O'Brien-Smith"),
        ("José", "José"),
        ("Nguyễn", "Nguyễn"),
        ("a" * NAME_MAX, "a" * NAME_MAX),
        ("Ana" + " " * 100 + "Lee", "Ana Lee"),  # length counts the tidied name
    ],
)
def test_good_names_are_tidied(raw, clean):
    assert check_name(raw) == (clean, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Please enter a name."),
        ("   ", "Please enter a name."),
        (None, "Please enter a name."),
        (42, "Please enter a name."),
        ("a" * (NAME_MAX + 1), "Please use at most 60 characters."),
        ("Ana\x00", "Please use letters, spaces, hyphens or apostrophes only."),
        ("Ana\u202eaicraG", "Please use letters, spaces, hyphens or apostrophes only."),  # right-to-left override
        ("Ana\r\nGarcia", "Please use letters, spaces, hyphens or apostrophes only."),
        ("Ana\tGarcia", "Please use letters, spaces, hyphens or apostrophes only."),
        ("Ana\u200bGarcia", "Please use letters, spaces, hyphens or apostrophes only."),  # zero-width space
        ("Ana\x1b[31m", "Please use letters, spaces, hyphens or apostrophes only."),
        ("---", "Please enter a name with letters."),
        ("'.,;!?", "Please enter a name with letters."),
        ("12345", "Please enter a name with letters."),
    ],
)
def test_bad_names_are_refused(raw, message):
    assert check_name(raw) == (None, message)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_accepted_name_is_clean_and_stable(raw):
    name, error = check_name(raw)
    assert (name is None) != (error is None)
    if name is None:
        return
    assert 0 < len(name) <= NAME_MAX
    assert name == " ".join(name.split())  # trimmed, single spaces
    assert any(ch.isalpha() for ch in name)
    assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in name)
    assert check_name(name) == (name, None)


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=20), st.sampled_from(["\x00", "\x07", "\u202e", "\u200f", "\r", "\n", "\ufeff"]))
def test_a_control_or_format_character_anywhere_is_refused(text, bad):
    for raw in (bad + text, text + bad, text[:1] + bad + text[1:]):
        assert check_name(raw)[0] is None


# ---------------------------------------------------------- mobile numbers


@pytest.mark.parametrize(
    "raw",
    [
        "915-555-0123",
        "(915) 555-0123",
        "915.555.0123",
        "915 555 0123",
        "9155550123",
        "1-915-555-0123",
        "+1 915 555 0123",
        "+19155550123",
        "  915-555-0123  ",
    ],
)
def test_us_mobile_formats_normalise_to_e164(raw):
    assert check_mobile(raw) == ("+19155550123", None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Please enter a mobile phone number."),
        ("  ", "Please enter a mobile phone number."),
        (None, "Please enter a mobile phone number."),
        (9155550123, "Please enter a mobile phone number."),
        ("call me", "That does not look like a phone number."),
        ("+1 786247 2878*", "That does not look like a phone number."),  # the parser skipped the "*"
        ("555-0123", "Please enter a valid US mobile number, for example 915-555-0123."),  # no area code
        ("915-555-012", "Please enter a valid US mobile number, for example 915-555-0123."),
        ("915-555-01234", "Please enter a valid US mobile number, for example 915-555-0123."),
        ("911", "Please enter a valid US mobile number, for example 915-555-0123."),
        ("+44 7700 900123", "Please enter a valid US mobile number, for example 915-555-0123."),  # UK
        ("+52 656 123 4567", "Please enter a valid US mobile number, for example 915-555-0123."),  # Juárez
        ("+1 416 555 0123", "Please enter a valid US mobile number, for example 915-555-0123."),  # Toronto: +1, not US
        ("800-555-0123", "Please enter a mobile number (not toll-free or premium)."),
        ("+1 (888) 555-0199", "Please enter a mobile number (not toll-free or premium)."),
        ("900-555-0123", "Please enter a mobile number (not toll-free or premium)."),
    ],
)
def test_bad_or_non_us_or_toll_free_numbers_are_refused(raw, message):
    assert check_mobile(raw) == (None, message)


AREA_CODES = ["915", "575", "505", "303", "720", "212", "512", "213"]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(AREA_CODES),
    st.integers(200, 999).filter(lambda n: n % 100 != 11),  # exchanges never start 0/1 or are N11
    st.integers(0, 9999),
)
def test_every_way_of_writing_a_number_gives_the_same_answer(area, exchange, line):
    digits = f"{area}{exchange}{line:04d}"
    spellings = [
        digits,
        f"{area}-{exchange}-{line:04d}",
        f"({area}) {exchange}-{line:04d}",
        f"{area}.{exchange}.{line:04d}",
        f"+1 {area} {exchange} {line:04d}",
        f"1{digits}",
    ]
    answers = {check_mobile(raw) for raw in spellings}
    assert len(answers) == 1
    (number, error), = answers
    if error is None:
        assert number == "+1" + digits


# ------------------------------------------------------------------ emails


def test_email_is_trimmed_and_domain_lowercased():
    assert check_email("  Ana.Garcia@Example.COM ") == ("Ana.Garcia@example.com", None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "Please enter an email address."),
        ("", "Please enter an email address."),
        ("   ", "Please enter an email address."),
        (["ana@example.com"], "Please enter a valid email address."),
        ("ana", "Please enter a valid email address."),
        ("ana@", "Please enter a valid email address."),
        ("@example.com", "Please enter a valid email address."),
        ("ana garcia@example.com", "Please enter a valid email address."),
        ("ana@example", "Please enter a valid email address."),
        ("ana@@example.com", "Please enter a valid email address."),
        ("ana@exa_mple.com", "Please enter a valid email address."),
    ],
)
def test_bad_emails_are_refused(raw, message):
    assert check_email(raw) == (None, message)


# -------------------------------------------------------- the whole form


def test_good_details_come_back_clean():
    result = check_patient_details(
        details(first_name=" Ana ", phone="(915) 555-0123", email="ANA@EXAMPLE.COM", note="  Left knee \r\n since May ")
    )
    assert result == PatientDetails("Ana", "Garcia", "+19155550123", "ANA@example.com", True, "Left knee \r\n since May")


def test_opt_in_defaults_to_false_and_note_to_empty():
    data = details()
    del data["sms_opt_in"]
    result = check_patient_details(data)
    assert result.sms_opt_in is False
    assert result.note == ""


def test_note_length_limit():
    assert check_patient_details(details(note="x" * NOTE_MAX)).note == "x" * NOTE_MAX
    assert errors_for(note="x" * (NOTE_MAX + 1)) == {"note": "Please keep the note under 500 characters."}


@pytest.mark.parametrize("bad", ["\x00", "\u202e", "\x1b", "\u200b"])
def test_note_allows_line_breaks_but_not_other_control_characters(bad):
    assert check_patient_details(details(note="Line one\r\nLine two\tend")).note == "Line one\r\nLine two\tend"
    assert errors_for(note=f"Hello{bad}there") == {"note": "The note contains characters that are not allowed."}


def test_note_and_opt_in_types():
    assert errors_for(note=["a list"]) == {"note": "Please enter text."}
    assert errors_for(sms_opt_in="yes") == {"sms_opt_in": "Must be true or false."}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("first_name", "\x00"),
        ("last_name", "-" * 3),
        ("phone", "800-555-0123"),
        ("email", "nope"),
        ("note", "n" * 501),
        ("sms_opt_in", 1),
    ],
)
def test_each_error_is_keyed_by_its_field(field, value):
    fields = errors_for(**{field: value})
    assert list(fields) == [field]
    assert fields[field]


def test_all_errors_are_reported_together():
    with pytest.raises(DetailsInvalid) as caught:
        check_patient_details(
            {
                "first_name": "",
                "last_name": "x" * 61,
                "phone": "+44 7700 900123",
                "email": "ana@",
                "note": "\u202e" * 3,
                "sms_opt_in": "on",
            }
        )
    fields = caught.value.fields
    assert fields == {
        "first_name": "Please enter a name.",
        "last_name": "Please use at most 60 characters.",
        "phone": "Please enter a valid US mobile number, for example 915-555-0123.",
        "email": "Please enter a valid email address.",
        "note": "The note contains characters that are not allowed.",
        "sms_opt_in": "Must be true or false.",
    }
    assert isinstance(caught.value, ValueError)
    for field in fields:
        assert field in str(caught.value)


def test_an_empty_form_names_every_required_field():
    assert set(errors_for(first_name=None, last_name=None, phone=None, email=None)) == {
        "first_name",
        "last_name",
        "phone",
        "email",
    }
    with pytest.raises(DetailsInvalid) as caught:
        check_patient_details({})
    assert set(caught.value.fields) == {"first_name", "last_name", "phone", "email"}
