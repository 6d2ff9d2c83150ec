"""Sending the outbox: claim due rows, re-read and render them as a batch, send, record.

A claim marks rows `sending` with a lease (`claimed_until`) in one short transaction:
PostgreSQL picks them with FOR UPDATE SKIP LOCKED, so two workers never take the same row;
SQLite's write transaction is BEGIN IMMEDIATE, one writer at a time. Everything after the
claim happens in other transactions, each guarded by the lease: a worker whose lease ran
out (another worker may have the row now) changes nothing and sends nothing.

The batch is read and rendered in a fixed number of queries, whatever its size; threads only
wait for the providers; the answers are recorded in groups, one transaction per group. Per
message the database sees a share of three statements, not a transaction of its own.

At least once, not more: a message is sent twice only when a worker dies (or stalls past
its lease) after the provider accepted it and before the `sent` row committed; the row is
claimed again once its lease expires (MESSAGE_CLAIM_LEASE_SECONDS) and sent again. That is
at most the batch in hand (WORKER_BATCH_SIZE), or one message without sending threads.
"""
from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from sqlalchemy import and_, bindparam, insert, or_, select, update

from scheduler.domain.retry import retry_delay
from scheduler.extensions import db
from scheduler.integrations.email import Email, email_from_config
from scheduler.integrations.sms import INVALID_NUMBER, NOT_MOBILE, OPTED_OUT, sms_from_config
from scheduler.integrations.transport import Handed, SendFailed
from scheduler.models import Appointment, AppointmentLink, Message, MessageStatus, Patient
from scheduler.services.common import audit
from scheduler.services.common.clock import clock_function, now
from scheduler.services.messages.links import mint_link
from scheduler.services.messages.outbox import send_decision_for
from scheduler.services.messages.render import BatchLookups, render

log = logging.getLogger(__name__)

SENDING = MessageStatus.SENDING.value
PENDING = MessageStatus.PENDING.value


@dataclass(frozen=True)
class Claim:
    id: int
    lease: datetime  # the row's claimed_until as this worker set it: the fencing token


@dataclass
class Transports:
    sms: object
    email: object


def transports() -> Transports:
    """One set per process (the SDK keeps its HTTP connections in a pool). Reads only."""
    app = current_app._get_current_object()
    found = app.extensions.get("message_transports")
    if found is None:
        found = Transports(sms_from_config(app.config), email_from_config(app.config))
        app.extensions["message_transports"] = found
    return found


def send_margin() -> timedelta:
    """A claimed row is sent only while this much of its lease is left: the longest a send
    can take (the transports' timeouts) plus slack, so a send never outlives its lease.
    Reads only."""
    config = current_app.config
    longest = max(config["TWILIO_TIMEOUT_SECONDS"], config["SMTP_TIMEOUT_SECONDS"]) + 5
    return timedelta(seconds=min(longest, config["MESSAGE_CLAIM_LEASE_SECONDS"] / 2))


def _due(moment: datetime):
    waiting = and_(
        Message.status == PENDING,
        Message.due_at <= moment,
        or_(Message.next_attempt_at.is_(None), Message.next_attempt_at <= moment),
    )
    abandoned = and_(Message.status == SENDING, Message.claimed_until < moment)  # a killed worker's
    return or_(waiting, abandoned)


def claim_due(limit: int) -> list[Claim]:
    """Marks up to `limit` due rows `sending` under a new lease, in one short transaction.
    Commits."""
    moment = now()
    lease = moment + timedelta(seconds=current_app.config["MESSAGE_CLAIM_LEASE_SECONDS"])
    picked = (
        select(Message.id)
        .where(_due(moment))
        .order_by(Message.due_at, Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite's BEGIN IMMEDIATE serialises instead
    )
    try:
        ids = db.session.execute(
            update(Message)
            .where(Message.id.in_(picked.scalar_subquery()))
            .values(status=SENDING, claimed_until=lease, updated_at=moment)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).scalars().all()
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return [Claim(id_, lease) for id_ in sorted(ids)]


@dataclass
class Outgoing:
    """A claimed message, rendered and ready for its provider."""

    claim: Claim
    channel: str
    attempts: int          # before this one
    patient_id: int
    payload: object        # the SMS text, or the Email
    content: dict          # what the desk sees of it: subject, body (links redacted), to_address, backend
    links: list[dict]      # the fresh private links' rows, written only when the message is recorded sent
    transport: object


@dataclass
class Done:
    """What became of one claimed message: the row's new columns, recorded under its lease."""

    claim: Claim
    outcome: str           # sent, retry, failed, released, expired, deferred
    values: dict
    links: list[dict] = field(default_factory=list)
    refused: tuple[int, str, str] | None = None  # (patient, number, Twilio code) of a permanent SMS refusal
    console_body: str | None = None  # recorded, not sent: logged for whoever runs without settings


def deliver(claim: Claim) -> str:
    """Re-read, decide, render, send and record one claimed message. Returns what happened.
    Commits."""
    return send_claims([claim])[0]


@dataclass
class Batch:
    """A claimed batch on its way: rendered, then out with the providers, then recorded."""

    claims: list[Claim]
    ready: list[Outgoing]
    settled: list[Done]             # decided without sending (expired, deferred, released, unrenderable)
    outcomes: dict[int, str]        # so far (the rows another worker has now: "lost")
    in_flight: list[tuple[Future, list[Outgoing]]] = field(default_factory=list)


def send_claims(claims: list[Claim]) -> list[str]:
    """A claimed batch without sending threads: re-read together, decided and rendered, then
    each message handed to its provider and recorded before the next. Returns each claim's
    outcome. (send_due overlaps batches on threads when WORKER_CONCURRENCY > 1.) Commits."""
    return _send_one_by_one(open_batch(claims))


def open_batch(claims: list[Claim]) -> Batch:
    """A claimed batch re-read, decided and rendered, ready to hand over.
    Reads only, and ends the read transaction before anything is sent."""
    ready, settled, outcomes = _prepare(claims)
    return Batch(claims, ready, settled, outcomes)


def hand_over(batch: Batch, pool: ThreadPoolExecutor, lanes: int) -> None:
    """The batch's messages to the sending threads, one lane of messages per thread (a
    thread's messages go one after another); this thread is free until `finish`. Reads only."""
    clock, margin = clock_function(), send_margin()
    for lane in (batch.ready[i::lanes] for i in range(lanes)):
        if lane:
            batch.in_flight.append((pool.submit(_hand_over_lane, lane, clock, margin), lane))


def _hand_over_lane(lane: list[Outgoing], clock: Callable[[], datetime],
                    margin: timedelta) -> list[Handed | SendFailed | None]:
    return [_hand_over(item, clock, margin) for item in lane]


def finish(batch: Batch) -> list[str]:
    """Waits for the providers' answers and records the whole batch in one transaction. Commits."""
    answered = [_answered(item, answer)
                for future, lane in batch.in_flight for item, answer in zip(lane, future.result(), strict=True)]
    batch.outcomes.update(record(batch.settled + answered))
    return [batch.outcomes[claim.id] for claim in batch.claims]


def _send_one_by_one(batch: Batch) -> list[str]:
    """Without sending threads: each message recorded before the next is sent."""
    clock, margin = clock_function(), send_margin()
    batch.outcomes.update(record(batch.settled))
    for item in batch.ready:
        batch.outcomes.update(record([_answered(item, _hand_over(item, clock, margin))]))
    return [batch.outcomes[claim.id] for claim in batch.claims]


def _prepare(claims: list[Claim]) -> tuple[list[Outgoing], list[Done], dict[int, str]]:
    """One read of the batch (rows, visits, patients: fresh from the database), then each
    message decided and rendered. The read transaction ends before anything is sent."""
    rows = db.session.execute(
        select(Message, Appointment, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .outerjoin(Appointment, Appointment.id == Message.appointment_id)
        .where(Message.id.in_([claim.id for claim in claims]))
        .execution_options(populate_existing=True)
    ).all()
    found = {message.id: (message, appointment, patient) for message, appointment, patient in rows}
    moment = now()
    margin = send_margin()
    ready: list[Outgoing] = []
    settled: list[Done] = []
    held: list[tuple[Claim, Message]] = []
    lost: dict[int, str] = {}
    phones: set[str] = set()
    course_ids: set[int] = set()
    for claim in claims:
        message, appointment, patient = found.get(claim.id, (None, None, None))
        if message is None or message.status != SENDING or message.claimed_until != claim.lease:
            lost[claim.id] = "lost"
            continue
        held.append((claim, message))
        if message.channel == "sms" and patient.phone_e164:
            phones.add(patient.phone_e164)
        if appointment is not None and appointment.course_id is not None:
            course_ids.add(appointment.course_id)
    lookups = BatchLookups(phones, course_ids)
    for claim, message in held:
        if claim.lease - moment < margin:  # too little lease left to send safely: next pass
            settled.append(Done(claim, "released", {"status": PENDING}))
            continue
        decision = send_decision_for(message, moment)
        if decision.action == "expire":
            settled.append(Done(claim, "expired", {"status": MessageStatus.EXPIRED.value}))
        elif decision.action == "defer":
            settled.append(Done(claim, "deferred", {"status": PENDING, "due_at": decision.until}))
        else:
            try:
                ready.append(_rendered(claim, message, lookups))
            except Exception as exc:  # one message's trouble never stops the others: retried
                log.exception("Message %d could not be rendered", claim.id)
                failure = SendFailed("internal", type(exc).__name__, transient=True)
                settled.append(_failed(claim, failure, attempts=message.attempts + 1, channel="", patient_id=0))
    db.session.rollback()  # no transaction (on SQLite: no write lock) held while providers answer
    return ready, settled, lost


def _rendered(claim: Claim, message: Message, lookups) -> Outgoing:
    links: list[dict] = []

    def link_for(appointment: Appointment) -> str:
        url, row = mint_link(appointment)
        links.append(row)
        return url

    rendered = render(message, link_for=link_for, lookups=lookups)
    transport = transports().sms if message.channel == "sms" else transports().email
    if message.channel == "sms":
        payload: object = rendered.sms_body
    else:
        payload = Email(
            to=rendered.to_address, subject=rendered.subject, text=rendered.text, html=rendered.html,
            ics=rendered.ics_bytes, ics_method=rendered.ics_method,
            ics_filename=rendered.ics_filename or "appointment.ics",
        )
    content = dict(subject=rendered.subject[:200], body=rendered.stored_body, to_address=rendered.to_address,
                   backend=transport.backend)
    return Outgoing(claim, message.channel, message.attempts, message.patient_id, payload, content, links, transport)


def _hand_over(item: Outgoing, clock: Callable[[], datetime], margin: timedelta) -> Handed | SendFailed | None:
    """The provider's answer, or None when too little of the lease is left to send safely
    (a slow provider ate it: the next pass sends). Runs on a sending thread: no database."""
    moment = clock()
    if item.claim.lease - moment < margin:
        return None
    try:
        if item.channel == "sms":
            return item.transport.send(item.content["to_address"], item.payload)
        return item.transport.send(item.payload, sent_at=moment)
    except SendFailed as failure:
        return failure
    except Exception as exc:  # a bug, not the provider: retried like a transient failure
        log.exception("Message %d could not be handed over", item.claim.id)
        return SendFailed("internal", type(exc).__name__, transient=True)


def _answered(item: Outgoing, answer: Handed | SendFailed | None) -> Done:
    if answer is None:
        return Done(item.claim, "released", {"status": PENDING})
    attempts = item.attempts + 1
    if isinstance(answer, SendFailed):  # the links die with this attempt; a retry mints new ones
        return _failed(item.claim, answer, attempts=attempts, channel=item.channel, patient_id=item.patient_id,
                       **item.content)
    values = dict(status=MessageStatus.SENT.value, provider_message_id=answer.provider_message_id, sent_at=now(),
                  attempts=attempts, error_code="", last_error="", **item.content)
    console = item.content["body"] if answer.backend == "console" else None
    return Done(item.claim, "sent", values, links=item.links, console_body=console)


def _failed(claim: Claim, failure: SendFailed, *, attempts: int, channel: str, patient_id: int, **content) -> Done:
    """`content`: what was to go out (subject, body, to_address, backend), kept for the desk."""
    config = current_app.config
    details = dict(attempts=attempts, error_code=failure.code[:12], last_error=failure.detail[:500], **content)
    if failure.transient and attempts < config["MESSAGE_MAX_ATTEMPTS"]:
        delay = retry_delay(attempts, base_seconds=config["MESSAGE_RETRY_BASE_SECONDS"],
                            max_seconds=config["MESSAGE_RETRY_MAX_SECONDS"], jitter=random.random())
        return Done(claim, "retry", dict(status=PENDING, next_attempt_at=now() + delay, **details))
    log.warning("Message %d failed for good: %s", claim.id, failure)
    refused = (patient_id, content.get("to_address", ""), failure.code) if channel == "sms" else None
    return Done(claim, "failed", dict(status=MessageStatus.FAILED.value, **details), refused=refused)


_MESSAGES = Message.__table__
_LOCK_LEASES = (  # built once: the recording runs for every few messages
    select(_MESSAGES.c.id, _MESSAGES.c.claimed_until)
    .where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True)), _MESSAGES.c.status == SENDING)
    .with_for_update()
)
_INSERT_LINKS = insert(AppointmentLink.__table__)
_UPDATES: dict[tuple[str, ...], object] = {}


def _update_by_id(columns: tuple[str, ...]):
    """`UPDATE messages SET <columns> WHERE id = :row_id`, one statement per set of columns."""
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = (update(_MESSAGES).where(_MESSAGES.c.id == bindparam("row_id"))
                     .values({name: bindparam(name, type_=_MESSAGES.c[name].type) for name in columns}))
        _UPDATES[columns] = statement
    return statement


def record(done: list[Done]) -> dict[int, str]:
    """One transaction for a group of messages: each row changed only while this worker's
    lease on it holds (the rows are locked first, so the lease cannot run out between the
    check and the write); a sent message's links are written with it. Core statements built
    once, each run for the whole group (executemany). Commits."""
    if not done:
        return {}
    moment = now()
    try:
        connection = db.session.connection()
        leases = dict(connection.execute(_LOCK_LEASES, {"ids": [d.claim.id for d in done]}).all())
        held = [d for d in done if leases.get(d.claim.id) == d.claim.lease]
        by_columns: dict[tuple[str, ...], list[dict]] = {}
        for d in held:
            values = {"claimed_until": None, "updated_at": moment, **d.values}
            by_columns.setdefault(tuple(sorted(values)), []).append({"row_id": d.claim.id, **values})
        for columns, rows in by_columns.items():
            connection.execute(_update_by_id(columns), rows)
        links = [link for d in held if d.outcome == "sent" for link in d.links]
        if links:
            connection.execute(_INSERT_LINKS, links)
        for d in held:
            if d.refused is not None:
                refuse_number(*d.refused)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    outcomes: dict[int, str] = {}
    recorded = {d.claim.id for d in held}
    for d in done:
        if d.claim.id in recorded:
            outcomes[d.claim.id] = d.outcome
        elif d.outcome == "sent":  # sent, but another worker has the row now: it may send again
            log.warning("Message %d was sent after its lease ran out", d.claim.id)
            outcomes[d.claim.id] = "sent"
        else:
            outcomes[d.claim.id] = "lost"
        if d.console_body is not None:
            log.info("Message %d recorded, not sent (no provider settings):\n%s", d.claim.id, d.console_body)
    return outcomes


def refuse_number(patient_id: int, number: str, code: str) -> None:
    """Twilio's permanent answers update the patient: opted out, or a number that cannot get texts.
    In the caller's transaction."""
    if code not in (OPTED_OUT, INVALID_NUMBER, NOT_MOBILE):
        return
    patient = db.session.get(Patient, patient_id)
    if patient is None or patient.phone_e164 != number:
        return
    fields = ("sms_opted_out_at", "sms_failed_number", "sms_failed_code")
    before = audit.snapshot(patient, fields)
    if code == OPTED_OUT:
        patient.sms_opted_out_at = now()
    else:
        patient.sms_failed_number, patient.sms_failed_code = number, code
    audit.record(audit.SYSTEM, "patient.sms_refused", patient, before, audit.snapshot(patient, fields))


def send_due(batch_size: int | None = None, stop: threading.Event | None = None) -> dict[str, int]:
    """Claims and sends batches until nothing is due, or until `stop` is set (the worker is
    shutting down: the batches already claimed are sent and recorded, no more are claimed).
    Returns counts per outcome.

    With sending threads (WORKER_CONCURRENCY > 1) the batches overlap: while one batch is
    with the providers, this thread claims and renders the next. Everything touching the
    database happens on this thread; the threads only wait for the providers' answers. Commits.
    """
    config = current_app.config
    size = batch_size or config["WORKER_BATCH_SIZE"]
    threads = max(1, int(config.get("WORKER_CONCURRENCY", 1)))
    counts: dict[str, int] = {}
    stopping = stop.is_set if stop is not None else lambda: False
    if threads == 1:
        while not stopping() and (claims := claim_due(size)):
            if not _count(counts, _safely(claims, partial(send_claims, claims))):
                break
        return counts
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send") as pool:
        batch = None if stopping() else _next_batch(size)
        while batch is not None:
            hand_over(batch, pool, threads)
            try:
                # claimed and rendered while `batch` is out
                upcoming = None if stopping() else _next_batch(size)
            except Exception:  # the batch already out is still recorded; the next pass goes on
                log.exception("The next batch could not be claimed")
                db.session.rollback()
                upcoming = None
            going = _count(counts, _safely(batch.claims, partial(finish, batch)))
            if not going and upcoming is not None:  # claimed already: send it, claim no more
                hand_over(upcoming, pool, threads)
                _count(counts, _safely(upcoming.claims, partial(finish, upcoming)))
                break
            batch = upcoming
    return counts


def _next_batch(size: int) -> Batch | None:
    claims = claim_due(size)
    return open_batch(claims) if claims else None


def _safely(claims: list[Claim], work: Callable[[], list[str]]) -> list[str]:
    try:
        return work()
    except Exception:  # the database went away mid-batch: the leases run out, another pass retakes them
        log.exception("A batch of %d messages could not be finished", len(claims))
        db.session.rollback()
        return ["error"] * len(claims)


def _count(counts: dict[str, int], outcomes: list[str]) -> bool:
    """Adds the outcomes up; False when the batch got nowhere (every row lost, released or in
    error), so the pass ends instead of spinning on rows it cannot send now."""
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return not all(outcome in ("lost", "released", "error") for outcome in outcomes)


def expire_stale() -> int:
    """Pending messages whose visit has begun are never sent late: expired. Commits."""
    moment = now()
    result = db.session.execute(
        update(Message)
        .where(Message.status == PENDING, Message.send_before.is_not(None), Message.send_before <= moment)
        .values(status=MessageStatus.EXPIRED.value, updated_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
