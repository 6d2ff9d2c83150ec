"""Secrets handed out (patient manage links, API tokens): stored only as hashes."""
from __future__ import annotations

import hashlib
import secrets

from flask import current_app
from itsdangerous import BadData, BadSignature, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

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


def _one_spelling(token: str) -> bool:
    """Base64 leaves spare bits in the signature's last character, so "...B" and "...A" can
    carry the same signature: only the spelling we issued opens the appointment."""
    signature = token.rpartition(".")[2]
    try:
        return base64_encode(base64_decode(signature)).decode() == signature
    except BadData:
        return False


def manage_secret(token: str) -> str | None:
    """The secret inside a patient's link, or None if forged, mangled or expired."""
    if not _one_spelling(token):
        return None
    max_age = current_app.config["MANAGE_TOKEN_MAX_AGE_DAYS"] * 86400
    try:
        secret = _serializer().loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None
    return secret if isinstance(secret, str) else None


def manage_secret_hash(token: str) -> str | None:
    """The stored hash the token points at, or None if forged, mangled or expired."""
    secret = manage_secret(token)
    return None if secret is None else sha256_hex(secret)
