"""flask --app wsgi <command>: seed-demo, create-user, create-api-token, provider-feed-url, backup, worker."""
from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import Flask

from scheduler.services.common.errors import ValidationFailed


def _fail(exc: ValidationFailed) -> NoReturn:
    for field, message in exc.fields.items():
        click.echo(f"{field}: {message}", err=True)
    raise SystemExit(1) from None


def register_cli(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo clinic (safe to run again)."""
        from scheduler.services.operations.demo import seed_demo

        created = seed_demo()
        click.echo("Demo clinic ready: " + ", ".join(f"{n} {k} added" for k, n in created.items()))

    @app.cli.command("create-user")
    @click.argument("email")
    @click.option("--role", required=True, type=click.Choice(["admin", "front_desk", "provider"]))
    @click.option("--provider", "provider_id", type=int, default=None,
                  help="With --role provider: the id of the provider whose calendar the user sees")
    def create_user_command(email: str, role: str, provider_id: int | None) -> None:
        """Create a staff user; the password is read from a prompt, or from stdin when piped."""
        from scheduler.services.staff.accounts import MIN_PASSWORD_LENGTH, create_user

        if sys.stdin.isatty():
            password = click.prompt(
                f"Password (at least {MIN_PASSWORD_LENGTH} characters)", hide_input=True, confirmation_prompt=True
            )
        else:
            password = sys.stdin.readline().rstrip("\n")
        try:
            user = create_user(email, password, role, provider_id)
        except ValidationFailed as exc:
            _fail(exc)
        linked = f", sees the calendar of provider {provider_id}" if provider_id is not None else ""
        click.echo(f"Created {user.role} {user.email}{linked}")

    @app.cli.command("link-provider")
    @click.argument("email")
    @click.argument("provider_id", type=int)
    def link_provider_command(email: str, provider_id: int) -> None:
        """Let an existing provider user see one provider's calendar (day sheet and staff API)."""
        from scheduler.services.staff.accounts import link_provider

        try:
            provider = link_provider(email, provider_id)
        except ValidationFailed as exc:
            _fail(exc)
        click.echo(f"{email.strip().lower()} now sees the calendar of {provider.name} (provider {provider.id})")

    @app.cli.command("create-api-token")
    @click.argument("email")
    @click.option("--label", default="", help="What the token is for")
    def create_api_token_command(email: str, label: str) -> None:
        """Print a new bearer token for the staff API (shown once, stored hashed)."""
        from scheduler.services.staff.accounts import issue_api_token

        try:
            token = issue_api_token(email, label)
        except ValidationFailed as exc:
            click.echo(exc.fields.get("email", "failed"), err=True)
            raise SystemExit(1) from None
        click.echo(token)

    @app.cli.command("provider-feed-url")
    @click.argument("provider_id", type=int)
    @click.option("--keep", is_flag=True, help="Print the current link instead of issuing a new one")
    def provider_feed_url_command(provider_id: int, keep: bool) -> None:
        """Issue a provider's calendar feed link and print it; the link issued before stops working."""
        from scheduler.services.calendars.files import provider_feed_url
        from scheduler.services.common.errors import NotFound

        try:
            url = provider_feed_url(provider_id, rotate=not keep)
        except NotFound:
            click.echo(f"No provider with id {provider_id}.", err=True)
            raise SystemExit(1) from None
        click.echo(url)

    @app.cli.command("backup")
    @click.argument("path", type=click.Path(dir_okay=False, writable=True))
    @click.option("--overwrite", is_flag=True, help="Replace PATH if it exists")
    def backup_command(path: str, overwrite: bool) -> None:
        """A consistent copy of the SQLite database to PATH while the app keeps running."""
        from pathlib import Path

        from scheduler.services.operations.backup import BackupRefused, backup_sqlite, pg_dump_hint, sqlite_file

        from .extensions import db

        url = db.engine.url
        if url.get_backend_name() != "sqlite":
            libpq = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)
            click.echo(pg_dump_hint(libpq), err=True)
            raise SystemExit(2)
        try:
            done = backup_sqlite(sqlite_file(url.database), Path(path), overwrite=overwrite)
        except BackupRefused as refused:
            click.echo(f"Backup not made: {refused}", err=True)
            raise SystemExit(1) from None
        click.echo(f"Backed up to {done.path} ({done.size_bytes:,} bytes, {done.seconds:.2f} s, integrity ok)")

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Run each job once and exit (cron, tests).")
    @click.option("--digest", type=click.Choice(["if-due", "force", "skip"]), default="if-due",
                  show_default=True, help="With --once: the front desk's evening email.")
    def worker_command(once: bool, digest: str) -> None:
        """Send reminders and notices (the outbox); the web app never does."""
        from . import worker

        worker.configure_logging(app)
        if once:
            with worker.stopping_on_signals():
                results = worker.run_once(digest_mode=digest.replace("-", "_"))
            click.echo(" ".join(f"{job}={outcome}" for job, outcome in results.items()))
        else:
            worker.run_forever()
