"""One command: seed PostgreSQL, start gunicorn, measure availability latency and booking
throughput, each beside the trivial /api/v1/health endpoint of the same server in the same run.

    .venv/bin/python -m benchmarks.run                      # full size: 10,000 appointments, 32 clients
    .venv/bin/python -m benchmarks.run --appointments 500 --latency-requests 20 --duration 2

The database is created on the given PostgreSQL server, migrated with the Alembic revisions,
seeded with `flask seed-demo` plus bulk data, and dropped at the end; gunicorn is always stopped.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from . import measure
from .command import run_and_report
from .database import DEFAULT_SERVER_URL, BackendCpu, flask_command, server_version, temporary_database
from .seed import EVALUATION, appointments_between, seed
from .server import Gunicorn, serving

AVAILABILITY_DAYS = 42  # six weeks: today .. today + 41 days


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
                        help="PostgreSQL server (any database on it to connect to); a fresh database is "
                             "created there and dropped afterwards (default: %(default)s)")
    parser.add_argument("--appointments", type=int, default=10_000, help="appointments to seed (default: %(default)s)")
    parser.add_argument("--providers", type=int, default=12, help="providers in all, demo ones included (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients for throughput (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=6.0,
                        help="seconds of each throughput phase; booking stops early if it runs out of open slots "
                             "(default: %(default)s)")
    parser.add_argument("--latency-requests", type=int, default=200,
                        help="sequential requests per endpoint for latency, after warm-up (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per endpoint (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generated data (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of the availability request (in process, before gunicorn starts)")
    args = parser.parse_args(argv)
    if args.providers < 3 or args.providers > 15:
        parser.error("--providers must be between 3 (the demo clinic) and 15")
    if args.appointments < 1 or args.clients < 1 or args.latency_requests < 2 or args.duration <= 0:
        parser.error("--appointments, --clients, --duration must be positive and --latency-requests at least 2")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    results: dict = {
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": server_version(args.database_url),
            "platform": platform.platform(),
        },
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                     if k != "database_url"},
    }
    with temporary_database(args.database_url) as url:
        results["database"] = url.rsplit("/", 1)[1]
        started = time.perf_counter()
        log(f"database {results['database']}: migrating (flask db upgrade)")
        flask_command(url, "db", "upgrade")
        log("seeding the demo clinic (flask seed-demo)")
        flask_command(url, "seed-demo")
        log(f"seeding {args.appointments} appointments over {args.providers} providers")
        summary = seed(url, appointments=args.appointments, providers=args.providers, random_seed=args.seed)
        first = summary.today
        last = first + timedelta(days=AVAILABILITY_DAYS - 1)
        results["data"] = {
            "providers": summary.providers,
            "appointments": summary.appointments,
            "appointments_seeded": summary.seeded,
            "patients": summary.patients,
            "appointments_from": summary.first_day.isoformat(),
            "appointments_to": summary.last_day.isoformat(),
            "appointments_in_6_week_window": appointments_between(url, first, last),
            "seconds_to_build": round(time.perf_counter() - started, 1),
        }
        log(f"data ready in {results['data']['seconds_to_build']} s: {results['data']}")

        if args.profile:
            from .profiling import profile_request

            path = "/api/v1/availability?" + "&".join(
                f"{k}={v}" for k, v in measure.availability_params(EVALUATION, first, last).items()
            )
            print(profile_request(url, path), flush=True)

        results["load_average_before"] = os.getloadavg()
        with serving(args.database_url, url, workers=args.workers, threads=args.threads, log=log) as (server, backends):
            params = measure.availability_params(EVALUATION, first, last)
            log(f"latency: {args.latency_requests} sequential requests each, after {args.warmup} warm-up")
            latency = measure.sequential_latency(
                server.url, params, requests_each=args.latency_requests, warmup=args.warmup,
                server_cpu=server.cpu_seconds,
            )
            results["latency"] = {
                "availability_request": f"GET /api/v1/availability?service={EVALUATION}"
                                        f"&start={first.isoformat()}&end={last.isoformat()}",
                "availability_slots_returned": latency.slots_returned,
                "availability_response_bytes": latency.response_bytes,
                "availability": {
                    **latency.availability.summary_ms(),
                    "server_cpu_ms_per_request": _per_request_ms(latency.availability_cpu_seconds, args.latency_requests),
                },
                "health": {
                    **latency.health.summary_ms(),
                    "server_cpu_ms_per_request": _per_request_ms(latency.health_cpu_seconds, args.latency_requests),
                },
            }

            slots = measure.bookable_slots(
                server.url, EVALUATION, today=first, days=min(summary.evaluation_max_advance_days, 62),
                block_minutes=summary.evaluation_block_minutes,
                notice_minutes=summary.evaluation_min_notice_minutes, rng=rng,
            )
            log(f"booking: {args.clients} clients for up to {args.duration} s over {len(slots)} open slots")
            cpu = CpuMeter(server, backends)
            booking = measure.concurrent(
                args.clients, args.duration, measure.booking_work(server.url, EVALUATION, slots)
            )
            booking_cpu = cpu.used()
            log(f"health: {args.clients} clients for {booking.seconds:.1f} s")
            cpu = CpuMeter(server, backends)
            health = measure.concurrent(args.clients, booking.seconds, measure.health_work(server.url))
            health_cpu = cpu.used()
            results["throughput"] = {
                "clients": args.clients,
                "open_slots_offered": len(slots),
                "booking": _throughput_json(booking, success=201, cpu_seconds=booking_cpu),
                "health": _throughput_json(health, success=200, cpu_seconds=health_cpu),
            }
            results["peak_rss_kib"] = server.peak_rss_kib()
            results["load_average_after"] = os.getloadavg()
    log(f"database {results['database']} dropped, gunicorn stopped")
    return results


class CpuMeter:
    """CPU seconds used from now on by gunicorn, the database's backends and this process."""

    def __init__(self, server: Gunicorn, backends: BackendCpu) -> None:
        self.server, self.backends = server, backends
        self.gunicorn = server.cpu_seconds()
        self.database = backends.snapshot()
        self.client = time.process_time()

    def used(self) -> tuple[float, float, float]:
        return (
            self.server.cpu_seconds() - self.gunicorn,
            BackendCpu.used(self.database, self.backends.snapshot()),
            time.process_time() - self.client,
        )


def _per_request_ms(cpu_seconds: float, requests: int) -> float:
    return round(cpu_seconds * 1000 / requests, 2) if requests else float("nan")


def _throughput_json(
    result: measure.ThroughputResult, *, success: int, cpu_seconds: tuple[float, float, float]
) -> dict:
    server_cpu, database_cpu, client_cpu = cpu_seconds
    return {
        "server_cpu_seconds": round(server_cpu, 2),
        "server_cpu_ms_per_request": _per_request_ms(server_cpu, result.completed),
        "database_cpu_ms_per_request": _per_request_ms(database_cpu, result.completed),
        "client_cpu_ms_per_request": _per_request_ms(client_cpu, result.completed),
        "seconds": round(result.seconds, 2),
        "requests": result.completed,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items(), key=lambda kv: str(kv[0]))},
        "successes_per_second": round(result.per_second(success), 1),
        "requests_per_second": round(result.per_second(), 1),
        "ran_out_of_open_slots": result.ran_out_of_work,
        "latency": result.latencies.summary_ms(),
        "sample_errors": result.errors,
    }


def report(results: dict) -> str:
    lat = results["latency"]
    thr = results["throughput"]
    data = results["data"]
    lines = [
        "",
        f"Scheduler benchmark {results['date']}: {results['machine']['cpus']} CPUs, "
        f"Python {results['machine']['python']}, PostgreSQL {results['machine']['postgresql']}, "
        f"gunicorn {results['settings']['workers']} workers x {results['settings']['threads']} gthread threads",
        f"Data: {data['appointments']} appointments ({data['appointments_from']} .. {data['appointments_to']}), "
        f"{data['providers']} providers, {data['patients']} patients; "
        f"{data['appointments_in_6_week_window']} appointments in the 6-week window",
        "",
        f"Latency, sequential, {lat['availability']['n']} requests each (ms)",
        f"  {'endpoint':<44} {'p50':>8} {'p95':>8} {'p99':>8} {'mean':>8} {'max':>8} {'CPU/req':>8}",
    ]
    for label, key in ((f"availability 6 weeks, all providers ({lat['availability_slots_returned']} slots)", "availability"),
                       ("health (trivial JSON)", "health")):
        s = lat[key]
        lines.append(f"  {label:<44} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['p99_ms']:>8} {s['mean_ms']:>8} "
                     f"{s['max_ms']:>8} {s['server_cpu_ms_per_request']:>8}")
    lines += [
        "",
        f"Throughput, {thr['clients']} concurrent clients",
        f"  {'endpoint':<24} {'seconds':>7} {'ok/s':>8} {'statuses':<18} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8} {'CPU/req':>8} {'db':>6} {'client':>7}",
    ]
    for label, key in (("POST /api/v1/bookings", "booking"), ("GET /api/v1/health", "health")):
        s = thr[key]
        statuses = " ".join(f"{k}:{v}" for k, v in s["statuses"].items())
        lines.append(
            f"  {label:<24} {s['seconds']:>7} {s['successes_per_second']:>8} {statuses:<18} "
            f"{s['latency']['p50_ms']:>8} {s['latency']['p95_ms']:>8} {s['latency']['p99_ms']:>8} "
            f"{s['server_cpu_ms_per_request']:>8} {s['database_cpu_ms_per_request']:>6} "
            f"{s['client_cpu_ms_per_request']:>7}"
        )
    if thr["booking"]["ran_out_of_open_slots"]:
        lines.append(f"  (booking stopped early: all {thr['open_slots_offered']} open slots were taken)")
    for key in ("booking", "health"):
        for error in thr[key]["sample_errors"]:
            lines.append(f"  {key} error: {error}")
    lines.append("  (CPU ms per request: CPU/req of the gunicorn processes, db of the PostgreSQL backends serving "
                 "the app, client of this load generator; all on the same machine)")
    if results.get("peak_rss_kib"):
        peaks = ", ".join(f"{k} {v / 1024:.0f} MiB" for k, v in results["peak_rss_kib"].items())
        lines += ["", f"Peak RSS (VmHWM): {peaks}"]
    lines.append("Load average (1/5/15 min) before gunicorn started: "
                 + " ".join(f"{x:.2f}" for x in results["load_average_before"])
                 + "; after the run: " + " ".join(f"{x:.2f}" for x in results["load_average_after"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    raise SystemExit(main())
