"""What one booking asks of the database, statement by statement.

Each statement is a round trip, and in the app it costs more than most of the booking's own
work: a booking's throughput follows how many it sends. The lists are pinned, so a change that
adds one (a lookup done twice, a row written on its own, an ORM flush that could be one
statement) fails here and says which.
"""
from __future__ import annotations

import pytest
from flask import g
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Message, Patient
from scheduler.services.clinic import versions as clinic_versions
from tests.support.factories import make_provider, make_service, patient_payload
from tests.support.statements import statement_kinds

FIRST = "2026-12-01T08:00:00-07:00"  # the Tuesday after the frozen clock's Monday
SECOND = "2026-12-01T10:00:00-07:00"

# A new patient: the checks, then the writes. The advisory lock is PostgreSQL's only.
NEW_PATIENT = [
    "SELECT services",  # the service asked for
    "SELECT providers",  # the provider named
    "SELECT pg_advisory_xact_lock",  # one booking per phone number at a time
    "SELECT patients",  # the person's record and any overlapping visit of theirs
    "SELECT working_hours",  # the day's windows,
    "SELECT appointments",  # busy times and time off,
    "SELECT closures",  # and closures: free, taken, or never open
    "SELECT clinic_info_versions",  # the details version id and the reminder policy
    "INSERT patients",  # one flush: the new patient,
    "INSERT appointments",  # and the visit; the exclusion constraint has the last word
    "INSERT messages",  # confirmation and reminders, one round trip
    "INSERT audit_events",  # patient created and appointment booked, one round trip
]


def booking(client, provider_id: int, start: str):
    def work():
        answer = client.post("/api/v1/bookings", json={
            "service": "evaluation", "provider_id": provider_id, "start": start, "patient": patient_payload(),
        })
        assert answer.status_code == 201, answer.get_json()

    return work


def with_details_version() -> None:
    """The clinic details version the migration seeds (the PostgreSQL fixture's clean-up
    empties every table, so a later test finds none and its first booking would write it)."""
    clinic_versions.current_version_id()
    db.session.commit()
    g.pop(clinic_versions.DETAILS_KEY, None)
    g.pop(clinic_versions.POLICY_KEY, None)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.postgres
def test_a_booking_on_postgresql_sends_twelve_statements_and_eleven_for_a_known_patient(pg_app):
    provider = make_provider()
    make_service()
    with_details_version()
    client = pg_app.test_client()
    assert statement_kinds(booking(client, provider.id, FIRST)) == NEW_PATIENT
    # The same person again, at another time: found, nothing about them changes.
    assert statement_kinds(booking(client, provider.id, SECOND)) == [
        kind for kind in NEW_PATIENT if kind != "INSERT patients"
    ]
    # Everything was written: one patient, two visits, their messages, three audit rows.
    assert (count(Patient), count(Appointment), count(AuditEvent)) == (1, 2, 3)
    assert count(Message) == 2 * 4  # confirmation and a reminder, by email and by SMS, per visit


def test_a_booking_on_sqlite_sends_the_same_but_the_lock(app):
    provider = make_provider()
    make_service()
    with_details_version()
    client = app.test_client()
    assert statement_kinds(booking(client, provider.id, FIRST)) == [
        kind for kind in NEW_PATIENT if kind != "SELECT pg_advisory_xact_lock"
    ]
