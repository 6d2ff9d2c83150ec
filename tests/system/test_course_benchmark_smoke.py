"""The course benchmark works end to end at a tiny size (the full run is too slow for the suite)."""
from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

from tests.support.helpers import PG_ADMIN_URL, ROOT, postgres_available, require_or_skip


@pytest.mark.postgres
def test_course_benchmark_plans_books_and_cleans_up(tmp_path):
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.courses", "--database-url", PG_ADMIN_URL, "--appointments", "300",
         "--providers", "4", "--rounds", "1", "--block", "2", "--warmup", "1", "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    endpoints = figures["endpoints"]
    assert set(endpoints) == {"availability, 1 day, all providers", "course preview, 6 weeks x 3",
                              "course plan + book, 18 visits"}
    assert all(e["n"] == 2 and 0 < e["p50_ms"] <= e["max_ms"] for e in endpoints.values())
    assert figures["last_course"]["visits"] == 18 and figures["last_course"]["statuses"] == ["booked"]
    assert figures["ratio"]["book_vs_one_day_p50"] > 0
    assert "plan + book a whole course" in done.stdout
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (figures["database"],)).fetchone()
    assert left is None, "the benchmark drops its database"
