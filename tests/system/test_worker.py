"""The worker on SQLite, in process, against the real peers: Prism (Twilio's API description)
behind a counting HTTP sink, and aiosmtpd. Time moves through the app's CLOCK."""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from scheduler import worker
from scheduler.extensions import db
from scheduler.models import AppointmentLink, Message, Patient, WorkerRun
from scheduler.services.common.clock import now
from scheduler.services.messages import sending
from tests.support.messaging import book, close_transports, messages, messaging_app, token_of
from tests.support.peers import mime_parts
from tests.support.statements import statements_sent

THURSDAY_10 = "2026-12-03T10:00:00-07:00"  # the clock starts Monday 2026-11-30 08:00 in Denver


@pytest.fixture
def overrides():
    return {}


@pytest.fixture
def app(tmp_path, migrated_sqlite_template, clock, sink, smtp, overrides):
    sink.reset()
    smtp.received.clear()
    smtp.refuse(None)
    app = messaging_app(tmp_path, migrated_sqlite_template, clock, sink_url=sink.url, smtp_port=smtp.port,
                        MESSAGE_RETRY_BASE_SECONDS=30, **overrides)
    with app.app_context():
        yield app
        close_transports(app)
        db.session.remove()
        db.engine.dispose()


def on(text: str, month: str, day: int, clock_time: str) -> bool:
    """The text names the day ("Dec 3", "December 3", "3 dic", "3 de diciembre") and the time."""
    day_named = re.search(rf"\b{month}\w*\.? {day}\b|\b{day} (de )?{month}", text, re.IGNORECASE)
    return bool(day_named) and clock_time in text


def texts(sink) -> list[str]:
    return [r["form"]["Body"] for r in sink.delivered()]


def test_a_booking_sends_its_confirmations_at_once_by_both_channels(client, sink, smtp):
    book(client, THURSDAY_10)
    results = worker.run_once()
    assert results["send_due"] == {"sent": 2}
    [text] = sink.delivered()
    assert text["form"]["To"] == "+19155550123"
    assert on(text["form"]["Body"], "Dec", 3, "10:00")
    assert text["form"]["StatusCallback"] == "https://clinic.example/webhooks/twilio/status"
    [mail] = smtp.received
    assert mail["To"] == "ana@example.com"
    assert mime_parts(mail)["text/calendar"].get_param("method") == "REQUEST"
    assert b"METHOD:REQUEST" in mime_parts(mail)["text/calendar"].get_payload(decode=True)
    sms = messages(channel="sms", kind="confirmation")[0]
    assert (sms.status, sms.backend, sms.attempts) == ("sent", "twilio", 1)
    assert sms.provider_message_id.startswith("SM") and sms.sent_at == now()
    assert "[private link]" in sms.body and "https://clinic.example/" not in sms.body  # never stored
    assert "https://clinic.example/" in text["form"]["Body"]  # but the patient gets the link
    link = next(w for w in text["form"]["Body"].split() if w.startswith("https://clinic.example/"))
    page = client.get(link.removeprefix("https://clinic.example"), follow_redirects=True)
    assert page.status_code == 200 and "10:00" in page.get_data(as_text=True)  # and it opens
    mail_row = messages(channel="email")[0]
    assert (mail_row.status, mail_row.backend, mail_row.provider_message_id) == ("sent", "smtp", mail["Message-ID"])
    assert worker.run_once()["send_due"] == {}  # nothing twice


def test_reminders_go_at_their_offsets_and_not_before(client, clock, sink, smtp):
    book(client, THURSDAY_10)
    worker.run_once()
    sink.reset()
    smtp.received.clear()
    clock.now = datetime(2026, 12, 1, 16, 59, tzinfo=UTC)  # 48 h before minus a minute
    worker.run_once()
    assert smtp.received == [] and sink.delivered() == []
    clock.advance(minutes=1)
    worker.run_once()
    assert len(smtp.received) == 1 and sink.delivered() == []
    clock.now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # 24 h before: the first SMS reminder
    worker.run_once()
    assert len(texts(sink)) == 1 and "10:00" in texts(sink)[0]
    clock.now = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 2 h before
    worker.run_once()
    assert len(texts(sink)) == 2
    assert [m.status for m in messages(kind="reminder")] == ["sent", "sent", "sent"]


def test_a_moved_visit_is_reminded_at_its_new_time(client, clock, sink):
    booking = book(client, THURSDAY_10)
    worker.run_once()
    moved = client.post(f"/api/v1/bookings/{token_of(booking)}/reschedule", json={"start": "2026-12-04T14:00:00-07:00"})
    assert moved.status_code == 200, moved.get_json()
    worker.run_once()  # the change notice, at once (the patient's own action)
    assert on(texts(sink)[-1], "Dec", 4, "2:00")
    sink.reset()
    clock.now = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # the old visit's 24 h reminder time
    worker.run_once()
    assert texts(sink) == []
    clock.now = datetime(2026, 12, 3, 21, 0, tzinfo=UTC)  # the new visit's
    worker.run_once()
    [reminder] = texts(sink)
    assert on(reminder, "Dec", 4, "2:00") and "10:00" not in reminder


def test_a_cancelled_visit_sends_its_notice_and_no_reminder(client, clock, sink, smtp):
    booking = book(client, THURSDAY_10)
    worker.run_once()
    assert client.post(f"/api/v1/bookings/{token_of(booking)}/cancel", json={}).status_code == 200
    sink.reset()
    smtp.received.clear()
    worker.run_once()
    assert len(texts(sink)) == 1  # the cancellation notice
    assert mime_parts(smtp.received[0])["text/calendar"].get_param("method") == "CANCEL"
    sink.reset()
    for day, hour in ((1, 17), (2, 17), (3, 15), (3, 18)):
        clock.now = datetime(2026, 12, day, hour, tzinfo=UTC)
        worker.run_once()
    assert texts(sink) == []
    assert not [m for m in messages(kind="reminder") if m.status in ("sent", "pending")]


def test_the_provider_down_retries_with_backoff_and_sends_once(client, clock, sink):
    book(client, THURSDAY_10)
    sink.fail(2, 503)
    worker.run_once()
    sms = messages(channel="sms")[0]
    assert (sms.status, sms.attempts, sms.error_code) == ("pending", 1, "50300")
    first_wait = sms.next_attempt_at - now()
    assert timedelta(seconds=15) <= first_wait <= timedelta(seconds=30)  # within a minute
    worker.run_once()
    assert messages(channel="sms")[0].attempts == 1  # not before its time
    clock.now = sms.next_attempt_at
    worker.run_once()
    sms = messages(channel="sms")[0]
    assert sms.attempts == 2 and sms.next_attempt_at - now() >= timedelta(seconds=30)  # growing
    clock.now = sms.next_attempt_at
    worker.run_once()
    assert messages(channel="sms")[0].status == "sent"
    assert len(sink.delivered()) == 1 and len(sink.requests) == 3
    # Only the attempt that went out left a private link behind (the email's and the text's).
    assert db.session.scalar(db.select(db.func.count()).select_from(AppointmentLink)) == 2


@pytest.mark.parametrize("overrides", [{"MESSAGE_MAX_ATTEMPTS": 3}])
def test_after_the_last_attempt_the_message_fails_and_shows(client, clock, sink):
    book(client, THURSDAY_10)
    sink.fail(10, 500)
    for _ in range(4):
        worker.run_once()
        clock.advance(hours=1)
    sms = messages(channel="sms")[0]
    assert (sms.status, sms.attempts) == ("failed", 3)
    assert len(sink.requests) == 3


def test_an_opted_out_number_fails_at_once_and_is_not_texted_again(client, clock, sink):
    book(client, THURSDAY_10)
    sink.fail(1, 400, 21610)
    worker.run_once()
    sms = messages(channel="sms", kind="confirmation")[0]
    assert (sms.status, sms.error_code, sms.attempts) == ("failed", "21610", 1)
    patient = db.session.get(Patient, sms.patient_id)
    assert patient.sms_opted_out_at == now() and not patient.may_text
    clock.now = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    worker.run_once()
    assert len(sink.requests) == 1  # no reminder went to that number
    assert {m.status for m in messages(channel="sms", kind="reminder")} == {"expired"}


@pytest.mark.parametrize("code", [21211, 21614])
def test_an_invalid_number_fails_at_once_until_it_is_corrected(client, clock, sink, code):
    book(client, THURSDAY_10)
    sink.fail(1, 400, code)
    worker.run_once()
    sms = messages(channel="sms")[0]
    assert (sms.status, sms.error_code) == ("failed", str(code))
    patient = db.session.get(Patient, sms.patient_id)
    assert (patient.sms_failed_number, patient.sms_failed_code) == ("+19155550123", str(code))
    assert not patient.may_text
    patient.phone_e164 = "+19155550199"  # the desk corrects it
    db.session.commit()
    assert db.session.get(Patient, sms.patient_id).may_text


def test_a_killed_workers_claim_is_taken_again_after_its_lease(client, clock, sink):
    book(client, THURSDAY_10)
    claims = sending.claim_due(10)  # a worker claims and dies before sending
    assert len(claims) == 2
    assert worker.run_once()["send_due"] == {}  # the lease holds: nobody else sends them
    clock.advance(seconds=301)
    assert worker.run_once()["send_due"] == {"sent": 2}
    assert len(sink.delivered()) == 1
    # The dead worker coming back to life changes nothing and sends nothing.
    assert [sending.deliver(claim) for claim in claims] == ["lost", "lost"]
    assert len(sink.delivered()) == 1


def test_a_claim_with_too_little_lease_left_is_released_not_sent(client, clock, sink):
    book(client, THURSDAY_10)
    claims = sending.claim_due(10)
    clock.advance(seconds=270)  # 30 s of a 300 s lease left: less than the longest send (SMTP 30 s + 5)
    assert {sending.deliver(claim) for claim in claims} == {"released"}
    assert sink.delivered() == []
    assert worker.run_once()["send_due"] == {"sent": 2}


def test_pending_messages_whose_visit_began_expire(client, clock, sink):
    book(client, THURSDAY_10)
    worker.run_once()
    clock.now = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # the visit begins: nothing goes late
    sink.reset()
    results = worker.run_once()
    assert results["expire_stale"] == 3
    assert sink.delivered() == []
    assert {m.status for m in messages(kind="reminder")} == {"expired"}


def test_every_job_records_its_pass(client):
    worker.run_once(digest_mode="skip")
    runs = {run.job: run for run in db.session.scalars(db.select(WorkerRun))}
    assert {"send_due", "expire_stale"} <= set(runs)
    assert runs["send_due"].last_finished_at == now() and runs["send_due"].last_error == ""


def test_a_visit_after_the_spring_change_is_reminded_24_real_hours_before_at_its_wall_time(client, clock, sink, smtp):
    clock.now = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)
    book(client, "2027-03-15T14:00:00-06:00")  # Monday after the change to MDT
    worker.run_once()
    sink.reset()
    smtp.received.clear()
    clock.now = datetime(2027, 3, 13, 19, 59, tzinfo=UTC)
    worker.run_once()
    assert smtp.received == []
    clock.now = datetime(2027, 3, 13, 20, 0, tzinfo=UTC)  # 48 real hours before: 13:00 MST Saturday
    worker.run_once()
    assert len(smtp.received) == 1
    clock.now = datetime(2027, 3, 14, 19, 59, tzinfo=UTC)
    worker.run_once()
    assert texts(sink) == []
    clock.now = datetime(2027, 3, 14, 20, 0, tzinfo=UTC)  # 24 h before: 14:00 MDT Sunday
    worker.run_once()
    [reminder] = texts(sink)
    assert on(reminder, "Mar", 15, "2:00")


def test_spanish_patients_get_spanish_texts(client, sink):
    book(client, THURSDAY_10, language="es")
    worker.run_once()
    [text] = texts(sink)
    assert on(text, "dic", 3, "10:00") and "Responda C para confirmar" in text


@pytest.mark.parametrize("overrides", [{"FRONT_DESK_EMAIL": "desk@example.com", "FRONT_DESK_DIGEST_TIME": "18:00"}])
def test_the_front_desk_gets_tomorrows_schedule_once_each_evening(client, clock, smtp):
    clock.now = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    book(client, THURSDAY_10)
    worker.run_once(digest_mode="skip")
    smtp.received.clear()
    clock.now = datetime(2026, 12, 3, 0, 59, tzinfo=UTC)  # 17:59 in Denver on Wednesday
    assert worker.run_once()["evening_digest"] == "not_due"
    clock.now = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
    assert worker.run_once()["evening_digest"] == "sent"
    assert worker.run_once()["evening_digest"] == "not_due"  # once a day
    digests = [m for m in smtp.received if m["To"] == "desk@example.com"]
    assert len(digests) == 1
    body = digests[0].get_body(("plain",)).get_content()
    assert "Thursday, December 3, 2026" in digests[0]["Subject"]
    assert "10:00" in body and "Ana Garcia" in body
    assert worker.run_once(digest_mode="force")["evening_digest"] == "sent"
    clock.now = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)  # the next evening
    assert worker.run_once()["evening_digest"] == "sent"


def test_the_claim_takes_due_rows_only(client, clock):
    book(client, THURSDAY_10)
    claims = sending.claim_due(50)
    claimed = {c.id for c in claims}
    rows = {m.id: m for m in db.session.scalars(db.select(Message))}
    assert claimed == {i for i, m in rows.items() if m.kind == "confirmation"}
    assert all(rows[i].status == "sending" and rows[i].claimed_until == claims[0].lease for i in claimed)


def _open_starts(client, first: str, last: str, count: int) -> list[str]:
    """`count` open times of the first provider, two hours apart or more."""
    from tests.support.messaging import first_provider_id, seed_demo

    seed_demo()
    slots = client.get(f"/api/v1/availability?service=initial-evaluation&start={first}&end={last}").get_json()["slots"]
    starts: list[str] = []
    for slot in (s for s in slots if s["provider_id"] == first_provider_id()):
        if not starts or datetime.fromisoformat(slot["start"]) >= datetime.fromisoformat(starts[-1]) + timedelta(hours=2):
            starts.append(slot["start"])
    assert len(starts) >= count
    return starts[:count]


def _statements_to_send(count: int, client, sink, *, first: str, last: str) -> int:
    """Books `count` patients (a confirmation text and email each), then counts the SQL
    statements the worker issues to send them all as one batch, one message at a time."""
    from flask import current_app

    for n, start in enumerate(_open_starts(client, first, last, count)):
        book(client, start, phone=f"915-555-{first[-2:]}{n:02d}", first_name=f"Pat{n}",
             email=f"pat{first}.{n}@example.com")
    with current_app.app_context():  # as the worker's pass: nothing cached from the bookings
        claims = sending.claim_due(100)
        with statements_sent() as seen:
            outcomes = sending.send_claims(claims)
    assert outcomes == ["sent"] * (2 * count)
    assert len(sink.delivered()) == count
    return len(seen)


def test_a_batch_is_read_in_the_same_statements_whatever_its_size(client, sink):
    """The batch is re-read, checked and rendered in a fixed number of statements; each
    message then costs only its own recording, here one at a time: BEGIN, the lease check,
    the update, its link (with sending threads, answers that come together share these)."""
    two = _statements_to_send(2, client, sink, first="2026-12-03", last="2026-12-03")
    sink.reset()
    twelve = _statements_to_send(12, client, sink, first="2026-12-07", last="2026-12-11")
    assert twelve - two == 20 * 4, (two, twelve)  # 20 more messages, 4 statements each


@pytest.mark.parametrize("overrides", [{"WORKER_CONCURRENCY": 2, "WORKER_BATCH_SIZE": 1}])
def test_a_failed_claim_while_a_batch_is_out_still_records_that_batch(client, sink, monkeypatch):
    book(client, THURSDAY_10)
    real_claim = sending.claim_due
    calls = []

    def claim_once_then_fail(limit):
        calls.append(limit)
        if len(calls) > 1:
            raise RuntimeError("the database went away")
        return real_claim(limit)

    monkeypatch.setattr(sending, "claim_due", claim_once_then_fail)
    assert sending.send_due() == {"sent": 1}
    assert len(calls) == 2
    assert [m.status for m in messages()].count("sent") == 1  # what went out is recorded


@pytest.mark.parametrize("overrides", [{"WORKER_CONCURRENCY": 1, "WORKER_BATCH_SIZE": 1},
                                       {"WORKER_CONCURRENCY": 2, "WORKER_BATCH_SIZE": 1}])
def test_a_stopping_worker_records_what_it_claimed_and_claims_no_more(client, sink, monkeypatch):
    """SIGTERM mid-pass: the batches already claimed go out and are recorded; the rest wait
    for the next worker, pending and unclaimed."""
    book(client, THURSDAY_10)  # due now: the confirmation by email and by text
    stop = threading.Event()
    real_claim = sending.claim_due

    def claim_then_stop(limit):
        claimed = real_claim(limit)
        stop.set()  # the signal arrives while the first batch is being sent
        return claimed

    monkeypatch.setattr(sending, "claim_due", claim_then_stop)
    assert sending.send_due(stop=stop) == {"sent": 1}
    assert [m.status for m in messages()].count("sent") == 1
    assert all(m.claimed_until is None for m in messages() if m.status == "pending")
    monkeypatch.setattr(sending, "claim_due", real_claim)
    assert sending.send_due() == {"sent": 1}  # the next pass sends the rest


def test_a_once_run_stops_on_sigterm_and_puts_the_handlers_back():
    import os
    import signal

    before = signal.getsignal(signal.SIGTERM)
    try:
        with worker.stopping_on_signals():
            assert not worker._stopping.is_set()
            os.kill(os.getpid(), signal.SIGTERM)  # a service manager stopping the cron run
            assert worker._stopping.is_set()  # the pass in hand sees it and claims no more
        assert signal.getsignal(signal.SIGTERM) is before
    finally:
        worker._stopping.clear()
