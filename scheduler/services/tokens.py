"""Secrets handed out (patient manage links, API tokens): stored only as hashes."""
from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from .clock import now

_MANAGE_SALT = "appointment-manage-link"


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(24)


class _ClockSigner(TimestampSigner):
    """Timestamps from the application clock, so link expiry follows the same time as the rest."""

    def get_timestamp(self) -> int:
        return int(now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_MANAGE_SALT, signer=_ClockSigner)


def manage_token_for(secret: str) -> str:
    """A signed, timestamped wrapper around the random secret: the patient's private link."""
    return _serializer().dumps(secret)


def manage_secret_hash(token: str) -> str | None:
    """The stored hash the token points at, or None if forged, mangled or expired."""
    max_age = current_app.config["MANAGE_TOKEN_MAX_AGE_DAYS"] * 86400
    try:
        secret = _serializer().loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(secret, str):
        return None
    return sha256_hex(secret)
