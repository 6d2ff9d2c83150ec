"""./scripts/start runs the web app and the worker side by side and stops them together."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest
import redis
import requests

from tests.support.helpers import ROOT, free_port, require_or_skip


def _children(pid: int) -> dict[int, str]:
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in out.strip().splitlines()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited too
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


@pytest.fixture
def started(tmp_path, request):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'start.db'}", "BIND": f"127.0.0.1:{port}",
           "WEB_WORKERS": "1", "SECRET_KEY": "start-script-test", **getattr(request, "param", {})}
    env.pop("RATELIMIT_STORAGE_URI", None)
    log = open(ROOT / "test-artifacts" / "scripts-start.log", "w")
    script = subprocess.Popen(["./scripts/start"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    deadline = time.monotonic() + 90
    web = worker = None
    while time.monotonic() < deadline:
        children = _children(script.pid)
        web = next((p for p, args in children.items() if "gunicorn" in args), None)
        worker = next((p for p, args in children.items() if "flask worker" in args), None)
        try:
            if web and worker and requests.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        time.sleep(0.3)
    else:
        os.killpg(script.pid, signal.SIGKILL)
        script.wait()
        log.close()
        pytest.fail("scripts/start did not bring up both the web app and the worker")
    yield script, web, worker, port
    if script.poll() is None:  # the test failed: nothing of the group may outlive it
        os.killpg(script.pid, signal.SIGKILL)
        script.wait()
    log.close()


def test_ctrl_c_stops_the_web_app_and_the_worker(started):
    script, web, worker, _port = started
    os.killpg(script.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's process group
    script.wait(timeout=30)
    deadline = time.monotonic() + 10
    while (_alive(web) or _alive(worker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(web) and not _alive(worker)


def test_sigterm_stops_both_and_says_stopped_with_success(started):
    script, web, worker, _port = started
    os.kill(script.pid, signal.SIGTERM)  # a service manager stopping the script
    assert script.wait(timeout=30) == 0
    deadline = time.monotonic() + 10
    while (_alive(web) or _alive(worker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(web) and not _alive(worker)
    log = (ROOT / "test-artifacts" / "scripts-start.log").read_text()
    assert "scripts/start: stopped" in log and "status 143" not in log


def test_when_the_worker_dies_the_web_app_is_stopped_too(started):
    script, web, worker, _port = started
    os.kill(worker, signal.SIGKILL)
    assert script.wait(timeout=30) != 0
    deadline = time.monotonic() + 10
    while _alive(web) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(web)


PREFIX = f"start-{uuid.uuid4().hex[:12]}"


@pytest.mark.parametrize("started", [{"RATELIMIT_KEY_PREFIX": PREFIX}], indirect=True)
def test_the_rate_limits_are_kept_in_the_local_redis_when_it_answers(started):
    try:
        store = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
        store.ping()
    except redis.RedisError:
        require_or_skip("Redis at 127.0.0.1:6379")
    script, _web, _worker, port = started
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/appointments/some-token", timeout=5)
        assert answer.status_code == 404  # a private link tried: counted against the limit
        assert list(store.scan_iter(match=f"*{PREFIX}*")), "no limit counter in Redis"
    finally:
        for key in store.scan_iter(match=f"*{PREFIX}*"):
            store.delete(key)
        os.killpg(script.pid, signal.SIGINT)
        script.wait(timeout=30)
