"""Never double-booked, never a 500: many patients pressing "Book" at the same moment.

Each test starts a fresh database (Alembic revisions + the demo clinic) and the real app
under gunicorn with several workers and threads, then releases 50 HTTP clients at once
through a barrier. The live server runs on the real clock, so target times are taken from
GET /api/v1/availability rather than hard-coded.

What must hold afterwards, on PostgreSQL and on a SQLite file alike:
- the number of 201s is exactly the number of bookings the slot can take;
- every other answer is a clean 409 {"error": "slot_unavailable", "alternatives": [...]};
- no 5xx, no transport errors, no "database is locked" in any answer or in the server log;
- no two live appointments of one provider overlap (an SQL self-join on the tables);
- losers left nothing behind (no patient rows for them).
"""
from __future__ import annotations

import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.helpers import (
    LiveServer,
    migrate,
    postgres_available,
    require_or_skip,
    seed_demo_clinic,
    temporary_pg_database,
)

CLIENTS = 50
SERVICE = "initial-evaluation"  # demo clinic: 60 minutes + 15 minutes buffer
BLOCK = timedelta(minutes=75)
CLINIC_TZ = ZoneInfo("America/Denver")
WORKERS, THREADS = 4, 8

OVERLAPS_SQL = """
    SELECT count(*) FROM appointments a
    JOIN appointments b ON a.provider_id = b.provider_id AND a.id < b.id
    WHERE a.status <> 'cancelled' AND b.status <> 'cancelled'
      AND a.starts_at < b.blocks_until AND b.starts_at < a.blocks_until
"""


@dataclass
class Clinic:
    database_url: str
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    def log_text(self) -> str:
        name = getattr(self.server.log, "name", None)
        return Path(name).read_text(errors="replace") if isinstance(name, str) else ""


@contextmanager
def running_clinic(database_url: str):
    migrate(database_url)
    seed_demo_clinic(database_url)
    server = LiveServer(database_url, workers=WORKERS, threads=THREADS)
    try:
        yield Clinic(database_url, server)
    finally:
        server.stop()


@pytest.fixture
def pg_clinic():
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    with temporary_pg_database() as url, running_clinic(url) as clinic:
        yield clinic


@pytest.fixture
def sqlite_clinic(tmp_path):
    with running_clinic(f"sqlite:///{tmp_path / 'x.db'}") as clinic:
        yield clinic


# --- helpers ---------------------------------------------------------------------------


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def open_slots(clinic: Clinic, first: date, last: date) -> list[dict]:
    response = requests.get(
        clinic.url + "/api/v1/availability",
        params={"service": SERVICE, "start": first.isoformat(), "end": last.isoformat()},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["slots"]


def providers(clinic: Clinic) -> list[int]:
    response = requests.get(clinic.url + "/api/v1/providers", timeout=10)
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()]


def days_ahead() -> tuple[date, date]:
    """Two to ten days from today in the clinic: clear of the minimum notice, inside the horizon."""
    today = datetime.now(CLINIC_TZ).date()
    return today + timedelta(days=2), today + timedelta(days=10)


def find_overlapping_run(clinic: Clinic) -> tuple[int, datetime]:
    """A provider and a start T such that T, T+15 and T+30 are all open for that provider."""
    slots = open_slots(clinic, *days_ahead())
    open_by_provider: dict[int, set[datetime]] = {}
    for slot in slots:
        open_by_provider.setdefault(slot["provider_id"], set()).add(parse(slot["start"]))
    for provider_id, starts in sorted(open_by_provider.items()):
        for start in sorted(starts):
            if all(start + timedelta(minutes=m) in starts for m in (15, 30)):
                return provider_id, start
    pytest.fail(f"no run of three overlapping open starts in {len(slots)} slots")


def find_time_everyone_is_free(clinic: Clinic) -> tuple[datetime, set[int]]:
    """A start time open for every online provider (the demo clinic has three)."""
    everyone = set(providers(clinic))
    assert len(everyone) >= 2, "the race needs several providers"
    free_at: dict[datetime, set[int]] = {}
    for slot in open_slots(clinic, *days_ahead()):
        free_at.setdefault(parse(slot["start"]), set()).add(slot["provider_id"])
    for start in sorted(free_at):
        if free_at[start] == everyone:
            return start, everyone
    pytest.fail("no start time where every provider is free")


def payload(index: int, start: datetime, provider_id: int | None) -> dict:
    return {
        "service": SERVICE,
        "provider_id": provider_id,
        "start": start.isoformat(),
        "patient": {
            "first_name": "Racer",
            "last_name": f"Number {index}",
            "phone": f"915-555-01{index:02d}",
            "email": f"racer{index}@example.com",
            "sms_opt_in": False,
        },
    }


@dataclass
class Answer:
    status: int
    body: object
    text: str


def race(clinic: Clinic, payloads: list[dict], path: str = "/api/v1/bookings") -> list[Answer]:
    """Each client opens its connection first, then all POST at the same instant."""
    barrier = threading.Barrier(len(payloads))
    answers: list[Answer | None] = [None] * len(payloads)
    failures: list[str] = []

    def client(index: int) -> None:
        try:
            with requests.Session() as session:
                session.get(clinic.url + "/api/v1/health", timeout=30)
                barrier.wait(timeout=60)
                response = session.post(clinic.url + path, json=payloads[index], timeout=60)
                try:
                    body = response.json()
                except ValueError:
                    body = None
                answers[index] = Answer(response.status_code, body, response.text)
        except Exception as exc:  # a dropped connection is a failure of the server, not of the test
            barrier.abort()
            failures.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(payloads))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert all(a is not None for a in answers), "some clients never got an answer"
    return answers  # type: ignore[return-value]


def check_answers(answers: list[Answer], expected_bookings: int) -> list[Answer]:
    """Only 201s and clean 409s; returns the 201s."""
    counts = Counter(a.status for a in answers)
    print(f"\n{len(answers)} clients: {dict(sorted(counts.items()))}")
    server_errors = [a for a in answers if a.status >= 500]
    assert not server_errors, [(a.status, a.text[:300]) for a in server_errors]
    locked = [a for a in answers if "database is locked" in a.text.lower()]
    assert not locked, locked[:1]
    assert set(counts) <= {201, 409}, {a.status: a.text[:300] for a in answers if a.status not in (201, 409)}
    booked = [a for a in answers if a.status == 201]
    assert len(booked) == expected_bookings, counts
    for answer in answers:
        if answer.status == 409:
            assert isinstance(answer.body, dict), answer.text
            assert answer.body["error"] == "slot_unavailable", answer.body
            assert isinstance(answer.body["alternatives"], list), answer.body
    return booked


def assert_alternatives_are_free(answers: list[Answer], booked: list[Answer]) -> None:
    """A 409 comes after the winner committed, so its alternatives never collide with a winner."""
    taken = [(b.body["provider_id"], parse(b.body["start"])) for b in booked]
    for answer in answers:
        if answer.status != 409:
            continue
        for alt in answer.body["alternatives"]:
            start = parse(alt["start"])
            for provider_id, won in taken:
                assert not (alt["provider_id"] == provider_id and start < won + BLOCK and won < start + BLOCK), (
                    alt, won,
                )


def database_facts(clinic: Clinic) -> dict[str, int]:
    engine = create_engine(clinic.database_url)
    try:
        with engine.connect() as conn:
            return {
                "overlaps": conn.execute(text(OVERLAPS_SQL)).scalar_one(),
                "through_api": conn.execute(
                    text("SELECT count(*) FROM appointments WHERE source = 'api'")
                ).scalar_one(),
                "racers": conn.execute(
                    text("SELECT count(*) FROM patients WHERE first_name = 'Racer'")
                ).scalar_one(),
                "booked_events": conn.execute(
                    text("SELECT count(*) FROM audit_events WHERE action = 'appointment.booked'")
                ).scalar_one(),
            }
    finally:
        engine.dispose()


def assert_database_consistent(clinic: Clinic, bookings: int, seeded_events: int) -> None:
    facts = database_facts(clinic)
    assert facts == {
        "overlaps": 0, "through_api": bookings, "racers": bookings, "booked_events": seeded_events + bookings,
    }, facts


def assert_server_log_clean(clinic: Clinic) -> None:
    log = clinic.log_text()
    assert "database is locked" not in log.lower()
    assert "Traceback" not in log, log[-3000:]


# --- the races -------------------------------------------------------------------------


def same_provider_overlapping_race(clinic: Clinic) -> None:
    """30 clients want T, 10 want T+15, 10 want T+30, all with the same provider:
    every pair overlaps (60 minutes + 15 buffer), so exactly one may win."""
    provider_id, start = find_overlapping_run(clinic)
    seeded_events = database_facts(clinic)["booked_events"]
    offsets = [0] * 30 + [15] * 10 + [30] * 10
    assert len(offsets) == CLIENTS
    payloads = [payload(i, start + timedelta(minutes=m), provider_id) for i, m in enumerate(offsets)]

    answers = race(clinic, payloads)

    (winner,) = check_answers(answers, expected_bookings=1)
    assert winner.body["provider_id"] == provider_id
    assert parse(winner.body["start"]) in {start + timedelta(minutes=m) for m in (0, 15, 30)}
    assert_alternatives_are_free(answers, [winner])
    assert_database_consistent(clinic, bookings=1, seeded_events=seeded_events)
    still_open = {
        parse(s["start"]) for s in open_slots(clinic, start.date(), start.date()) if s["provider_id"] == provider_id
    }
    assert not still_open & {start + timedelta(minutes=m) for m in (0, 15, 30)}
    assert_server_log_clean(clinic)


def first_available_race(clinic: Clinic) -> None:
    """50 clients ask for "any provider" at one time: one booking per free provider, no more."""
    start, free = find_time_everyone_is_free(clinic)
    seeded_events = database_facts(clinic)["booked_events"]
    payloads = [payload(i, start, None) for i in range(CLIENTS)]

    answers = race(clinic, payloads)

    booked = check_answers(answers, expected_bookings=len(free))
    assert {b.body["provider_id"] for b in booked} == free
    assert all(parse(b.body["start"]) == start for b in booked)
    assert_alternatives_are_free(answers, booked)
    assert_database_consistent(clinic, bookings=len(free), seeded_events=seeded_events)
    assert all(parse(s["start"]) != start for s in open_slots(clinic, start.date(), start.date()))
    cancel_race(clinic, booked[0].body["manage_url"].rsplit("/", 1)[1])
    same_patient_race(clinic)
    assert_server_log_clean(clinic)


def same_patient_race(clinic: Clinic) -> None:
    """One patient's "Book" pressed 20 times at once for "any provider": one visit, not three."""
    start, _free = find_time_everyone_is_free(clinic)
    one_patient = payload(99, start, None)
    answers = race(clinic, [one_patient] * 20)
    counts = Counter(a.status for a in answers)
    assert counts[201] == 1 and counts[409] == 19, counts
    refusals = Counter(a.body["error"] for a in answers if a.status == 409)
    assert set(refusals) <= {"already_booked", "slot_unavailable"}, refusals
    engine = create_engine(clinic.database_url)
    try:
        with engine.connect() as conn:
            visits = conn.execute(text(
                "SELECT count(*) FROM appointments a JOIN patients p ON p.id = a.patient_id "
                "WHERE p.last_name = 'Number 99' AND a.status <> 'cancelled'")).scalar_one()
    finally:
        engine.dispose()
    assert visits == 1


def cancel_race(clinic: Clinic, token: str) -> None:
    """20 presses of "Cancel" on one appointment at once: one cancellation, one audit event."""
    answers = race(clinic, [{"reason": f"press {i}"} for i in range(20)], path=f"/api/v1/bookings/{token}/cancel")
    counts = Counter(a.status for a in answers)
    assert counts == {200: 1, 409: 19}, counts
    assert all(a.body["error"] == "not_open" for a in answers if a.status == 409)
    engine = create_engine(clinic.database_url)
    try:
        with engine.connect() as conn:
            events = conn.execute(text(
                "SELECT count(*) FROM audit_events WHERE action = 'appointment.cancelled'")).scalar_one()
    finally:
        engine.dispose()
    assert events == 1


@pytest.mark.postgres
def test_postgres_fifty_clients_overlapping_one_provider(pg_clinic):
    same_provider_overlapping_race(pg_clinic)


@pytest.mark.postgres
def test_postgres_fifty_clients_first_available(pg_clinic):
    first_available_race(pg_clinic)


def test_sqlite_file_fifty_clients_overlapping_one_provider(sqlite_clinic):
    same_provider_overlapping_race(sqlite_clinic)


def test_sqlite_file_fifty_clients_first_available(sqlite_clinic):
    first_available_race(sqlite_clinic)
