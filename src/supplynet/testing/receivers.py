"""A real webhook receiver on 127.0.0.1 for tests and benchmarks: what an ERP's endpoint does.

It answers each POST with the next status of a script (then ``default_status``), keeps every request
(headers and raw body), and checks the ``X-Supplynet-Signature`` against a secret with a
constant-time compare, as a receiver should::

    with WebhookReceiver(secret=b"s3cret", script=[500, 200]) as rx:
        ...  # point a webhook sink at rx.url
        rx.wait_for(1)
        assert rx.requests[-1].signature_ok
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "WebhookReceiver", "verify_signature"]


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=<hex HMAC-SHA256 of body under secret>`` (constant time)."""
    if not header or not header.startswith("sha256="):
        return False
    want = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want.encode(), header[7:].encode())


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    signature_ok: bool | None  # None: no secret to check against


class WebhookReceiver:
    """A threaded HTTP server (HTTP/1.1, keep-alive) on ``port`` (0: a free one)."""

    def __init__(self, *, secret: bytes | None = None, script: list[int] | None = None, default_status: int = 200,
                 port: int = 0, retry_after: str | None = None, keep: bool = True):
        self.secret = secret
        self.script = list(script or [])
        self.default_status = default_status
        self.retry_after = retry_after
        self.keep = keep
        self.requests: list[Received] = []
        self.count = 0
        self._lock = threading.Lock()
        self._cv = threading.Condition(self._lock)
        rx = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rx._lock:
                    status = rx.script.pop(0) if rx.script else rx.default_status
                    ok = None if rx.secret is None else verify_signature(
                        rx.secret, body, self.headers.get("X-Supplynet-Signature"))
                    if rx.keep:
                        rx.requests.append(Received(self.path, dict(self.headers.items()), body, status, ok))
                    rx.count += 1
                    rx._cv.notify_all()
                self.send_response(status)
                if status in (429, 503) and rx.retry_after is not None:
                    self.send_header("Retry-After", rx.retry_after)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name=f"webhook-rx-{self.port}")

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        """Wait until ``n`` requests arrived in all."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self.count < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
        return True
