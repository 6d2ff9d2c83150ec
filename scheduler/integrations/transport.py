"""What every transport (Twilio, SMTP, the console) answers: delivered to the provider, or why not."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Handed:
    """The provider took the message (it is not yet delivered: Twilio reports that later)."""

    backend: str  # "twilio", "smtp" or "console" (recorded only, never really sent)
    provider_message_id: str | None


class SendFailed(Exception):
    """The provider refused or could not be reached.

    `transient` failures (network, timeouts, 429, 5xx, SMTP 4xx) are retried with backoff;
    the others (an opted-out or invalid number, SMTP 5xx) fail the message at once.
    """

    def __init__(self, code: str, detail: str, *, transient: bool):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail[:400]
        self.transient = transient
