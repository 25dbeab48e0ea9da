"""How the dispatcher reaches each kind of sink: HTTP webhooks, MQTT commands, JSONL files.

Every transport delivers a list of outbox rows and says, per row, what happened (an
:class:`Outcome`): ``delivered``, ``retry`` (try again later), ``dead`` (never worth another try) or
``defer`` (not tried: the sink is down, see :class:`WebhookTransport`; due again later, no attempt
counted).
The bytes sent are :meth:`~supplynet.store.outbox.OutboxRow.payload`, the same on every attempt.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import http.client
import os
import re
import socket
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..security.platform import seal_command
from ..security.signing import OperatorKey
from ..store.outbox import OutboxRow
from .sinks import SinkSpec

__all__ = ["FileTransport", "MqttTransport", "Outcome", "WebhookTransport", "signature_header", "topic_for"]

USER_AGENT = "supplynet-outbox/1"


@dataclass(frozen=True)
class Outcome:
    row: OutboxRow
    result: str  # delivered | retry | dead | defer
    error: str = ""
    retry_after_s: float | None = None  # the sink asked for this pause (HTTP Retry-After)


def signature_header(secret: bytes, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of body>`` (the ``X-Supplynet-Signature`` header, as GitHub signs)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


# -- webhook ---------------------------------------------------------------------------------------------

def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


class WebhookTransport:
    """HTTP POST of each row's payload, a few at a time (``workers`` threads, each keeping its
    connection alive). 2xx: delivered; 408, 429: retry; any other 4xx: dead at once; anything else
    (3xx, 5xx, timeouts, refused connections): retry (the dispatcher makes it dead after
    ``max_attempts``). Once ``workers`` requests of a round failed to connect or timed out, the rest of
    the round is deferred untried (a dead endpoint costs one timeout per connection, not one per row)."""

    def __init__(self, spec: SinkSpec, secret: bytes, workers: int = 8):
        parts = urlsplit(spec.url or "")
        self.spec, self.secret = spec, secret
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # what messages show (viewers read them): no query string or user info, which may hold tokens
        self._shown = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path or '/'}"
        self._local = threading.local()
        self._down = 0  # requests of this round that could not reach the endpoint
        self._workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=f"webhook-{spec.name}")

    def deliver(self, rows: Sequence[OutboxRow], now_us: int) -> list[Outcome]:
        self._down = 0
        if len(rows) == 1:
            return [self._one(rows[0])]
        return list(self._pool.map(self._one, rows))

    def _conn(self, fresh: bool = False) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None or fresh:
            if c is not None:
                c.close()
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            c = cls(self._host, self._port, timeout=self.spec.timeout_s)
            self._local.conn = c
        return c

    def _post(self, body: bytes, headers: dict[str, str], fresh: bool) -> tuple[int, str | None]:
        c = self._conn(fresh)
        c.request("POST", self._path, body=body, headers=headers)
        resp = c.getresponse()
        resp.read()
        if resp.will_close:
            c.close()
            self._local.conn = None
        return resp.status, resp.getheader("Retry-After")

    def _one(self, row: OutboxRow) -> Outcome:
        if self._down >= self._workers:
            return Outcome(row, "defer", f"POST {self._shown}: not tried, the endpoint is not reachable")
        body = row.payload()
        headers = {"Content-Type": "application/json", "Idempotency-Key": row.action_id,
                   "X-Supplynet-Signature": signature_header(self.secret, body), "X-Supplynet-Action": row.action,
                   "X-Supplynet-Sink": row.sink, "User-Agent": USER_AGENT}
        reused = getattr(self._local, "conn", None) is not None
        try:
            try:
                status, after = self._post(body, headers, fresh=False)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if not reused:
                    raise
                status, after = self._post(body, headers, fresh=True)  # a kept-alive connection went stale
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            if isinstance(exc, OSError):
                self._down += 1  # refused, reset, timed out: the endpoint is down (not a bad answer)
            what = "timed out" if isinstance(exc, socket.timeout | TimeoutError) else (
                str(exc) or type(exc).__name__)
            return Outcome(row, "retry", f"POST {self._shown}: {what}")
        if 200 <= status < 300:
            return Outcome(row, "delivered")
        err = f"POST {self._shown}: HTTP {status}"
        if 400 <= status < 500 and status not in (408, 429):
            return Outcome(row, "dead", err + " (the receiver refused it: not retried)")
        return Outcome(row, "retry", err, _retry_after(after))

    def _drop(self) -> None:
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None

    def close(self) -> None:
        self._pool.shutdown(wait=True)


# -- file ------------------------------------------------------------------------------------------------

class FileTransport:
    """Appends each row's payload as one JSON line to a file in ``folder`` and fsyncs it before the
    rows count as delivered: ``actions-YYYY-MM-DD.jsonl`` by the UTC day of delivery (``rotate:
    daily``) or one ``actions.jsonl`` (``rotate: none``). A round's lines go in one locked write, so
    concurrent dispatchers never interleave inside a line; a reader takes only complete lines."""

    def __init__(self, spec: SinkSpec):
        self.spec = spec
        self.folder = Path(spec.folder or ".")

    def path_for(self, now_us: int) -> Path:
        if self.spec.rotate == "none":
            return self.folder / "actions.jsonl"
        day = datetime.fromtimestamp(now_us / 1e6, UTC).date().isoformat()
        return self.folder / f"actions-{day}.jsonl"

    def deliver(self, rows: Sequence[OutboxRow], now_us: int) -> list[Outcome]:
        path = self.path_for(now_us)
        data = b"".join(r.payload() + b"\n" for r in rows)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:  # the new file's name is durable too
                dfd = os.open(self.folder, os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
        except OSError as exc:
            return [Outcome(r, "retry", f"append to {path}: {exc.strerror or exc}") for r in rows]
        return [Outcome(r, "delivered") for r in rows]

    def close(self) -> None:
        pass


# -- mqtt ------------------------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_SITE_KEYS = ("site", "destination")
_ASSET_KEYS = ("asset_id", "asset")


def _find(body: Any, keys: tuple[str, ...]) -> str | None:
    """The first of ``keys`` in the body, or in a mapping inside it (an ``event``, ``action``, ``data``)."""
    if not isinstance(body, dict):
        return None
    for k in keys:
        v = body.get(k)
        if isinstance(v, str) and v:
            return v
    for v in body.values():
        if isinstance(v, dict):
            found = _find(v, keys)
            if found:
                return found
    return None


def topic_for(template: str, row: OutboxRow) -> str:
    """The sink's topic template filled from the row (``{site}``, ``{asset}`` are looked up in the
    body); KeyError naming the field when the action has none."""
    values = {"action": row.action, "action_id": row.action_id, "sink": row.sink}

    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            found = _find(row.body, _SITE_KEYS if name == "site" else _ASSET_KEYS)
            if not found:
                raise KeyError(name)
            values[name] = found
        return re.sub(r"[+#/\x00]", "_", values[name])

    return _PLACEHOLDER.sub(fill, template)


class MqttTransport:
    """Publishes each row as a command signed with the platform key (see
    :mod:`supplynet.security.platform`), QoS 1 by default, and counts it delivered once the broker
    acknowledged it (PUBACK). A topic that needs ``{site}`` or ``{asset}`` for an action that has
    none makes that row dead (the sinks file routes it nowhere)."""

    def __init__(self, spec: SinkSpec, key: OperatorKey, host: str, port: int, password: str | None = None):
        self.spec, self.key, self.host, self.port = spec, key, host, port
        self.password = password
        self._client: Any = None
        self._connected = threading.Event()
        self._refused = ""  # why the broker refused the last connection, if it did

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            return
        self._refused = ""
        self._connected.set()

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"supplynet-outbox-{self.spec.name}-{os.getpid()}",
                        protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(1000)
        c.reconnect_delay_set(0.2, 5)
        if self.spec.username:
            c.username_pw_set(self.spec.username, self.password)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *a: self._connected.clear()
        try:
            c.connect_async(self.host, self.port, keepalive=30)
        except (OSError, ValueError) as exc:  # pragma: no cover - connect_async rarely raises
            raise ConnectionError(str(exc)) from exc
        c.loop_start()
        self._client = c
        return c

    def deliver(self, rows: Sequence[OutboxRow], now_us: int) -> list[Outcome]:
        import paho.mqtt.client as mqtt

        c = self._connect()
        where = f"mqtt://{self.host}:{self.port}"
        if not self._connected.wait(self.spec.timeout_s):
            why = f"the broker refused the connection ({self._refused})" if self._refused else "broker not reachable"
            return [Outcome(r, "retry", f"{where}: {why}") for r in rows]
        out: list[Outcome] = []
        sent = []
        for r in rows:
            try:
                topic = topic_for(self.spec.topic or "", r)
            except KeyError as exc:
                out.append(Outcome(r, "dead", f"topic {self.spec.topic!r} needs {{{exc.args[0]}}}, which the "
                                              f"{r.action} does not name"))
                continue
            info = c.publish(topic, seal_command(self.key, r.payload()), qos=self.spec.qos)
            sent.append((r, topic, info))
        for r, topic, info in sent:
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                out.append(Outcome(r, "retry", f"{where} {topic}: {mqtt.error_string(info.rc)}"))
                continue
            try:
                info.wait_for_publish(self.spec.timeout_s)
            except (RuntimeError, ValueError) as exc:
                out.append(Outcome(r, "retry", f"{where} {topic}: {exc}"))
                continue
            if info.is_published():
                out.append(Outcome(r, "delivered"))
            else:
                out.append(Outcome(r, "retry", f"{where} {topic}: no acknowledgement within {self.spec.timeout_s:g} s"))
        return out

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
