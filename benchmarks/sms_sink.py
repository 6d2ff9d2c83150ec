"""A local HTTP sink standing where api.twilio.com would be (its own process, so it does not
share the measured process's interpreter): answers every POST like Twilio's Messages
resource, counts what arrives, and tells the time of the first and last message.

    python -m benchmarks.sms_sink PORT [LATENCY_MS]

LATENCY_MS (default 0) holds each answer that long, as a provider across the internet does
(Twilio's API answers in tens to hundreds of milliseconds); requests are answered in parallel.
"""
from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class Sink:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.first = self.last = 0.0
        self.recipients: dict[str, int] = {}

    def record(self, to: str) -> None:
        moment = time.perf_counter()
        with self.lock:
            self.count += 1
            self.first = self.first or moment
            self.last = moment
            self.recipients[to] = self.recipients.get(to, 0) + 1

    def stats(self) -> dict:
        with self.lock:
            return {"count": self.count, "seconds": self.last - self.first, "distinct": len(self.recipients),
                    "duplicates": sum(1 for n in self.recipients.values() if n > 1)}


def serve(port: int, latency_seconds: float = 0.0) -> None:
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args) -> None:
            pass

        def _answer(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server names)
            self._answer(200, sink.stats())

        def do_DELETE(self) -> None:  # noqa: N802
            with sink.lock:
                sink.reset()
            self._answer(200, {})

        def do_POST(self) -> None:  # noqa: N802
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            to = form.get("To", [""])[0]
            if latency_seconds:
                time.sleep(latency_seconds)
            sink.record(to)
            self._answer(201, {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": to,
                               "account_sid": "AC" + "0" * 32, "num_segments": "1"})

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]), float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0)
