"""Configuration classes. Every setting can be overridden from the environment."""
from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _default_database_url() -> str:
    return f"sqlite:///{BASE_DIR / 'instance' / 'scheduler.db'}"


class Config:
    # Unset: create_app() makes a random key once and keeps it in instance/secret_key.
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = _env("DATABASE_URL", _default_database_url())
    # hide_parameters: a database error's message (logged) never carries a patient's details.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True, "hide_parameters": True}
    # How long a SQLite writer waits for another's write lock before "database is locked"
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 30000)

    # The clinic
    CLINIC_NAME = _env("CLINIC_NAME", "Injury Medical & Chiropractic Clinic")
    CLINIC_TIMEZONE = _env("CLINIC_TIMEZONE", "America/Denver")
    CLINIC_OFFICE_PHONE = _env("CLINIC_OFFICE_PHONE", "915-850-0900")
    CLINIC_CELL_PHONE = _env("CLINIC_CELL_PHONE", "915-540-8444")
    CLINIC_EMAIL = _env("CLINIC_EMAIL", "office@example.com")
    # Street address, one line ("123 Main St, El Paso, TX 79901"): shown in every page's footer,
    # on the booking confirmation and in calendar files. Empty: not shown.
    CLINIC_ADDRESS = _env("CLINIC_ADDRESS", "")
    CLINIC_DISCLAIMER_FILE = _env(
        "CLINIC_DISCLAIMER_FILE", str(BASE_DIR / "scheduler" / "content" / "disclaimer.en.txt")
    )
    PUBLIC_BASE_URL = _env("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    PHONE_REGION = _env("PHONE_REGION", "US")

    # Booking
    BOOKING_DAYS_SHOWN = _env_int("BOOKING_DAYS_SHOWN", 14)
    API_MAX_RANGE_DAYS = _env_int("API_MAX_RANGE_DAYS", 62)
    MANAGE_TOKEN_MAX_AGE_DAYS = _env_int("MANAGE_TOKEN_MAX_AGE_DAYS", 400)

    # Patient-facing languages (gettext catalogues live in scheduler/translations)
    LANGUAGES = ["en", "es"]
    # Dates and times are formatted for the clinic's region: US English, US Spanish.
    LOCALE_REGIONS = {"en": "en_US", "es": "es_US"}
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "scheduler" / "translations")

    # Rate limits share a store across all web workers (redis:// in production)
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URI", "memory://")
    # Prefix of the counters' keys in that store: two apps (or a staging copy) sharing one
    # Redis keep their budgets apart.
    RATELIMIT_KEY_PREFIX = _env("RATELIMIT_KEY_PREFIX", "scheduler")
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    TRUSTED_PROXY_HOPS = _env_int("TRUSTED_PROXY_HOPS", 0)
    BOOKING_RATE_LIMIT = _env("BOOKING_RATE_LIMIT", "10 per minute;60 per hour")
    MANAGE_RATE_LIMIT = _env("MANAGE_RATE_LIMIT", "30 per minute")
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")
    LINK_REQUEST_RATE_LIMIT = _env("LINK_REQUEST_RATE_LIMIT", "3 per minute;10 per hour")

    # Request limits: a larger body is refused with 413 before it is read (the pages' forms
    # and the API's JSON are a few kilobytes); werkzeug's own limits for form parsing.
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 64 * 1024)
    MAX_FORM_MEMORY_SIZE = _env_int("MAX_FORM_MEMORY_SIZE", 64 * 1024)
    MAX_FORM_PARTS = _env_int("MAX_FORM_PARTS", 100)

    # Sent on every answer served over HTTPS (directly or through TRUSTED_PROXY_HOPS proxies); 0: never.
    HSTS_SECONDS = _env_int("HSTS_SECONDS", 365 * 86400)

    # Cookies
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    WTF_CSRF_TIME_LIMIT = None  # a slow phone user must not lose the form
    # Every page sends Referrer-Policy: no-referrer (manage links carry a secret), so browsers send
    # no Referer, and Flask-WTF's HTTPS referrer check would refuse every form. The session-bound
    # token and the SameSite=Lax, Secure session cookie are the CSRF defence.
    WTF_CSRF_SSL_STRICT = False

    # Operations: /api/v1/health calls the worker stale when no job started a pass for this
    # long; one log line per request, as text or JSON (LOG_FORMAT=json).
    WORKER_STALE_SECONDS = _env_int("WORKER_STALE_SECONDS", 300)
    LOG_FORMAT = _env("LOG_FORMAT", "text")
    # GET /metrics (Prometheus): from these addresses or networks, or with
    # `Authorization: Bearer METRICS_TOKEN` from anywhere (unset: no token is accepted).
    METRICS_ALLOWED_NETWORKS = _env("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
    METRICS_TOKEN = _env("METRICS_TOKEN", "")

    # What patients receive and when (parsed and checked by create_app; see README "Messages")
    MESSAGE_SEND_WINDOW = _env("MESSAGE_SEND_WINDOW", "08:00-21:00")  # clinic time; 00:00-24:00 = any time
    REMINDER_EMAIL_OFFSETS_HOURS = _env("REMINDER_EMAIL_OFFSETS_HOURS", "48")
    REMINDER_SMS_OFFSETS_HOURS = _env("REMINDER_SMS_OFFSETS_HOURS", "24,2")
    COURSE_REMINDER_EMAIL_OFFSETS_HOURS = _env("COURSE_REMINDER_EMAIL_OFFSETS_HOURS", "")
    COURSE_REMINDER_SMS_OFFSETS_HOURS = _env("COURSE_REMINDER_SMS_OFFSETS_HOURS", "24")

    # Transports (the worker sends; with either left unset it records and logs instead)
    TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN", "")  # also verifies the webhooks' signatures
    TWILIO_FROM_NUMBER = _env("TWILIO_FROM_NUMBER", "")
    TWILIO_MESSAGING_SERVICE_SID = _env("TWILIO_MESSAGING_SERVICE_SID", "")
    TWILIO_BASE_URL = _env("TWILIO_BASE_URL", "https://api.twilio.com")
    TWILIO_TIMEOUT_SECONDS = _env_int("TWILIO_TIMEOUT_SECONDS", 10)
    SMTP_HOST = _env("SMTP_HOST", "")
    SMTP_PORT = _env_int("SMTP_PORT", 587)
    SMTP_USERNAME = _env("SMTP_USERNAME", "")
    SMTP_PASSWORD = _env("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", True)
    SMTP_TIMEOUT_SECONDS = _env_int("SMTP_TIMEOUT_SECONDS", 30)
    MAIL_FROM = _env("MAIL_FROM", "appointments@example.com")

    # The worker (flask --app wsgi worker)
    WORKER_SEND_INTERVAL_SECONDS = _env_int("WORKER_SEND_INTERVAL_SECONDS", 30)
    # How long a waitlist offer is held for one patient before it passes to the next
    WAITLIST_HOLD_MINUTES = _env_int("WAITLIST_HOLD_MINUTES", 30)
    WORKER_BATCH_SIZE = _env_int("WORKER_BATCH_SIZE", 50)
    WORKER_CONCURRENCY = _env_int("WORKER_CONCURRENCY", 4)  # sends in flight at once per worker
    # A claimed message is this worker's for this long; left in "sending" past it (a killed
    # worker) it is claimed again. Must exceed the longest send (the timeouts above).
    MESSAGE_CLAIM_LEASE_SECONDS = _env_int("MESSAGE_CLAIM_LEASE_SECONDS", 300)
    MESSAGE_MAX_ATTEMPTS = _env_int("MESSAGE_MAX_ATTEMPTS", 10)
    MESSAGE_RETRY_BASE_SECONDS = float(_env("MESSAGE_RETRY_BASE_SECONDS", "30"))
    MESSAGE_RETRY_MAX_SECONDS = float(_env("MESSAGE_RETRY_MAX_SECONDS", "3600"))
    # Emails carry the minimum necessary, as texts and calendar files do: no service name
    # (what the visit is for) unless the clinic turns it on.
    EMAIL_NAMES_SERVICE = _env_bool("EMAIL_NAMES_SERVICE", False)
    FRONT_DESK_EMAIL = _env("FRONT_DESK_EMAIL", "")  # the evening digest goes here; unset: none
    FRONT_DESK_DIGEST_TIME = _env("FRONT_DESK_DIGEST_TIME", "18:00")  # clinic time


class ProductionConfig(Config):
    """What `gunicorn wsgi:app` runs unless APP_ENV says otherwise: cookies only over HTTPS."""

    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


class DevelopmentConfig(Config):
    """Plain http on 127.0.0.1 (./scripts/start): cookies without the Secure flag."""


def config_for_environment(environ: dict[str, str] = os.environ) -> type[Config]:
    """Production settings unless APP_ENV (or FLASK_ENV) names development or testing:
    forgetting to set a variable must never leave a clinic's server with insecure cookies."""
    name = (environ.get("APP_ENV") or environ.get("FLASK_ENV") or "production").strip().lower()
    return DevelopmentConfig if name in {"development", "testing"} else ProductionConfig


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    PUBLIC_BASE_URL = "http://localhost"
