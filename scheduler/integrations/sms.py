"""Text messages: Twilio's own SDK, or the console when Twilio is not configured.

TWILIO_BASE_URL (default https://api.twilio.com) lets staging and the tests aim the real SDK
at a stand-in serving Twilio's published API description.
"""
from __future__ import annotations

import logging
import os
from typing import Protocol
from urllib.request import getproxies

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .transport import Handed, SendFailed

log = logging.getLogger(__name__)

TWILIO_API = "https://api.twilio.com"
# Twilio error codes that no retry can fix: the number opted out, is not a valid number,
# or cannot receive texts.
OPTED_OUT = "21610"
INVALID_NUMBER = "21211"
NOT_MOBILE = "21614"
PERMANENT_CODES = frozenset({OPTED_OUT, INVALID_NUMBER, NOT_MOBILE})


class SmsTransport(Protocol):
    backend: str

    def send(self, to: str, body: str) -> Handed: ...

    def close(self) -> None: ...


class _HttpClient(TwilioHttpClient):
    """The SDK's own HTTP client, with api.twilio.com replaced by TWILIO_BASE_URL.

    The proxy settings of the environment are read once here, not on every request (requests
    walks os.environ per call otherwise: a third of a bare SDK call's CPU)."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__(timeout=timeout, proxy=getproxies() or None)
        self.base_url = base_url.rstrip("/")
        self.session.trust_env = False
        self.session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API) and self.base_url != TWILIO_API:
            url = self.base_url + url[len(TWILIO_API):]
        return super().request(method, url, *args, **kwargs)


def classify_rest_error(status: int, code: int | None, message: str) -> SendFailed:
    """Twilio's answer -> retry or give up. 429 and 5xx are the provider's trouble; a
    refused credential (401/403) is ours and will be fixed, so it is retried too (up to the
    limit) rather than failing every message at once."""
    code_text = str(code) if code else f"http_{status}"
    if code_text in PERMANENT_CODES:
        return SendFailed(code_text, message, transient=False)
    transient = status == 429 or status >= 500 or status in (401, 403)
    return SendFailed(code_text, message, transient=transient)


class TwilioSms:
    backend = "twilio"

    def __init__(self, *, account_sid: str, auth_token: str, from_number: str = "",
                 messaging_service_sid: str = "", base_url: str = TWILIO_API,
                 status_callback: str | None = None, timeout: float = 10.0):
        if not (from_number or messaging_service_sid):
            raise ValueError("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is needed")
        self.client = Client(account_sid, auth_token, http_client=_HttpClient(base_url, timeout))
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def close(self) -> None:
        session = getattr(self.client.http_client, "session", None)
        if session is not None:
            session.close()

    def send(self, to: str, body: str) -> Handed:
        sender = {"messaging_service_sid": self.messaging_service_sid} if self.messaging_service_sid else {"from_": self.from_number}
        extra = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self.client.messages.create(to=to, body=body, **sender, **extra)
        except TwilioRestException as exc:
            raise classify_rest_error(exc.status, exc.code, str(exc.msg)) from exc
        except requests.RequestException as exc:  # connection refused, reset, timeout
            raise SendFailed("network", type(exc).__name__, transient=True) from exc
        except TwilioException as exc:  # an answer the SDK could not read
            raise SendFailed("provider", str(exc), transient=True) from exc
        return Handed(self.backend, message.sid)


class ConsoleSms:
    """No Twilio settings: the message is recorded and logged (without the number), not sent."""

    backend = "console"

    def close(self) -> None:
        pass

    def send(self, to: str, body: str) -> Handed:
        # The text may carry a private link: the sender logs the stored copy without it.
        log.debug("SMS of %d characters recorded, not sent (no Twilio settings)", len(body))
        return Handed(self.backend, None)


def sms_from_config(config) -> SmsTransport:
    sid, token = config.get("TWILIO_ACCOUNT_SID", ""), config.get("TWILIO_AUTH_TOKEN", "")
    sender = config.get("TWILIO_FROM_NUMBER", "") or config.get("TWILIO_MESSAGING_SERVICE_SID", "")
    if not (sid and token and sender):
        return ConsoleSms()
    return TwilioSms(
        account_sid=sid,
        auth_token=token,
        from_number=config.get("TWILIO_FROM_NUMBER", ""),
        messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID", ""),
        base_url=config.get("TWILIO_BASE_URL") or TWILIO_API,
        status_callback=config["PUBLIC_BASE_URL"].rstrip("/") + "/webhooks/twilio/status",
        timeout=float(config.get("TWILIO_TIMEOUT_SECONDS", 10)),
    )
