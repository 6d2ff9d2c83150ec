"""The waitlist end to end, through the worker and the SMS stand-in (the Twilio SDK against
the sink and Prism): a cancellation frees a time, the worker offers it to the first patient
who wants it, YES books it, a late YES is told it is gone, an unanswered offer expires and
passes to the next patient; and which meaning a YES has when it could mean three things."""
from __future__ import annotations

import re

import pytest

from scheduler import worker
from scheduler.extensions import db
from scheduler.models import (
    Appointment,
    AuditEvent,
    Message,
    Patient,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOpening,
)
from scheduler.services.common import audit
from tests.support.messaging import (
    ANA,
    BEA,
    PATIENT,
    THURSDAY_10,
    ana_cancels,
    book,
    close_transports,
    first_provider_id,
    join,
    messaging_app,
    reply_of,
    text,
    texts_to,
)

CARL = "+19155550125"


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, clock, sink, smtp):
    sink.reset()
    app = messaging_app(tmp_path, migrated_sqlite_template, clock, sink_url=sink.url, smtp_port=smtp.port,
                        WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        close_transports(app)
        db.session.remove()
        db.engine.dispose()


def booked_for(number: str) -> list[Appointment]:
    db.session.expire_all()
    return list(db.session.scalars(
        db.select(Appointment).join(Patient).where(Patient.phone_e164 == number, Appointment.status == "booked")))


def actions() -> list[tuple[str, str]]:
    return [(e.actor_kind, e.action) for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action.like("waitlist.%")).order_by(AuditEvent.id))]


def test_a_cancellation_is_offered_and_yes_books_it(client, sink):
    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124")
    join(client, "Carl", "915-555-0125")
    assert worker.run_once(digest_mode="skip")["offer_waitlist"] == {"expired": 0, "offered": 0, "closed": 0}
    ana_cancels()
    assert db.session.scalar(db.select(db.func.count()).select_from(WaitlistOpening)) == 1

    results = worker.run_once(digest_mode="skip")
    assert results["offer_waitlist"]["offered"] == 1
    offer_text = texts_to(sink, BEA)[-1]
    assert "Reply YES to take Thu Dec 3 at 10:00 AM." in offer_text and "until 8:30 AM" in offer_text
    assert texts_to(sink, CARL) == []  # one patient at a time, in order of joining
    worker.run_once(digest_mode="skip")
    assert texts_to(sink, CARL) == []  # still held for Bea

    answer = reply_of(text(client, "yes", sender=BEA))
    assert "it is yours" in answer and "Thu Dec 3, 10:00 AM" in answer and "https://clinic.example/l/" in answer
    [visit] = booked_for(BEA)
    assert (visit.source, visit.provider_id) == ("sms", first_provider_id())
    assert visit.clinic_info_version_id is not None  # the clinic details the offer showed
    assert visit.starts_at.isoformat() == "2026-12-03T17:00:00+00:00"
    booked = db.session.scalars(db.select(AuditEvent).filter_by(action="appointment.booked", entity_id=visit.id)).one()
    assert booked.actor_kind == "sms"
    assert db.session.scalars(db.select(WaitlistEntry).join(Patient).where(Patient.phone_e164 == BEA)).one().status \
        == "booked"
    # A second YES is not a second booking
    again = reply_of(text(client, "YES", sender=BEA))
    assert "it is yours" in again and len(booked_for(BEA)) == 1
    # The booking's confirmation goes out on the next pass; nothing goes to Carl: the time is taken
    worker.run_once(digest_mode="skip")
    assert texts_to(sink, CARL) == []
    assert actions() == [
        ("patient_web", "waitlist.joined"), ("patient_web", "waitlist.joined"),
        ("system", "waitlist.offered_time"), ("system", "waitlist.offered"),
        ("sms", "waitlist.offer_taken"), ("sms", "waitlist.booked"), ("sms", "waitlist.offer_answered_again"),
    ]


def test_an_unanswered_offer_expires_and_passes_on_and_a_late_yes_is_told_it_is_gone(app, client, sink, clock):
    app.config["WAITLIST_HOLD_MINUTES"] = 20
    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124")
    join(client, "Carl", "915-555-0125", language="es")
    ana_cancels()
    worker.run_once(digest_mode="skip")
    assert "until 8:20 AM" in texts_to(sink, BEA)[-1]
    clock.advance(minutes=21)
    results = worker.run_once(digest_mode="skip")
    assert results["offer_waitlist"] == {"expired": 1, "offered": 1, "closed": 0}
    carl_text = texts_to(sink, CARL)[-1]
    assert "se abrio una hora. Responda YES para tomar el jue 3 dic a las 10:00 a.m." in carl_text
    # Bea's YES comes too late: the time is gone (it does not confirm anything else)
    late = reply_of(text(client, "YES", sender=BEA))
    assert "no longer available" in late and booked_for(BEA) == []
    # Carl answers in Spanish within his hold: booked
    taken = reply_of(text(client, "Sí", sender=CARL))
    assert "la hora es suya" in taken and len(booked_for(CARL)) == 1
    offers = list(db.session.scalars(db.select(WaitlistOffer).order_by(WaitlistOffer.id)))
    assert [o.status for o in offers] == ["expired", "taken"]
    bea = db.session.scalars(db.select(WaitlistEntry).join(Patient).where(Patient.phone_e164 == BEA)).one()
    assert bea.status == "waiting"  # still waiting for another time
    assert ("system", "waitlist.offer_expired") in actions() and ("sms", "waitlist.offer_answered_late") in actions()


def test_preferences_decide_who_is_offered(client, sink):
    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124", time_of_day="afternoon")  # Thursday 10:00 is a morning
    join(client, "Carl", "915-555-0125", weekdays=[3])  # Thursday
    ana_cancels()
    worker.run_once(digest_mode="skip")
    assert texts_to(sink, BEA) == [] and len(texts_to(sink, CARL)) == 1


def test_a_patient_in_an_active_course_comes_first_in_their_course_week(client, sink):
    from tests.support.factories import demo_course, local

    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124")
    join(client, "Carl", "915-555-0125")
    carl = db.session.scalars(db.select(Patient).filter_by(phone_e164=CARL)).one()
    course, _visits = demo_course(carl, [local(2026, 12, 1, 15, 0), local(2026, 12, 8, 15, 0)])
    course.status = "active"
    db.session.commit()
    ana_cancels()
    worker.run_once(digest_mode="skip")
    assert texts_to(sink, BEA) == [] and "Reply YES" in texts_to(sink, CARL)[-1]


def test_an_offer_made_at_night_waits_for_the_send_window_and_its_hold_starts_then(client, sink, clock):
    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124")
    clock.advance(hours=14)  # 22:00 in El Paso's clinic time: outside 08:00-21:00
    ana_cancels()
    worker.run_once(digest_mode="skip")
    offer = db.session.scalars(db.select(WaitlistOffer)).one()
    assert texts_to(sink, BEA) == []
    assert offer.expires_at.isoformat() == "2026-12-01T15:30:00+00:00"  # 08:00 tomorrow + 30 minutes
    clock.advance(hours=10)  # 08:00
    worker.run_once(digest_mode="skip")
    assert "Reply YES" in texts_to(sink, BEA)[-1]


def test_without_sms_the_offer_is_an_email_with_a_link_that_takes_it(client, sink, smtp):
    book(client, THURSDAY_10)
    body = {"service": "initial-evaluation", "earliest_date": "2026-12-01", "latest_date": "2026-12-10",
            "patient": {**PATIENT, "first_name": "Dee", "phone": "915-555-0126", "email": "dee@example.com",
                        "sms_opt_in": False}}
    assert client.post("/api/v1/waitlist", json=body).status_code == 201
    ana_cancels()
    worker.run_once(digest_mode="skip")
    message = db.session.scalars(db.select(Message).filter_by(kind="waitlist_offer")).one()
    assert (message.channel, message.status) == ("email", "sent")
    assert "[private link]" in message.body and "/waitlist/offers/" not in message.body
    from scheduler.services.waitlist.offers import take_url

    offer = db.session.scalars(db.select(WaitlistOffer)).one()
    path = take_url(offer).removeprefix("https://clinic.example")
    page = client.get(path)
    assert page.status_code == 200 and "Take this time" in page.get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    taken = client.post(path, data={"csrf_token": token})
    assert taken.status_code == 200 and "booked" in taken.get_data(as_text=True)
    assert len(booked_for("+19155550126")) == 1
    assert client.get(path.replace("offers/", "offers/x")).status_code == 404


# --- YES means three things: the order is documented in domain/sms_keywords.py ---------------


def test_yes_precedence_in_the_pure_rules():
    from scheduler.domain.sms_keywords import Intent, interpret

    assert interpret("yes", opted_out=False) is Intent.CONFIRM
    assert interpret("yes", opted_out=True) is Intent.START
    assert interpret("yes", opted_out=False, offer_held=True) is Intent.TAKE_OFFER
    assert interpret("Sí.", opted_out=True, offer_held=True) is Intent.TAKE_OFFER
    assert interpret("YES", opted_out=False, offer_last=True) is Intent.OFFER_GONE
    assert interpret("STOP", opted_out=False, offer_held=True) is Intent.STOP
    assert interpret("C", opted_out=False, offer_held=True) is Intent.CONFIRM  # the offer asks for YES


def test_yes_takes_a_held_offer_before_confirming_a_visit_then_confirms_again(client, sink):
    book(client, THURSDAY_10)
    # Bea has her own visit on Friday and waits for an earlier one
    book(client, "2026-12-04T14:00:00-07:00", first_name="Bea", phone="915-555-0124", email="bea@example.com")
    join(client, "Bea", "915-555-0124")
    ana_cancels()
    worker.run_once(digest_mode="skip")
    answer = reply_of(text(client, "YES", sender=BEA))
    assert "it is yours" in answer
    friday = [v for v in booked_for(BEA) if v.starts_at.day == 4]
    assert len(booked_for(BEA)) == 2 and friday[0].confirmed_at is None  # not confirmed by that YES
    # With no offer held any more and the newest text the booking's confirmation, YES confirms
    worker.run_once(digest_mode="skip")
    confirm = reply_of(text(client, "YES", sender=BEA))
    assert "confirmed" in confirm
    db.session.expire_all()
    assert db.session.scalar(db.select(db.func.count()).select_from(Appointment).where(
        Appointment.status == "confirmed")) == 1


def test_yes_from_an_opted_out_number_with_a_held_offer_takes_it_and_opts_back_in(client, sink):
    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124")
    ana_cancels()
    worker.run_once(digest_mode="skip")
    reply_of(text(client, "STOP", sender=BEA))
    answer = reply_of(text(client, "yes", sender=BEA))
    assert "it is yours" in answer and len(booked_for(BEA)) == 1
    bea = db.session.scalars(db.select(Patient).filter_by(phone_e164=BEA)).one()
    assert bea.sms_opted_out_at is None
    # Without an offer, an opted-out number's YES only opts back in
    reply_of(text(client, "STOP", sender=ANA))
    again = reply_of(text(client, "YES", sender=ANA))
    ana = db.session.scalars(db.select(Patient).filter_by(phone_e164=ANA)).one()
    db.session.refresh(ana)
    assert ana.sms_opted_out_at is None and "it is yours" not in again


# --- the public pages ---------------------------------------------------------------------------


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_the_day_and_time_pages_link_to_the_waitlist_form_which_joins_and_leaves(client):
    from scheduler.services.operations.demo import seed_demo

    seed_demo()
    for path in ("/book/initial-evaluation/any", "/book/initial-evaluation/any/2026-12-01"):
        assert 'href="/book/initial-evaluation/any/waitlist"' in client.get(path).get_data(as_text=True)
    form_page = client.get("/book/initial-evaluation/any/waitlist")
    assert form_page.status_code == 200
    fields = {"earliest_date": "2026-12-01", "latest_date": "2026-12-12", "weekdays": ["1", "3"],
              "time_of_day": "morning", "first_name": "Bea", "last_name": "Lopez", "phone": "915-555-0124",
              "email": "bea@example.com", "sms_opt_in": "yes"}
    # Without the CSRF token: refused, nothing saved
    assert client.post("/book/initial-evaluation/any/waitlist", data=fields).status_code == 400
    # A bad date and a missing name: 422 with the messages, what was typed kept
    bad = client.post("/book/initial-evaluation/any/waitlist",
                      data={**fields, "latest_date": "2026-11-01", "first_name": "", "csrf_token": csrf(form_page)})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "The end date must not be before the start date." in html
    assert 'value="915-555-0124"' in html and 'value="1" checked' in html
    assert db.session.scalar(db.select(db.func.count()).select_from(WaitlistEntry)) == 0
    joined = client.post("/book/initial-evaluation/any/waitlist", data={**fields, "csrf_token": csrf(form_page)})
    assert joined.status_code == 200 and "You are on the waitlist" in joined.get_data(as_text=True)
    entry = db.session.scalars(db.select(WaitlistEntry)).one()
    assert (entry.weekdays, entry.time_of_day, entry.source, str(entry.latest_day)) == (
        "1,3", "morning", "online", "2026-12-12")
    leave_path = re.search(r'href="(/waitlist/leave/[^"]+)"', joined.get_data(as_text=True)).group(1)
    leave_page = client.get(leave_path)
    assert "Leave the waitlist?" in leave_page.get_data(as_text=True)
    left = client.post(leave_path, data={"csrf_token": csrf(leave_page)})
    assert "You are no longer on the waitlist" in left.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WaitlistEntry, entry.id).status == "removed"
    assert client.get(leave_path + "x").status_code == 404


def test_the_waitlist_form_in_spanish(client):
    from scheduler.services.operations.demo import seed_demo

    seed_demo()
    page = client.get("/book/initial-evaluation/any/waitlist?lang=es").get_data(as_text=True)
    assert "Anotarse en la lista de espera" in page and "Días de la semana" in page
    times = client.get("/book/initial-evaluation/any/2026-12-01?lang=es").get_data(as_text=True)
    assert "¿No le conviene ninguna?" in times


# --- other ways time frees up ------------------------------------------------------------------


def test_a_move_away_and_a_lifted_closure_are_offered(client, sink):
    from datetime import date

    from scheduler.models import Closure
    from scheduler.services.appointments import staff_changes as staff_appointments
    from scheduler.services.closures import closing

    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124", weekdays=[3])  # Thursdays
    ana = db.session.scalars(db.select(Appointment).join(Patient).where(Patient.phone_e164 == ANA)).one()
    staff_appointments.move(ana, "2026-12-04T10:00:00-07:00", actor=audit.SYSTEM)
    worker.run_once(digest_mode="skip")
    assert "Reply YES to take Thu Dec 3 at 10:00 AM." in texts_to(sink, BEA)[-1]
    assert db.session.scalars(db.select(WaitlistOpening)).one().cause == "moved"

    join(client, "Carl", "915-555-0125", earliest_date="2026-12-08", latest_date="2026-12-08")
    closure = Closure(first_day=date(2026, 12, 8), last_day=date(2026, 12, 8), name="Staff training")
    db.session.add(closure)
    db.session.commit()
    worker.run_once(digest_mode="skip")
    assert texts_to(sink, CARL) == []  # closed: nothing to offer
    closing.lift(closure, audit.SYSTEM)
    worker.run_once(digest_mode="skip")
    assert "Reply YES to take Tue Dec 8 at " in texts_to(sink, CARL)[-1]


def test_who_wants_a_time_in_the_pure_rules():
    from datetime import date, datetime

    from scheduler.domain.waitlist_match import Preferences, in_course_week, offer_order, wants

    thursday_10 = datetime(2026, 12, 3, 10, 0)
    anything = Preferences(date(2026, 12, 1), date(2026, 12, 10), "", "any")
    assert wants(anything, thursday_10)
    assert not wants(Preferences(date(2026, 12, 4), date(2026, 12, 10), "", "any"), thursday_10)
    assert not wants(Preferences(date(2026, 12, 1), date(2026, 12, 2), "", "any"), thursday_10)
    assert wants(Preferences(date(2026, 12, 1), date(2026, 12, 10), "1,3", "morning"), thursday_10)
    assert not wants(Preferences(date(2026, 12, 1), date(2026, 12, 10), "0,4", "any"), thursday_10)
    assert not wants(Preferences(date(2026, 12, 1), date(2026, 12, 10), "", "afternoon"), thursday_10)
    assert wants(Preferences(date(2026, 12, 1), date(2026, 12, 10), "", "afternoon"), datetime(2026, 12, 3, 12, 0))
    assert in_course_week(date(2026, 12, 3), [date(2026, 11, 30)]) and not in_course_week(date(2026, 12, 3), [date(2026, 12, 7)])
    early, late = datetime(2026, 11, 1), datetime(2026, 11, 2)
    assert sorted([offer_order(False, early, 1), offer_order(True, late, 2)]) == [offer_order(True, late, 2),
                                                                                  offer_order(False, early, 1)]


def test_the_hold_reads_right_at_one_o_clock_in_spanish(app):
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from scheduler.services.messages.render import hold_line

    until, moment = datetime(2026, 12, 3, 20, 15, tzinfo=UTC), datetime(2026, 12, 3, 19, 45, tzinfo=UTC)
    with app.test_request_context():
        with force_locale("es_US"):
            assert hold_line(until, moment) == "Se la guardamos hasta la 1:15 p.m."
            assert hold_line(until.replace(hour=22), moment) == "Se la guardamos hasta las 3:15 p.m."
        with force_locale("en_US"):
            assert hold_line(until, moment) == "We hold it for you until 1:15 PM."


def test_a_hold_ending_in_the_repeated_hour_names_its_zone(app):
    """On the night the clocks fall back, 1:30 comes twice: the hold says which one."""
    from datetime import UTC, datetime

    from flask_babel import force_locale

    from scheduler.services.messages.render import hold_line

    # 2026-11-01 in Denver: 1:30 MDT is 07:30 UTC, 1:30 MST is 08:30 UTC.
    moment = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    with app.test_request_context(), force_locale("en_US"):
        assert hold_line(datetime(2026, 11, 1, 7, 30, tzinfo=UTC), moment) == "We hold it for you until 1:30 AM MDT."
        assert hold_line(datetime(2026, 11, 1, 8, 30, tzinfo=UTC), moment) == "We hold it for you until 1:30 AM MST."
        assert hold_line(datetime(2026, 11, 1, 10, 0, tzinfo=UTC), moment) == "We hold it for you until 3:00 AM."
