"""Gunicorn reads this file from the working folder by itself (`gunicorn wsgi:app`).

Prometheus multiprocess mode (PROMETHEUS_MULTIPROC_DIR, see README "Metrics"): every worker
process writes its counters to files in that folder and /metrics adds them up. The folder is
emptied when gunicorn starts, so a restart begins from zero instead of adding the files of
processes that no longer exist to the totals a second time.

Each worker moves what loading the app built (modules, the app, SQLAlchemy's mappings: about
140,000 objects that live as long as the process) out of the garbage collector's reach once
it is loaded. A full collection walks every tracked object; a six-week availability answer
allocates enough to set one off every few dozen requests, and walking those objects cost
tens of milliseconds each time (about 3 ms per request on average). Nothing frozen is ever
freed, which is what these objects would do anyway.
"""
import gc
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


def post_worker_init(worker):
    gc.freeze()


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
