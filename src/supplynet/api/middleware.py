"""Pure ASGI middleware: request size limit, per-client rate limit (token bucket), metrics timing,
security headers.

The ingest route keeps its own limits (its admission, body cap and timeouts), so it is left out here.
A client is its *verified* principal (the API token's id, once the token checks out), else its
address: a made-up ``Authorization`` header per request is limited like no header at all. Metric
labels are bounded: an unknown HTTP method is ``other`` and an unknown path ``unmatched``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..errors import ConfigError
from .problems import problem

__all__ = ["CSP", "Limits", "LimitsMiddleware", "MetricsMiddleware", "SecurityHeaders"]

_EXEMPT = ("/v1/ingest",)


class Limits:
    """``max_body_bytes`` per request; ``rate_per_s`` and ``burst`` per client (token or address)."""

    def __init__(self, max_body_bytes: int = 1 << 20, rate_per_s: float = 200.0, burst: float = 400.0):
        if max_body_bytes <= 0 or rate_per_s <= 0 or burst < 1:
            raise ConfigError("max_body_bytes and rate_per_s must be > 0 and burst >= 1")
        self.max_body_bytes = max_body_bytes
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._buckets: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            b = self._buckets.get(key)
            if b is None:
                if len(self._buckets) > 10_000:
                    self._buckets.clear()
                b = self._buckets[key] = [self.burst, now]
            b[0] = min(self.burst, b[0] + (now - b[1]) * self.rate_per_s)
            b[1] = now
            if b[0] >= 1.0:
                b[0] -= 1.0
                return 0.0
            return (1.0 - b[0]) / self.rate_per_s


def _client_key(scope: dict[str, Any]) -> str:
    """``p:<token id>`` for a request whose bearer token verifies, else ``a:<client address>``."""
    for k, v in scope.get("headers", ()):
        if k == b"authorization":
            scheme, _, token = v.decode("latin-1").partition(" ")
            control = getattr(getattr(scope.get("app"), "state", None), "control", None)
            if scheme.lower() == "bearer" and token and control is not None:
                try:
                    return "p:" + control.tokens.authenticate(token.strip()).token_id
                except Exception:  # not a valid token: limited by address (the route answers 401)
                    pass
            break
    client = scope.get("client")
    return f"a:{client[0] if client else '?'}"


class LimitsMiddleware:
    def __init__(self, app: Any, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_EXEMPT):
            await self.app(scope, receive, send)
            return
        wait = self.limits.take(_client_key(scope))
        if wait > 0:
            await problem(429, f"rate limit of {self.limits.rate_per_s:g} requests/s exceeded; retry later",
                          code="rate_limited", headers={"Retry-After": str(max(1, round(wait + 0.5)))})(scope, receive,
                                                                                                       send)
            return
        cap = self.limits.max_body_bytes
        for k, v in scope.get("headers", ()):
            if k == b"content-length" and v.isdigit() and int(v) > cap:
                await problem(413, f"request body over {cap} bytes", code="too_large")(scope, receive, send)
                return
        if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
            body = bytearray()
            more = True
            while more:
                msg = await receive()
                if msg["type"] != "http.request":
                    return
                body += msg.get("body", b"")
                more = msg.get("more_body", False)
                if len(body) > cap:
                    await problem(413, f"request body over {cap} bytes", code="too_large")(scope, receive, send)
                    return
            sent = False

            async def replay() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": bytes(body), "more_body": False}
                return await receive()

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: the dashboard's policy: its own script and styles only (inline ``style`` attributes are allowed:
#: the dashboard draws legend swatches with them), API calls to itself, never framed
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
#: the API reference (/docs): Swagger UI from the package's vendored copy, its init script a file too;
#: Swagger UI sets inline styles and highlights code in a worker, nothing leaves this server
CSP_DOCS = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self'; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")
_COMMON = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"no-referrer")]


class SecurityHeaders:
    """Content-Security-Policy, X-Frame-Options DENY, X-Content-Type-Options nosniff and
    Referrer-Policy no-referrer on every response (problems, 429s, static files, the dashboard)."""

    def __init__(self, app: Any):
        self.app = app
        self._csp = [(b"content-security-policy", CSP.encode()), *_COMMON]
        self._csp_docs = [(b"content-security-policy", CSP_DOCS.encode()), *_COMMON]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._csp_docs if scope["path"] == "/docs" else self._csp

        async def send_with_headers(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                names = {k.lower() for k, _ in msg.get("headers", ())}
                msg["headers"] = [*msg.get("headers", ()), *((k, v) for k, v in extra if k not in names)]
            await send(msg)

        await self.app(scope, receive, send_with_headers)


class MetricsMiddleware:
    def __init__(self, app: Any, metrics: Any):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def send_status(msg: dict[str, Any]) -> None:
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or ("static" if scope["path"].startswith("/static") else "unmatched")
            method = scope.get("method", "GET")
            if method not in _METHODS:
                method = "other"  # a made-up method is one label value, not one per spelling
            if not path.startswith("/v1/stream"):
                self.metrics.latency.labels(method, path).observe(time.perf_counter() - t0)
            self.metrics.requests.labels(method, path, str(status[0])).inc()
