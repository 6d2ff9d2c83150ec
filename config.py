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
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # How long a SQLite writer waits for another's write lock before "database is locked"
    SQLITE_BUSY_TIMEOUT_MS = _env_int("SQLITE_BUSY_TIMEOUT_MS", 30000)

    # The clinic
    CLINIC_NAME = _env("CLINIC_NAME", "Injury Medical & Chiropractic Clinic")
    CLINIC_TIMEZONE = _env("CLINIC_TIMEZONE", "America/Denver")
    CLINIC_OFFICE_PHONE = _env("CLINIC_OFFICE_PHONE", "915-850-0900")
    CLINIC_CELL_PHONE = _env("CLINIC_CELL_PHONE", "915-540-8444")
    CLINIC_EMAIL = _env("CLINIC_EMAIL", "coach@elpasofunctionalmedicine.com")
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
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    TRUSTED_PROXY_HOPS = _env_int("TRUSTED_PROXY_HOPS", 0)
    BOOKING_RATE_LIMIT = _env("BOOKING_RATE_LIMIT", "10 per minute;60 per hour")
    MANAGE_RATE_LIMIT = _env("MANAGE_RATE_LIMIT", "30 per minute")
    LOGIN_RATE_LIMIT = _env("LOGIN_RATE_LIMIT", "10 per minute")

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

    # Messaging (used by the reminder worker)
    TWILIO_ACCOUNT_SID = _env("TWILIO_ACCOUNT_SID", "")
    TWILIO_AUTH_TOKEN = _env("TWILIO_AUTH_TOKEN", "")
    TWILIO_FROM_NUMBER = _env("TWILIO_FROM_NUMBER", "")
    TWILIO_BASE_URL = _env("TWILIO_BASE_URL", "https://api.twilio.com")
    SMTP_HOST = _env("SMTP_HOST", "127.0.0.1")
    SMTP_PORT = _env_int("SMTP_PORT", 25)
    MAIL_FROM = _env("MAIL_FROM", "appointments@example.com")


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "test-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    WTF_CSRF_ENABLED = False
    RATELIMIT_ENABLED = False
    RATELIMIT_STORAGE_URI = "memory://"
    PUBLIC_BASE_URL = "http://localhost"
