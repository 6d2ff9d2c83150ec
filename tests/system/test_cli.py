"""flask seed-demo / create-user / create-api-token."""
from __future__ import annotations

import os
import pty
import sys
import time

from sqlalchemy import func, select
from werkzeug.security import check_password_hash

from scheduler.extensions import db
from scheduler.models import ApiToken, Appointment, AuditEvent, Closure, Provider, Service, User, WorkingHours
from scheduler.services.common.tokens import sha256_hex
from tests.support.helpers import ROOT, flask_command


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_demo_is_idempotent(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "3 providers added" in first.output
    counts = {m.__name__: _count(m) for m in (Provider, Service, Closure, Appointment, WorkingHours)}
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "0 providers added" in second.output
    assert {m.__name__: _count(m) for m in (Provider, Service, Closure, Appointment, WorkingHours)} == counts
    assert counts["Provider"] == 3 and counts["WorkingHours"] == 3 * 5 * 2  # Mon-Fri with a lunch break
    evaluation = db.session.scalar(select(Service).where(Service.slug == "initial-evaluation"))
    therapy = db.session.scalar(select(Service).where(Service.slug == "therapy-session"))
    assert (evaluation.duration_minutes, evaluation.online_bookable) == (60, True)
    assert (therapy.duration_minutes, therapy.online_bookable) == (45, False)
    assert counts["Closure"] >= 1 and counts["Appointment"] >= 1


def test_create_user_reads_password_from_stdin_and_hashes_it(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "Desk@Example.com", "--role", "front_desk"],
                           input="a long enough password\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert user.email == "desk@example.com" and user.role == "front_desk"
    assert user.password_hash.startswith("scrypt:")
    assert check_password_hash(user.password_hash, "a long enough password")
    created = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.created"))
    assert created.entity_id == user.id and created.after == {"email": "desk@example.com", "role": "front_desk"}
    assert "password" not in str(created.after)
    again = runner.invoke(args=["create-user", "desk@example.com", "--role", "admin"], input="another password!\n")
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(args=["create-user", "x@example.com", "--role", "admin"], input="short\n")
    assert short.exit_code == 1 and "at least 10" in short.output
    bad_role = runner.invoke(args=["create-user", "y@example.com", "--role", "owner"], input="long password 123\n")
    assert bad_role.exit_code != 0


def test_create_api_token_prints_a_token_stored_hashed(app, client):
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "admin@example.com", "--role", "admin"], input="a long enough password\n")
    result = runner.invoke(args=["create-api-token", "admin@example.com", "--label", "website"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash == sha256_hex(token) and token not in stored.token_hash
    response = client.get("/api/v1/staff/appointments?date=2026-12-01", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert client.get("/api/v1/staff/appointments").status_code == 401
    missing = runner.invoke(args=["create-api-token", "nobody@example.com"])
    assert missing.exit_code == 1


def test_create_user_prompts_for_the_password_on_a_terminal_without_echo(tmp_path):
    """At a real terminal the password is asked twice and never shown."""
    url = f"sqlite:///{tmp_path / 'prompt.db'}"
    flask_command(url, "db", "upgrade")
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "wsgi"}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: flask on the pseudo-terminal
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "flask", "create-user", "tty@example.com",
                                   "--role", "admin"], env)
    seen = b""

    def wait_for(marker: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 30
        while marker not in seen and time.monotonic() < deadline:
            try:
                seen += os.read(terminal, 1024)
            except OSError:
                break

    # The prompt states the minimum length before anything is typed.
    wait_for(b"Password (at least 10 characters):")
    assert b"Password (at least 10 characters):" in seen, seen
    os.write(terminal, b"typed at the terminal\n")
    wait_for(b"Repeat for confirmation:")
    os.write(terminal, b"typed at the terminal\n")
    wait_for(b"Created")
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"Created admin tty@example.com" in seen
    assert b"typed at the terminal" not in seen  # no echo


def test_a_provider_user_linked_from_the_command_line_sees_only_their_calendar(app, client):
    from tests.support.factories import make_provider, make_service, patient_payload

    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    make_service()
    for provider, first_name, phone in ((maria, "Ana", "915-555-0123"), (daniel, "Luis", "915-555-0188")):
        booked = client.post("/api/v1/bookings", json={
            "service": "evaluation", "provider_id": provider.id, "start": "2026-12-01T09:00:00-07:00",
            "patient": patient_payload(first_name=first_name, phone=phone)})
        assert booked.status_code == 201
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-user", "maria@example.com", "--role", "provider", "--provider",
                                  str(maria.id)], input="a long enough password\n")
    assert created.exit_code == 0, created.output
    assert db.session.get(Provider, maria.id).user_id == db.session.scalar(select(User.id))

    client.post("/staff/login", data={"email": "maria@example.com", "password": "a long enough password"})
    sheet = client.get("/staff/?date=2026-12-01").get_data(as_text=True)
    assert "Ana Garcia" in sheet and "Luis Garcia" not in sheet and "Daniel Reyes, PT" not in sheet
    token = runner.invoke(args=["create-api-token", "maria@example.com"]).output.strip()
    listed = client.get("/api/v1/staff/appointments?date=2026-12-01",
                        headers={"Authorization": f"Bearer {token}"}).get_json()["appointments"]
    assert [a["provider_id"] for a in listed] == [maria.id]

    # Refused: a second user for one calendar, a non-provider role, an unknown provider.
    taken = runner.invoke(args=["create-user", "other@example.com", "--role", "provider", "--provider",
                                str(maria.id)], input="a long enough password\n")
    assert taken.exit_code == 1 and "already linked" in taken.output
    desk = runner.invoke(args=["create-user", "desk@example.com", "--role", "front_desk", "--provider",
                               str(daniel.id)], input="a long enough password\n")
    assert desk.exit_code == 1 and "provider role" in desk.output
    assert runner.invoke(args=["create-user", "x@example.com", "--role", "provider", "--provider", "999"],
                         input="a long enough password\n").exit_code == 1
    assert _count(User) == 1


def test_link_provider_links_an_existing_user_and_moves_the_link(app):
    from tests.support.factories import make_provider

    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    runner = app.test_cli_runner()
    runner.invoke(args=["create-user", "pat@example.com", "--role", "provider"], input="a long enough password\n")
    user_id = db.session.scalar(select(User.id))
    linked = runner.invoke(args=["link-provider", "Pat@Example.com", str(maria.id)])
    assert linked.exit_code == 0, linked.output
    assert "now sees the calendar of Maria Lopez, PT" in linked.output
    moved = runner.invoke(args=["link-provider", "pat@example.com", str(daniel.id)])
    assert moved.exit_code == 0, moved.output
    db.session.expire_all()
    assert db.session.get(Provider, maria.id).user_id is None
    assert db.session.get(Provider, daniel.id).user_id == user_id
    assert [e.action for e in db.session.scalars(select(AuditEvent).where(AuditEvent.entity_type == "providers")
                                                 .order_by(AuditEvent.id))] == \
        ["provider.linked", "provider.unlinked", "provider.linked"]
    assert runner.invoke(args=["link-provider", "nobody@example.com", str(maria.id)]).exit_code == 1
    runner.invoke(args=["create-user", "admin@example.com", "--role", "admin"], input="a long enough password\n")
    assert runner.invoke(args=["link-provider", "admin@example.com", str(maria.id)]).exit_code == 1
