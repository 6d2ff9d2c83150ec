"""The clinic's details and reminder policy, edited by admins: each save is a new version,
every page, email and SMS uses the current one, and each booking keeps the version its
patient saw. The clock is frozen at Monday 2026-11-30 08:00 in Denver."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import event, func, select, text

from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, ClinicInfoVersion, Message, MessagePolicyVersion
from scheduler.services.clinic import versions as clinic_versions
from scheduler.services.messages.links import link_for
from scheduler.services.messages.render import render
from scheduler.services.operations.demo import DEMO_ADDRESS
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import PASSWORD, demo_providers, local, patient_payload, wall

SETTINGS = "/staff/settings/"
DETAILS = {
    "name": "Sun City Spine & Rehab",
    "office_phone": "915-555-0101",
    "cell_phone": "(915) 555-0102",
    "address": "500 Mesa St, El Paso, TX 79901",
    "disclaimer_en": "Updated scope notice\n\nWe treat muscles and joints; see your physician for the rest.",
    "disclaimer_es": "Aviso actualizado\n\nTratamos músculos y articulaciones; consulte a su médico para lo demás.",
}


@pytest.fixture
def staff(demo, client):
    create_user("admin@example.com", PASSWORD, "admin")
    create_user("desk@example.com", PASSWORD, "front_desk")
    return client


def sign_in(client, email: str) -> None:
    client.post("/staff/logout")
    assert client.post("/staff/login", data={"email": email, "password": PASSWORD}).status_code == 303


def book(client, start, **patient) -> Appointment:
    answer = client.post("/api/v1/bookings", json={
        "service": "initial-evaluation", "provider_id": None, "start": start.isoformat(),
        "patient": patient_payload(**patient)})
    assert answer.status_code == 201, answer.get_json()
    return db.session.get(Appointment, answer.get_json()["id"])


def versions() -> int:
    return db.session.scalar(select(func.count()).select_from(ClinicInfoVersion))


# The demo clinic's versions: the migration's (the configuration), then the demo's address.
DEMO_VERSIONS = 2


def test_the_first_version_is_the_configuration(staff, app):
    details = clinic_versions.current_details()
    assert details.version_id is not None and versions() == DEMO_VERSIONS
    first, demo_address = db.session.scalars(select(ClinicInfoVersion).order_by(ClinicInfoVersion.id))
    assert first.name == app.config["CLINIC_NAME"] and first.address == app.config["CLINIC_ADDRESS"]
    assert demo_address.id == details.version_id and demo_address.address == DEMO_ADDRESS
    assert details.name == app.config["CLINIC_NAME"] and details.office.display == app.config["CLINIC_OFFICE_PHONE"]


def test_an_edit_is_a_new_version_that_pages_and_messages_show_and_earlier_bookings_keep(staff, app):
    first = book(staff, local(2026, 12, 2, 9, 0))
    first_version = first.clinic_info_version_id
    assert first_version == clinic_versions.current_version_id()
    sign_in(staff, "admin@example.com")
    page = staff.get(SETTINGS).get_data(as_text=True)
    assert app.config["CLINIC_OFFICE_PHONE"] in page  # the form starts from the current values

    saved = staff.post(SETTINGS + "clinic-details", data=DETAILS)
    assert saved.status_code == 303
    assert versions() == DEMO_VERSIONS + 1
    row = db.session.scalars(select(ClinicInfoVersion).order_by(ClinicInfoVersion.id.desc())).first()
    assert row.name == DETAILS["name"] and row.created_by is not None
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "clinic_info.saved")) is not None

    home = staff.get("/").get_data(as_text=True)
    assert "Sun City Spine &amp; Rehab" in home and 'href="tel:+19155550101"' in home and "(915) 555-0102" in home
    assert "Updated scope notice" in home and "500 Mesa St" in home
    assert "Aviso actualizado" in staff.get("/?lang=es").get_data(as_text=True)
    staff.get("/?lang=en")  # the next booking's patient reads English

    second = book(staff, local(2026, 12, 3, 9, 0), phone="915-555-0177", email="second@example.com")
    assert second.clinic_info_version_id == row.id != first_version
    db.session.refresh(first)
    assert first.clinic_info_version_id == first_version  # the earlier booking keeps what its patient saw

    confirmation = db.session.scalars(select(Message).where(
        Message.appointment_id == second.id, Message.kind == "confirmation")).all()
    email = render(next(m for m in confirmation if m.channel == "email"), link_for=link_for)
    assert "Sun City Spine & Rehab" in email.text and "915-555-0101" in email.text and "Updated scope notice" in email.text
    sms = render(next(m for m in confirmation if m.channel == "sms"), link_for=link_for)
    assert "Sun City Spine" in sms.sms_body

    for visit, version in ((first, first_version), (second, row.id)):
        panel = staff.get(f"/staff/appointments/{visit.id}/panel").get_data(as_text=True)
        assert f">version {version}</a>," in panel
        page = staff.get(f"/staff/appointments/{visit.id}").get_data(as_text=True)
        assert f'/staff/settings/clinic-details/{version}">version {version}</a>' in page
    shown = staff.get(f"/staff/settings/clinic-details/{first_version}").get_data(as_text=True)
    main = shown[shown.index("<main"):shown.index("</main>")]  # the chrome shows the current version
    assert app.config["CLINIC_NAME"].replace("&", "&amp;") in main and "Sun City" not in main
    assert staff.get("/staff/settings/clinic-details/999").status_code == 404


def test_course_and_desk_bookings_store_the_version(staff):
    token = issue_api_token("desk@example.com")
    patient = book(staff, local(2026, 12, 2, 9, 0)).patient
    therapist = demo_providers()[-1]
    course = staff.post("/api/v1/staff/courses", headers={"Authorization": f"Bearer {token}"}, json={
        "patient_id": patient.id, "provider_id": therapist.id, "service": "therapy-session",
        "first_date": "2026-12-07", "weeks": 2, "visits_per_week": 1, "weekdays": ["tue"],
        "time": "11:00", "preview": False})
    assert course.status_code == 201, course.get_json()
    visits = db.session.scalars(select(Appointment).where(Appointment.course_id.is_not(None))).all()
    assert visits and {v.clinic_info_version_id for v in visits} == {clinic_versions.current_version_id()}
    sign_in(staff, "desk@example.com")
    desk = staff.post("/staff/calendar/bookings", json={
        "service": "therapy-session", "start": "2026-12-04T10:00:00", "provider_id": therapist.id,
        "patient_id": patient.id})
    assert desk.status_code in (200, 201), desk.get_data(as_text=True)[:500]
    latest = db.session.scalars(select(Appointment).order_by(Appointment.id.desc())).first()
    assert latest.source == "desk" and latest.clinic_info_version_id == clinic_versions.current_version_id()


def test_bad_details_are_re_rendered_with_field_messages_and_save_nothing(staff):
    sign_in(staff, "admin@example.com")
    typed = {**DETAILS, "name": "  ", "office_phone": "call us", "disclaimer_es": ""}
    answer = staff.post(SETTINGS + "clinic-details", data=typed)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="details-name-error"' in html and "Not a valid phone number" in html
    assert 'id="details-disclaimer_es-error"' in html
    assert 'value="call us"' in html and "500 Mesa St" in html  # what was typed comes back
    assert versions() == DEMO_VERSIONS


def test_only_admins_change_details_or_policy(staff):
    sign_in(staff, "desk@example.com")
    assert staff.get(SETTINGS).status_code == 403
    assert staff.post(SETTINGS + "clinic-details", data=DETAILS).status_code == 403
    assert staff.post(SETTINGS + "reminders", data={"send_window": "08:00-21:00"}).status_code == 403
    staff.post("/staff/logout")
    assert staff.post(SETTINGS + "clinic-details", data=DETAILS).status_code in (302, 303, 401)
    assert versions() == DEMO_VERSIONS
    assert db.session.scalar(select(func.count()).select_from(MessagePolicyVersion)) == 0


def test_pages_read_the_details_once_per_request(staff, app):
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        if "clinic_info_versions" in statement:
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with app.app_context():  # a fresh context, as each production request has
            assert staff.get("/").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1


# ---------------------------------------------------------------- the reminder policy


def sms_reminders(appointment: Appointment) -> list[str]:
    return sorted(wall(m.due_at) for m in db.session.scalars(select(Message).where(
        Message.appointment_id == appointment.id, Message.kind == "reminder", Message.channel == "sms")))


def test_a_changed_offset_changes_the_next_bookings_reminders_only(staff, app):
    visit = local(2026, 12, 9, 15, 0)
    before = book(staff, visit)
    assert sms_reminders(before) == ["2026-12-08 15:00", "2026-12-09 13:00"]  # the configuration's 24,2
    sign_in(staff, "admin@example.com")
    assert 'value="24,2"' in staff.get(SETTINGS).get_data(as_text=True)
    saved = staff.post(SETTINGS + "reminders", data={
        "send_window": "07:00-20:00", "email_offsets": "48", "sms_offsets": "5",
        "course_email_offsets": "", "course_sms_offsets": "24"})
    assert saved.status_code == 303
    after = book(staff, local(2026, 12, 9, 16, 0), phone="915-555-0178", email="after@example.com")
    assert sms_reminders(after) == [wall(local(2026, 12, 9, 11, 0))]
    assert sms_reminders(before) == ["2026-12-08 15:00", "2026-12-09 13:00"]  # planned before: unchanged
    assert clinic_versions.current_policy().sms_offsets == (timedelta(hours=5),)
    assert 'value="5"' in staff.get(SETTINGS).get_data(as_text=True)


def test_a_bad_policy_value_is_a_422_with_the_field_message_and_the_typed_values(staff, app):
    sign_in(staff, "admin@example.com")
    typed = {"send_window": "21:00-08:00", "email_offsets": "48", "sms_offsets": "24,two",
             "course_email_offsets": "", "course_sms_offsets": "24"}
    answer = staff.post(SETTINGS + "reminders", data=typed)
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert 'id="policy-sms_offsets-error"' in html and "&#39;two&#39; is not a number of hours" in html
    assert 'id="policy-send_window-error"' in html and "must close after it opens" in html
    assert 'value="24,two"' in html and 'value="21:00-08:00"' in html
    assert db.session.scalar(select(func.count()).select_from(MessagePolicyVersion)) == 0
    g.pop(clinic_versions.POLICY_KEY, None)
    assert clinic_versions.current_policy() == app.extensions["message_policy"]


def test_a_database_that_cannot_answer_still_gets_pages_with_the_configured_numbers(staff, app):
    db.session.execute(text("ALTER TABLE clinic_info_versions RENAME TO clinic_info_versions_away"))
    db.session.commit()
    g.pop(clinic_versions.DETAILS_KEY, None)
    try:
        with app.app_context():
            html = staff.get("/").get_data(as_text=True)
    finally:
        db.session.rollback()
        db.session.execute(text("ALTER TABLE clinic_info_versions_away RENAME TO clinic_info_versions"))
        db.session.commit()
    assert app.config["CLINIC_OFFICE_PHONE"] in html and app.config["CLINIC_CELL_PHONE"] in html


def test_on_postgresql_a_booking_with_no_version_yet_seeds_the_first_and_edits_follow(pg_app, clock):
    from scheduler.services.operations.demo import seed_demo

    db.session.execute(text("DELETE FROM clinic_info_versions"))  # as if emptied after the migration
    db.session.commit()
    g.pop(clinic_versions.DETAILS_KEY, None)
    seed_demo()
    db.session.execute(text("UPDATE appointments SET clinic_info_version_id = NULL"))  # the demo's own visits
    db.session.execute(text("DELETE FROM clinic_info_versions"))
    db.session.commit()
    g.pop(clinic_versions.DETAILS_KEY, None)
    client = pg_app.test_client()
    first = book(client, local(2026, 12, 2, 9, 0))
    assert first.clinic_info_version_id is not None and versions() == 1
    seeded = db.session.get(ClinicInfoVersion, first.clinic_info_version_id)
    assert seeded.name == pg_app.config["CLINIC_NAME"] and seeded.created_by is None
    create_user("admin@example.com", PASSWORD, "admin")
    sign_in(client, "admin@example.com")
    assert client.post(SETTINGS + "clinic-details", data=DETAILS).status_code == 303
    assert client.post(SETTINGS + "reminders", data={
        "send_window": "08:00-21:00", "email_offsets": "", "sms_offsets": "3",
        "course_email_offsets": "", "course_sms_offsets": ""}).status_code == 303
    second = book(client, local(2026, 12, 9, 15, 0), phone="915-555-0179", email="pg@example.com")
    assert second.clinic_info_version_id == clinic_versions.current_version_id() != first.clinic_info_version_id
    assert sms_reminders(second) == ["2026-12-09 12:00"]
    assert "Sun City Spine &amp; Rehab" in client.get("/").get_data(as_text=True)
