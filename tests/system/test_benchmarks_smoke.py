"""The benchmark command works end to end at a tiny size (the full run is too slow for the suite)."""
from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

from tests.support.helpers import PG_ADMIN_URL, ROOT, postgres_available, require_or_skip


@pytest.mark.postgres
def test_benchmark_command_seeds_measures_and_cleans_up(tmp_path):
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.run", "--database-url", PG_ADMIN_URL,
            "--appointments", "150", "--providers", "4", "--clients", "4", "--duration", "0.5",
            "--latency-requests", "3", "--warmup", "1", "--json", str(figures_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())

    assert figures["data"]["appointments_seeded"] == 150
    assert figures["data"]["providers"] == 4
    assert 0 < figures["data"]["appointments_in_6_week_window"] <= figures["data"]["appointments"]

    latency = figures["latency"]
    assert latency["availability"]["n"] == latency["health"]["n"] == 3
    assert latency["availability_slots_returned"] > 0
    assert 0 < latency["health"]["p50_ms"] <= latency["health"]["max_ms"]

    booking = figures["throughput"]["booking"]
    health = figures["throughput"]["health"]
    assert booking["statuses"].get("201", 0) > 0, booking
    assert set(booking["statuses"]) <= {"201", "409"}, booking  # distinct open slots: no errors
    assert set(health["statuses"]) == {"200"}, health
    assert booking["successes_per_second"] > 0 and health["successes_per_second"] > 0
    assert figures["peak_rss_kib"], "peak RSS of the gunicorn processes is reported"

    assert "availability 6 weeks, all providers" in done.stdout
    assert "POST /api/v1/bookings" in done.stdout

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (figures["database"],)).fetchone()
    assert left is None, "the benchmark drops its database"


@pytest.mark.postgres
def test_growth_benchmark_measures_both_sizes_on_one_server(tmp_path):
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    figures_path = tmp_path / "growth.json"
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.growth", "--database-url", PG_ADMIN_URL,
            "--appointments", "1500", "--large", "5000", "--providers", "4", "--clients", "4",
            "--duration", "0.5", "--latency-requests", "3", "--warmup", "1", "--json", str(figures_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())

    assert figures["small_data"]["appointments"] < 2000
    assert figures["large_data"]["appointments"] == 5000, "grown to exactly the large size"
    assert figures["large_data"]["appointments_from"] < figures["small_data"]["appointments_from"], "older days added"
    for size in ("small", "large"):
        latency = figures[size]["latency"]
        assert {latency[name]["n"] for name in ("six_weeks", "one_day", "health")} == {3}
        assert latency["six_weeks"]["slots_returned"] > latency["one_day"]["slots_returned"] > 0
        booking = figures[size]["throughput"]["booking"]
        assert booking["statuses"].get("201", 0) > 0 and set(booking["statuses"]) <= {"201", "409"}, booking
        assert set(figures[size]["throughput"]["health"]["statuses"]) == {"200"}
    assert figures["overlapping_live_pairs"] == 0 and figures["overlapping_live_pairs_small"] == 0
    # The small run's bookings are cancelled before the history grows: the large run answers
    # the same open times (as many six-week slots, but for a start the clock may have passed:
    # one per provider).
    assert figures["small_bookings_cancelled"] == figures["small"]["throughput"]["booking"]["statuses"]["201"]
    assert (figures["large"]["latency"]["six_weeks"]["slots_returned"]
            >= figures["small"]["latency"]["six_weeks"]["slots_returned"] - 4)
    ratios = figures["ratios"]
    assert ratios["six_weeks_growth"] == pytest.approx(
        figures["large"]["latency"]["six_weeks"]["p50_ms"] / figures["small"]["latency"]["six_weeks"]["p50_ms"], rel=0.01)
    assert set(figures["goals"]) >= {"six_weeks_growth", "bookings_over_health_large"}
    plans = figures["large_plans"]
    assert {p["request"] for p in plans} == {"availability, 6 weeks", "availability, 1 day", "booking"}
    for plan in plans:
        assert plan["appointments_scans"], plan
        assert all(scan["index"] and "Seq Scan" not in scan["node"] for scan in plan["appointments_scans"]), plan
    assert "Ratios" in done.stdout and "growth 1," in done.stdout

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (figures["database"],)).fetchone()
    assert left is None, "the benchmark drops its database"


def test_sqlite_readers_benchmark_reads_beside_writers(tmp_path):
    figures_path = tmp_path / "sqlite.json"
    hold = 3.0
    done = subprocess.run(
        [
            sys.executable, "-m", "benchmarks.sqlite_readers", "--appointments", "1500", "--providers", "4",
            "--readers", "4", "--writers", "2", "--duration", str(hold), "--threads", "4",
            "--json", str(figures_path),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    for phase in ("alone", "with_bookings", "lock_held"):
        readers = figures[phase]["readers"]
        assert readers["requests"] > 0 and set(readers["statuses"]) == {"200"}, (phase, readers)
    assert figures["with_bookings"]["writers"]["statuses"].get("201", 0) > 0
    # A reader that needed the write lock would have waited until the holder let go.
    assert figures["lock_held"]["readers"]["latency"]["max_ms"] < hold * 1000 * 0.8
    assert "write lock held throughout" in done.stdout


@pytest.mark.postgres
def test_scaleout_benchmark_compares_one_instance_with_two(tmp_path):
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    figures_path = tmp_path / "scaleout.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.scaleout", "--database-url", PG_ADMIN_URL, "--appointments", "50",
         "--providers", "4", "--clients", "4", "--duration", "0.5", "--rounds", "2", "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    assert [r["instances"] for r in figures["rounds"]] == [1, 2]
    for one_round in figures["rounds"]:
        assert set(one_round["booking_statuses"]) == {"201"} and set(one_round["availability_statuses"]) == {"200"}
    assert figures["instances_1"]["bookings_per_second"] > 0 and figures["instances_2"]["bookings_per_second"] > 0
    assert figures["scale_out_factor"]["bookings"] > 0 and figures["scale_out_factor"]["availability"] > 0
    assert figures["overlapping_live_pairs"] == 0 and figures["sms_received"]["duplicates"] == 0
    assert "| bookings per second |" in done.stdout
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (figures["database"],)).fetchone()
    assert left is None, "the benchmark drops its database"
