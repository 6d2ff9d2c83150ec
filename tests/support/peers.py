"""Real peers for the messaging tests: Prism serving Twilio's published API description, a
small HTTP sink in front of it (counts what arrives, can answer 503/429/Twilio errors for a
while), and aiosmtpd as the SMTP server."""
from __future__ import annotations

import email
import email.policy
import http.client
import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from aiosmtpd.controller import Controller

from tests.support.helpers import ROOT, free_port, require_or_skip

PRISM = ROOT / "node_modules" / ".bin" / "prism"
TWILIO_SPEC = ROOT / "node_modules" / "@twilio-alpha" / "mcp" / "twilio-oai" / "spec" / "json" / "twilio_api_v2010.json"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2  # Prism checks ^AC[0-9a-fA-F]{32}$
AUTH_TOKEN = "test-auth-token"


class Prism:
    """`prism mock` on 127.0.0.1 and a free port, serving Twilio's API v2010 description."""

    def __init__(self):
        if not (PRISM.exists() and TWILIO_SPEC.exists()):
            require_or_skip("Prism and the Twilio spec (npm ci: @stoplight/prism-cli, @twilio-alpha/mcp)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(ROOT / "test-artifacts" / f"prism-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(self.port), str(TWILIO_SPEC)],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("prism exited during start-up")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                try:
                    conn.request("GET", "/")
                    conn.getresponse().read()
                    return
                finally:
                    conn.close()
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prism did not start")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class TwilioSink:
    """A real HTTP server standing where api.twilio.com would be.

    Records every request (path, form fields). Forwards it to Prism when `upstream` is set
    (Prism checks it against Twilio's description and answers the spec's example, whose sid
    the sink makes unique), or answers a Twilio-shaped 201 itself. `fail(n, status, code)`
    makes the next n requests get that answer instead (a provider that is down)."""

    def __init__(self, upstream: str | None = None):
        self.upstream = upstream
        self.requests: list[dict] = []
        self.failures: list[tuple[int, int | None]] = []
        self.fail_until = 0.0
        self.fail_status = 503
        self.delay = 0.0  # seconds each answer takes (a slow provider)
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out at once, no delayed-ACK stall

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802 (http.server names)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, payload = sink._answer(self.path, body, dict(self.headers))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def fail(self, count: int, status: int = 503, code: int | None = None) -> None:
        with self.lock:
            self.failures.extend([(status, code)] * count)

    def fail_for(self, seconds: float, status: int = 503) -> None:
        with self.lock:
            self.fail_until = time.monotonic() + seconds
            self.fail_status = status

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.failures.clear()
            self.fail_until = 0.0
            self.delay = 0.0

    def _answer(self, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        with self.lock:
            failure = self.failures.pop(0) if self.failures else None
            if failure is None and time.monotonic() < self.fail_until:
                failure = (self.fail_status, None)
            record = {"path": path, "form": form, "failed": failure is not None, "sid": None}
            self.requests.append(record)
        if self.delay:
            time.sleep(self.delay)
        if failure is not None:
            status, code = failure
            return status, {"code": code or status * 100, "message": "refused by the test sink", "status": status}
        if self.upstream:
            host, port = self.upstream.removeprefix("http://").split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            try:
                conn.request("POST", path, body=body, headers={k: v for k, v in headers.items() if k.lower() != "host"})
                response = conn.getresponse()
                payload = json.loads(response.read() or b"{}")
                status = response.status
            finally:
                conn.close()
        else:
            status, payload = 201, {"account_sid": ACCOUNT_SID, "status": "queued", "to": form.get("To"),
                                    "body": form.get("Body"), "num_segments": "1"}
        if status == 201:
            payload["sid"] = "SM" + uuid.uuid4().hex
            record["sid"] = payload["sid"]  # the id the sender stores: ties a row to what arrived
        return status, payload

    def delivered(self) -> list[dict]:
        """The requests that were accepted (not answered with a failure)."""
        with self.lock:
            return [r for r in self.requests if not r["failed"]]

    def bodies_per_recipient(self) -> Counter:
        return Counter((r["form"].get("To"), r["form"].get("Body")) for r in self.delivered())

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class SmtpServer:
    """aiosmtpd on 127.0.0.1; `refuse(code)` makes it answer RCPT with that code."""

    def __init__(self):
        server = self
        self.received: list[email.message.EmailMessage] = []
        self.refusal: str | None = None

        class Handler:
            async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):  # noqa: N802 (aiosmtpd names)
                if server.refusal:
                    return server.refusal
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, smtp, session, envelope):  # noqa: N802
                server.received.append(email.message_from_bytes(envelope.original_content, policy=email.policy.default))
                return "250 Message accepted"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
        self.controller.start()
        self.port = self.controller.port

    def refuse(self, reply: str | None) -> None:
        self.refusal = reply

    def stop(self) -> None:
        self.controller.stop()


def twilio_settings(base_url: str) -> dict:
    return {
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+19155550100", "TWILIO_BASE_URL": base_url,
    }


def smtp_settings(port: int) -> dict:
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_STARTTLS": False, "MAIL_FROM": "clinic@example.com"}


def mime_parts(message: email.message.EmailMessage) -> dict[str, email.message.EmailMessage]:
    """content type -> part, for a received email."""
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}


def spec_path() -> Path:
    return TWILIO_SPEC
