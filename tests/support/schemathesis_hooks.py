"""A check schemathesis runs beside its own (loaded through SCHEMATHESIS_HOOKS).

Valid data (what the document allows) may still be refused for what it means: a service or
provider that does not exist, a time that is not open, a phone number that is not a US mobile.
It must never be refused for its form: that would be the document allowing what the app does
not take. The built-in positive_data_acceptance check is told 422 is fine (tests/support/schemathesis.toml);
this one looks inside each 422 of every operation (public, staff, courses, closures, waitlist:
any added later too) and accepts only refusals of meaning.
"""
from __future__ import annotations

import schemathesis

# The English messages (requests carry no Accept-Language) that are about meaning, not form.
REFUSALS_OF_MEANING = {
    "Unknown service.",
    "This service cannot be booked online. Please call us.",
    "Unknown provider.",
    "That time has already passed.",
    "That time is too soon to book online. Please call us.",
    "That time is too far ahead to book yet.",
    "That is not an open time. Please pick one of the times shown.",
    "That is already the time of your appointment.",
    "The end date must not be before the start date.",
    "Ask for at most 62 days at a time.",
    "Please enter a valid US mobile number, for example 915-555-0123.",
    "Please enter a mobile number (not toll-free or premium).",
    "Please enter a valid email address.",
    # the staff API: the patient, provider or visit named, the calendar, the clock, the state
    "Unknown patient.",
    "Unknown evaluation for this patient.",
    "The first date has already passed.",
    "Staff can plan up to a year ahead.",
    "Choose as many weekdays as visits per week.",
    "The window must end after it starts.",
    "No visit of this course could be placed. Try other days or times.",
    "No visit of the added weeks could be placed.",
    "A course can run at most 52 weeks.",
    "This course may not use another provider.",
    "The clinic is closed that day.",
    "That time is outside the provider's working hours.",
    "Two visits of the course overlap.",
    "That local time is skipped or repeated by a daylight-saving change.",
    "That is already the time of this appointment.",
    "An appointment cannot go from this status to that one.",
    "This can only be recorded on the day of the visit or later.",
    "A visit can be marked missed only once its time has begun.",
    "The last day must not be before the first.",
    "Close at most a year at a time.",
}
# The same, for messages that name a day: "... on 2027-03-14."
REFUSALS_OF_MEANING_ON_A_DAY = (
    "That local time is skipped or repeated by a daylight-saving change on ",
    "That time is outside the provider's working hours on ",
)


@schemathesis.check
def valid_data_is_refused_only_for_its_meaning(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        fields = response.json().get("fields", {})
    except ValueError:
        raise AssertionError("a 422 without the validation_failed JSON body") from None
    of_form = {field: message for field, message in fields.items()
               if message not in REFUSALS_OF_MEANING and not message.startswith(REFUSALS_OF_MEANING_ON_A_DAY)}
    if of_form:
        raise AssertionError(f"data the document allows was refused for its form: {of_form}")
    return None
