"""The worker's sending throughput, beside a bare loop of Twilio SDK calls in the same run.

    .venv/bin/python -m benchmarks.outbox                   # 10,000 messages
    .venv/bin/python -m benchmarks.outbox --messages 500    # a quick look

A fresh PostgreSQL database (Alembic revisions, the demo clinic) gets `--messages` patients,
each with a visit next week and a confirmation text due now. A local HTTP sink (its own
process) answers like Twilio. Then, each against the same sink:

1. the bare loop: the `twilio` SDK's `messages.create` called `--messages` times in a row;
2. one worker process (`flask --app wsgi worker --once`) sending every due message;
3. the messages put back (same rows, pending again) and two worker processes at once.

A worker's rate counts from the first to the last message the sink received, so process
start-up is left out. Each message is re-read with its visit and patient, checked, rendered
(with a fresh private link), recorded, sent and recorded sent: the bare loop does none of that.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import secrets
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import requests

from .command import run_and_report
from .database import DEFAULT_SERVER_URL, ROOT, _libpq_url, flask_command, server_version, temporary_database
from .machine import BusyMeter
from .server import free_port

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.outbox", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL))
    parser.add_argument("--messages", type=int, default=10_000, help="due messages (default: %(default)s)")
    parser.add_argument("--concurrency", type=int, default=4,
                        help="WORKER_CONCURRENCY of each worker (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=50, help="WORKER_BATCH_SIZE (default: %(default)s)")
    parser.add_argument("--provider-latency-ms", type=float, default=0.0,
                        help="the sink holds each answer this long, like a provider across the internet "
                             "(default: %(default)s: the sink answers at once)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be positive")
    if args.provider_latency_ms < 0:
        parser.error("--provider-latency-ms cannot be negative")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def seed_due_messages(url: str, count: int) -> None:
    """`count` patients with a visit each (a provider of their own, an hour apart) and a
    confirmation text due now, bulk-inserted."""
    moment = datetime.now(UTC)
    first_visit = (moment + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    with psycopg.connect(_libpq_url(url)) as conn:
        provider_id = conn.execute(
            "INSERT INTO providers (name, title, colour, active, accepts_online_booking) "
            "VALUES ('Benchmark provider', '', '#336699', true, false) RETURNING id").fetchone()[0]
        service_id = conn.execute("SELECT id FROM services ORDER BY id LIMIT 1").fetchone()[0]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO patients (first_name, last_name, phone_e164, language, sms_consent_at, created_at) "
                "VALUES ('Pat', %s, %s, 'en', %s, %s)",
                [(f"N{i}", f"+1915{i:07d}", moment, moment) for i in range(count)],
            )
            patients = [row[0] for row in conn.execute(
                "SELECT id FROM patients WHERE first_name = 'Pat' ORDER BY id").fetchall()]
            cur.executemany(
                "INSERT INTO appointments (patient_id, provider_id, service_id, starts_at, ends_at, blocks_until, "
                "status, source, patient_note, cancel_reason, manage_token_hash, ical_sequence, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'booked', 'online', '', '', %s, 0, %s, %s)",
                [(pid, provider_id, service_id, first_visit + timedelta(hours=i),
                  first_visit + timedelta(hours=i, minutes=30), first_visit + timedelta(hours=i, minutes=30),
                  secrets.token_hex(32), moment, moment) for i, pid in enumerate(patients)],
            )
        conn.execute(
            "INSERT INTO messages (patient_id, appointment_id, channel, kind, cause, planned_for, due_at, send_before, "
            "status, attempts, to_address, language, subject, body, backend, error_code, last_error, created_at, "
            "updated_at) SELECT a.patient_id, a.id, 'sms', 'confirmation', 'patient', %s, %s, a.starts_at, "
            "'pending', 0, '', 'en', '', '', '', '', '', %s, %s FROM appointments a WHERE a.provider_id = %s",
            (moment, moment, moment, moment, provider_id),
        )
        conn.execute("ANALYZE")


def put_messages_back(url: str) -> None:
    """The same rows due again, as if never sent (the links they minted removed)."""
    with psycopg.connect(_libpq_url(url)) as conn:
        conn.execute("DELETE FROM appointment_links")
        conn.execute("UPDATE messages SET status = 'pending', attempts = 0, claimed_until = NULL, sent_at = NULL, "
                     "provider_message_id = NULL, to_address = '', body = '', backend = '', due_at = now()")


def bare_loop(sink_url: str, count: int) -> float:
    """The SDK alone: messages.create `count` times, as fast as it goes. Returns seconds."""
    from twilio.rest import Client

    from scheduler.integrations.sms import _HttpClient

    client = Client(ACCOUNT_SID, "benchmark-token", http_client=_HttpClient(sink_url, timeout=10))
    client.messages.create(to="+19150000000", from_="+19155550100", body="warm-up")
    started = time.perf_counter()
    for i in range(count):
        client.messages.create(to=f"+1915{i:07d}", from_="+19155550100", body=f"Bare message {i}",
                               status_callback="https://clinic.example/webhooks/twilio/status")
    return time.perf_counter() - started


def run_workers(url: str, sink_url: str, processes: int, args: argparse.Namespace) -> float:
    """`processes` workers at once, each `flask worker --once`; returns their CPU seconds."""
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi", "SECRET_KEY": "benchmark-secret",
           "PUBLIC_BASE_URL": "https://clinic.example", "MESSAGE_SEND_WINDOW": "00:00-24:00",
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "benchmark-token",
           "TWILIO_FROM_NUMBER": "+19155550100", "TWILIO_BASE_URL": sink_url,
           "WORKER_CONCURRENCY": str(args.concurrency), "WORKER_BATCH_SIZE": str(args.batch_size)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers = [subprocess.Popen([sys.executable, "-m", "flask", "worker", "--once", "--digest", "skip"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for _ in range(processes)]
    for worker in workers:
        output = worker.communicate()[0]
        if worker.returncode != 0:
            raise RuntimeError(f"worker failed:\n{output[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def sink_stats(sink_url: str) -> dict:
    return requests.get(sink_url, timeout=10).json()


def run(args: argparse.Namespace) -> dict:
    results: dict = {
        "command": " ".join(["python -m benchmarks.outbox", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "postgresql": server_version(args.database_url), "platform": platform.platform()},
        "settings": {"messages": args.messages, "concurrency": args.concurrency, "batch_size": args.batch_size,
                     "provider_latency_ms": args.provider_latency_ms},
        "load_average_before": os.getloadavg(),
    }
    port = free_port()
    sink_url = f"http://127.0.0.1:{port}"
    sink = subprocess.Popen([sys.executable, "-m", "benchmarks.sms_sink", str(port), str(args.provider_latency_ms)],
                            cwd=ROOT)
    try:
        _wait_for(sink_url)
        with temporary_database(args.database_url) as url:
            results["database"] = url.rsplit("/", 1)[1]
            log("migrating and seeding the demo clinic")
            flask_command(url, "db", "upgrade")
            flask_command(url, "seed-demo")
            log(f"seeding {args.messages} due messages")
            seed_due_messages(url, args.messages)

            log(f"bare loop: {args.messages} SDK calls")
            busy = BusyMeter()
            seconds = bare_loop(sink_url, args.messages)
            results["bare_loop"] = {"messages": args.messages, "seconds": round(seconds, 2),
                                    "per_second": round(args.messages / seconds, 1), "cores_busy": busy.read()}
            log(f"  {results['bare_loop']}")

            for processes in (1, 2):
                requests.delete(sink_url, timeout=10)
                if processes == 2:
                    put_messages_back(url)
                log(f"{processes} worker(s)")
                busy = BusyMeter()
                cpu = run_workers(url, sink_url, processes, args)
                cores_busy = busy.read()
                stats = sink_stats(sink_url)
                sent = _count(url, "sent")
                if stats["count"] != args.messages or stats["duplicates"] or sent != args.messages:
                    raise RuntimeError(f"expected {args.messages} messages sent once each: sink {stats}, rows sent {sent}")
                figures = {"messages": stats["count"], "seconds": round(stats["seconds"], 2),
                           "per_second": round(stats["count"] / stats["seconds"], 1),
                           "worker_cpu_ms_per_message": round(cpu * 1000 / stats["count"], 2),
                           "cores_busy": cores_busy}
                results[f"workers_{processes}"] = figures
                log(f"  {figures}")
        results["one_worker_vs_bare_loop"] = round(results["workers_1"]["per_second"] / results["bare_loop"]["per_second"], 2)
        results["two_workers_vs_one"] = round(results["workers_2"]["per_second"] / results["workers_1"]["per_second"], 2)
        results["load_average_after"] = os.getloadavg()
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    return results


def _count(url: str, status: str) -> int:
    with psycopg.connect(_libpq_url(url)) as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE status = %s", (status,)).fetchone()[0]


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("the sink did not start")


def report(results: dict) -> str:
    bare, one, two = results["bare_loop"], results["workers_1"], results["workers_2"]
    settings = results["settings"]
    cores = results["machine"]["cpus"]
    return "\n".join([
        f"\n{settings['messages']:,} messages, worker concurrency {settings['concurrency']}, batch {settings['batch_size']}, "
        f"provider latency {settings['provider_latency_ms']:g} ms",
        f"| | messages per second | worker CPU per message | cores busy (of {cores}), whole machine |",
        "|---|---|---|---|",
        f"| bare loop of SDK calls | {bare['per_second']:,} | | {bare['cores_busy']} |",
        f"| one worker | {one['per_second']:,} ({results['one_worker_vs_bare_loop']}x the bare loop) "
        f"| {one['worker_cpu_ms_per_message']} ms | {one['cores_busy']} |",
        f"| two workers | {two['per_second']:,} ({results['two_workers_vs_one']}x one worker) "
        f"| {two['worker_cpu_ms_per_message']} ms | {two['cores_busy']} |",
    ])


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    raise SystemExit(main())
