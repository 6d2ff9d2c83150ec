"""The desk's patient pages: search by name, phone or email; a patient's record with contact
details, language (editable), text consent and opt-out, appointments, courses, messages and
the audit trail; a record sharing a phone or email under another name flagged and merged."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, Message, Patient
from tests.support.factories import PASSWORD, build_clinic, make_patient, make_visit


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def desk(client, clinic):
    assert client.post("/staff/login", data={"email": "desk@example.com", "password": PASSWORD}).status_code == 303
    return client


def _found(client, query):
    html = client.get("/staff/patients/", query_string={"query": query}).get_data(as_text=True)
    return [p.full_name for p in db.session.scalars(select(Patient)) if f"{p.last_name}, {p.first_name}" in html]


def test_search_by_name_phone_or_email(desk, clinic):
    make_patient("Rosa", "Mendez", "+19155550177", "rosa.m@example.com")
    assert _found(desk, "mendez") == ["Rosa Mendez"]
    assert _found(desk, "(915) 555-0177") == ["Rosa Mendez"]
    assert _found(desk, "ROSA.M@") == ["Rosa Mendez"]
    assert _found(desk, "garc") == ["Ana Garcia"]
    short = desk.get("/staff/patients/?query=a")
    assert short.status_code == 200 and "Type at least 2 characters" in short.get_data(as_text=True)


def test_the_patient_page_shows_the_whole_record(desk, clinic):
    patient = clinic.patient
    patient.sms_consent_at = datetime(2026, 11, 1, tzinfo=UTC)
    patient.sms_opted_out_at = datetime(2026, 11, 20, 18, tzinfo=UTC)
    visit = make_visit(patient, clinic.maria, clinic.therapy, "2026-12-01T09:00:00-07:00")
    db.session.add(Message(patient_id=patient.id, appointment_id=visit.id, channel="email", kind="confirmation",
                           to_address="ana@example.com", planned_for=datetime(2026, 11, 30, 15, tzinfo=UTC),
                           due_at=datetime(2026, 11, 30, 15, tzinfo=UTC), status="delivered",
                           created_at=datetime(2026, 11, 30, 15, tzinfo=UTC), updated_at=datetime(2026, 11, 30, 15, tzinfo=UTC)))
    db.session.commit()
    desk.post(f"/staff/appointments/{visit.id}/status", json={"status": "confirmed"})
    html = desk.get(f"/staff/patients/{patient.id}").get_data(as_text=True)
    for text in ("Ana Garcia", 'href="tel:+19155550123"', "ana@example.com", "opted out Nov 20, 2026",
                 "Tue Dec 1, 2026", "Maria Lopez, PT", "Confirmed", "confirmation", "delivered",
                 "appointment.confirmed", "status: booked → confirmed"):
        assert text in html, text
    assert desk.get("/staff/patients/999").status_code == 404


def test_language_is_editable_and_audited(desk, clinic):
    response = desk.post(f"/staff/patients/{clinic.patient.id}/language", data={"language": "es"})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Patient, clinic.patient.id).language == "es"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.updated"))
    assert (event.before["language"], event.after["language"], event.actor_kind) == ("en", "es", "staff")
    desk.post(f"/staff/patients/{clinic.patient.id}/language", data={"language": "fr"})
    db.session.expire_all()
    assert db.session.get(Patient, clinic.patient.id).language == "es"


def test_a_booking_under_another_name_with_a_known_phone_is_flagged_and_merged(desk, clinic):
    booked = desk.post("/staff/calendar/bookings", json={
        "service": "therapy-session", "start": "2026-12-01T10:00:00", "provider_id": clinic.maria.id,
        "patient": {"first_name": "Anna", "last_name": "Garcia", "phone": "915-555-0123"}}).get_json()
    duplicate = db.session.scalar(select(Patient).where(Patient.first_name == "Anna"))
    assert booked["possible_duplicates"] == [clinic.patient.id]
    listing = desk.get("/staff/patients/").get_data(as_text=True)
    assert "Possible duplicates" in listing and f"Anna Garcia (#{duplicate.id})" in listing
    page = desk.get(f"/staff/patients/{clinic.patient.id}").get_data(as_text=True)
    assert f"Merge #{duplicate.id} into this record" in page
    merged = desk.post(f"/staff/patients/{clinic.patient.id}/merge", data={"duplicate_id": duplicate.id})
    assert merged.status_code == 303
    db.session.expire_all()
    appointment = db.session.get(Appointment, int(booked["event"]["id"]))
    assert appointment.patient_id == clinic.patient.id
    assert db.session.get(Patient, duplicate.id).merged_into_id == clinic.patient.id
    trail = {e.action: e for e in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("patient.merged%")))}
    assert trail["patient.merged"].after["merged_from"] == duplicate.id
    assert trail["patient.merged"].after["moved"]["appointments"] == 1
    assert trail["patient.merged_away"].entity_id == duplicate.id
    # The merged record leads to the kept one and no longer shows up in searches or as a duplicate.
    assert desk.get(f"/staff/patients/{duplicate.id}").headers["Location"] == f"/staff/patients/{clinic.patient.id}"
    assert _found(desk, "garcia") == ["Ana Garcia"]
    assert "Possible duplicates" not in desk.get("/staff/patients/").get_data(as_text=True)
    again = desk.post(f"/staff/patients/{clinic.patient.id}/merge", data={"duplicate_id": duplicate.id},
                      follow_redirects=True)
    assert "already merged" in again.get_data(as_text=True)


def test_after_a_merge_bookings_under_the_merged_name_go_to_the_kept_record(desk, clinic):
    duplicate = make_patient("Anna", "Garcia", clinic.patient.phone_e164, "anna@example.com")
    assert desk.post(f"/staff/patients/{clinic.patient.id}/merge", data={"duplicate_id": duplicate.id}).status_code == 303
    answer = desk.post("/staff/calendar/bookings", json={
        "service": "therapy-session", "start": "2026-12-01T10:00:00", "provider_id": clinic.maria.id,
        "patient": {"first_name": "Anna", "last_name": "Garcia", "phone": "915-555-0123"}})
    assert answer.status_code == 201
    assert db.session.get(Appointment, int(answer.get_json()["event"]["id"])).patient_id == clinic.patient.id
    assert db.session.scalar(select(func.count(Patient.id))) == 2  # no third record


def test_a_number_the_carrier_refused_shows_on_the_record_and_the_panel(desk, clinic):
    clinic.patient.sms_consent_at = datetime(2026, 11, 1, tzinfo=UTC)
    clinic.patient.sms_failed_number, clinic.patient.sms_failed_code = clinic.patient.phone_e164, "21211"
    visit = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-12-01T09:00:00-07:00")
    page = desk.get(f"/staff/patients/{clinic.patient.id}").get_data(as_text=True)
    assert "the carrier refused this number (error 21211)" in page
    assert "number refused by the carrier" in desk.get(f"/staff/appointments/{visit.id}/panel").get_data(as_text=True)


@pytest.mark.parametrize("spelling", ["²", "１", "1.0", ""])
def test_a_merge_naming_no_record_in_ascii_digits_is_404(desk, clinic, spelling):
    assert desk.post(f"/staff/patients/{clinic.patient.id}/merge", data={"duplicate_id": spelling}).status_code == 404


def test_the_patients_page_lists_recent_patients_without_a_search(desk, clinic):
    make_patient("Rosa", "Mendez", "+19155550177", "rosa.m@example.com")
    html = desk.get("/staff/patients/").get_data(as_text=True)
    assert "Recent patients" in html
    assert "Mendez, Rosa" in html and "Garcia, Ana" in html
    assert html.index("Mendez, Rosa") < html.index("Garcia, Ana")  # the newest first


def test_the_audit_trail_shows_clinic_time(desk, clinic):
    visit = make_visit(clinic.patient, clinic.maria, clinic.therapy, "2026-12-01T09:00:00-07:00")
    assert desk.post(f"/staff/appointments/{visit.id}/move", json={"start": "2026-12-01T10:00:00"}).status_code == 200
    html = desk.get(f"/staff/patients/{clinic.patient.id}").get_data(as_text=True)
    trail = html[html.index("Audit trail"):]
    assert "+00:00" not in trail and "T16:00" not in trail
    assert "starts_at: Dec 1, 9:00\u202fAM → Dec 1, 10:00\u202fAM" in trail or \
        "starts_at: Dec 1, 9:00 AM → Dec 1, 10:00 AM" in trail
    assert "Nov 30, 8:00" in trail  # when the move was made, in clinic time


def test_the_staff_navigation_marks_the_section_shown(desk, clinic):
    html = desk.get("/staff/patients/").get_data(as_text=True)
    assert 'href="/staff/patients/" aria-current="page"' in html
