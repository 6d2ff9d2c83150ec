"""A check schemathesis runs beside its own (loaded through SCHEMATHESIS_HOOKS).

Valid data (what the document allows) may still be refused for what it means: a service or
provider that does not exist, a time that is not open, a phone number that is not a US mobile.
It must never be refused for its form: that would be the document allowing what the app does
not take. The built-in positive_data_acceptance check is told 422 is fine (tests/schemathesis.toml);
this one looks inside each 422 and accepts only refusals of meaning.
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
}


# The operations whose documents are held to this (the public booking API and the first staff
# endpoint). Another operation joins by adding its operationId here and its refusals of meaning
# above; until then schemathesis's own checks still hold it to no 5xx, documented answers and
# refusing what its document refuses.
HELD_TO_MEANING = {
    "listServices", "listProviders", "getAvailability", "createBooking", "getBooking", "cancelBooking",
    "rescheduleBooking", "listStaffAppointments",
}


@schemathesis.check
def valid_data_is_refused_only_for_its_meaning(ctx, response, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if case.operation.definition.raw.get("operationId") not in HELD_TO_MEANING:
        return None
    try:
        fields = response.json().get("fields", {})
    except ValueError:
        raise AssertionError("a 422 without the validation_failed JSON body") from None
    of_form = {field: message for field, message in fields.items() if message not in REFUSALS_OF_MEANING}
    if of_form:
        raise AssertionError(f"data the document allows was refused for its form: {of_form}")
    return None
