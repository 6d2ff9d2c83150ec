"""Gunicorn reads this file from the working folder by itself (`gunicorn wsgi:app`).

Prometheus multiprocess mode (PROMETHEUS_MULTIPROC_DIR, see README "Metrics"): every worker
process writes its counters to files in that folder and /metrics adds them up. The folder is
emptied when gunicorn starts, so a restart begins from zero instead of adding the files of
processes that no longer exist to the totals a second time.
"""
import os
from pathlib import Path


def on_starting(server):
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        path = Path(folder)
        if path.is_dir():
            for entry in path.iterdir():
                if entry.suffix == ".db":  # only prometheus-client's own files
                    entry.unlink()
        else:
            path.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
