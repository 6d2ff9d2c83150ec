"""Does the cost follow the size of the appointments table? One run, one server, two sizes.

    .venv/bin/python -m benchmarks.growth                       # 10,000, then 1,000,000 appointments
    .venv/bin/python -m benchmarks.growth --large 100000        # a quicker run

Seeds `--appointments` (default 10,000) appointments, starts gunicorn and measures, each beside
the trivial /api/v1/health endpoint in the same run: six-week and one-day availability for all
providers (sequential, in alternating blocks, with gunicorn and PostgreSQL CPU per request),
booking throughput against health throughput at `--clients` concurrent clients. Then it grows
the history to `--large` appointments (older days with the same layout, bulk-inserted in SQL,
then VACUUM ANALYZE) on the same database and the same running server, measures the same again,
and prints both columns side by side with the ratios the scheduler's goals are stated in.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from . import measure
from .database import DEFAULT_SERVER_URL, BackendCpu, _libpq_url, flask_command, server_version, temporary_database
from .plans import explain_appointment_queries
from .plans import report as plans_report
from .run import CpuMeter, _throughput_json, log
from .seed import EVALUATION, appointments_between, seed
from .server import Gunicorn, serving

AVAILABILITY_DAYS = 42
CLINIC_TIMEZONE = os.environ.get("CLINIC_TIMEZONE", "America/Denver")

# The goals of issue "Availability and booking at a million appointments", checked on the figures.
GOALS = {
    "six_weeks_over_health_small": ("6-week availability p50 / health p50 at the small size", "<=", 10.0),
    "one_day_over_health_small": ("1-day availability p50 / health p50 at the small size", "<=", 3.0),
    "six_weeks_growth": ("6-week availability p50 growth, small -> large", "<=", 1.3),
    "bookings_over_health_small": ("bookings/s / health req/s at the small size", ">=", 0.25),
    "bookings_over_health_large": ("bookings/s / health req/s at the large size", ">=", 0.2),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.growth", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_SERVER_URL),
                        help="PostgreSQL server; a fresh database is created there and dropped afterwards")
    parser.add_argument("--appointments", type=int, default=10_000, help="the small size (default: %(default)s)")
    parser.add_argument("--large", type=int, default=1_000_000, help="the large size (default: %(default)s)")
    parser.add_argument("--providers", type=int, default=12, help="providers in all (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients for throughput (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=6.0, help="seconds of each throughput phase (default: %(default)s)")
    parser.add_argument("--latency-requests", type=int, default=200,
                        help="sequential requests per endpoint, after warm-up (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests per endpoint (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per worker (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of the generated data (default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.providers < 3 or args.providers > 15:
        parser.error("--providers must be between 3 (the demo clinic) and 15")
    if args.appointments < 1 or args.large <= args.appointments:
        parser.error("--large must be more than --appointments")
    if args.clients < 1 or args.latency_requests < 2 or args.duration <= 0:
        parser.error("--clients and --duration must be positive and --latency-requests at least 2")
    return args


def next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def grow_history(database_url: str, target: int, *, timezone: str = CLINIC_TIMEZONE) -> dict:
    """Adds older appointments until the table holds `target` rows: copies of the past ones,
    moved back by whole weeks in clinic wall time (same weekdays, same hours, the same share
    of cancelled rows under live ones), each copy older than everything before it, so no
    copy overlaps another. Bulk INSERT ... SELECT in batches, then VACUUM ANALYZE."""
    started = time.perf_counter()
    with psycopg.connect(_libpq_url(database_url), autocommit=True) as conn:
        columns = [row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'appointments' "
            "AND column_name <> 'id' ORDER BY ordinal_position"
        )]
        have = conn.execute("SELECT count(*) FROM appointments").fetchone()[0]
        cut = conn.execute("SELECT date_trunc('day', now() AT TIME ZONE %s) AT TIME ZONE %s",
                           (timezone, timezone)).fetchone()[0]
        source, oldest = conn.execute(
            "SELECT count(*), min(starts_at) FROM appointments WHERE starts_at < %s", (cut,)
        ).fetchone()
        if not source:
            raise RuntimeError("no past appointments to copy: the small size fills only the future; seed more")
        period_weeks = (cut - oldest).days // 7 + 1  # each copy lands before the previous one
        wall_shifted = {"starts_at", "ends_at", "blocks_until"}
        select_list = []
        for column in columns:
            if column in wall_shifted:
                # Whole weeks in wall time: a 09:00 Tuesday visit stays 09:00 Tuesday.
                select_list.append(f"(({column} AT TIME ZONE %(tz)s) - make_interval(weeks => k * %(weeks)s::int)) "
                                   f"AT TIME ZONE %(tz)s")
            elif column in ("created_at", "updated_at", "confirmed_at", "checked_in_at", "cancelled_at", "moved_from"):
                select_list.append(f"{column} - make_interval(weeks => k * %(weeks)s::int)")
            elif column == "manage_token_hash":
                select_list.append("md5(random()::text || k || '/' || id) || md5(id || '/' || k || random()::text)")
            else:
                select_list.append(column)
        statement = (
            f"INSERT INTO appointments ({', '.join(columns)}) "
            f"SELECT {', '.join(select_list)} FROM appointments "
            f"CROSS JOIN generate_series(%(first)s::int, %(last)s::int) AS k "
            f"WHERE starts_at < %(cut)s AND starts_at >= %(oldest)s "
            f"ORDER BY k, starts_at DESC LIMIT %(limit)s::int"
        )
        copies_per_batch = max(1, 200_000 // source)
        copy = 1
        while have < target:
            limit = target - have
            last = copy + copies_per_batch - 1
            inserted = conn.execute(statement, {
                "tz": timezone, "weeks": period_weeks, "first": copy, "last": last, "cut": cut,
                "oldest": oldest, "limit": limit,
            }).rowcount
            have += inserted
            copy = last + 1
            log(f"  grown to {have} appointments")
        conn.execute("VACUUM ANALYZE")
        first_day = conn.execute("SELECT min(starts_at AT TIME ZONE %s)::date FROM appointments",
                                 (timezone,)).fetchone()[0]
    return {
        "appointments": have,
        "copied_from_past_rows": source,
        "weeks_between_copies": period_weeks,
        "appointments_from": first_day.isoformat(),
        "seconds_to_grow": round(time.perf_counter() - started, 1),
    }


def overlapping_live_pairs(database_url: str, since: date) -> int:
    """Live appointments of one provider that overlap, among those starting from `since`
    (the run's bookings); the exclusion constraint should keep this at 0."""
    with psycopg.connect(_libpq_url(database_url), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM appointments a JOIN appointments b "
            "ON a.provider_id = b.provider_id AND a.id < b.id "
            "AND a.starts_at < b.blocks_until AND b.starts_at < a.blocks_until "
            "WHERE a.status <> 'cancelled' AND b.status <> 'cancelled' "
            "AND a.starts_at >= %s AND b.starts_at >= %s::date - 1",
            (since, since),
        ).fetchone()[0]


def _last_appointment_id(database_url: str) -> int:
    with psycopg.connect(_libpq_url(database_url), autocommit=True) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM appointments").fetchone()[0]


def cancel_bookings_after(database_url: str, last_id: int) -> int:
    """Cancels the small run's bookings, so the large run answers the same open times and
    the two columns compare the table's size, not how many openings were left."""
    with psycopg.connect(_libpq_url(database_url), autocommit=True) as conn:
        return conn.execute(
            "UPDATE appointments SET status = 'cancelled', cancel_reason = 'benchmark run' "
            "WHERE id > %s AND status <> 'cancelled'", (last_id,)).rowcount


def measure_size(args: argparse.Namespace, server: Gunicorn, backends: BackendCpu, summary, rng) -> dict:
    first = summary.today
    last = first + timedelta(days=AVAILABILITY_DAYS - 1)
    one_day = next_weekday(first)
    endpoints = {
        "six_weeks": measure.Endpoint("/api/v1/availability", measure.availability_params(EVALUATION, first, last)),
        "one_day": measure.Endpoint("/api/v1/availability", measure.availability_params(EVALUATION, one_day, one_day)),
        "health": measure.Endpoint("/api/v1/health"),
    }
    log(f"latency: {args.latency_requests} sequential requests each of {', '.join(endpoints)}")
    measure.sequential_latencies(
        server.url, endpoints, requests_each=args.latency_requests, warmup=args.warmup,
        server_cpu=server.cpu_seconds, database_cpu=backends.cpu_seconds,
    )
    latency = {}
    for name, endpoint in endpoints.items():
        latency[name] = {
            "request": endpoint.path + ("?" + "&".join(f"{k}={v}" for k, v in endpoint.params.items())
                                        if endpoint.params else ""),
            **endpoint.latencies.summary_ms(),
            "server_cpu_ms_per_request": endpoint.ms_per_request(endpoint.server_cpu_seconds),
            "database_cpu_ms_per_request": endpoint.ms_per_request(endpoint.database_cpu_seconds),
            "response_bytes": len(endpoint.last_response.content),
        }
        if name != "health":
            latency[name]["slots_returned"] = len(endpoint.last_response.json()["slots"])

    slots = measure.bookable_slots(
        server.url, EVALUATION, today=first, days=min(summary.evaluation_max_advance_days, 62),
        block_minutes=summary.evaluation_block_minutes,
        notice_minutes=summary.evaluation_min_notice_minutes, rng=rng,
    )
    log(f"booking: {args.clients} clients for up to {args.duration} s over {len(slots)} open slots")
    cpu = CpuMeter(server, backends)
    booking = measure.concurrent(args.clients, args.duration, measure.booking_work(server.url, EVALUATION, slots))
    booking_cpu = cpu.used()
    log(f"health: {args.clients} clients for {booking.seconds:.1f} s")
    cpu = CpuMeter(server, backends)
    health = measure.concurrent(args.clients, booking.seconds, measure.health_work(server.url))
    health_cpu = cpu.used()
    return {
        "latency": latency,
        "throughput": {
            "clients": args.clients,
            "open_slots_offered": len(slots),
            "booking": _throughput_json(booking, success=201, cpu_seconds=booking_cpu),
            "health": _throughput_json(health, success=200, cpu_seconds=health_cpu),
        },
        "load_average_after": os.getloadavg(),
    }


def ratios(small: dict, large: dict) -> dict:
    def p50(size, name):
        return size["latency"][name]["p50_ms"]

    def per_health(size):
        thr = size["throughput"]
        return _ratio(thr["booking"]["successes_per_second"], thr["health"]["successes_per_second"])

    figures = {}
    for label, size in (("small", small), ("large", large)):
        figures[f"six_weeks_over_health_{label}"] = _ratio(p50(size, "six_weeks"), p50(size, "health"))
        figures[f"one_day_over_health_{label}"] = _ratio(p50(size, "one_day"), p50(size, "health"))
        figures[f"bookings_over_health_{label}"] = per_health(size)
        # The same comparisons in CPU time per request, which other work on the machine
        # stretches far less than wall-clock latency and throughput.
        lat = size["latency"]
        figures[f"six_weeks_over_health_cpu_{label}"] = _ratio(lat["six_weeks"]["server_cpu_ms_per_request"],
                                                               lat["health"]["server_cpu_ms_per_request"])
        figures[f"one_day_over_health_cpu_{label}"] = _ratio(lat["one_day"]["server_cpu_ms_per_request"],
                                                             lat["health"]["server_cpu_ms_per_request"])
        thr = size["throughput"]
        figures[f"health_over_booking_cpu_{label}"] = _ratio(_all_cpu(thr["health"]), _all_cpu(thr["booking"]))
    figures["six_weeks_growth"] = _ratio(p50(large, "six_weeks"), p50(small, "six_weeks"))
    figures["one_day_growth"] = _ratio(p50(large, "one_day"), p50(small, "one_day"))
    figures["six_weeks_cpu_growth"] = _ratio(large["latency"]["six_weeks"]["server_cpu_ms_per_request"],
                                             small["latency"]["six_weeks"]["server_cpu_ms_per_request"])
    figures["booking_rate_growth"] = _ratio(large["throughput"]["booking"]["successes_per_second"],
                                            small["throughput"]["booking"]["successes_per_second"])
    return {k: round(v, 3) for k, v in figures.items()}


def _ratio(a: float, b: float) -> float:
    """a / b; NaN when b is 0 (a tiny run can finish between two ticks of the CPU clock)."""
    return a / b if b else float("nan")


def _all_cpu(throughput: dict) -> float:
    """CPU ms per request of everything on the machine the request needs: gunicorn, the
    PostgreSQL backends and the load generator."""
    return (throughput["server_cpu_ms_per_request"] + throughput["database_cpu_ms_per_request"]
            + throughput["client_cpu_ms_per_request"])


def run(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    results: dict = {
        "command": " ".join(["python -m benchmarks.growth", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "postgresql": server_version(args.database_url), "platform": platform.platform()},
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "database_url"},
    }
    with temporary_database(args.database_url) as url:
        results["database"] = url.rsplit("/", 1)[1]
        started = time.perf_counter()
        log(f"database {results['database']}: migrating, seeding the demo clinic and {args.appointments} appointments")
        flask_command(url, "db", "upgrade")
        flask_command(url, "seed-demo")
        summary = seed(url, appointments=args.appointments, providers=args.providers, random_seed=args.seed)
        first = summary.today
        window = appointments_between(url, first, first + timedelta(days=AVAILABILITY_DAYS - 1))
        results["small_data"] = {
            "appointments": summary.appointments, "providers": summary.providers, "patients": summary.patients,
            "appointments_from": summary.first_day.isoformat(), "appointments_to": summary.last_day.isoformat(),
            "appointments_in_6_week_window": window, "seconds_to_build": round(time.perf_counter() - started, 1),
        }
        results["load_average_before"] = os.getloadavg()
        with serving(args.database_url, url, workers=args.workers, threads=args.threads, log=log) as (server, backends):
            last_seeded = _last_appointment_id(url)
            results["small"] = measure_size(args, server, backends, summary, rng)
            results["overlapping_live_pairs_small"] = overlapping_live_pairs(url, first)
            results["small_bookings_cancelled"] = cancel_bookings_after(url, last_seeded)
            log(f"growing the history to {args.large} appointments")
            results["large_data"] = grow_history(url, args.large)
            results["large_data"]["appointments_in_6_week_window"] = appointments_between(
                url, first, first + timedelta(days=AVAILABILITY_DAYS - 1))
            results["load_average_before_large"] = os.getloadavg()
            results["large"] = measure_size(args, server, backends, summary, rng)
            results["overlapping_live_pairs"] = overlapping_live_pairs(url, first)
            log("EXPLAIN ANALYZE of the appointments queries at the large size")
            results["large_plans"] = explain_appointment_queries(
                url, EVALUATION, first, first + timedelta(days=AVAILABILITY_DAYS - 1), next_weekday(first))
            results["peak_rss_kib"] = server.peak_rss_kib()
    results["ratios"] = ratios(results["small"], results["large"])
    results["goals"] = {
        key: {"goal": f"{label} {op} {limit}", "value": results["ratios"][key],
              "met": results["ratios"][key] <= limit if op == "<=" else results["ratios"][key] >= limit}
        for key, (label, op, limit) in GOALS.items()
    }
    log(f"database {results['database']} dropped, gunicorn stopped")
    return results


def _size_label(n: int) -> str:
    return f"{n:,}"


def report(results: dict) -> str:
    small, large = results["small"], results["large"]
    n_small, n_large = results["small_data"]["appointments"], results["large_data"]["appointments"]
    head = f"  {'':<52} {_size_label(n_small) + ' appts':>16} {_size_label(n_large) + ' appts':>16} {'large/small':>12}"

    def row(label, a, b):
        ratio = f"{b / a:.2f}x" if isinstance(a, (int, float)) and a else ""
        return f"  {label:<52} {a!s:>16} {b!s:>16} {ratio:>12}"

    lines = [
        "",
        f"Growth benchmark {results['date']}: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}, "
        f"PostgreSQL {results['machine']['postgresql']}, gunicorn {results['settings']['workers']} workers x "
        f"{results['settings']['threads']} gthread threads, {results['settings']['clients']} clients",
        f"Data: {results['small_data']['providers']} providers; {n_small:,} appointments "
        f"({results['small_data']['appointments_from']} .. {results['small_data']['appointments_to']}), grown to "
        f"{n_large:,} ({results['large_data']['appointments_from']} .. {results['small_data']['appointments_to']}) "
        f"in {results['large_data']['seconds_to_grow']} s; "
        f"{results['small_data']['appointments_in_6_week_window']} live appointments in the 6-week window before "
        f"the bookings, {results['large_data']['appointments_in_6_week_window']} after the first booking run",
        "",
        f"Latency, sequential, {small['latency']['health']['n']} requests each, alternating blocks (ms)",
        head,
    ]
    names = {"six_weeks": "availability 6 weeks, all providers", "one_day": "availability 1 day, all providers",
             "health": "health"}
    for name, label in names.items():
        for field, suffix in (("p50_ms", "p50"), ("p95_ms", "p95"), ("server_cpu_ms_per_request", "gunicorn CPU/req"),
                              ("database_cpu_ms_per_request", "PostgreSQL CPU/req")):
            lines.append(row(f"{label} {suffix}", small["latency"][name][field], large["latency"][name][field]))
    lines += ["", f"Throughput, {small['throughput']['clients']} concurrent clients", head]
    for key, label in (("booking", "POST /api/v1/bookings"), ("health", "GET /api/v1/health")):
        a, b = small["throughput"][key], large["throughput"][key]
        lines.append(row(f"{label} ok/s", a["successes_per_second"], b["successes_per_second"]))
        lines.append(row(f"{label} p50 ms", a["latency"]["p50_ms"], b["latency"]["p50_ms"]))
        lines.append(row(f"{label} gunicorn CPU/req", a["server_cpu_ms_per_request"], b["server_cpu_ms_per_request"]))
        lines.append(row(f"{label} PostgreSQL CPU/req", a["database_cpu_ms_per_request"], b["database_cpu_ms_per_request"]))
        lines.append(f"  {label} statuses: {a['statuses']} | {b['statuses']}")
        for error in a["sample_errors"] + b["sample_errors"]:
            lines.append(f"  {key} error: {error}")
    lines.append(f"  overlapping live appointments of one provider among the run's bookings: "
                 f"{results['overlapping_live_pairs_small']} | {results['overlapping_live_pairs']}")
    lines.append(f"  (the small run's {results['small_bookings_cancelled']} bookings were cancelled before the history "
                 "grew, so both sizes answer the same open times)")
    r = results["ratios"]
    lines += [
        "",
        "Ratios",
        f"  6-week availability p50 / health p50:  {r['six_weeks_over_health_small']:.1f}x at {n_small:,}, "
        f"{r['six_weeks_over_health_large']:.1f}x at {n_large:,}",
        f"  1-day availability p50 / health p50:   {r['one_day_over_health_small']:.1f}x at {n_small:,}, "
        f"{r['one_day_over_health_large']:.1f}x at {n_large:,}",
        f"  growth {n_small:,} -> {n_large:,}: 6-week p50 {r['six_weeks_growth']:.2f}x, "
        f"1-day p50 {r['one_day_growth']:.2f}x, 6-week gunicorn CPU {r['six_weeks_cpu_growth']:.2f}x, "
        f"bookings/s {r['booking_rate_growth']:.2f}x",
        f"  bookings/s / health req/s:             {r['bookings_over_health_small']:.3f} at {n_small:,}, "
        f"{r['bookings_over_health_large']:.3f} at {n_large:,}",
        "",
        "The same in CPU time per request (less sensitive to other work on the machine)",
        f"  6-week availability / health, gunicorn CPU: {r['six_weeks_over_health_cpu_small']:.1f}x at {n_small:,}, "
        f"{r['six_weeks_over_health_cpu_large']:.1f}x at {n_large:,}",
        f"  1-day availability / health, gunicorn CPU:  {r['one_day_over_health_cpu_small']:.1f}x at {n_small:,}, "
        f"{r['one_day_over_health_cpu_large']:.1f}x at {n_large:,}",
        f"  health / booking, all CPU (gunicorn + PostgreSQL + client), the throughput ratio a CPU-bound "
        f"machine allows: {r['health_over_booking_cpu_small']:.3f} at {n_small:,}, "
        f"{r['health_over_booking_cpu_large']:.3f} at {n_large:,}",
        "",
        "Goals",
    ]
    for goal in results["goals"].values():
        lines.append(f"  {'met    ' if goal['met'] else 'NOT met'}  {goal['goal']}: {goal['value']}")
    lines += ["", f"EXPLAIN ANALYZE of the appointments queries at {n_large:,} (after the runs)"]
    lines += plans_report(results["large_plans"])
    lines.append(
        "Load average (1/5/15 min): before the small run " + " ".join(f"{x:.2f}" for x in results["load_average_before"])
        + ", before the large run " + " ".join(f"{x:.2f}" for x in results["load_average_before_large"])
        + ", after " + " ".join(f"{x:.2f}" for x in large["load_average_after"])
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    print(report(results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
