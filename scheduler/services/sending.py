"""Sending the outbox: claim due rows, re-check each against its appointment, render, send, record.

A claim marks rows `sending` with a lease (`claimed_until`) in one short transaction:
PostgreSQL picks them with FOR UPDATE SKIP LOCKED, so two workers never take the same row;
SQLite's write transaction is BEGIN IMMEDIATE, one writer at a time. Everything after the
claim happens in other transactions, each guarded by the lease: a worker whose lease ran
out (another worker may have the row now) changes nothing and sends nothing.

At least once, not more: a message is sent twice only when a worker dies (or stalls past
its lease) after the provider accepted it and before the `sent` row committed; the row is
claimed again once its lease expires (MESSAGE_CLAIM_LEASE_SECONDS) and sent again.
"""
from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, bindparam, or_, select, update

from ..domain.retry import retry_delay
from ..extensions import db
from ..integrations.email import Email, email_from_config
from ..integrations.sms import INVALID_NUMBER, NOT_MOBILE, OPTED_OUT, sms_from_config
from ..integrations.transport import Handed, SendFailed
from ..models import Appointment, Message, MessageStatus, Patient
from . import audit
from .clock import now

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
    """One set per process (the SDK keeps its HTTP connections in a pool)."""
    app = current_app._get_current_object()
    found = app.extensions.get("message_transports")
    if found is None:
        found = Transports(sms_from_config(app.config), email_from_config(app.config))
        app.extensions["message_transports"] = found
    return found


def send_margin() -> timedelta:
    """A claimed row is sent only while this much of its lease is left: the longest a send
    can take (the transports' timeouts) plus slack, so a send never outlives its lease."""
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
    """Marks up to `limit` due rows `sending` under a new lease, in one short transaction."""
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


_GUARDED = (
    update(Message.__table__)
    .where(Message.__table__.c.id == bindparam("claim_id"), Message.__table__.c.status == SENDING,
           Message.__table__.c.claimed_until == bindparam("lease", type_=Message.__table__.c.claimed_until.type))
)


def _guarded(claim: Claim, **values) -> bool:
    """Update the row only while this worker's lease on it holds."""
    result = db.session.connection().execute(  # Core, not the ORM: this runs twice per message
        _GUARDED.values(**values, updated_at=now()),
        {"claim_id": claim.id, "lease": claim.lease},
    )
    return result.rowcount == 1


def _finish(claim: Claim, **values) -> bool:
    """The guarded update and whatever else the session holds, committed together; all of
    it rolled back when the lease was lost."""
    ok = _guarded(claim, claimed_until=None, **values)
    if ok:
        db.session.commit()
    else:
        db.session.rollback()
    return ok


def deliver(claim: Claim) -> str:
    """Re-read, decide, render, send and record one claimed message. Returns what happened."""
    from ..messaging.render import render
    from .message_links import link_for
    from .outbox import send_decision_for

    # Re-read the row, its visit and its patient in one round trip, fresh from the database.
    found = db.session.execute(
        select(Message, Appointment, Patient)
        .join(Patient, Patient.id == Message.patient_id)
        .outerjoin(Appointment, Appointment.id == Message.appointment_id)
        .where(Message.id == claim.id)
        .execution_options(populate_existing=True)
    ).first()
    message = found[0] if found else None
    if message is None or message.status != SENDING or message.claimed_until != claim.lease:
        db.session.rollback()
        return "lost"
    moment = now()
    if claim.lease - moment < send_margin():  # too little lease left to send safely: next pass
        _finish(claim, status=PENDING)
        return "released"
    decision = send_decision_for(message, moment)
    if decision.action == "expire":
        _finish(claim, status=MessageStatus.EXPIRED.value)
        return "expired"
    if decision.action == "defer":
        _finish(claim, status=PENDING, due_at=decision.until)
        return "deferred"

    channel, kind, attempts, patient_id = message.channel, message.kind, message.attempts, message.patient_id
    with db.session.no_autoflush:  # the fresh links stay in the session, unwritten, until the send
        rendered = render(message, link_for=link_for)
    links = list(db.session.new)
    transport = transports().sms if channel == "sms" else transports().email
    db.session.rollback()  # no transaction (on SQLite: no write lock) held while the provider answers
    content = dict(subject=rendered.subject[:200], body=rendered.stored_body, to_address=rendered.to_address,
                   backend=transport.backend)
    try:
        handed = _send(transport, channel, kind, rendered)
    except SendFailed as failure:  # the links die with this attempt; a retry mints new ones
        return _record_failure(claim, failure, attempts=attempts + 1, channel=channel, patient_id=patient_id,
                               **content)
    # One transaction records the message sent, what went out (the private link redacted) and
    # the link itself: it opens milliseconds after the provider took the text, long before the
    # text arrives.
    db.session.add_all(links)
    if not _finish(claim, status=MessageStatus.SENT.value, provider_message_id=handed.provider_message_id,
                   sent_at=now(), attempts=attempts + 1, error_code="", last_error="", **content):
        log.warning("Message %d was sent after its lease ran out", claim.id)
    if handed.backend == "console":
        log.info("Message %d (%s %s) recorded, not sent (no %s settings):\n%s", claim.id, channel, kind,
                 "Twilio" if channel == "sms" else "SMTP", rendered.stored_body)
    return "sent"


def _send(transport, channel: str, kind: str, rendered) -> Handed:
    if channel == "sms":
        return transport.send(rendered.to_address, rendered.sms_body)
    email = Email(
        to=rendered.to_address, subject=rendered.subject, text=rendered.text, html=rendered.html,
        ics=rendered.ics_bytes, ics_method=rendered.ics_method,
        ics_filename=rendered.ics_filename or "appointment.ics",
    )
    return transport.send(email, sent_at=now())


def _record_failure(claim: Claim, failure: SendFailed, *, attempts: int, channel: str,
                    patient_id: int, **content) -> str:
    """`content`: what was to go out (subject, body, to_address, backend), kept for the desk."""
    config = current_app.config
    to_address = content.get("to_address", "")
    details = dict(attempts=attempts, error_code=failure.code[:12], last_error=failure.detail[:500], **content)
    if failure.transient and attempts < config["MESSAGE_MAX_ATTEMPTS"]:
        delay = retry_delay(attempts, base_seconds=config["MESSAGE_RETRY_BASE_SECONDS"],
                            max_seconds=config["MESSAGE_RETRY_MAX_SECONDS"], jitter=random.random())
        _finish(claim, status=PENDING, next_attempt_at=now() + delay, **details)
        return "retry"
    if _guarded(claim, claimed_until=None, status=MessageStatus.FAILED.value, **details) and channel == "sms":
        refuse_number(patient_id, to_address, failure.code)
    db.session.commit()
    log.warning("Message %d failed for good: %s", claim.id, failure)
    return "failed"


def refuse_number(patient_id: int, number: str, code: str) -> None:
    """Twilio's permanent answers update the patient: opted out, or a number that cannot get texts."""
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


def deliver_safely(claim: Claim) -> str:
    """One message's trouble (a bug in rendering, a lost database connection) never stops
    the others: it is retried like a transient failure."""
    try:
        return deliver(claim)
    except Exception as exc:
        log.exception("Message %d could not be sent", claim.id)
        db.session.rollback()
        attempts = db.session.scalar(select(Message.attempts).where(Message.id == claim.id)) or 0
        failure = SendFailed("internal", type(exc).__name__, transient=True)
        try:
            return _record_failure(claim, failure, attempts=attempts + 1, channel="", patient_id=0)
        except Exception:
            db.session.rollback()  # the lease runs out and another pass takes the row
            return "error"


def send_due(batch_size: int | None = None) -> dict[str, int]:
    """Claims and sends batches until nothing is due. Returns counts per outcome.

    Within a batch, WORKER_CONCURRENCY threads send at once, each in its own app context
    (its own database session): a send is mostly waiting for the provider and the database.
    """
    config = current_app.config
    size = batch_size or config["WORKER_BATCH_SIZE"]
    threads = max(1, int(config.get("WORKER_CONCURRENCY", 1)))
    counts: dict[str, int] = {}
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send") if threads > 1 else None
    try:
        while True:
            claims = claim_due(size)
            if not claims:
                return counts
            if pool is None:
                outcomes = [deliver_safely(claim) for claim in claims]
            else:
                outcomes = list(pool.map(_in_own_context(current_app._get_current_object()), claims))
            for outcome in outcomes:
                counts[outcome] = counts.get(outcome, 0) + 1
            if all(outcome in ("lost", "released", "error") for outcome in outcomes):
                return counts
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def _in_own_context(app):
    def run(claim: Claim) -> str:
        with app.app_context():
            try:
                return deliver_safely(claim)
            finally:
                db.session.remove()
    return run


def expire_stale() -> int:
    """Pending messages whose visit has begun are never sent late: expired."""
    moment = now()
    result = db.session.execute(
        update(Message)
        .where(Message.status == PENDING, Message.send_before.is_not(None), Message.send_before <= moment)
        .values(status=MessageStatus.EXPIRED.value, updated_at=moment)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
