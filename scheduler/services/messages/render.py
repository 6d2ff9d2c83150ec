"""What a patient reads: a message's text, HTML, SMS body and calendar file, rendered at send time.

Everything is re-read when the message goes out (the visit's time and status, the patient's
language and address), so a moved visit's reminder carries the new time. Templates live in
templates/messages/ and every sentence goes through gettext; dates are formatted by Babel for
the patient's language with the clinic's region (en_US, es_US), in clinic time.

SMS carry no clinical detail (no service or provider, minimum necessary), stay within two
GSM-7 segments (letters outside GSM-7 are folded to their nearest GSM-7 ones: "sábado" ->
"sabado"), and never ask the patient to reply CANCEL (a carrier opt-out word).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache, partial
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel.support import Translations
from flask import current_app
from flask_babel import force_locale, get_locale, get_translations
from flask_babel import gettext as _

from scheduler.domain.patient_details import N_
from scheduler.domain.reminders import fold_to_gsm7
from scheduler.domain.wall_time import is_ambiguous
from scheduler.extensions import db
from scheduler.models import Appointment, AppointmentStatus, Course, Message, MessageStatus, Patient, WaitlistOffer
from scheduler.services.calendars.files import course_calendar_bytes, visit_calendar_bytes
from scheduler.services.clinic.versions import current_details
from scheduler.services.common.clock import now
from scheduler.services.messages.links import redact
from scheduler.services.messages.outbox import upcoming_visits
from scheduler.services.waitlist.offers import take_url

LinkFor = Callable[[Appointment], str]


class Lookups:
    """The two facts a message asks the database for beyond its own rows. One message asks
    here; the worker's batch answers them for all its messages at once (BatchLookups)."""

    def first_text(self, phone: str, message_id: int | None) -> bool:
        return _first_text_to(phone, message_id)

    def visit_total(self, appointment: Appointment) -> int | None:
        return _visit_total(appointment)


class BatchLookups(Lookups):
    """Answers for a batch of messages, read in two queries instead of two per message.

    "First text" is decided against what had been sent when the batch was read, and within the
    batch: of two messages of one batch to a new number, the first rendered says how to opt
    out and the other does not (the patient gets the line once, never twice, never not at all)."""

    def __init__(self, phones: set[str], course_ids: set[int]):
        self._texted: set[str] = set()
        if phones:
            self._texted = set(db.session.scalars(
                db.select(Message.to_address).distinct().where(
                    Message.channel == "sms",
                    Message.to_address.in_(sorted(phones)),
                    Message.status.in_([MessageStatus.SENT.value, MessageStatus.DELIVERED.value]),
                )
            ))
        courses = sorted(course_ids)
        self._totals: dict[int, int | None] = {}
        if courses:
            self._totals = dict(db.session.execute(
                db.select(Appointment.course_id, db.func.max(Appointment.visit_number))
                .where(Appointment.course_id.in_(courses), Appointment.status != AppointmentStatus.CANCELLED.value)
                .group_by(Appointment.course_id)
            ).all())

    def first_text(self, phone: str, message_id: int | None) -> bool:
        if phone in self._texted:
            return False
        self._texted.add(phone)  # this message carries the line; the batch's others do not
        return True

    def visit_total(self, appointment: Appointment) -> int | None:
        if appointment.course_id is None:
            return None
        return self._totals.get(appointment.course_id)

SUBJECTS = {
    "confirmation": N_("Your appointment is booked: %(when)s"),
    "change": N_("Your appointment has moved: %(when)s"),
    "cancellation": N_("Your appointment on %(when)s is cancelled"),
    "reminder": N_("Reminder: your appointment %(when)s"),
    "course_welcome": N_("Your visits at %(clinic)s"),
    "links": N_("Your private links to your appointments"),
    "waitlist_offer": N_("A time opened up: %(when)s"),
}
# Sent with a calendar file: the email's invitation updates the patient's calendar in place.
ICS_METHODS = {"confirmation": "REQUEST", "change": "REQUEST", "cancellation": "CANCEL"}
REPLY_KINDS = ("confirmed", "nothing_to_confirm", "reschedule", "no_visit", "opted_out", "opted_in", "help", "unknown",
               "offer_taken", "offer_gone")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str            # the email's plain-text part ("" for an SMS)
    html: str            # the email's HTML part ("" for an SMS)
    sms_body: str        # ("" for an email)
    ics_bytes: bytes | None
    ics_method: str | None
    ics_filename: str | None
    stored_body: str     # what the outbox keeps: the text with every private link replaced
    to_address: str
    language: str


@dataclass(frozen=True)
class RenderedReply:
    body: str
    stored_body: str


# ---------------------------------------------------------------- formatting


def language_of(patient: Patient | None, fallback: str = "en") -> str:
    """The patient's language when the clinic speaks it, else the clinic's default. Reads only."""
    languages = current_app.config["LANGUAGES"]
    language = patient.language if patient is not None else fallback
    return language if language in languages else current_app.config["BABEL_DEFAULT_LOCALE"]


def _locale(language: str) -> str:
    return current_app.config["LOCALE_REGIONS"].get(language, language)


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


@dataclass(frozen=True)
class Words:
    """One language's catalogue and Babel locale, held together: flask_babel finds both
    through the app context again on every call, and a text makes a dozen such calls."""

    locale: str  # "en_US", "es_US"
    catalogue: Translations

    def gettext(self, string: str, **variables) -> str:
        text = self.catalogue.ugettext(string)
        return text % variables if variables else text

    def pgettext(self, context: str, string: str, **variables) -> str:
        text = self.catalogue.upgettext(context, string)
        return text % variables if variables else text


def current_words() -> Words:
    """The words of the locale in force (force_locale, or the request's). Reads only."""
    return Words(str(get_locale()), get_translations())


def words_for(language: str) -> Words:
    """A patient's language's words, looked up once per process: the compiled catalogues do
    not change while it runs. Reads only."""
    known: dict[str, Words] = current_app.extensions.setdefault("message_words", {})
    words = known.get(language)
    if words is None:
        with force_locale(_locale(language)):
            words = known[language] = current_words()
    return words


def when(instant: datetime, *, short: bool = False, words: Words | None = None) -> str:
    """In clinic time and the patient's language: "Tuesday, December 8 at 3:00 PM" / "martes
    8 de diciembre a las 3:00 p.m."; short, for texts: "Tue Dec 8, 3:00 PM" / "mar 8 dic,
    3:00 p.m.". In the hour clocks repeat when they fall back, with the zone ("1:30 AM MST").
    Reads only."""
    words = words or current_words()
    local = instant.astimezone(_tz())
    clock = _clock_label(local, words.locale)
    # Babel date patterns, translated so each language keeps its own word order.
    if short:
        day = _babel_date(local.date(), words.gettext("EEE MMM d"), words.locale)
        label = words.pgettext("short date and time", "%(day)s, %(time)s", day=day, time=clock)
    else:
        day = _babel_date(local.date(), words.gettext("EEEE, MMMM d"), words.locale)
        label = _at(day, clock, local, words)
    return " ".join(label.split())


def _at(day: str, clock: str, local: datetime, words: Words) -> str:
    """"<day> at <time>"; Spanish says "a la 1:30", not "a las"."""
    if local.hour % 12 == 1:
        return words.pgettext("one o'clock", "%(day)s at %(time)s", day=day, time=clock)
    return words.gettext("%(day)s at %(time)s", day=day, time=clock)


def _clock_label(local: datetime, locale: str) -> str:
    """"3:00 PM" / "3:00 p.m."; in the hour the clocks repeat, with the zone ("1:30 AM MST")."""
    clock = _babel_time(local.time(), locale)
    return f"{clock} {local.tzname()}" if is_ambiguous(local) else clock


# A day's or a clock time's words in one language never change: each is worked out by Babel
# once per worker (a day of reminders shares its date; every visit on the hour shares its time).
@lru_cache(maxsize=4096)
def _babel_date(day: date, pattern: str, locale: str) -> str:
    return babel_dates.format_date(day, pattern, locale=locale)


@lru_cache(maxsize=1024)
def _babel_time(clock: time, locale: str) -> str:
    return babel_dates.format_time(clock, "h:mm a", locale=locale)


def when_at(instant: datetime, words: Words | None = None) -> str:
    """A short day with "at", for a question in a text: "Tue Dec 8 at 3:00 PM" / "mar 8 dic a
    las 3:00 p.m.". Reads only."""
    words = words or current_words()
    local = instant.astimezone(_tz())
    day = _babel_date(local.date(), words.gettext("EEE MMM d"), words.locale)
    return " ".join(_at(day, _clock_label(local, words.locale), local, words).split())


def hold_line(instant: datetime, moment: datetime, words: Words | None = None) -> str:
    """"We hold it for you until 8:30 AM." (with the day when it is not today; with the zone in
    the hour the clocks repeat); Spanish says "hasta la 1:15", not "hasta las". Reads only."""
    words = words or current_words()
    local, today = instant.astimezone(_tz()), moment.astimezone(_tz()).date()
    if local.date() != today:
        return _one_stop(words.gettext("We hold it for you until %(until)s.", until=when(instant, short=True, words=words)))
    until = _clock_label(local, words.locale)
    if local.hour % 12 == 1:
        return _one_stop(words.pgettext("one o'clock", "We hold it for you until %(until)s.", until=until))
    return _one_stop(words.gettext("We hold it for you until %(until)s.", until=until))


_DOUBLE_STOP = re.compile(r"(?<!\.)\.\.(?!\.)")


def _one_stop(text: str) -> str:
    """"... at 3:00 p.m.." -> "... at 3:00 p.m.": a sentence ending on a time ends once."""
    return _DOUBLE_STOP.sub(".", text)


def _clinic(language: str) -> dict:
    config = current_app.config
    details = current_details()
    return {
        "name": details.name,
        "office": details.office,
        "cell": details.cell,
        "address": details.address,
        "email": config["CLINIC_EMAIL"],
        "booking_url": config["PUBLIC_BASE_URL"].rstrip("/") + "/",
        "disclaimer": details.disclaimer(language),
    }


def _template(name: str):
    return current_app.jinja_env.get_template(f"messages/{name}")


def _tidy(text: str) -> str:
    """An email's text part: no trailing spaces, at most one blank line in a row."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy) + "\n"


def _text(template: str, context: dict, words: Words) -> str:
    """A text message from its template. Every word comes from `words`, without switching
    flask_babel's locale: a text template has no autoescape, and plain catalogue look-ups
    stand in for Jinja's gettext."""
    return _sms(_template(template).render(context, _=words.gettext, gettext=words.gettext))


def _sms(text: str) -> str:
    """One paragraph, GSM-7 letters only."""
    return fold_to_gsm7(_one_stop(" ".join(text.split())))


def _first_text_to(phone: str, message_id: int | None) -> bool:
    """No text has gone to this number before (so this one says how to opt out)."""
    query = db.select(Message.id).where(
        Message.channel == "sms",
        Message.to_address == phone,
        Message.status.in_([MessageStatus.SENT.value, MessageStatus.DELIVERED.value]),
    )
    if message_id is not None:
        query = query.where(Message.id != message_id)
    return db.session.scalar(query.limit(1)) is None


def _visit_total(appointment: Appointment) -> int | None:
    if appointment.course_id is None:
        return None
    return db.session.scalar(
        db.select(db.func.max(Appointment.visit_number)).where(
            Appointment.course_id == appointment.course_id,
            Appointment.status != AppointmentStatus.CANCELLED.value,
        )
    )


# ---------------------------------------------------------------- messages


def render(message: Message, *, link_for: LinkFor, lookups: Lookups | None = None) -> Rendered:
    """The message as it goes out now. `link_for(appointment)` mints a fresh private link.
    Reads only, but for what `link_for` writes."""
    lookups = lookups or Lookups()
    patient = db.session.get(Patient, message.patient_id)
    language = language_of(patient)
    minted: list[str] = []

    def link(appointment: Appointment) -> str:
        url = link_for(appointment)
        minted.append(url)
        return url

    appointment = db.session.get(Appointment, message.appointment_id) if message.appointment_id else None
    course = db.session.get(Course, message.course_id) if message.course_id else None
    moment = now()
    words = words_for(language)
    context = {
        "kind": message.kind,
        "patient": patient,
        "clinic": _clinic(language),
        "appointment": appointment,
        "course": course,
        "language": language,
        "format_when": partial(when, words=words),
        # Minimum necessary: the service (what the visit is for) only when the clinic asks.
        "names_service": bool(current_app.config.get("EMAIL_NAMES_SERVICE")),
    }
    context.update(_facts(message, patient, appointment, course, moment, link, lookups, words))
    if message.waitlist_offer_id is not None:
        context.update(_offer_facts(message, moment, words))
        if context.get("link"):
            minted.append(context["link"])
    if message.channel == "sms":
        context["first_text"] = lookups.first_text(patient.phone_e164, message.id)
        body = _text(f"sms/{message.kind}.txt", context, words)
        return Rendered(
            subject="", text="", html="", sms_body=body, ics_bytes=None, ics_method=None,
            ics_filename=None, stored_body=redact(body, minted), to_address=patient.phone_e164,
            language=language,
        )
    with force_locale(_locale(language)):  # an email's HTML escapes: Jinja's own gettext, in this locale
        subject = _(SUBJECTS[message.kind], when=context.get("when_label", ""), clinic=context["clinic"]["name"])
        text = _one_stop(_tidy(_template(f"email/{message.kind}.txt").render(context)))
        html = _one_stop(_template(f"email/{message.kind}.html").render(context, subject=subject))
        ics_bytes, ics_method, ics_filename = _calendar(message, patient, appointment, course, context)
    return Rendered(
        subject=subject, text=text, html=html, sms_body="", ics_bytes=ics_bytes, ics_method=ics_method,
        ics_filename=ics_filename, stored_body=redact(text, minted), to_address=patient.email or "",
        language=language,
    )


def _facts(message, patient, appointment, course, moment, link, lookups: Lookups, words: Words) -> dict:
    """What each kind's templates need, read now."""
    say = partial(when, words=words)
    facts: dict = {}
    if appointment is not None:
        # Each format costs a Babel pass: an email says the long one, a text the short one.
        if message.channel == "email" or message.kind == "links":
            facts["when_label"] = say(appointment.starts_at)
        if message.channel == "sms":
            facts["when_short"] = say(appointment.starts_at, short=True)
        facts["visit_number"] = appointment.visit_number
        facts["visit_total"] = lookups.visit_total(appointment)
        facts["moved_from"] = appointment.moved_from
        if message.kind != "cancellation":
            facts["link"] = link(appointment)
    if message.kind == "course_welcome":
        visits = upcoming_visits(patient, moment, course) if course is not None else []
        facts["visits"] = [
            {"appointment": v, "when": say(v.starts_at), "link": link(v) if message.channel == "email" else None}
            for v in visits
        ]
        if visits:
            facts["when_label"] = say(visits[0].starts_at)
            facts["when_short"] = say(visits[0].starts_at, short=True)
            if message.channel == "sms":
                facts["link"] = link(visits[0])
        facts["visit_count"] = len(visits)
    if message.kind == "links" and appointment is None:
        visits = upcoming_visits(patient, moment)
        if message.channel == "sms":
            visits = visits[:1]  # one link fits a text; the rest are a call or an email away
            facts["more_visits"] = max(0, len(upcoming_visits(patient, moment)) - 1)
        facts["visits"] = [{"appointment": v, "when": say(v.starts_at), "link": link(v)} for v in visits]
        if visits:
            facts["when_label"] = say(visits[0].starts_at)
            facts["when_short"] = say(visits[0].starts_at, short=True)
            facts["link"] = facts["visits"][0]["link"]
    elif message.kind == "links" and appointment is not None:
        facts["visits"] = [{"appointment": appointment, "when": facts["when_label"], "link": facts["link"]}]
        facts["more_visits"] = 0
    return facts


def _offer_facts(message: Message, moment: datetime, words: Words) -> dict:
    offer = db.session.get(WaitlistOffer, message.waitlist_offer_id)
    facts = {
        "when_label": when(offer.starts_at, words=words),
        "when_short": when(offer.starts_at, short=True, words=words),
        "when_at": when_at(offer.starts_at, words),
        "hold_line": hold_line(offer.expires_at, moment, words),
    }
    if message.channel == "email":  # an email cannot be answered YES: it links to a page that takes it
        facts["link"] = take_url(offer)
    return facts


def _calendar(message, patient, appointment, course, context):
    method = ICS_METHODS.get(message.kind)
    if method and appointment is not None:
        ics = visit_calendar_bytes(appointment, method=method, language=patient.language, manage_url=context.get("link"))
        return ics, method, "appointment.ics"
    if message.kind == "course_welcome" and course is not None and context.get("visits"):
        return course_calendar_bytes(course, language=patient.language), "PUBLISH", "course.ics"
    return None, None, None


# ---------------------------------------------------------------- replies to texts


def render_reply(
    kind: str,
    patient: Patient | None,
    language: str = "en",
    *,
    appointment: Appointment | None = None,
    link: str | None = None,
) -> RenderedReply:
    """The text answering an inbound SMS (see REPLY_KINDS), in the patient's language.
    Reads only."""
    if kind not in REPLY_KINDS:
        raise ValueError(f"unknown reply kind {kind!r}")
    language = language_of(patient, language) if patient is not None else (
        language if language in current_app.config["LANGUAGES"] else "en"
    )
    words = words_for(language)
    context = {
        "clinic": _clinic(language),
        "when_short": when(appointment.starts_at, short=True, words=words) if appointment is not None else "",
        "link": link or "",
    }
    body = _text(f"sms/replies/{kind}.txt", context, words)
    return RenderedReply(body=body, stored_body=redact(body, [link] if link else []))
