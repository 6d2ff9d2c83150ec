"""The clinic scheduler: a Flask application factory. Starts no background jobs."""
from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import Config

from .database import configure_postgresql, configure_sqlite, sqlite_engine_options
from .extensions import babel, csrf, db, limiter, login_manager, migrate


def instance_secret_key(path: Path) -> str:
    """A random key made on first start and shared by every worker (never a default in code)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48))
    for _ in range(50):  # another worker may be writing it this very moment
        key = path.read_text().strip()
        if key:
            return key
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it or set SECRET_KEY")


class RowIdConverter(IntegerConverter):
    """`<int:...>` in a URL names a row: past the database's integer key it names no row
    (404), rather than overflowing the query (a 500 on PostgreSQL and SQLite alike)."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002  (werkzeug's name)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: type[Config] = Config, overrides: dict | None = None) -> Flask:
    project_root = Path(__file__).resolve().parent.parent
    app = Flask(
        __name__,
        template_folder="../templates",
        instance_path=str(project_root / "instance"),
    )
    app.config.from_object(config)
    if overrides:
        app.config.update(overrides)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config["CLINIC_TIMEZONE"])
    Path(app.instance_path).mkdir(exist_ok=True)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret_key(Path(app.instance_path) / "secret_key")

    from scheduler.web.common.input_guard import register_input_guard
    from scheduler.web.common.request_log import register_request_log

    register_request_log(app)  # first: even a refused request gets its log line
    register_input_guard(app)  # then the input checks, before CSRF and every other hook
    from scheduler.web.common.metrics import register_metrics

    register_metrics(app)  # counts every answer, refusals included

    from .domain.reminders import policy_from_settings

    # Bad message settings stop the start with the setting's name, not a failure at 3 a.m.
    app.extensions["message_policy"] = policy_from_settings(app.config)

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = sqlite_engine_options(
            app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}), app.config["SQLITE_BUSY_TIMEOUT_MS"]
        )
    db.init_app(app)
    migrate.init_app(app, db, directory=str(project_root / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    from scheduler.web.common.site import select_locale

    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: app.config["CLINIC_TIMEZONE"])

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            configure_postgresql(db.engine)

    from . import models  # noqa: F401  (registers every table with the metadata)
    from .cli import register_cli
    from .web import register_blueprints

    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    register_blueprints(app)
    register_cli(app)
    hops = int(app.config.get("TRUSTED_PROXY_HOPS", 0))
    if hops:
        # Behind nginx or a load balancer: trust that many X-Forwarded-* hops, so rate
        # limits and logs see the patient's address rather than the proxy's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app
