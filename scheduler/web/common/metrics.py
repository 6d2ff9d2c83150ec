"""Prometheus metrics at GET /metrics, for the clinic's monitor (never for the public).

Two kinds of figures, each from where it is true:

- Counted by the web processes: requests by route template (never the path, which can hold
  a patient's private link), method and status; booking conflicts (409 answers to a write:
  a booking or move that lost its slot, or a change refused). Under gunicorn every worker
  process counts its own requests; with PROMETHEUS_MULTIPROC_DIR set, prometheus-client
  keeps each process's counters in that folder and a scrape adds them up, so any worker
  answering /metrics gives the instance's totals.
- Read from the database at scrape time: the outbox backlog by status, send failures, and the
  worker's last passes (worker_runs). These are written by the worker, a separate process
  that may run on another machine, so no web process could count them; the database is the
  one place every instance and worker shares.

Who may scrape: an address in METRICS_ALLOWED_NETWORKS (loopback by default; behind a proxy
this is the address ProxyFix took from X-Forwarded-For, so the proxy's own address does not
let the internet in), or anyone sending `Authorization: Bearer <METRICS_TOKEN>`.
"""
from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterator

from flask import Blueprint, Flask, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from scheduler.extensions import db
from scheduler.models import Message, WorkerRun
from scheduler.models.messaging import MessageStatus
from scheduler.services.common.clock import now
from scheduler.services.operations.health import BACKLOG

metrics = Blueprint("metrics", __name__)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ProcessCounters:
    """This process's counters (one set per app; in multiprocess mode they also land in
    PROMETHEUS_MULTIPROC_DIR, where the scrape sums every process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "scheduler_http_requests", "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )
        self.conflicts = Counter(
            "scheduler_booking_conflicts",
            "409 answers to a booking, move or cancel: the slot was taken, or the change was refused.",
            ["route"], registry=self.registry,
        )


class DatabaseCollector:
    """Figures every instance and worker share, read when scraped."""

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._outbox()
            yield from self._worker()
        except SQLAlchemyError:
            db.session.rollback()
            up = GaugeMetricFamily("scheduler_database_up", "1 when the database answered this scrape.")
            up.add_metric([], 0)
            yield up
            return
        finally:
            db.session.rollback()  # read only: end the transaction
        up = GaugeMetricFamily("scheduler_database_up", "1 when the database answered this scrape.")
        up.add_metric([], 1)
        yield up

    def _outbox(self) -> Iterator[Metric]:
        rows = db.session.execute(
            select(Message.status, Message.channel, func.count())
            .where(Message.status.in_(BACKLOG)).group_by(Message.status, Message.channel)
        ).all()
        counts = {(status, channel): n for status, channel, n in rows}
        backlog = GaugeMetricFamily(
            "scheduler_outbox_messages",
            "Messages waiting on the worker (pending, sending) or the front desk (failed, undelivered).",
            labels=["status", "channel"],
        )
        for status in BACKLOG:
            for channel in ("sms", "email"):
                backlog.add_metric([status.value, channel], counts.get((status.value, channel), 0))
        yield backlog

        oldest = db.session.scalar(select(func.min(Message.due_at)).where(Message.status == MessageStatus.PENDING))
        age = GaugeMetricFamily("scheduler_outbox_oldest_pending_seconds",
                                "How long the oldest pending message has been due (0: none pending).")
        age.add_metric([], max(0.0, (now() - oldest).total_seconds()) if oldest else 0.0)
        yield age

        retrying = dict(db.session.execute(
            select(Message.channel, func.count())
            .where(Message.status == MessageStatus.PENDING, Message.attempts > 0, Message.last_error != "")
            .group_by(Message.channel)
        ).all())
        failures = GaugeMetricFamily(
            "scheduler_message_send_failures",
            "Messages whose last send failed: refused for good (failed), not delivered by the carrier "
            "(undelivered), or failed for a while and waiting for another attempt (retrying).",
            labels=["outcome", "channel"],
        )
        for channel in ("sms", "email"):
            failures.add_metric(["failed", channel], counts.get((MessageStatus.FAILED.value, channel), 0))
            failures.add_metric(["undelivered", channel], counts.get((MessageStatus.UNDELIVERED.value, channel), 0))
            failures.add_metric(["retrying", channel], retrying.get(channel, 0))
        yield failures

    def _worker(self) -> Iterator[Metric]:
        runs = db.session.scalars(select(WorkerRun).order_by(WorkerRun.job)).all()
        moment = now()
        duration = GaugeMetricFamily("scheduler_worker_last_pass_duration_seconds",
                                     "How long each worker job's last pass took.", labels=["job"])
        since = GaugeMetricFamily("scheduler_worker_last_pass_age_seconds",
                                  "Seconds since each worker job last started a pass.", labels=["job"])
        failed = GaugeMetricFamily("scheduler_worker_last_pass_failed",
                                   "1 when a worker job's last pass ended in an error.", labels=["job"])
        for run in runs:
            duration.add_metric([run.job], run.last_duration_ms / 1000)
            since.add_metric([run.job], max(0.0, (moment - run.last_started_at).total_seconds()))
            failed.add_metric([run.job], 1 if run.last_error else 0)
        yield from (duration, since, failed)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _count(response):
    counters: ProcessCounters = current_app.extensions["metrics"]
    method = request.environ.get("REQUEST_METHOD", "").upper()
    method = method if method in KNOWN_METHODS else "other"
    route = request.url_rule.rule if request.url_rule is not None else "<no route>"
    counters.requests.labels(route, method, str(response.status_code)).inc()
    if response.status_code == 409 and method in WRITES:
        counters.conflicts.labels(route).inc()
    return response


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN", "")
    offered = request.headers.get("Authorization", "")
    if token and offered.startswith("Bearer ") and hmac.compare_digest(offered[7:].encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in current_app.extensions["metrics_networks"])


@metrics.get("/metrics")
def scrape():
    if not _allowed():
        return jsonify({"error": "forbidden", "message": "Metrics are for the clinic's monitor only."}), 403
    registry = CollectorRegistry()
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(current_app.extensions["metrics"].registry)
    registry.register(DatabaseCollector())
    return generate_latest(registry), 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}


def parse_networks(raw: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """METRICS_ALLOWED_NETWORKS: addresses or networks, comma separated (bad ones stop the start)."""
    try:
        return [ipaddress.ip_network(part.strip(), strict=False) for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ValueError(f"METRICS_ALLOWED_NETWORKS: {exc}") from None


def register_metrics(app: Flask) -> None:
    if multiprocess_dir():  # gunicorn.conf.py empties it at start; `flask run` needs it to exist
        os.makedirs(multiprocess_dir(), exist_ok=True)
    app.extensions["metrics"] = ProcessCounters()
    app.extensions["metrics_networks"] = parse_networks(app.config.get("METRICS_ALLOWED_NETWORKS", ""))
    app.after_request(_count)  # the /metrics route is the `metrics` blueprint (scheduler/web/__init__.py)


__all__ = ["metrics", "parse_networks", "register_metrics"]
