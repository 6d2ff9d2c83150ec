"""Staff accounts and API tokens."""
from __future__ import annotations

from functools import cache

from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from scheduler.extensions import db
from scheduler.models import ApiToken, Provider, Role, User
from scheduler.services.common import audit
from scheduler.services.common.clock import now
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.common.tokens import new_secret, sha256_hex

MIN_PASSWORD_LENGTH = 10


def _provider_to_link(user: User | None, role: str, provider_id: int, fields: dict[str, str]) -> Provider | None:
    """The provider a `provider` user is to see; refuses a second user for one calendar."""
    if role != Role.PROVIDER.value:
        fields["provider"] = "Only a user with the provider role can be linked to a provider."
        return None
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        fields["provider"] = f"No provider with id {provider_id}."
        return None
    if provider.user_id is not None and (user is None or provider.user_id != user.id):
        fields["provider"] = f"{provider.name} is already linked to another user."
        return None
    return provider


def create_user(email: str, password: str, role: str, provider_id: int | None = None) -> User:
    """A staff user; a `provider` user can be linked to their provider's calendar at once.
    Commits."""
    email = email.strip().lower()
    fields: dict[str, str] = {}
    provider = None
    if provider_id is not None:
        provider = _provider_to_link(None, role, provider_id, fields)
    if role not in {r.value for r in Role}:
        fields["role"] = f"Role must be one of: {', '.join(r.value for r in Role)}."
    if len(password) < MIN_PASSWORD_LENGTH:
        fields["password"] = f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if "@" not in email:
        fields["email"] = "Please enter an email address."
    elif db.session.scalar(select(User).where(func.lower(User.email) == email)):
        fields["email"] = "A user with this email already exists."
    if fields:
        raise ValidationFailed(fields)
    user = User(
        email=email,
        password_hash=generate_password_hash(password, method="scrypt"),
        role=role,
        active=True,
        created_at=now(),
    )
    db.session.add(user)
    db.session.flush()
    audit.record(audit.SYSTEM, "user.created", user, None, {"email": user.email, "role": user.role})
    if provider is not None:
        _link(user, provider)
    db.session.commit()
    return user


def _link(user: User, provider: Provider) -> None:
    before = {"user_id": provider.user_id}
    provider.user_id = user.id
    audit.record(audit.SYSTEM, "provider.linked", provider, before, {"user_id": user.id})


def link_provider(email: str, provider_id: int) -> Provider:
    """Links an existing `provider` user to a provider: they see that calendar only. Commits."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    fields: dict[str, str] = {}
    if user is None:
        raise ValidationFailed({"email": "No such user."})
    provider = _provider_to_link(user, user.role, provider_id, fields)
    if fields:
        raise ValidationFailed(fields)
    # A user sees one provider's calendar: moving the link frees their previous one.
    for previous in db.session.scalars(select(Provider).where(Provider.user_id == user.id, Provider.id != provider.id)):
        audit.record(audit.SYSTEM, "provider.unlinked", previous, {"user_id": user.id}, {"user_id": None})
        previous.user_id = None
    db.session.flush()
    _link(user, provider)
    db.session.commit()
    return provider


@cache
def _unknown_user_hash() -> str:
    return generate_password_hash(new_secret(), method="scrypt")


def authenticate(email: str, password: str) -> User | None:
    """The active user with this email and password, else None. Reads only."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    # One password check whoever asks, so an unknown email answers no faster than a wrong password.
    matches = check_password_hash(user.password_hash if user else _unknown_user_hash(), password)
    if user is None or not user.active or not matches:
        return None
    return user


def user_for_session(session_id: str) -> User | None:
    """The user a session cookie names ("<id>:<epoch>", see User.get_id); a cookie from
    before the user's last sign-out names no one. Reads only."""
    user_id, _sep, epoch = session_id.partition(":")
    if not (user_id.isdigit() and epoch.isdigit()):
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.session_epoch == int(epoch) else None


def end_all_sessions(user: User) -> None:
    """Signing out ends every session of the user, on every device (cookies are not stored).
    Commits."""
    user.session_epoch += 1
    db.session.commit()


def issue_api_token(email: str, label: str = "") -> str:
    """Returns the bearer token once; only its hash is kept. Commits."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise ValidationFailed({"email": "No such user."})
    token = "sk_" + new_secret()
    row = ApiToken(user_id=user.id, token_hash=sha256_hex(token), label=label, created_at=now())
    db.session.add(row)
    db.session.flush()
    audit.record(audit.SYSTEM, "api_token.created", row, None, {"user_id": user.id, "label": label})
    db.session.commit()
    return token


def user_for_api_token(token: str) -> User | None:
    """The active user a bearer token names, else None; records when it was last used.
    Commits (only when the token names someone)."""
    if not token:
        return None
    row = db.session.scalar(
        select(ApiToken).where(ApiToken.token_hash == sha256_hex(token), ApiToken.revoked_at.is_(None))
    )
    if row is None or not row.user.active:
        return None
    row.last_used_at = now()
    db.session.commit()
    return row.user
