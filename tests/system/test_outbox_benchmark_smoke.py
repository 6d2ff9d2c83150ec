"""The outbox benchmark works end to end at a tiny size (the full run is too slow for the suite)."""
from __future__ import annotations

import json
import subprocess
import sys

import psycopg
import pytest

from tests.support.helpers import PG_ADMIN_URL, ROOT, postgres_available, require_or_skip


@pytest.mark.postgres
def test_outbox_benchmark_sends_each_message_once_and_cleans_up(tmp_path):
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    figures_path = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.outbox", "--database-url", PG_ADMIN_URL, "--messages", "60",
         "--provider-latency-ms", "20", "--json", str(figures_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(figures_path.read_text())
    for phase in ("bare_loop", "workers_1", "workers_2"):
        assert figures[phase]["messages"] == 60 and figures[phase]["per_second"] > 0
    assert figures["workers_1"]["worker_cpu_ms_per_message"] > 0
    assert 0 < figures["workers_2"]["cores_busy"] <= figures["machine"]["cpus"]
    assert "one worker" in done.stdout and "two workers" in done.stdout
    # The sink held each answer 20 ms: the bare loop waits for each in turn, while a worker's
    # sending threads wait for several at once.
    assert figures["bare_loop"]["per_second"] <= 1000 / 20
    assert figures["workers_1"]["per_second"] > figures["bare_loop"]["per_second"]
    with psycopg.connect(PG_ADMIN_URL) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (figures["database"],)).fetchone()[0]
    assert left == 0  # its database was dropped
