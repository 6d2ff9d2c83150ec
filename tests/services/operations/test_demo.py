"""The demo clinic that `flask seed-demo` adds: its versioned details, and what a patient who
books in it reads of its street address."""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit

import icalendar
from sqlalchemy import func, select

from scheduler.extensions import db
from scheduler.models import Appointment, ClinicInfoVersion, Message
from scheduler.services.clinic.versions import current_details
from scheduler.services.messages.links import link_for
from scheduler.services.messages.render import render
from scheduler.services.operations.demo import seed_demo
from tests.support.factories import demo_providers
from tests.support.helpers import set_clinic_details

ADDRESS = "1200 Example Ave, Suite 100, El Paso, TX 79902"  # a demo value, no one's real address
DETAILS = {"first_name": "Ana", "last_name": "Garcia", "phone": "(915) 555-0123",
           "email": "ana@example.com", "sms_opt_in": "yes", "note": ""}


def versions() -> int:
    return db.session.scalar(select(func.count()).select_from(ClinicInfoVersion))


def main_of(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def test_the_demo_clinic_has_its_street_address_in_the_versioned_details(demo):
    details = current_details()
    assert details.address == ADDRESS
    stored = db.session.scalars(select(ClinicInfoVersion).order_by(ClinicInfoVersion.id.desc())).first()
    assert details.version_id == stored.id and stored.address == ADDRESS
    count = versions()
    seed_demo()  # a second run adds no version
    assert versions() == count and current_details().address == ADDRESS


def test_an_address_the_clinic_saved_is_kept_by_the_demo(app):
    set_clinic_details(address="500 N Mesa St, El Paso, TX 79901")
    seed_demo()
    assert current_details().address == "500 N Mesa St, El Paso, TX 79901"


def test_a_patient_who_books_in_the_demo_reads_the_address_on_each_page_email_and_calendar(demo, client):
    provider = demo_providers()[1]
    days = client.get(f"/book/initial-evaluation/{provider.id}/2026-12-01").get_data(as_text=True)
    start = re.findall(r'details\?start=([^"]+)"', days)[0].replace("%2B", "+")
    booked = client.post(f"/book/initial-evaluation/{provider.id}/details", data={"start": start, **DETAILS})
    assert booked.status_code == 303
    # The confirmation page, in its main part (not only the footer), in both languages.
    assert ADDRESS in main_of(client.get(booked.headers["Location"]).get_data(as_text=True))
    manage_path = booked.headers["Location"].removesuffix("/booked")
    assert ADDRESS in main_of(client.get(f"{manage_path}?lang=es").get_data(as_text=True))

    visit = db.session.scalar(select(Appointment).where(Appointment.starts_at == datetime.fromisoformat(start)))
    email = db.session.scalar(select(Message).where(Message.appointment_id == visit.id, Message.channel == "email",
                                                    Message.kind == "confirmation"))
    rendered = render(email, link_for=link_for)
    assert ADDRESS in rendered.text and ADDRESS in rendered.html
    # The contact address the email gives is a demo one, not a real person's.
    (contact,) = re.findall(r"^\S+@\S+$", rendered.text, flags=re.M)
    assert contact.endswith("@example.com")
    (event,) = icalendar.Calendar.from_ical(rendered.ics_bytes).walk("VEVENT")
    assert str(event["LOCATION"]) == f"{current_details().name}, {ADDRESS}"

    # The page a text's link opens.
    sms = db.session.scalar(select(Message).where(Message.appointment_id == visit.id, Message.channel == "sms",
                                                  Message.kind == "confirmation"))
    text = render(sms, link_for=link_for).sms_body
    db.session.commit()  # the short link's row, as the worker writes it when the text is sent
    short = re.search(r"https?://\S+/l/\S+", text).group(0)
    opened = client.get(urlsplit(short).path, follow_redirects=True)
    assert opened.status_code == 200 and ADDRESS in main_of(opened.get_data(as_text=True))

    (event,) = icalendar.Calendar.from_ical(client.get(f"{manage_path}/calendar.ics").data).walk("VEVENT")
    assert str(event["LOCATION"]) == f"{current_details().name}, {ADDRESS}"
