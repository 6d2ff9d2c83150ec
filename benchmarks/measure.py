"""HTTP measurements with requests and threads: sequential latency and concurrent throughput."""
from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial

import requests

TIMEOUT = 60


@dataclass
class Latencies:
    """Seconds per request; percentiles by linear interpolation between ranks."""

    samples: list[float] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        if not ordered:
            return float("nan")
        if len(ordered) == 1:
            return ordered[0]
        rank = (len(ordered) - 1) * p / 100
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else float("nan")

    def summary_ms(self) -> dict[str, float]:
        return {
            "n": len(self.samples),
            "p50_ms": round(self.percentile(50) * 1000, 2),
            "p95_ms": round(self.percentile(95) * 1000, 2),
            "p99_ms": round(self.percentile(99) * 1000, 2),
            "mean_ms": round(self.mean * 1000, 2),
            "max_ms": round(max(self.samples) * 1000, 2) if self.samples else float("nan"),
        }


def _timed(call: Callable[[], requests.Response]) -> tuple[requests.Response, float]:
    started = time.perf_counter()
    response = call()
    _ = response.content  # the whole body is part of the request
    return response, time.perf_counter() - started


def availability_params(service: str, first: date, last: date) -> dict[str, str]:
    return {"service": service, "start": first.isoformat(), "end": last.isoformat()}


@dataclass
class LatencyResult:
    availability: Latencies
    health: Latencies
    slots_returned: int
    response_bytes: int
    # CPU seconds the gunicorn processes spent while each endpoint was being measured
    availability_cpu_seconds: float = 0.0
    health_cpu_seconds: float = 0.0


BLOCK = 10  # requests to one endpoint before switching to the next


@dataclass
class Endpoint:
    """One GET endpoint measured sequentially; its figures are filled in by sequential_latencies."""

    path: str
    params: dict[str, str] = field(default_factory=dict)
    latencies: Latencies = field(default_factory=Latencies)
    server_cpu_seconds: float = 0.0  # gunicorn CPU while this endpoint's blocks ran
    database_cpu_seconds: float = 0.0  # PostgreSQL backends' CPU while they ran
    last_response: requests.Response | None = None

    def ms_per_request(self, seconds: float) -> float:
        n = len(self.latencies.samples)
        return round(seconds * 1000 / n, 2) if n else float("nan")


def sequential_latencies(
    base_url: str, endpoints: dict[str, Endpoint], *, requests_each: int, warmup: int,
    server_cpu: Callable[[], float] = lambda: 0.0,
    database_cpu: Callable[[], float] = lambda: 0.0,
) -> dict[str, Endpoint]:
    """The endpoints in alternating blocks of BLOCK requests, one request at a time, each
    over its own keep-alive connection; warm-up requests are not counted. The CPU time of
    the server (and of the database, if given) is read around every block, so the CPU cost
    per request holds even when other work on the machine inflates wall-clock latency."""
    sessions = {name: requests.Session() for name in endpoints}
    try:
        def call(name: str) -> requests.Response:
            endpoint = endpoints[name]
            response = sessions[name].get(base_url + endpoint.path, params=endpoint.params, timeout=TIMEOUT)
            if response.status_code != 200:
                raise RuntimeError(f"{endpoint.path} answered {response.status_code}: {response.text[:300]}")
            endpoint.last_response = response
            return response

        for _ in range(warmup):
            for name in endpoints:
                call(name)
        done = 0
        while done < requests_each:
            size = min(BLOCK, requests_each - done)
            for name, endpoint in endpoints.items():
                server_before, database_before = server_cpu(), database_cpu()
                for _ in range(size):
                    endpoint.latencies.samples.append(_timed(partial(call, name))[1])
                endpoint.server_cpu_seconds += server_cpu() - server_before
                endpoint.database_cpu_seconds += database_cpu() - database_before
            done += size
    finally:
        for session in sessions.values():
            session.close()
    return endpoints


def sequential_latency(
    base_url: str, params: dict[str, str], *, requests_each: int, warmup: int,
    server_cpu: Callable[[], float] = lambda: 0.0,
) -> LatencyResult:
    """Six-week availability and health, as sequential_latencies measures them."""
    endpoints = sequential_latencies(
        base_url,
        {"availability": Endpoint("/api/v1/availability", params), "health": Endpoint("/api/v1/health")},
        requests_each=requests_each, warmup=warmup, server_cpu=server_cpu,
    )
    availability, health = endpoints["availability"], endpoints["health"]
    last = availability.last_response
    return LatencyResult(
        availability.latencies, health.latencies,
        slots_returned=len(last.json()["slots"]) if last is not None else 0,
        response_bytes=len(last.content) if last is not None else 0,
        availability_cpu_seconds=availability.server_cpu_seconds,
        health_cpu_seconds=health.server_cpu_seconds,
    )


def bookable_slots(
    base_url: str, service: str, *, today: date, days: int, block_minutes: int, notice_minutes: int,
    rng: random.Random,
) -> list[tuple[int, str]]:
    """Open slots that can all be booked at once: per provider, none overlaps the block
    (visit + buffer) of another. Shuffled so concurrent clients spread over providers and days."""
    response = requests.get(
        base_url + "/api/v1/availability",
        params=availability_params(service, today, today + timedelta(days=days - 1)),
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    # Leave room for the time the run takes: a slot must still respect the notice when booked.
    earliest = datetime.now(UTC) + timedelta(minutes=notice_minutes + 15)
    block = timedelta(minutes=block_minutes)
    by_provider: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for slot in response.json()["slots"]:
        start = datetime.fromisoformat(slot["start"])
        if start >= earliest:
            by_provider[slot["provider_id"]].append((start, slot["start"]))
    chosen: list[tuple[int, str]] = []
    for provider_id, starts in by_provider.items():
        free_from = None
        for start, raw in sorted(starts):
            if free_from is None or start >= free_from:
                chosen.append((provider_id, raw))
                free_from = start + block
    rng.shuffle(chosen)
    return chosen


@dataclass
class ThroughputResult:
    clients: int
    seconds: float
    statuses: Counter
    latencies: Latencies
    ran_out_of_work: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return sum(self.statuses.values())

    def per_second(self, status: int | None = None) -> float:
        count = self.completed if status is None else self.statuses.get(status, 0)
        return count / self.seconds if self.seconds else float("nan")


def concurrent(
    clients: int, seconds: float, work: Callable[[requests.Session, int], requests.Response | None]
) -> ThroughputResult:
    """`clients` threads, each with its own keep-alive session, call work(session, n) until
    the time is up or work returns None (nothing left to do)."""
    lock = threading.Lock()
    statuses: Counter = Counter()
    latencies = Latencies()
    errors: list[str] = []
    ran_out = threading.Event()
    start_line = threading.Barrier(clients + 1)
    deadline = [0.0]
    counter = iter(range(10**9))

    def client() -> None:
        with requests.Session() as session:
            start_line.wait()
            while time.perf_counter() < deadline[0]:
                with lock:
                    n = next(counter)
                started = time.perf_counter()
                try:
                    response = work(session, n)
                except requests.RequestException as exc:
                    with lock:
                        statuses["error"] += 1
                        errors.append(repr(exc))
                    continue
                if response is None:
                    ran_out.set()
                    return
                _ = response.content
                seconds_taken = time.perf_counter() - started
                with lock:
                    statuses[response.status_code] += 1
                    latencies.samples.append(seconds_taken)
                    if response.status_code >= 500 or response.status_code in (400, 422):
                        errors.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    started = time.perf_counter()
    start_line.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return ThroughputResult(clients, elapsed, statuses, latencies, ran_out.is_set(), errors[:10])


def booking_work(base_url: str, service: str, slots: list[tuple[int, str]]):
    """Each call books the next unclaimed slot for a new patient; None once all are taken."""
    lock = threading.Lock()
    remaining = iter(slots)

    def work(session: requests.Session, n: int) -> requests.Response | None:
        with lock:
            item = next(remaining, None)
        if item is None:
            return None
        provider_id, start = item
        body = {
            "service": service,
            "provider_id": provider_id,
            "start": start,
            "patient": {
                "first_name": "Bench",
                "last_name": f"Client {n}",
                "phone": f"915-540-{n % 10000:04d}",
                "email": f"client{n}@example.com",
                "sms_opt_in": n % 2 == 0,
            },
        }
        return session.post(base_url + "/api/v1/bookings", json=body, timeout=TIMEOUT)

    return work


def health_work(base_url: str):
    def work(session: requests.Session, n: int) -> requests.Response:
        return session.get(base_url + "/api/v1/health", timeout=TIMEOUT)

    return work
