"""The worker's log, read from its real process: each line once, and at INFO only what a
person needs (errors, a pass that sent or failed something, a digest sent)."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter

from tests.support.helpers import ROOT


def test_the_idle_worker_logs_each_line_once_and_no_routine_passes(tmp_path, migrated_sqlite_template):
    path = tmp_path / "worker.db"
    shutil.copyfile(migrated_sqlite_template, path)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "FLASK_APP": "wsgi", "APP_ENV": "development",
           "SECRET_KEY": "worker-log-test", "WORKER_SEND_INTERVAL_SECONDS": "1"}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(4)  # a few passes of every job, with nothing to send
    worker.send_signal(signal.SIGTERM)
    out, _ = worker.communicate(timeout=30)
    lines = [line.split(" ", 2)[-1] for line in out.splitlines() if line.strip()]  # without the timestamp
    assert any("worker started" in line for line in lines), out
    assert any("worker stopped" in line for line in lines), out
    said = Counter(line for line in lines if "worker" in line and ("started" in line or "stopped" in line))
    assert all(n == 1 for n in said.values()), out  # each line once, not once per handler
    assert not [line for line in lines if "apscheduler" in line], out  # "job executed": DEBUG
    assert not [line for line in lines if "offer_waitlist:" in line or "evening_digest:" in line
                or "send_due:" in line or "expire_stale:" in line], out  # nothing happened: nothing said


def test_a_pass_that_sent_or_failed_something_and_a_digest_sent_are_told_at_info():
    from scheduler.worker import worth_telling

    assert worth_telling("send_due", {"sent": 2}) and worth_telling("send_due", {"retry": 1})
    assert worth_telling("send_due", {"failed": 1}) and worth_telling("evening_digest", "sent")
    assert not worth_telling("send_due", {"deferred": 3}) and not worth_telling("evening_digest", "not_due")
    assert not worth_telling("offer_waitlist", {"expired": 0, "offered": 0, "closed": 0})
