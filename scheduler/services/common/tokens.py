"""Secrets handed out (patient manage links, API tokens): stored only as hashes."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from flask import current_app
from itsdangerous import BadData, BadSignature, TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_decode, base64_encode

from scheduler.services.common.clock import now

_MANAGE_SALT = "appointment-manage-link"


def sha256_hex(secret: str) -> str:
    """The hex SHA-256 of a secret: what is stored instead of it. Reads only."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A fresh random secret (24 bytes, URL-safe). Reads only."""
    return secrets.token_urlsafe(24)


class _ClockSigner(TimestampSigner):
    """Timestamps from the application clock, so link expiry follows the same time as the rest."""

    def get_timestamp(self) -> int:
        return int(now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_MANAGE_SALT, signer=_ClockSigner)


def manage_token_for(secret: str) -> str:
    """A signed, timestamped wrapper around the random secret: the patient's private link.
    Reads only."""
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
    """The secret inside a patient's link, or None if forged, mangled or expired. Reads only."""
    if not _one_spelling(token):
        return None
    max_age = current_app.config["MANAGE_TOKEN_MAX_AGE_DAYS"] * 86400
    try:
        secret = _serializer().loads(token, max_age=max_age)
    except BadSignature:  # includes SignatureExpired
        return None
    return secret if isinstance(secret, str) else None


def manage_secret_hash(token: str) -> str | None:
    """The stored hash the token points at, or None if forged, mangled or expired. Reads only."""
    secret = manage_secret(token)
    return None if secret is None else sha256_hex(secret)


# --- a link kept in the browser's session -------------------------------------------------
# Right after booking, the session remembers the visit's link so that "back" and "Book" again
# can lead to it. The session cookie is signed, not encrypted, and must not carry a link in
# the clear: the secret is masked with a pad only the server can make (HMAC-SHA256 of the
# appointment id under SECRET_KEY, a different pad for every appointment).


def _pad(appointment_id: int, length: int) -> bytes:
    key = current_app.config["SECRET_KEY"].encode()
    blocks = b""
    counter = 0
    while len(blocks) < length:
        message = f"session-link:{appointment_id}:{counter}".encode()
        blocks += hmac.new(key, message, hashlib.sha256).digest()
        counter += 1
    return blocks[:length]


def seal_for_session(token: str, appointment_id: int) -> str:
    """The secret behind a link we just issued, masked for the session cookie. Reads only."""
    secret = _serializer().loads(token).encode()
    masked = bytes(a ^ b for a, b in zip(secret, _pad(appointment_id, len(secret)), strict=True))
    return base64.urlsafe_b64encode(masked).decode()


def unseal_from_session(sealed: object, appointment_id: int, token_hash: str) -> str | None:
    """A fresh link to the appointment, if `sealed` holds the secret whose hash it stores.
    Reads only."""
    if not isinstance(sealed, str):
        return None
    try:
        masked = base64.urlsafe_b64decode(sealed.encode())
    except (ValueError, binascii.Error):
        return None
    secret = bytes(a ^ b for a, b in zip(masked, _pad(appointment_id, len(masked)), strict=True))
    try:
        text = secret.decode()
    except UnicodeDecodeError:
        return None
    if not hmac.compare_digest(sha256_hex(text), token_hash):
        return None
    return manage_token_for(text)
