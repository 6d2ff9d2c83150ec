"""Email over SMTP (text and HTML alternatives, the .ics attached), or the console."""
from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Protocol

from .transport import Handed, SendFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    ics: bytes | None = None
    ics_method: str | None = None  # REQUEST or CANCEL
    ics_filename: str = "appointment.ics"


class EmailTransport(Protocol):
    backend: str

    def send(self, email: Email, *, sent_at: datetime) -> Handed: ...


def build_mime(email: Email, *, mail_from: str, sent_at: datetime) -> EmailMessage:
    """multipart/mixed: multipart/alternative (text, HTML) and the calendar file, whose
    text/calendar method tells calendar clients to add (REQUEST) or remove (CANCEL) it."""
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or None)
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    if email.ics is not None:
        params = {"charset": "utf-8"}
        if email.ics_method:
            params["method"] = email.ics_method
        message.add_attachment(email.ics, maintype="text", subtype="calendar",
                               filename=email.ics_filename, params=params)
    return message


def _smtp_failure(code: int, detail: bytes | str) -> SendFailed:
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    return SendFailed(f"smtp_{code}", text, transient=400 <= code < 500)


class SmtpEmail:
    backend = "smtp"

    def __init__(self, *, host: str, port: int, username: str = "", password: str = "",
                 starttls: bool = True, mail_from: str, timeout: float = 30.0):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.starttls = starttls
        self.mail_from = mail_from
        self.timeout = timeout

    def send(self, email: Email, *, sent_at: datetime) -> Handed:
        message = build_mime(email, mail_from=self.mail_from, sent_at=sent_at)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, detail = next(iter(exc.recipients.values()))
            raise _smtp_failure(code, detail) from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not the message: retried (up to the limit) until someone fixes them.
            raise SendFailed(f"smtp_{exc.smtp_code}", "authentication refused", transient=True) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
            raise _smtp_failure(exc.smtp_code, exc.smtp_error) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnected, refused, timeout, TLS
            raise SendFailed("network", type(exc).__name__, transient=True) from exc
        return Handed(self.backend, message["Message-ID"])


class ConsoleEmail:
    """No SMTP settings: the message is recorded and logged (without the address), not sent."""

    backend = "console"

    def send(self, email: Email, *, sent_at: datetime) -> Handed:
        log.debug("Email %r recorded, not sent (no SMTP settings)", email.subject)
        return Handed(self.backend, None)


def email_from_config(config) -> EmailTransport:
    if not config.get("SMTP_HOST"):
        return ConsoleEmail()
    return SmtpEmail(
        host=config["SMTP_HOST"],
        port=int(config.get("SMTP_PORT", 587)),
        username=config.get("SMTP_USERNAME", ""),
        password=config.get("SMTP_PASSWORD", ""),
        starttls=bool(config.get("SMTP_STARTTLS", True)),
        mail_from=config["MAIL_FROM"],
        timeout=float(config.get("SMTP_TIMEOUT_SECONDS", 30)),
    )
