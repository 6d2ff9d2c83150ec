"""The worker: one process beside the web app (`flask --app wsgi worker`), never inside it.

APScheduler 3.x runs the module-level jobs below. Each job records its pass in worker_runs
(the heartbeat). Correctness never depends on there being one worker: the outbox claim and
the digest's daily claim are atomic in the database, so two workers never send one message
twice.
"""
from __future__ import annotations

import logging
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, current_app

from scheduler.services.common.clock import now
from scheduler.services.messages import digest, sending
from scheduler.services.operations.worker_runs import record_run
from scheduler.services.waitlist import offers as waitlist_offers

from .extensions import db

log = logging.getLogger(__name__)

_app: Flask | None = None  # the app the scheduled jobs run in (set by run_forever)
_stopping = threading.Event()  # set on SIGTERM / Ctrl-C: a send pass claims no more batches


def _heartbeat(job: str, work: Callable[[], object]) -> object:
    started = now()
    error = ""
    try:
        return work()
    except Exception as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()
        raise
    finally:
        db.session.rollback()
        try:
            record_run(job, started, now(), error)
        except Exception:
            log.exception("could not record the %s heartbeat", job)
            db.session.rollback()


def send_due_messages() -> dict[str, int]:
    """Every WORKER_SEND_INTERVAL_SECONDS: send what is due (claim, re-check, send, record)."""
    return _heartbeat("send_due", lambda: sending.send_due(stop=_stopping))


def expire_stale_messages() -> int:
    """Pending messages whose visit has begun are expired, never sent late."""
    return _heartbeat("expire_stale", sending.expire_stale)


def offer_waitlist() -> dict[str, int]:
    """Held waitlist offers past their time expire; freed times go to the next waiting patient."""
    return _heartbeat("offer_waitlist", waitlist_offers.offer_openings)


def evening_digest(force: bool = False) -> str:
    """Tomorrow's schedule to FRONT_DESK_EMAIL once a day, at FRONT_DESK_DIGEST_TIME."""
    return _heartbeat("evening_digest", lambda: digest.send_evening_digest(force=force))


JOBS: dict[str, Callable[[], object]] = {
    "send_due": send_due_messages,
    "expire_stale": expire_stale_messages,
    "offer_waitlist": offer_waitlist,
    "evening_digest": evening_digest,
}


def scheduled(job: str) -> None:
    """What APScheduler calls (by its textual reference), in the worker's app context."""
    assert _app is not None, "run_forever() sets the app"
    with _app.app_context():
        try:
            outcome = JOBS[job]()
        except Exception:
            log.exception("worker job %s failed", job)
        else:
            if outcome:
                log.log(logging.INFO if worth_telling(job, outcome) else logging.DEBUG, "%s: %s", job, outcome)


# What a person reading the log needs at INFO: a send pass that sent or failed something (a
# failed attempt that will be retried included), a digest sent. The rest of the passes at DEBUG.
_TOLD = ("sent", "failed", "retry")


def worth_telling(job: str, outcome: object) -> bool:
    if job == "send_due" and isinstance(outcome, dict):
        return any(outcome.get(key) for key in _TOLD)
    if job == "evening_digest":
        return outcome == "sent"
    return False


class _RoutineToDebug(logging.Filter):
    """APScheduler says "Running job" and "executed successfully" at INFO on every pass: those
    become DEBUG records, shown only when the worker logs at DEBUG. Its warnings and errors stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("apscheduler") and record.levelno == logging.INFO:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


def configure_logging(app: Flask, level: int = logging.INFO) -> None:
    """The worker's log on standard error, each line once: one handler, the root's. The app's
    logger hands its records up to it instead of printing them a second time through Flask's
    own handler."""
    from flask.logging import default_handler

    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, _RoutineToDebug) for f in handler.filters):
            handler.addFilter(_RoutineToDebug())
    app.logger.removeHandler(default_handler)
    app.logger.propagate = True
    # The SDK logs each request with the patient's number and text at INFO: not in our logs.
    logging.getLogger("twilio").setLevel(logging.WARNING)


def run_once(*, digest_mode: str = "if_due") -> dict[str, object]:
    """Each job once (cron, tests): the digest only when due, or forced, or never."""
    # Offers first, so an offer written now goes out in the same pass.
    results: dict[str, object] = {"expire_stale": expire_stale_messages(), "offer_waitlist": offer_waitlist(),
                                  "send_due": send_due_messages()}
    if digest_mode != "skip" and not _stopping.is_set():
        results["evening_digest"] = evening_digest(force=digest_mode == "force")
    return results


def _on_stop_signals(handler) -> dict[int, object]:
    """SIGTERM and Ctrl-C's SIGINT to `handler` (SIGINT only where it is not ignored, as a
    shell ignores it for a background job). Returns the handlers it replaced."""
    signals = [signal.SIGTERM]
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signals.append(signal.SIGINT)
    return {signum: signal.signal(signum, handler) for signum in signals}


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """For `worker --once` (cron, a service manager): SIGTERM or Ctrl-C lets the send in hand
    finish and record its batches, and claims no more. The handler only raises the flag (it
    runs on the thread doing the work, which never waits on this Event's lock). The previous
    handlers are put back afterwards."""
    _stopping.clear()

    def stop(_signum, _frame) -> None:
        _stopping.set()

    previous = _on_stop_signals(stop)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_forever() -> None:
    """The long-running worker. SIGTERM or Ctrl-C stop it after the job in hand finishes."""
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.executors.pool import ThreadPoolExecutor as JobThreads
    from apscheduler.schedulers.blocking import BlockingScheduler

    global _app
    _app = current_app._get_current_object()
    config = _app.config
    job_threads = JobThreads(max_workers=len(JOBS))
    scheduler = BlockingScheduler(
        executors={"default": job_threads},
        timezone=config["CLINIC_TIMEZONE"],
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
    )
    intervals = {
        "send_due": config["WORKER_SEND_INTERVAL_SECONDS"],
        "expire_stale": 300,
        "offer_waitlist": config["WORKER_SEND_INTERVAL_SECONDS"],
        "evening_digest": 60,  # checked every minute; the daily claim makes it once a day
    }
    for job, seconds in intervals.items():
        scheduler.add_job(
            "scheduler.worker:scheduled", trigger="interval", seconds=seconds, args=[job], id=job,
            replace_existing=True, coalesce=True, max_instances=1, next_run_time=now(),
        )

    def stop(_signum, _frame) -> None:
        # A signal handler runs on the main thread between two bytecodes, possibly while that
        # thread holds the scheduler's plain locks (its wake-up Event's, say): shutting down
        # from here could wait on such a lock forever. So the handler only flags the stop
        # and hands the shutdown to a thread of its own. The job in hand finishes its batch.
        if _stopping.is_set():
            return
        _stopping.set()
        threading.Thread(target=scheduler.shutdown, kwargs={"wait": False}, name="worker-stop").start()

    def take_over_signals(_event) -> None:
        # Installed once the scheduler runs, so a shutdown always finds it running. Until
        # then SIGTERM ends the process the default way: nothing has been claimed yet.
        _on_stop_signals(stop)

    _stopping.clear()
    scheduler.add_listener(take_over_signals, EVENT_SCHEDULER_STARTED)
    log.info("worker started: sending every %ss", config["WORKER_SEND_INTERVAL_SECONDS"])
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C while the scheduler was still starting
        pass
    # The jobs in hand finish here, before the interpreter begins to exit: once it does, no
    # thread pool takes new work, and a send pass could not hand over a batch it has claimed.
    job_threads.shutdown(wait=True)
    log.info("worker stopped")
