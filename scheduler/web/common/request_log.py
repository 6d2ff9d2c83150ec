"""One log line per request, and nothing in any log that names a patient.

A line carries a request id (the client's X-Request-ID when it is a plain token, else a new
one; sent back in the answer), the method, the route *template* (`/appointments/<token>`:
never the path, which can hold a private link), the status and the duration. Text by default,
one JSON object per line with LOG_FORMAT=json.

Other records of the app's loggers (an unhandled error's traceback) pass through a filter that
blanks email addresses, phone numbers and PostgreSQL's DETAIL lines (which repeat the failing
row); database errors never carry the statement's values (SQLAlchemy's hide_parameters, config.py).
"""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, request

logger = logging.getLogger("scheduler.requests")

_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}", re.ASCII)
_EMAIL = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+\.[A-Za-z]{2,}")
# E.164, or a national number written with the usual separators (at least 7 digits).
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d(?:[\d\s().-]{5,}\d)(?![\w.])")


# PostgreSQL's DETAIL repeats the row or key that failed ("Failing row contains (1, Ana, ...)").
_DETAIL = re.compile(r"^(\s*DETAIL:).*$", re.MULTILINE)


def redact(text: str) -> str:
    text = _DETAIL.sub(r"\1 [hidden]", text)
    text = _EMAIL.sub("[email]", text)
    return _PHONE.sub(lambda m: "[phone]" if sum(ch.isdigit() for ch in m.group()) >= 7 else m.group(), text)


class RedactingFilter(logging.Filter):
    """Blanks emails and phone numbers in a record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "request", None)
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname.lower()}
        entry.update(fields if fields else {"message": record.getMessage()})
        if record.exc_text:
            entry["error"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def _formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return JsonFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(message)s")


def _start() -> None:
    g.request_started = time.perf_counter()
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _CLIENT_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _finish(response):
    request_id = g.get("request_id") or uuid.uuid4().hex
    started = g.get("request_started")
    fields = {
        "request_id": request_id,
        "method": request.environ.get("REQUEST_METHOD", request.method),  # HEAD stays HEAD here
        "route": request.url_rule.rule if request.url_rule is not None else "<no route>",
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
    }
    logger.info(" ".join(f"{k}={v}" for k, v in fields.items()), extra={"request": fields})
    response.headers.setdefault("X-Request-ID", request_id)
    return response


def _redact_every_record_of(root: str) -> None:
    """Every record of the app's loggers (`root` and its children, such as a service module's
    own logger) is redacted where it is made: a filter on one logger would miss the records
    its children pass up to its handlers."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts", None) == root:
        return
    redacting = RedactingFilter()

    def make_record(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name == root or record.name.startswith(root + "."):
            redacting.filter(record)
        return record

    make_record.redacts = root  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def configure_logging(app: Flask) -> None:
    """Handlers once per process (gunicorn workers import the app once each)."""
    kind = app.config.get("LOG_FORMAT", "text").strip().lower()
    if not any(getattr(h, "scheduler_request_log", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.scheduler_request_log = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    for handler in logger.handlers:
        if getattr(handler, "scheduler_request_log", False):
            handler.setFormatter(_formatter(kind))
    _redact_every_record_of(app.logger.name)
    if kind == "json":
        from flask.logging import default_handler

        default_handler.setFormatter(JsonFormatter())


def register_request_log(app: Flask) -> None:
    """Call before any other hook, so a request refused early is timed and logged too."""
    configure_logging(app)
    app.before_request(_start)
    app.after_request(_finish)
