"""The app under gunicorn, configured only through its environment, as in production."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from .database import ROOT, BackendCpu

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (0 if it is gone or not readable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


class Gunicorn:
    def __init__(self, database_url: str, *, workers: int, threads: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.threads = threads
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "SECRET_KEY": "benchmark-secret-not-for-production",
            "RATELIMIT_ENABLED": "false",
            "PUBLIC_BASE_URL": self.url,
        }
        self.log = tempfile.NamedTemporaryFile("w+", prefix="gunicorn-bench-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "wsgi:app",
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(workers), "--threads", str(threads),
                "--worker-class", "gthread", "--timeout", "60",
                "--backlog", "2048",
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited during start-up:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).ok and len(self.worker_pids()) >= self.workers:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in path.read_text().split()]
        except OSError:
            return []

    def peak_rss_kib(self) -> dict[str, int]:
        """VmHWM (peak resident set) of the master and each worker, from /proc."""
        peaks: dict[str, int] = {}
        for label, pid in [("master", self.process.pid)] + [(f"worker {p}", p) for p in self.worker_pids()]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[label] = int(line.split()[1])
            except OSError:
                continue
        return peaks

    def cpu_seconds(self) -> float:
        """User + system CPU time of the master and its live workers, from /proc."""
        return sum(process_cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def remove_log(self) -> None:
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def serving(server_url: str, url: str, *, workers: int, threads: int,
            log: Callable[[str], None]) -> Iterator[tuple[Gunicorn, BackendCpu]]:
    """gunicorn on the database `url`, with a meter of that database's backends' CPU. On a
    failure the tail of gunicorn's log is printed; both are stopped and the log removed."""
    server = Gunicorn(url, workers=workers, threads=threads)
    backends = None
    try:
        backends = BackendCpu(server_url, url)
        log(f"gunicorn on {server.url}: {workers} workers x {threads} gthread threads")
        yield server, backends
    except BaseException:
        log("gunicorn log (tail):\n" + server.log_tail())
        raise
    finally:
        if backends is not None:
            backends.close()
        server.stop()
        server.remove_log()
