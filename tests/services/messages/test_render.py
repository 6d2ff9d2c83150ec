"""What patients read: every SMS template in both languages (length, clinical words, opt-out
line), emails with the clinic's numbers and disclaimer, calendar invitations, dates in clinic
time on both sides of the daylight-saving changes, and private links that are never stored."""
from __future__ import annotations

import itertools
import re
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
import recurring_ical_events
from icalendar import Calendar

from scheduler.domain.reminders import sms_segments
from scheduler.extensions import db
from scheduler.models import Message, Provider, Service
from scheduler.services import events
from scheduler.services.appointments import patient_changes as appointment_changes
from scheduler.services.messages.links import LINK_PLACEHOLDER, link_for
from scheduler.services.messages.render import REPLY_KINDS, render, render_reply
from tests.support.factories import DENVER, demo_course, demo_patient, demo_visit, local
from tests.support.helpers import ROOT
from tests.support.ical_js import check_calendar_types

# A realistic public address (37 characters): links in texts are this plus /l/ and 22 characters.
PUBLIC_BASE_URL = "https://citas.injurymedicalclinic.com"
TEMPLATES = ROOT / "templates" / "messages"
SMS_TEMPLATES = {p.stem for p in (TEMPLATES / "sms").glob("*.txt") if not p.stem.startswith("_")}
REPLY_TEMPLATES = {p.stem for p in (TEMPLATES / "sms" / "replies").glob("*.txt")}

# Clinical detail that must never be in a text (minimum necessary): services, therapies,
# diagnoses, body parts, the clinician's title. Matched without accents, as whole words.
CLINICAL_WORDS = {
    "evaluation", "evaluacion", "therapy", "therapist", "terapia", "terapeuta", "therapeutic", "session",
    "sesion", "chiropractor", "chiropractic", "quiropractico", "quiropractica", "adjustment", "ajuste",
    "diagnosis", "diagnostico", "treatment", "tratamiento", "pain", "dolor", "injury", "lesion", "rehab",
    "rehabilitation", "rehabilitacion", "massage", "masaje", "physical", "fisica", "fisico", "spine",
    "columna", "back", "espalda", "neck", "cuello", "knee", "rodilla", "sciatica", "ciatica", "pt", "dc",
    "examination", "examen", "medicine", "medicina",
}


@pytest.fixture
def world(demo, app):
    """A Spanish and an English patient, each with a single visit and a course."""
    app.config["PUBLIC_BASE_URL"] = PUBLIC_BASE_URL
    people = {}
    for number, language in enumerate(("en", "es")):
        patient = demo_patient(language=language, phone_e164=f"+1915555017{number}",
                               email=f"p{number}@example.com", first_name="Ana" if language == "en" else "Rosa")
        # The longest dates: a Wednesday (miércoles) in September, at 12:45 PM
        visit = demo_visit(patient, local(2027, 9, 29, 12, 45) if number else local(2027, 9, 29, 10, 45))
        course, visits = demo_course(patient, [local(2027, 9, d, 9, 0) for d in (20, 22, 27, 29)] +
                                     [local(2027, 10, 4, 9, 0)])
        people[language] = {"patient": patient, "visit": visit, "course": course, "visits": visits}
    db.session.commit()
    return people


_planned = itertools.count()


def message(patient, kind, channel, *, appointment=None, course=None) -> Message:
    """An outbox row as the planner writes it (each with its own planned moment)."""
    moment = datetime(2026, 11, 30, 15, tzinfo=UTC) + timedelta(seconds=next(_planned))
    row = Message(patient_id=patient.id, appointment_id=appointment.id if appointment else None,
                  course_id=course.id if course else (appointment.course_id if appointment else None),
                  channel=channel, kind=kind, cause="system", planned_for=moment, due_at=moment,
                  send_before=appointment.starts_at if appointment else None, status="pending", attempts=0,
                  to_address="", language=patient.language, last_error="", created_at=moment, updated_at=moment)
    db.session.add(row)
    db.session.flush()
    return row


def every_sms(person) -> dict[str, Message]:
    patient, visit, course, visits = person["patient"], person["visit"], person["course"], person["visits"]
    return {
        "confirmation": message(patient, "confirmation", "sms", appointment=visit),
        "change": message(patient, "change", "sms", appointment=visit),
        "reminder": message(patient, "reminder", "sms", appointment=visit),
        "reminder (course visit)": message(patient, "reminder", "sms", appointment=visits[3]),
        "cancellation": message(patient, "cancellation", "sms", appointment=visit),
        "course_welcome": message(patient, "course_welcome", "sms", course=course),
        "links": message(patient, "links", "sms", appointment=visit),
        "links (several visits)": message(patient, "links", "sms"),
        "waitlist_offer": offer_message(person, "sms"),
    }


def offer_message(person, channel: str) -> Message:
    """A waitlist offer of the longest date's time, as the worker writes it."""
    from scheduler.models import WaitlistEntry, WaitlistOffer, WaitlistOpening

    patient, visit = person["patient"], person["visit"]
    moment = datetime(2026, 11, 30, 15, tzinfo=UTC)
    opening = WaitlistOpening(provider_id=visit.provider_id, starts_at=visit.starts_at, ends_at=visit.ends_at,
                              cause="cancelled", status="open", created_at=moment)
    entry = WaitlistEntry(patient_id=patient.id, service_id=visit.service_id, earliest_day=visit.starts_at.date(),
                          latest_day=visit.starts_at.date(), status="offered", created_at=moment)
    db.session.add_all([opening, entry])
    db.session.flush()
    offer = WaitlistOffer(opening_id=opening.id, entry_id=entry.id, patient_id=patient.id,
                          service_id=visit.service_id, provider_id=visit.provider_id, starts_at=visit.starts_at,
                          status="open", expires_at=moment + timedelta(minutes=30), created_at=moment)
    db.session.add(offer)
    db.session.flush()
    row = message(patient, "waitlist_offer", channel)
    row.waitlist_offer_id = offer.id
    db.session.flush()
    return row


def plain_words(text: str) -> set[str]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return set(re.findall(r"[a-z]+", folded))


def clinical_words_in(text: str) -> set[str]:
    from flask import current_app

    config = current_app.config
    text = text.replace(config["CLINIC_NAME"], " ")  # the clinic's own name is allowed
    # A short link's random code is no word ("/l/1pt_tyz..." once read as "pt"); the rest of the
    # link and of the text are checked.
    text = re.sub(r"/l/[A-Za-z0-9_-]+", "/l/", text)
    names = set()
    for service in db.session.scalars(db.select(Service)):
        names |= plain_words(service.name)
    for provider in db.session.scalars(db.select(Provider)):
        names |= plain_words(provider.name)
    return plain_words(text) & (CLINICAL_WORDS | names)


# Segments per template and language, measured with the 37-character site address above and
# the longest dates ("mié 29 sept, 12:45 p.m."). Texts stay GSM-7 (160 characters in one part,
# 153 per part of a longer one): a Spanish letter outside GSM-7 is folded ("sáb" -> "sab").
# Every outgoing text is two parts (the clinic's 36-character name and a 62-character link
# leave no room for one); replies without a link fit in one.
EXPECTED_SEGMENTS = {
    "confirmation": 2, "change": 2, "reminder": 2, "reminder (course visit)": 2, "cancellation": 2,
    "course_welcome": 2, "links": 2, "links (several visits)": 2, "waitlist_offer": 2,
}
EXPECTED_SEGMENTS_FIRST = EXPECTED_SEGMENTS
# A waitlist offer carries no link: in English it fits one part once the opt-out line is gone.
EXPECTED_OFFER_SEGMENTS_LATER = {"en": 1, "es": 2}
EXPECTED_REPLY_SEGMENTS = {
    "en": {"confirmed": 1, "nothing_to_confirm": 1, "reschedule": 2, "no_visit": 1, "opted_out": 1,
           "opted_in": 1, "help": 1, "unknown": 1, "offer_taken": 2, "offer_gone": 1},
    "es": {"confirmed": 1, "nothing_to_confirm": 1, "reschedule": 2, "no_visit": 2, "opted_out": 1,
           "opted_in": 1, "help": 2, "unknown": 1, "offer_taken": 2, "offer_gone": 1},
}


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_sms_template(world, language):
    person = world[language]
    rendered_kinds = set()
    for first_text in (True, False):
        if not first_text:  # an earlier text went to this number: no opt-out line any more
            earlier = message(person["patient"], "reminder", "sms", appointment=person["visits"][0])
            earlier.status, earlier.to_address = "sent", person["patient"].phone_e164
            db.session.flush()
        for label, row in every_sms(person).items():
            rendered = render(row, link_for=link_for)
            body = rendered.sms_body
            rendered_kinds.add(row.kind)
            encoding, segments = sms_segments(body)
            budget = EXPECTED_SEGMENTS_FIRST if first_text else {
                **EXPECTED_SEGMENTS, "waitlist_offer": EXPECTED_OFFER_SEGMENTS_LATER[language]}
            assert (label, encoding, segments) == (label, "GSM-7", budget[label]), body
            assert len(body) <= 306
            assert not clinical_words_in(body), (label, body)
            assert not re.search(r"\bcancel\b", body, re.IGNORECASE), body  # a carrier opt-out word
            assert body.startswith("Injury Medical & Chiropractic Clinic: ")
            assert "915-850-0900" in body
            stop = "Reply STOP to opt out" if language == "en" else "Responda STOP para no recibir mensajes"
            assert (stop in body) is first_text, body
            if row.kind in ("confirmation", "change", "reminder", "course_welcome"):
                reply = "Reply C to confirm, R to reschedule" if language == "en" else \
                    "Responda C para confirmar o R para cambiar la cita"
                assert reply in body
            if row.kind == "waitlist_offer":  # answered YES: no link in the text
                offer = "Reply YES to take Wed Sep 29 at " if language == "en" else "Responda YES para tomar el mié 29 sept a las "
                assert offer in body and "https://" not in body and rendered.stored_body == body
            elif row.kind != "cancellation":
                link = re.search(r"https://\S+", body)[0]
                assert link.startswith(f"{PUBLIC_BASE_URL}/l/") and len(link) == len(PUBLIC_BASE_URL) + 3 + 22
                assert LINK_PLACEHOLDER in rendered.stored_body and link not in rendered.stored_body
            else:
                assert rendered.stored_body == body
    assert rendered_kinds == SMS_TEMPLATES


def test_sms_text_in_each_language(world):
    en = render(every_sms(world["en"])["reminder"], link_for=link_for).sms_body
    assert en.startswith("Injury Medical & Chiropractic Clinic: reminder, your visit is Wed Sep 29, 10:45 AM. https://")
    es = render(every_sms(world["es"])["reminder (course visit)"], link_for=link_for).sms_body
    assert es.startswith(
        "Injury Medical & Chiropractic Clinic: le recordamos la visita 4 de 5 el mié 29 sept, 9:00 a.m. https://")


@pytest.mark.parametrize("day", range(7))
def test_sms_dates_stay_gsm7_every_weekday_and_month(world, day):
    person = world["es"]
    for month in (1, 3, 5, 8, 9, 11):  # enero, marzo, mayo, agosto, septiembre, noviembre
        start = local(2028, month, 1 + day, 12, 45)
        person["visit"].starts_at = start
        person["visit"].ends_at = start + timedelta(hours=1)
        person["visit"].blocks_until = start + timedelta(hours=1, minutes=15)
        body = render(message(person["patient"], "reminder", "sms", appointment=person["visit"]),
                      link_for=link_for).sms_body
        assert sms_segments(body) == ("GSM-7", 2), body
        if start.astimezone(DENVER).weekday() == 5:
            assert "el sab " in body  # "sáb": á is not GSM-7, folded


@pytest.mark.parametrize("language", ["en", "es"])
def test_every_reply(world, language):
    person = world[language]
    for kind in REPLY_KINDS:
        link = link_for(person["visit"]) if kind in ("reschedule", "offer_taken") else None
        reply = render_reply(kind, person["patient"], language, appointment=person["visit"], link=link)
        encoding, segments = sms_segments(reply.body)
        assert (kind, encoding, segments) == (kind, "GSM-7", EXPECTED_REPLY_SEGMENTS[language][kind]), reply.body
        assert not clinical_words_in(reply.body), reply.body
        assert not re.search(r"\bcancel\b", reply.body, re.IGNORECASE)
        assert "915-850-0900" in reply.body or kind in ("opted_in", "opted_out")
        if link:
            assert link in reply.body and link not in reply.stored_body and LINK_PLACEHOLDER in reply.stored_body
    assert set(REPLY_KINDS) == REPLY_TEMPLATES
    # Without a known patient the language asked for is used
    assert "Responda" in render_reply("help", None, "es").body
    assert "Reply" in render_reply("help", None, "fr").body
    with pytest.raises(ValueError):
        render_reply("nonsense", None, "en")


def test_no_template_or_translation_asks_to_reply_cancel():
    texts = [p.read_text(encoding="utf-8") for p in TEMPLATES.rglob("*.*")]
    texts.append((ROOT / "scheduler" / "translations" / "es" / "LC_MESSAGES" / "messages.po").read_text("utf-8"))
    for text in texts:
        assert not re.search(r"(reply|responda|text|env[ií]e)\W+(with\W+)?\"?cancel", text, re.IGNORECASE)


# ---------------------------------------------------------------- emails


def disclaimer_bits(language: str) -> tuple[str, str]:
    path = ROOT / "scheduler" / "content" / f"disclaimer.{language}.txt"
    blocks = [" ".join(b.split()) for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    return blocks[0], blocks[-1]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("kind", ["confirmation", "change", "reminder", "cancellation", "course_welcome", "links"])
def test_every_email_has_both_numbers_and_the_disclaimer(world, language, kind):
    person = world[language]
    if kind == "course_welcome":
        row = message(person["patient"], kind, "email", course=person["course"])
    elif kind == "links":
        row = message(person["patient"], kind, "email")
    else:
        row = message(person["patient"], kind, "email", appointment=person["visit"])
    rendered = render(row, link_for=link_for)
    heading, last = disclaimer_bits(language)
    for part in (rendered.text, rendered.html):
        assert "915-850-0900" in part and "915-540-8444" in part
        assert heading in part and last in part
        assert "Injury Medical &" in part
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.to_address == person["patient"].email
    assert f'<html lang="{language}">' in rendered.html
    assert "[private link]" not in rendered.text
    if kind != "cancellation":
        links = re.findall(rf"{re.escape(PUBLIC_BASE_URL)}/l/\S+", rendered.text)
        assert links and all(link not in rendered.stored_body for link in links)
    greeting = "Hello Ana," if language == "en" else "Hola, Rosa:"
    assert rendered.text.startswith(greeting)


def test_email_dates_in_clinic_time_on_both_sides_of_dst(demo, app):
    patient = demo_patient(language="es")
    before = demo_visit(patient, local(2026, 10, 30, 9, 0))   # MDT, UTC-6
    after = demo_visit(patient, local(2026, 11, 2, 13, 0))    # MST, UTC-7
    twice = demo_visit(patient, local(2026, 11, 1, 1, 30), provider_index=2)  # the repeated hour
    spring = demo_visit(patient, local(2027, 3, 15, 9, 0), provider_index=2)
    texts = [render(message(patient, "reminder", "email", appointment=v), link_for=link_for).text
             for v in (before, after, twice, spring)]
    assert "viernes 30 de octubre a las 9:00 a.m." in texts[0]
    assert "lunes 2 de noviembre a la 1:00 p.m." in texts[1]
    assert "domingo 1 de noviembre a la 1:30 a.m. MDT" in texts[2]
    assert "lunes 15 de marzo a las 9:00 a.m." in texts[3]
    patient.language = "en"  # staff changed it: the next message follows
    text = render(message(patient, "confirmation", "email", appointment=after), link_for=link_for).text
    assert "Monday, November 2 at 1:00 PM" in text and "Your appointment is booked." in text


def test_subjects(world):
    en = render(message(world["en"]["patient"], "reminder", "email", appointment=world["en"]["visit"]),
                link_for=link_for)
    assert en.subject == "Reminder: your appointment Wednesday, September 29 at 10:45 AM"
    es = render(message(world["es"]["patient"], "cancellation", "email", appointment=world["es"]["visit"]),
                link_for=link_for)
    assert es.subject == "Su cita del miércoles 29 de septiembre a las 12:45 p.m. está cancelada"


def test_html_escapes_what_patients_typed(demo, app):
    patient = demo_patient(language="en", first_name='<script>alert("x")</script>')
    visit = demo_visit(patient, local(2026, 12, 9, 15, 0))
    rendered = render(message(patient, "confirmation", "email", appointment=visit), link_for=link_for)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


def calendar_of(rendered) -> Calendar:
    check_calendar_types(rendered.ics_bytes)  # ical.js reads every value with its type too
    return Calendar.from_ical(rendered.ics_bytes)


def test_invitation_and_cancellation_calendars(world, app):
    person = world["en"]
    visit = person["visit"]
    invite = render(message(person["patient"], "confirmation", "email", appointment=visit), link_for=link_for)
    assert (invite.ics_method, invite.ics_filename) == ("REQUEST", "appointment.ics")
    calendar = calendar_of(invite)
    assert str(calendar["method"]) == "REQUEST"
    event = calendar.walk("VEVENT")[0]
    assert event.decoded("dtstart") == visit.starts_at and event.decoded("dtend") == visit.ends_at
    assert str(event["attendee"]) == f"mailto:{person['patient'].email}"
    assert str(event["organizer"]).startswith("mailto:")
    # An independent reader agrees on the instant
    occurrences = recurring_ical_events.of(calendar).between(visit.starts_at - timedelta(days=1),
                                                             visit.starts_at + timedelta(days=1))
    assert [o.decoded("dtstart") for o in occurrences] == [visit.starts_at]

    appointment_changes.cancel(visit, actor=appointment_changes.audit.Actor(
        appointment_changes.audit.ActorKind.STAFF, 1))
    cancel = render(message(person["patient"], "cancellation", "email", appointment=visit), link_for=link_for)
    cancelled = calendar_of(cancel)
    assert str(cancelled["method"]) == "CANCEL"
    gone = cancelled.walk("VEVENT")[0]
    assert str(gone["status"]) == "CANCELLED"
    assert str(gone["uid"]) == str(event["uid"])
    assert int(gone["sequence"]) > int(event["sequence"])
    assert render(message(person["patient"], "reminder", "email", appointment=person["visits"][0]),
                  link_for=link_for).ics_bytes is None


def test_course_welcome_lists_the_visits_ahead(world, clock):
    person = world["es"]
    welcome = render(message(person["patient"], "course_welcome", "email", course=person["course"]),
                     link_for=link_for)
    for day in ("lunes 20 de septiembre", "miércoles 22 de septiembre", "lunes 4 de octubre"):
        assert day in welcome.text and day in welcome.html
    assert welcome.text.count(f"{PUBLIC_BASE_URL}/l/") == 5
    assert len(calendar_of(welcome).walk("VEVENT")) == 5 and welcome.ics_method == "PUBLISH"
    sms = render(message(person["patient"], "course_welcome", "sms", course=person["course"]), link_for=link_for)
    assert "reservamos sus 5 citas. La primera es el lun 20 sept, 9:00 a.m." in sms.sms_body


def test_a_moved_visits_reminder_carries_the_new_time(demo, app, client):
    patient = demo_patient(language="en")
    visit = demo_visit(patient, local(2026, 12, 9, 15, 0))
    events.appointment_booked(visit, cause="staff")
    db.session.commit()
    reminder = db.session.scalars(db.select(Message).where(Message.kind == "reminder", Message.channel == "sms")
                                  .order_by(Message.planned_for)).first()
    appointment_changes.reschedule(visit, local(2026, 12, 10, 9, 0).isoformat(), actor=appointment_changes.audit
                                   .Actor(appointment_changes.audit.ActorKind.STAFF, 1))
    new = db.session.scalars(db.select(Message).where(Message.kind == "reminder", Message.channel == "sms",
                                                      Message.status == "pending")
                             .order_by(Message.planned_for)).first()
    for row in (reminder, new):  # even the old row, re-read, would say the new time
        body = render(row, link_for=link_for).sms_body
        assert "Thu Dec 10, 9:00 AM" in body and "Dec 9" not in body
    change = db.session.scalars(db.select(Message).where(Message.kind == "change", Message.channel == "email")).first()
    if change is None:  # the desk's confirmation still waited: it carries the new time
        change = db.session.scalars(db.select(Message).where(Message.kind == "confirmation",
                                                             Message.channel == "email")).first()
    text = render(change, link_for=link_for).text
    assert "Thursday, December 10 at 9:00 AM" in text
    # The link in the text opens the visit once the sender commits
    db.session.commit()
    link = re.search(r"/l/\S+", render(new, link_for=link_for).sms_body)[0]
    db.session.commit()
    assert client.get(link).status_code == 303


@pytest.mark.parametrize("kind", ["confirmation", "change", "reminder", "cancellation"])
def test_emails_name_no_service_unless_the_clinic_turns_it_on(world, app, kind):
    """Minimum necessary, as in texts and calendar files: the time, the provider and the
    place, not what the visit is for; EMAIL_NAMES_SERVICE puts it back."""
    person = world["en"]
    service = person["visit"].service.name
    service = service.get("en") if isinstance(service, dict) else service
    rendered = render(message(person["patient"], kind, "email", appointment=person["visit"]), link_for=link_for)
    for part in (rendered.text, rendered.html, rendered.subject):
        assert service not in part and "What" not in part
    app.config["EMAIL_NAMES_SERVICE"] = True
    rendered = render(message(person["patient"], kind, "email", appointment=person["visit"]), link_for=link_for)
    if kind != "cancellation":  # a cancellation never said what the visit was
        assert service in rendered.text and service in rendered.html
