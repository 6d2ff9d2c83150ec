"""Planning and booking a course of care against a single-day availability look-up of the
same server in the same run.

    .venv/bin/python -m benchmarks.courses                  # 50,000 appointments, 12 providers
    .venv/bin/python -m benchmarks.courses --appointments 500 --rounds 2 --block 2

A fresh PostgreSQL database is migrated, seeded (`flask seed-demo` plus bulk appointments,
as in benchmarks.run), gunicorn is started, and three requests are timed one at a time, in
alternating blocks, each over its own keep-alive connection:

- `GET /api/v1/availability` for one day, all providers (the single-day look-up);
- `POST /api/v1/staff/courses` with `"preview": true`: plan a 6-week, 3-a-week course;
- `POST /api/v1/staff/courses` with `"preview": false`: plan and book it (18 visits, one
  transaction), each time for a new patient, rotating providers and preferred times.

For each, the wall-clock latency and the CPU time of the gunicorn processes and of the
PostgreSQL backends per request. The database is dropped and gunicorn stopped at the end.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import requests

from .command import run_and_report
from .database import DEFAULT_SERVER_URL, BackendCpu, flask_command, server_version, temporary_database
from .measure import TIMEOUT, Latencies, _timed
from .seed import EVALUATION, THERAPY, seed
from .server import Gunicorn

TIMES = ["08:00", "09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.courses", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL))
    parser.add_argument("--appointments", type=int, default=50_000, help="appointments to seed (default: %(default)s)")
    parser.add_argument("--providers", type=int, default=12, help="providers in all (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of blocks (default: %(default)s)")
    parser.add_argument("--block", type=int, default=5, help="requests per endpoint per round (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up requests per endpoint (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if not 3 <= args.providers <= 15 or args.rounds < 1 or args.block < 1 or args.appointments < 1:
        parser.error("--providers 3..15; --rounds, --block, --appointments positive")
    return args


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def staff_setup(database_url: str, patients: int) -> tuple[str, list[int], list[int]]:
    """A front-desk user with an API token, `patients` new patients; the provider ids."""
    from config import Config
    from scheduler import create_app
    from scheduler.extensions import db
    from scheduler.models import Patient, Provider
    from scheduler.services.common.clock import now
    from scheduler.services.staff.accounts import create_user, issue_api_token

    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    with app.app_context():
        try:
            create_user("bench-desk@example.com", "benchmark password", "front_desk")
            token = issue_api_token("bench-desk@example.com", label="benchmark")
            rows = [Patient(first_name="Course", last_name=f"Patient {i}", phone_e164=f"+1915541{i:04d}",
                            email=f"course{i}@example.com", language="en", created_at=now()) for i in range(patients)]
            db.session.add_all(rows)
            db.session.commit()
            provider_ids = [p.id for p in db.session.query(Provider).order_by(Provider.id)]
            return token, [p.id for p in rows], provider_ids
        finally:
            db.session.remove()
            db.engine.dispose()


class Endpoint:
    def __init__(self, name: str, call: Callable[[requests.Session, int], requests.Response], expect: int) -> None:
        self.name, self.call, self.expect = name, call, expect
        self.latencies = Latencies()
        self.server_cpu = 0.0
        self.database_cpu = 0.0
        self.session = requests.Session()
        self.calls = 0
        self.last_body: dict | None = None

    def once(self) -> float:
        n = self.calls
        self.calls += 1
        response, seconds = _timed(lambda: self.call(self.session, n))
        if response.status_code != self.expect:
            raise RuntimeError(f"{self.name} answered {response.status_code}: {response.text[:300]}")
        self.last_body = response.json()
        return seconds


def run(args: argparse.Namespace) -> dict:
    results: dict = {
        "command": " ".join(["python -m benchmarks.courses", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "postgresql": server_version(args.database_url)},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "database_url"},
    }
    bookings_needed = args.warmup + args.rounds * args.block
    with temporary_database(args.database_url) as url:
        results["database"] = url.rsplit("/", 1)[1]
        started = time.perf_counter()
        log("migrating and seeding the demo clinic")
        flask_command(url, "db", "upgrade")
        flask_command(url, "seed-demo")
        log(f"seeding {args.appointments} appointments over {args.providers} providers")
        summary = seed(url, appointments=args.appointments, providers=args.providers, random_seed=args.seed)
        token, patients, providers = staff_setup(url, bookings_needed)
        results["data"] = {"appointments": summary.appointments, "providers": summary.providers,
                           "appointments_from": summary.first_day.isoformat(),
                           "appointments_to": summary.last_day.isoformat(),
                           "seconds_to_build": round(time.perf_counter() - started, 1)}
        log(f"data ready: {results['data']}")
        today = summary.today
        day = today + timedelta(days=(7 - today.weekday()) % 7 + 1)  # a Tuesday a week or so ahead
        first_date = today + timedelta(days=(7 - today.weekday()) % 7 + 7)  # a Monday
        headers = {"Authorization": f"Bearer {token}"}

        def course_body(n: int, preview: bool) -> dict:
            return {
                "patient_id": patients[n % len(patients)], "provider_id": providers[n % len(providers)],
                "service": THERAPY, "first_date": first_date.isoformat(), "weeks": 6, "visits_per_week": 3,
                "weekdays": ["mon", "wed", "fri"], "time": TIMES[n % len(TIMES)], "preview": preview,
            }

        server = Gunicorn(url, workers=args.workers, threads=args.threads)
        backends = BackendCpu(args.database_url, url)
        try:
            endpoints = [
                Endpoint("availability, 1 day, all providers",
                         lambda s, n: s.get(server.url + "/api/v1/availability", timeout=TIMEOUT,
                                            params={"service": EVALUATION, "start": day.isoformat(),
                                                    "end": day.isoformat()}), 200),
                Endpoint("course preview, 6 weeks x 3",
                         lambda s, n: s.post(server.url + "/api/v1/staff/courses", headers=headers, timeout=TIMEOUT,
                                             json=course_body(n, True)), 200),
                Endpoint("course plan + book, 18 visits",
                         lambda s, n: s.post(server.url + "/api/v1/staff/courses", headers=headers, timeout=TIMEOUT,
                                             json=course_body(n, False)), 201),
            ]
            for endpoint in endpoints:
                for _ in range(args.warmup):
                    endpoint.once()
            for _ in range(args.rounds):
                for endpoint in endpoints:
                    cpu_before, db_before = server.cpu_seconds(), backends.snapshot()
                    for _ in range(args.block):
                        endpoint.latencies.samples.append(endpoint.once())
                    endpoint.server_cpu += server.cpu_seconds() - cpu_before
                    endpoint.database_cpu += BackendCpu.used(db_before, backends.snapshot())
            booked = endpoints[2].last_body or {}
            results["last_course"] = {"visits": len(booked.get("visits", [])),
                                      "statuses": sorted({v["status"] for v in booked.get("visits", [])})}
            results["slots_in_one_day"] = len((endpoints[0].last_body or {}).get("slots", []))
            results["endpoints"] = {
                e.name: {**e.latencies.summary_ms(),
                         "server_cpu_ms_per_request": round(e.server_cpu * 1000 / len(e.latencies.samples), 2),
                         "database_cpu_ms_per_request": round(e.database_cpu * 1000 / len(e.latencies.samples), 2)}
                for e in endpoints
            }
        except BaseException:
            log("gunicorn log (tail):\n" + server.log_tail())
            raise
        finally:
            backends.close()
            server.stop()
            server.remove_log()
    one_day = results["endpoints"]["availability, 1 day, all providers"]
    book = results["endpoints"]["course plan + book, 18 visits"]
    results["ratio"] = {
        "book_vs_one_day_p50": _ratio(book["p50_ms"], one_day["p50_ms"]),
        "book_vs_one_day_cpu": _ratio(book["server_cpu_ms_per_request"], one_day["server_cpu_ms_per_request"]),
    }
    return results


def _ratio(cost: float, unit: float) -> float | None:
    """None when the unit measured zero: CPU time comes in clock ticks, and a tiny run (the
    smoke test's) can use less than one per request."""
    return round(cost / unit, 2) if unit else None


def report(results: dict) -> str:
    data = results["data"]
    lines = [
        "",
        f"Course benchmark {results['date']}: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        f"PostgreSQL {results['machine']['postgresql']}",
        f"Data: {data['appointments']} appointments ({data['appointments_from']} .. {data['appointments_to']}), "
        f"{data['providers']} providers; one day offers {results['slots_in_one_day']} slots",
        "",
        f"  {'request':<36} {'n':>4} {'p50':>8} {'p95':>8} {'mean':>8} {'max':>8} {'CPU/req':>8} {'db/req':>7}",
    ]
    for name, s in results["endpoints"].items():
        lines.append(f"  {name:<36} {s['n']:>4} {s['p50_ms']:>8} {s['p95_ms']:>8} {s['mean_ms']:>8} {s['max_ms']:>8} "
                     f"{s['server_cpu_ms_per_request']:>8} {s['database_cpu_ms_per_request']:>7}")
    ratio = results["ratio"]
    lines += [
        "",
        f"  plan + book a whole course = {ratio['book_vs_one_day_p50']} single-day look-ups (p50 latency), "
        f"{ratio['book_vs_one_day_cpu']} (gunicorn CPU per request); goal: at most 3",
        f"  last course booked: {results['last_course']['visits']} visits, statuses {results['last_course']['statuses']}",
        "  (ms; CPU/req: gunicorn processes, db/req: the PostgreSQL backends serving the app)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    return run_and_report(parse_args(argv), run, report)


if __name__ == "__main__":
    raise SystemExit(main())
