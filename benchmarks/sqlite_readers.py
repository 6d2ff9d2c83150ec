"""On a SQLite file: do availability readers wait on the write lock?

    .venv/bin/python -m benchmarks.sqlite_readers
    .venv/bin/python -m benchmarks.sqlite_readers --readers 16 --writers 4 --duration 8

Builds a SQLite file the way production does (Alembic, seed-demo, bulk appointments), starts
gunicorn on it, and measures `--readers` concurrent clients asking for availability (one day,
all providers: the booking page's times; `--reader-days 42` for six weeks) in three phases of
`--duration` seconds each, reader latency side by side:

1. readers alone;
2. readers while `--writers` clients book (POST /api/v1/bookings, every booking a write
   transaction that takes SQLite's write lock);
3. readers while another connection holds the write lock (BEGIN IMMEDIATE) for the whole
   phase: a reader that needed the lock would wait for the whole phase (or fail).

Every transaction that may write begins IMMEDIATE, so it queues for the lock; read-only
requests begin deferred and, in WAL mode, read the last committed state beside a writer.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from . import measure
from .command import run_and_report
from .database import flask_command
from .run import log
from .seed import EVALUATION, seed
from .server import Gunicorn


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sqlite_readers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=10_000, help="appointments to seed (default: %(default)s)")
    parser.add_argument("--providers", type=int, default=12, help="providers in all (default: %(default)s)")
    parser.add_argument("--readers", type=int, default=16, help="concurrent availability readers (default: %(default)s)")
    parser.add_argument("--writers", type=int, default=4, help="concurrent booking clients (default: %(default)s)")
    parser.add_argument("--reader-days", type=int, default=1,
                        help="days each availability request asks for, all providers (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of each phase (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=12,
                        help="gthread threads per worker; enough for every client at once (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generated data (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.readers < 1 or args.writers < 1 or args.duration <= 0 or not 1 <= args.reader_days <= 62:
        parser.error("--readers, --writers, --duration must be positive, --reader-days 1..62")
    return args


def _reader_work(base_url: str, params: dict[str, str]):
    def work(session, n):
        return session.get(base_url + "/api/v1/availability", params=params, timeout=measure.TIMEOUT)

    return work


def _phase(args, base_url: str, params: dict[str, str], during=None) -> dict:
    """Readers for the phase's length; `during` (a callable taking the length) runs beside them."""
    side: dict = {}
    runner = None
    if during is not None:
        runner = threading.Thread(target=lambda: side.update(during(args.duration)), daemon=True)
        runner.start()
    readers = measure.concurrent(args.readers, args.duration, _reader_work(base_url, params))
    if runner is not None:
        runner.join()
    return {"readers": _summary(readers, 200), **side}


def _summary(result: measure.ThroughputResult, success: int) -> dict:
    return {
        "requests": result.completed,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items(), key=lambda kv: str(kv[0]))},
        "ok_per_second": round(result.per_second(success), 1),
        "latency": result.latencies.summary_ms(),
        "sample_errors": result.errors,
    }


def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    results: dict = {
        "command": " ".join(["python -m benchmarks.sqlite_readers", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    with tempfile.TemporaryDirectory(prefix="sched-sqlite-bench-") as folder:
        path = Path(folder) / "scheduler.db"
        url = f"sqlite:///{path}"
        log(f"SQLite file {path}: migrating, seeding the demo clinic and {args.appointments} appointments")
        flask_command(url, "db", "upgrade")
        flask_command(url, "seed-demo")
        summary = seed(url, appointments=args.appointments, providers=args.providers, random_seed=args.seed)
        results["data"] = {"appointments": summary.appointments, "providers": summary.providers}
        first = summary.today + timedelta(days=1)
        params = measure.availability_params(EVALUATION, first, first + timedelta(days=args.reader_days - 1))
        results["reader_request"] = "GET /api/v1/availability?" + "&".join(f"{k}={v}" for k, v in params.items())
        results["load_average_before"] = os.getloadavg()
        server = Gunicorn(url, workers=args.workers, threads=args.threads)
        try:
            log(f"gunicorn on {server.url}: {args.workers} workers x {args.threads} gthread threads")
            measure.concurrent(args.readers, 1.0, _reader_work(server.url, params))  # warm-up
            log(f"phase 1: {args.readers} readers alone for {args.duration} s")
            results["alone"] = _phase(args, server.url, params)

            slots = measure.bookable_slots(
                server.url, EVALUATION, today=summary.today, days=min(summary.evaluation_max_advance_days, 62),
                block_minutes=summary.evaluation_block_minutes,
                notice_minutes=summary.evaluation_min_notice_minutes, rng=rng,
            )

            def bookings(seconds: float) -> dict:
                done = measure.concurrent(args.writers, seconds, measure.booking_work(server.url, EVALUATION, slots))
                return {"writers": _summary(done, 201)}

            log(f"phase 2: {args.readers} readers beside {args.writers} booking clients")
            results["with_bookings"] = _phase(args, server.url, params, during=bookings)

            def hold_write_lock(seconds: float) -> dict:
                holder = sqlite3.connect(path, isolation_level=None, timeout=30)
                try:
                    started = time.perf_counter()
                    holder.execute("BEGIN IMMEDIATE")
                    acquired = time.perf_counter() - started
                    time.sleep(seconds)
                    holder.execute("ROLLBACK")
                finally:
                    holder.close()
                return {"lock_holder": {"held_seconds": seconds, "waited_to_acquire_ms": round(acquired * 1000, 1)}}

            log(f"phase 3: {args.readers} readers while another connection holds the write lock")
            results["lock_held"] = _phase(args, server.url, params, during=hold_write_lock)
            results["load_average_after"] = os.getloadavg()
        except BaseException:
            log("gunicorn log (tail):\n" + server.log_tail())
            raise
        finally:
            server.stop()
            server.remove_log()
    alone = results["alone"]["readers"]["latency"]["p95_ms"]
    results["reader_p95_ratio_with_bookings"] = round(results["with_bookings"]["readers"]["latency"]["p95_ms"] / alone, 2)
    results["reader_p95_ratio_lock_held"] = round(results["lock_held"]["readers"]["latency"]["p95_ms"] / alone, 2)
    return results


def report(results: dict) -> str:
    s = results["settings"]
    phases = (("alone", "readers alone"), ("with_bookings", f"beside {s['writers']} booking clients"),
              ("lock_held", "write lock held throughout"))
    lines = [
        "",
        f"SQLite readers {results['date']}: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        f"SQLite {results['machine']['sqlite']}, gunicorn {s['workers']} workers x {s['threads']} gthread threads",
        f"Data: {results['data']['appointments']} appointments, {results['data']['providers']} providers; "
        f"{s['readers']} readers each asking {results['reader_request']}, {s['duration']} s per phase",
        "",
        f"  {'readers':<34} {'ok/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses",
    ]
    for key, label in phases:
        r = results[key]["readers"]
        lat = r["latency"]
        statuses = " ".join(f"{k}:{v}" for k, v in r["statuses"].items())
        lines.append(f"  {label:<34} {r['ok_per_second']:>8} {lat['p50_ms']:>8} {lat['p95_ms']:>8} "
                     f"{lat['p99_ms']:>8} {lat['max_ms']:>8}  {statuses}")
        for error in r["sample_errors"]:
            lines.append(f"    error: {error}")
    w = results["with_bookings"]["writers"]
    lines += [
        "",
        f"  bookings beside the readers: {w['ok_per_second']} bookings/s, statuses "
        + " ".join(f"{k}:{v}" for k, v in w["statuses"].items())
        + f", p50 {w['latency']['p50_ms']} ms, p95 {w['latency']['p95_ms']} ms",
        f"  reader p95 beside bookings / alone: {results['reader_p95_ratio_with_bookings']}x; "
        f"with the write lock held for {s['duration']} s / alone: {results['reader_p95_ratio_lock_held']}x",
        "Load average (1/5/15 min) before: " + " ".join(f"{x:.2f}" for x in results["load_average_before"])
        + "; after: " + " ".join(f"{x:.2f}" for x in results["load_average_after"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    raise SystemExit(main())
