"""schemathesis against the served /api/v1/openapi.json, on PostgreSQL under gunicorn.

Every check schemathesis has (no 5xx, every status, media type and body as documented, data the
document refuses is refused, data it allows is accepted or refused only for its meaning, other
methods answer 405 with Allow, the staff endpoints want their token), a bounded number of
examples per operation, twice: with a fixed seed (the same cases on every run, and the coverage
phase's boundary values) and a random one (new generated cases each run; the seed is printed
to replay a failure with --seed).
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from config import TestingConfig
from scheduler import create_app
from scheduler.extensions import db
from scheduler.services.staff.accounts import create_user, issue_api_token
from scheduler.web.common.presenters import today_local
from tests.support.helpers import (
    ROOT,
    LiveServer,
    migrate,
    postgres_available,
    require_or_skip,
    seed_demo_clinic,
    temporary_pg_database,
)

FIXED_SEED = 20261130
EXAMPLES_PER_OPERATION = 12


@pytest.fixture(scope="module")
def server():
    if not postgres_available():
        require_or_skip("PostgreSQL at 127.0.0.1:5432")
    with temporary_pg_database() as url:
        migrate(url)
        seed_demo_clinic(url)
        app = create_app(TestingConfig, {"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            # An admin's token: every staff operation (closures too) reaches its logic.
            create_user("admin@example.com", "a long enough password", "admin")
            token = issue_api_token("admin@example.com", label="schemathesis")
            first_day = today_local() + timedelta(days=7)
            db.session.remove()
            db.engine.dispose()
        live = LiveServer(url, workers=2, threads=4)
        try:
            manage, cancel = _book_one(live.url, first_day, "ana"), _book_one(live.url, first_day, "luis")
            ids = {**_book_course(live.url, token, first_day + timedelta(days=7)), **_join_waitlist(live.url, first_day)}
            yield live, token, manage, cancel, ids
        finally:
            live.stop()


def _book_one(url: str, first: date, name: str) -> str:
    """A visit a week ahead, booked through the server's API (its link is signed with the
    server's key); its manage token."""
    query = f"service=initial-evaluation&start={first}&end={first + timedelta(days=7)}"
    slot = requests.get(f"{url}/api/v1/availability?{query}", timeout=10).json()["slots"][-1 if name == "luis" else 0]
    booked = requests.post(f"{url}/api/v1/bookings", timeout=10, json={
        "service": "initial-evaluation", "provider_id": slot["provider_id"], "start": slot["start"],
        "patient": {"first_name": name.title(), "last_name": "Garcia", "phone": "915-555-0123",
                    "email": f"{name}@example.com"},
    })
    assert booked.status_code == 201, booked.text
    return booked.json()["manage_url"].rsplit("/", 1)[1]


def _book_course(url: str, token: str, first: date) -> dict[str, str]:
    """A course of care of a patient added through the staff API (booked from two weeks ahead):
    the ids the staff operations' paths take, so they reach their logic instead of 404."""
    headers = {"Authorization": f"Bearer {token}"}
    patient = requests.post(f"{url}/api/v1/staff/patients", headers=headers, timeout=10, json={
        "first_name": "Rosa", "last_name": "Diaz", "phone": "915-555-0177", "email": "rosa@example.com"})
    assert patient.status_code == 201, patient.text
    provider = requests.get(f"{url}/api/v1/providers", timeout=10).json()[0]["id"]
    course = requests.post(f"{url}/api/v1/staff/courses", headers=headers, timeout=10, json={
        "patient_id": patient.json()["id"], "provider_id": provider, "first_date": first.isoformat(), "weeks": 4,
        "visits_per_week": 2, "window": ["08:00", "17:00"], "allow_other_provider": True, "preview": False})
    assert course.status_code == 201, course.text
    body = course.json()
    return {"SCHEMATHESIS_COURSE_ID": str(body["id"]), "SCHEMATHESIS_APPOINTMENT_ID": str(body["visits"][1]["appointment_id"])}


def _join_waitlist(url: str, first: date) -> dict[str, str]:
    """A place on the waitlist; its private leave token, so leaving reaches its logic."""
    joined = requests.post(f"{url}/api/v1/waitlist", timeout=10, json={
        "service": "initial-evaluation", "earliest_date": first.isoformat(),
        "latest_date": (first + timedelta(days=14)).isoformat(),
        "patient": {"first_name": "Eva", "last_name": "Cruz", "phone": "915-555-0166", "email": "eva@example.com"}})
    assert joined.status_code == 201, joined.text
    return {"SCHEMATHESIS_LEAVE_TOKEN": joined.json()["leave_url"].rstrip("/").split("/")[-2]}


def run_schemathesis(url: str, token: str, manage_token: str, cancel_token: str, seed: int,
                     workdir: Path, ids: dict[str, str]) -> subprocess.CompletedProcess:
    """The CLI, run in `workdir`: it keeps a cache of failures there (never in the project)."""
    # The row ids go into the configuration as TOML integers (an environment variable would
    # make them strings, which the document's integer parameters refuse).
    config = (ROOT / "tests" / "support" / "schemathesis.toml").read_text()
    for name, value in ids.items():
        config = config.replace(f'"${{{name}}}"', value if value.isdigit() else f'"{value}"')
    (workdir / "schemathesis.toml").write_text(config)
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "--config-file", str(workdir / "schemathesis.toml"),
        "run", f"{url}/api/v1/openapi.json",
        "--checks", "all",
        # The coverage phase (boundary and type-violating values, the same whatever the seed)
        # runs with the fixed seed; the random seed adds generated cases only.
        "--phases", "examples,coverage,fuzzing" if seed == FIXED_SEED else "fuzzing",
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", str(seed),
        "--header", f"Authorization: Bearer {token}",
        "--request-timeout", "10",
        "--workers", "1",
        "--no-color",
    ]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(ROOT / "tests" / "support" / "schemathesis_hooks.py"),
           "SCHEMATHESIS_MANAGE_TOKEN": manage_token, "SCHEMATHESIS_CANCEL_TOKEN": cancel_token}
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("which", ["fixed seed", "random seed"])
def test_the_api_agrees_with_its_document(server, which, tmp_path):
    live, token, manage_token, cancel_token, ids = server
    seed = FIXED_SEED if which == "fixed seed" else random.SystemRandom().randrange(2**31)
    result = run_schemathesis(live.url, token, manage_token, cancel_token, seed, tmp_path, ids)
    (ROOT / "test-artifacts" / f"schemathesis-{seed}.txt").write_text(result.stdout + result.stderr)
    summary = result.stdout[-12000:]
    assert result.returncode == 0, f"schemathesis --seed {seed} failed:\n{summary}\n{result.stderr[-2000:]}"
    assert "No issues found" in result.stdout or "passed" in result.stdout, summary
