"""The outbox dispatcher: delivers the actions decisions wrote to the outbox, to the sinks of the
sinks file, at least once.

A decision and its outbox rows commit in one transaction (:meth:`OutboxTable.enqueue_tx`); the
dispatcher works apart from it: it *claims* a batch of due rows (pushing them a lease into the
future, so a second dispatcher leaves them alone), delivers them, and records what happened
(:meth:`OutboxTable.settle`). A dispatcher killed mid-delivery leaves its rows due again when the
lease ends: a receiver may see an action twice, never zero times; the ``Idempotency-Key`` (the
action id) lets it drop the repeat, and the bytes are the same every time.

Failures back off exponentially with jitter ("equal jitter": half the delay fixed, half random;
AWS Architecture Blog, *Exponential Backoff And Jitter*, 2015): the n-th retry waits about
``backoff_s * 2**(n-1)``, at most ``backoff_max_s``, or what the receiver asked for (HTTP
``Retry-After``). After ``max_attempts`` tries a row is a dead letter; a webhook's 4xx other than
408/429 makes it one at once. A dead letter raises an alert: an ``Alert`` event
(``code=dead_letter``, severity critical, source ``supplynet.outbox``) in the log, which ``supplynet
run`` sends like every alert to the sinks that take alerts (a dead alert about a dead letter raises
none: no chain). ``supplynet outbox resend`` sends a dead letter again.

Webhook secrets: ``secret_env`` names the environment variable holding the sink's HMAC secret;
without it the sink gets its own random secret, kept in the store sealed under the vault key
(:func:`sink_secret`; ``supplynet outbox secret NAME`` prints it for the receiver's side).
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ParameterError, SecurityError, StoreUnavailable
from ..events import Alert
from ..security.platform import platform_key
from ..security.signing import OperatorKey
from ..store.outbox import OutboxRow
from ._transports import FileTransport, MqttTransport, Outcome, WebhookTransport
from .sinks import SinksConfig, SinkSpec

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ALERT_SOURCE", "Dispatcher", "backoff_s", "sink_secret"]

log = logging.getLogger(__name__)

ALERT_SOURCE = "supplynet.outbox"
_VAULT_KID = "webhook-hmac"


def backoff_s(spec: SinkSpec, attempts: int, rng: random.Random) -> float:
    """Pause before the next try after ``attempts`` failed ones (equal jitter, capped)."""
    delay = min(spec.backoff_max_s, spec.backoff_s * 2.0 ** max(attempts - 1, 0))
    return delay / 2 + rng.uniform(0, delay / 2)


def sink_secret(store: Store, spec: SinkSpec, *, vault: Any | None = None, create: bool = True,
                home: str | Path | None = None) -> bytes:
    """The HMAC secret of a webhook sink: ``$secret_env``'s value, or the sink's own secret sealed in
    the store under the vault key (made on first use when ``create``; the vault key as
    :func:`~supplynet.security.vault.default_vault` finds it in ``home``)."""
    if spec.secret_env:
        value = os.environ.get(spec.secret_env, "")
        if not value:
            raise ConfigError(f"sink {spec.name}: secret_env {spec.secret_env} is not set (export it, or drop "
                              f"secret_env to keep a per-sink secret in the vault)")
        return value.encode()
    from ..security.vault import default_vault

    vault = vault or default_vault(create=create, home=home)
    table = store.sink_secrets
    kept = table.get(spec.name)
    if kept is None:
        if not create:
            raise SecurityError(f"sink {spec.name}: no secret kept yet (the dispatcher makes one on first start)")
        sealed = vault.seal(secrets.token_urlsafe(32).encode(), f"sink:{spec.name}", _VAULT_KID)
        kept = table.put_if_absent(spec.name, sealed, vault.key_id, time.time_ns() // 1000)
    try:
        return vault.open(kept[0], f"sink:{spec.name}", _VAULT_KID)
    except SecurityError as exc:
        raise SecurityError(f"sink {spec.name}: its sealed webhook secret does not open with this vault key "
                            f"({vault.source}); use the vault key that sealed it (key id {kept[1]})") from exc


def _now_us(now: float | datetime | None) -> int:
    if now is None:
        return time.time_ns() // 1000
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ParameterError("now must be timezone-aware")
        return int(now.timestamp() * 1_000_000)
    return int(now * 1_000_000)


class Dispatcher:
    """Delivers due outbox rows of ``store`` to the sinks of ``sinks_config``.

    ``batch``: rows claimed per round; ``lease_s``: how long a claimed row is left alone by other
    dispatchers; ``workers``: concurrent webhook requests per sink; ``vault``, ``key``: the vault for
    sealed webhook secrets and the platform key for MQTT commands (default: found as
    :mod:`supplynet.security.vault` and :mod:`supplynet.security.platform` say); ``seed``: of the jitter.
    """

    def __init__(self, store: Store, sinks_config: SinksConfig, *, batch: int = 500, lease_s: float = 60.0,
                 workers: int = 8, vault: Any | None = None, key: OperatorKey | None = None,
                 home: str | Path | None = None, seed: int | None = None):
        self.store, self.config = store, sinks_config
        self.table = store.outbox
        self.batch, self.lease_us = int(batch), int(lease_s * 1_000_000)
        self.rng = random.Random(seed)
        self.totals: Counter[str] = Counter()
        self._transports: dict[str, Any] = {}
        self._sinks_pool = ThreadPoolExecutor(max_workers=max(1, len(sinks_config.sinks)),
                                              thread_name_prefix="outbox-sink")
        for spec in sinks_config.sinks:
            if spec.kind == "webhook":
                self._transports[spec.name] = WebhookTransport(spec, sink_secret(store, spec, vault=vault, home=home),
                                                                 workers)
            elif spec.kind == "file":
                self._transports[spec.name] = FileTransport(spec)
            else:
                from urllib.parse import urlsplit

                from ..config import Settings

                if key is None:
                    key = platform_key(home=home)
                st = Settings()
                parts = urlsplit(spec.broker) if spec.broker else None
                host = (parts.hostname if parts else None) or st.mqtt_host
                port = (parts.port if parts else None) or st.mqtt_port
                password = None
                if spec.password_env:
                    password = os.environ.get(spec.password_env)
                    if not password:
                        raise ConfigError(f"sink {spec.name}: password_env {spec.password_env} is not set")
                self._transports[spec.name] = MqttTransport(spec, key, host, port, password)

    def run_once(self, now: float | datetime | None = None) -> dict[str, int]:
        """One round: claim the due rows, deliver them, record the outcomes; returns counts
        (``claimed``, ``delivered``, ``retried``, ``dead``)."""
        now_us = _now_us(now)
        counts = {"claimed": 0, "delivered": 0, "retried": 0, "dead": 0}
        if not self.table.due(now_us, 1):  # a read: an idle dispatcher takes no write lock
            return counts
        rows = self.table.claim(now_us, self.batch, self.lease_us)
        counts["claimed"] = len(rows)
        if not rows:
            return counts
        by_sink: dict[str, list[OutboxRow]] = defaultdict(list)
        for r in rows:
            by_sink[r.sink].append(r)
        outcomes: list[Outcome] = []
        for group_outcomes in self._sinks_pool.map(lambda item: self._deliver(*item, now_us), by_sink.items()):
            outcomes += group_outcomes
        delivered, retry, dead, defer = [], [], [], []
        for o in outcomes:
            spec = self.config.get(o.row.sink)
            if o.result == "delivered":
                delivered.append(o.row.id)
            elif o.result == "defer" and spec is not None:
                defer.append((o.row.id, now_us + int(backoff_s(spec, o.row.attempts, self.rng) * 1_000_000)))
            elif o.result == "retry" and spec is not None and o.row.attempts + 1 < spec.max_attempts:
                pause = backoff_s(spec, o.row.attempts + 1, self.rng)
                if o.retry_after_s is not None:
                    pause = max(pause, min(o.retry_after_s, 86_400.0))
                retry.append((o.row.id, now_us + int(pause * 1_000_000), o.error))
            else:
                err = o.error if o.result == "dead" else f"{o.error} (gave up after {o.row.attempts + 1} attempts)"
                dead.append((o.row, err))
        self.table.settle(now_us=now_us, delivered=delivered, retry=retry, dead=[(r.id, e) for r, e in dead],
                          defer=defer)
        if dead:
            self._raise_alerts(dead, now_us)
        counts.update(delivered=len(delivered), retried=len(retry) + len(defer), dead=len(dead))
        self.totals.update({k: v for k, v in counts.items() if k != "claimed"})
        return counts

    def _deliver(self, sink: str, group: list[OutboxRow], now_us: int) -> list[Outcome]:
        """One sink's rows (the sinks of a round are served side by side: a slow one holds up no other)."""
        transport = self._transports.get(sink)
        if transport is None:
            return [Outcome(r, "dead", f"no sink named {sink!r} in {self.config.source}") for r in group]
        return transport.deliver(group, now_us)

    def _raise_alerts(self, dead: list[tuple[OutboxRow, str]], now_us: int) -> None:
        """An ``Alert`` in the log for each dead letter (``supplynet run`` sends alerts of the log to the
        sinks that take them); none for a dead alert about a dead letter, so a sink that is down and
        takes alerts does not start a chain of them."""
        from ..events import us_to_ts

        events = []
        for row, err in dead:
            log.warning("outbox: %s %s to %s is a dead letter: %s", row.action, row.action_id, row.sink, err)
            if row.action == "alert" and row.body.get("code") == "dead_letter":
                continue
            data = {"action_id": row.action_id, "action": row.action, "sink": row.sink,
                    "decision_id": row.decision_id, "attempts": row.attempts + 1, "error": err}
            events.append(Alert(source=ALERT_SOURCE, seq=row.id * 1000 + min(row.resends, 999), ts=us_to_ts(now_us),
                                code="dead_letter", subject=row.sink, severity="critical",
                                message=f"{row.action} {row.action_id} to sink {row.sink} is a dead letter: {err}"[:2000],
                                data=data))
        if events:
            self.store.log.append(events)

    def drain(self, within_s: float = 30.0) -> dict[str, int]:
        """Rounds while rows are due, for at most ``within_s`` seconds (what ``supplynet run
        --until-caught-up`` does before it exits, so what it decided leaves with it); rows waiting out a
        backoff stay pending for the next dispatcher. Returns the summed counts."""
        deadline = time.monotonic() + within_s
        total = {"claimed": 0, "delivered": 0, "retried": 0, "dead": 0}
        while time.monotonic() < deadline:
            counts = self.run_once()
            for k, v in counts.items():
                total[k] += v
            if not counts["claimed"]:
                break
        return total

    def run_forever(self, stop: threading.Event, idle_s: float = 0.2) -> None:
        """Rounds until ``stop`` is set; pauses ``idle_s`` when nothing was due. A database that is
        down is waited for (logged); any other error ends the loop (and should end the process)."""
        while not stop.is_set():
            try:
                counts = self.run_once()
            except StoreUnavailable as exc:
                log.error("outbox dispatcher: %s; retrying in 5 s", exc)
                stop.wait(5.0)
                continue
            if counts["claimed"] < self.batch:
                stop.wait(idle_s)

    def close(self) -> None:
        self._sinks_pool.shutdown(wait=True)
        for t in self._transports.values():
            t.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
