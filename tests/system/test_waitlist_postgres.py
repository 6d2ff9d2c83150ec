"""On PostgreSQL: two YES webhooks racing for one waitlist offer book exactly one visit (the
offer row is locked, and the exclusion constraint would refuse a second overlapping row)."""
from __future__ import annotations

import threading

import pytest

from scheduler import worker
from scheduler.extensions import db
from scheduler.models import Appointment, AuditEvent, WaitlistOffer
from tests.support.helpers import build_app
from tests.support.messaging import (
    BEA,
    THURSDAY_10,
    ana_cancels,
    book,
    close_transports,
    join,
    reply_of,
    text,
    texts_to,
)
from tests.support.peers import smtp_settings, twilio_settings

pytestmark = pytest.mark.postgres
RACERS = 4


@pytest.fixture
def app(pg_template_url, clock, sink, smtp):
    sink.reset()
    app = build_app(pg_template_url, clock, PUBLIC_BASE_URL="https://clinic.example", WTF_CSRF_ENABLED=True,
                    **twilio_settings(sink.url), **smtp_settings(smtp.port))
    with app.app_context():
        yield app
        close_transports(app)
        db.session.remove()
        tables = ", ".join(t.name for t in reversed(db.metadata.sorted_tables))
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        db.engine.dispose()


def test_yes_webhooks_racing_for_one_offer_book_it_once(app, sink):
    client = app.test_client()
    book(client, THURSDAY_10)
    join(client, "Bea", "915-555-0124")
    ana_cancels()
    worker.run_once(digest_mode="skip")
    assert "Reply YES" in texts_to(sink, BEA)[-1]
    db.session.remove()

    barrier = threading.Barrier(RACERS)
    answers: list[str] = []

    def answer_yes() -> None:
        racer = app.test_client()
        barrier.wait()
        answers.append(reply_of(text(racer, "YES", sender=BEA)))

    threads = [threading.Thread(target=answer_yes) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == RACERS and all("it is yours" in a for a in answers), answers
    booked = list(db.session.scalars(db.select(Appointment).where(Appointment.status == "booked",
                                                                  Appointment.source == "sms")))
    assert len(booked) == 1
    offer = db.session.scalars(db.select(WaitlistOffer)).one()
    assert (offer.status, offer.appointment_id) == ("taken", booked[0].id)
    taken = db.session.scalar(db.select(db.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "waitlist.offer_taken"))
    assert taken == 1
