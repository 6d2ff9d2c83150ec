"""Scale-out factor: booking and availability throughput of two app instances against one,
in the same run, on one PostgreSQL, with two workers sending what the bookings cause.

    .venv/bin/python -m benchmarks.scaleout                 # 4 rounds of 6 s per phase, 16 clients
    .venv/bin/python -m benchmarks.scaleout --duration 2 --rounds 2

Rounds alternate one instance, two, two, one (ABBA), so a machine that gets busier or quieter
during the run weighs on both sides alike. Each instance is gunicorn with --workers x --threads,
configured only through its environment. The clients spread requests evenly over the
instances in use (as a round-robin load balancer would). Bookings take slots that never
overlap, so every one should be a 201; the database is created, migrated, seeded and dropped.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from statistics import mean

import psycopg
import requests

from . import measure
from .database import DEFAULT_SERVER_URL, _libpq_url, flask_command, server_version, temporary_database
from .outbox import _wait_for
from .seed import EVALUATION, seed
from .server import Gunicorn, free_port

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
ROOT = Path(__file__).resolve().parent.parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scaleout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
                        help="PostgreSQL server; a fresh database is created there and dropped (default: %(default)s)")
    parser.add_argument("--appointments", type=int, default=2000, help="appointments seeded first (default: %(default)s)")
    parser.add_argument("--providers", type=int, default=12, help="providers, demo ones included (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of each phase (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=4, choices=range(1, 9), metavar="1-8",
                        help="rounds, ABBA order (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def availability_work(urls: list[str], rng: random.Random, today: date):
    def work(session: requests.Session, n: int) -> requests.Response:
        day = (today + timedelta(days=2 + rng.randrange(14))).isoformat()
        return session.get(urls[n % len(urls)] + "/api/v1/availability", timeout=measure.TIMEOUT,
                           params={"service": EVALUATION, "start": day, "end": day})
    return work


def booking_work(urls: list[str], slots: list[tuple[int, str]], round_number: int):
    """The next unclaimed slot for a new patient (a number of their own in each round), through
    the instances in turn."""
    lock = threading.Lock()
    remaining = iter(slots)

    def work(session: requests.Session, n: int) -> requests.Response | None:
        with lock:
            item = next(remaining, None)
        if item is None:
            return None
        provider_id, start = item
        return session.post(urls[n % len(urls)] + "/api/v1/bookings", timeout=measure.TIMEOUT, json={
            "service": EVALUATION, "provider_id": provider_id, "start": start,
            "patient": {"first_name": "Scale", "last_name": f"Out {n}", "phone": f"915-54{round_number}-{n:04d}",
                        "email": f"scale{round_number}-{n}@example.com", "sms_opt_in": True}})
    return work


def start_workers(url: str, sink_url: str, count: int) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi", "SECRET_KEY": "benchmark-secret",
           "PUBLIC_BASE_URL": "https://clinic.example", "MESSAGE_SEND_WINDOW": "00:00-24:00",
           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": "benchmark-token",
           "TWILIO_FROM_NUMBER": "+19155550100", "TWILIO_BASE_URL": sink_url, "WORKER_SEND_INTERVAL_SECONDS": "1"}
    return [subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(count)]


def overlapping_live_pairs(url: str) -> int:
    with psycopg.connect(_libpq_url(url)) as conn:
        return conn.execute("""
            SELECT count(*) FROM appointments a JOIN appointments b
              ON a.provider_id = b.provider_id AND a.id < b.id
             WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
               AND a.starts_at < b.blocks_until AND b.starts_at < a.blocks_until""").fetchone()[0]


def run(args: argparse.Namespace) -> dict:
    rng = random.Random(2026)
    results: dict = {
        "command": " ".join(["python -m benchmarks.scaleout", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "postgresql": server_version(args.database_url)},
        "settings": {k: getattr(args, k) for k in ("clients", "duration", "rounds", "workers", "threads")},
        "load_average_before": os.getloadavg(),
        "rounds": [],
    }
    # Any hour is in the send window (the instances and workers inherit this): every booking's
    # confirmation comes due at once, so the workers really send beside the load.
    os.environ["MESSAGE_SEND_WINDOW"] = "00:00-24:00"
    port = free_port()
    sink_url = f"http://127.0.0.1:{port}"
    sink = subprocess.Popen([sys.executable, "-m", "benchmarks.sms_sink", str(port)], cwd=ROOT)
    servers: list[Gunicorn] = []
    workers: list[subprocess.Popen] = []
    try:
        _wait_for(sink_url)
        with temporary_database(args.database_url) as url:
            results["database"] = url.rsplit("/", 1)[1]
            log("migrating and seeding")
            flask_command(url, "db", "upgrade")
            flask_command(url, "seed-demo")
            summary = seed(url, appointments=args.appointments, providers=args.providers)
            servers = [Gunicorn(url, workers=args.workers, threads=args.threads) for _ in range(2)]
            workers = start_workers(url, sink_url, 2)
            today = date.today()
            slots = measure.bookable_slots(
                servers[0].url, EVALUATION, today=today, days=min(summary.evaluation_max_advance_days, 62),
                block_minutes=summary.evaluation_block_minutes, notice_minutes=summary.evaluation_min_notice_minutes,
                rng=rng)
            log(f"{len(slots)} bookable slots")
            order = [1, 2, 2, 1] * ((args.rounds + 3) // 4)
            share = len(slots) // len(order[:args.rounds])
            for number, instances in enumerate(order[:args.rounds]):
                urls = [s.url for s in servers[:instances]]
                # warm every process of the instances in use
                measure.concurrent(args.clients, 1.0, availability_work(urls, rng, today))
                seen = measure.concurrent(args.clients, args.duration, availability_work(urls, rng, today))
                mine = slots[number * share:(number + 1) * share]
                booked = measure.concurrent(args.clients, args.duration, booking_work(urls, mine, number + 1))
                figures = {"instances": instances,
                           "availability_per_second": round(seen.per_second(200), 1),
                           "availability_p50_ms": round(seen.latencies.percentile(50) * 1000, 1),
                           "availability_statuses": dict(seen.statuses),
                           "bookings_per_second": round(booked.per_second(201), 1),
                           "booking_p50_ms": round(booked.latencies.percentile(50) * 1000, 1),
                           "booking_statuses": dict(booked.statuses),
                           "ran_out_of_slots": booked.ran_out_of_work,
                           "errors": seen.errors[:3] + booked.errors[:3]}
                results["rounds"].append(figures)
                log(f"round {number + 1}: {figures}")
            results["overlapping_live_pairs"] = overlapping_live_pairs(url)
            time.sleep(3)  # the workers' last pass
            results["sms_received"] = requests.get(sink_url, timeout=10).json()
            with psycopg.connect(_libpq_url(url)) as conn:
                results["messages_by_status"] = dict(conn.execute(
                    "SELECT channel || ' ' || status, count(*) FROM messages GROUP BY 1 ORDER BY 1").fetchall())
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=15)
        for server in servers:
            server.stop()
            server.remove_log()
        sink.terminate()
        sink.wait(timeout=10)
    for instances in (1, 2):
        rounds = [r for r in results["rounds"] if r["instances"] == instances]
        results[f"instances_{instances}"] = {
            "availability_per_second": round(mean(r["availability_per_second"] for r in rounds), 1),
            "bookings_per_second": round(mean(r["bookings_per_second"] for r in rounds), 1),
        }
    one, two = results["instances_1"], results["instances_2"]
    results["scale_out_factor"] = {
        "availability": round(two["availability_per_second"] / one["availability_per_second"], 2),
        "bookings": round(two["bookings_per_second"] / one["bookings_per_second"], 2),
    }
    results["load_average_after"] = os.getloadavg()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    one, two, factor = results["instances_1"], results["instances_2"], results["scale_out_factor"]
    print(f"\n{args.clients} clients, {args.rounds} rounds of {args.duration:g} s, "
          f"{args.workers} gunicorn workers x {args.threads} threads per instance, two outbox workers running")
    print("| | one instance | two instances | factor |")
    print("|---|---|---|---|")
    print(f"| availability (1 day, all providers) per second | {one['availability_per_second']} | "
          f"{two['availability_per_second']} | {factor['availability']} |")
    print(f"| bookings per second | {one['bookings_per_second']} | {two['bookings_per_second']} | {factor['bookings']} |")
    print(f"overlapping live pairs: {results['overlapping_live_pairs']}; SMS received: {results['sms_received']}")
    print(f"messages: {results['messages_by_status']}")
    print(f"load average before {results['load_average_before']}, after {results['load_average_after']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    bad = [r for r in results["rounds"] if set(r["booking_statuses"]) - {201} or set(r["availability_statuses"]) - {200}]
    sent_twice = results["sms_received"]["duplicates"]
    return 1 if bad or results["overlapping_live_pairs"] or sent_twice else 0


if __name__ == "__main__":
    sys.exit(main())
