"""The gate: the one code path every adapter (MQTT, HTTP, file replay) sends messages through.

Checks, in order, each with its own reason code (:data:`REASONS`):

1. ``payload_too_large`` -- before anything is parsed;
2. ``schema`` (outer envelope) -- unauthenticated, so nothing inside the body is read yet;
3. ``unknown_device`` / ``revoked_device`` -- the registry (reloaded when it changed, so a
   revocation applies to the next message);
4. ``bad_signature`` -- Ed25519 over the body's exact bytes with a key valid now (rotation overlap),
   or HMAC-SHA256 for a device on the symmetric scheme (its secret opened with the vault key);
   a file import (adapter ``replay``) may instead be signed by a trusted operator key, for devices
   the registry may not know (history); it is not rate limited;
5. ``schema`` (body), ``binding`` (the body names another device);
6. ``clock_skew`` -- envelope time more than ``clock_skew_s`` from the gateway clock (quarantined,
   but not final: the sequence numbers stay open, and the device client seals a buffer held through
   an outage again under a fresh envelope time, each reading keeping its own time);
7. ``replayed_sequence`` / ``out_of_window_sequence`` -- every sequence number already has a
   final outcome, or the envelope jumps more than ``seq_window`` past the acknowledged one;
8. ``rate_limited`` -- per-device token bucket charged for authenticated messages, plus a looser
   bucket (``pre_verify_factor`` x the quota) on the claimed id *before* step 4, so a flood costs
   little CPU (an adapter that knows the sender from its transport charges it even before step 1:
   :meth:`Gate.admit`); the message is *refused*, not stored: the device keeps it and sends it again;
9. ``schema`` / ``unit`` / ``implausible`` / ``binding`` per reading;
10. ``time_out_of_range`` -- a reading dated after the gateway clock plus ``clock_skew_s``, or more
    than ``history_s`` before its device was provisioned (before 1970 for an operator-signed import):
    final, so a reading dated 2999 can move neither the twin's clock nor the device's late cut-off.

Quarantine rows of unauthenticated messages (no verified body) are rate limited per *origin* (the
source address an adapter passes, e.g. HTTP's client address): over ``quarantine_per_origin_s``
(burst ``quarantine_origin_burst``) the message is still counted and answered as quarantined, but
its row and raw copy are not written, so a stranger cannot fill the quarantine table.

A message that breaks the gate in a way no check foresaw is quarantined as ``schema`` (and logged
with its traceback); it never fails the other messages of its batch.

Accepted envelopes are committed to the log in one group commit (one row per envelope: plain
telemetry as columns, other readings as a list of events). Events older than the device's
event-time watermark minus ``allowed_lateness_s`` go to the late table instead. Quarantine rows, late events, counters and acknowledgements are written in one
more durable transaction; only then does :meth:`Gate.submit` return, so an adapter that
acknowledges after ``submit`` acknowledges only what is durable. Every message gets exactly one
:class:`Outcome`: ``received = stored + late + quarantined + refused`` per device.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from ..errors import IngestError, ParameterError, SecurityError
from ..events import iso_utc, us_to_ts
from ..security.devices import OPERATOR, DeviceRegistry
from ..security.signing import HMAC_SHA256, b64u_decode, fingerprint, verify, verify_mac
from .envelope import DEVICE_KINDS, IMPORT_KINDS, Body, Row, Rows, open_outer, parse_body, readings_to_rows

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["EXPLAIN", "REASONS", "Gate", "GateConfig", "Outcome", "SeqTracker", "TokenBucket"]

REASONS = (
    "payload_too_large", "schema", "unknown_device", "revoked_device", "bad_signature", "binding", "clock_skew",
    "replayed_sequence", "out_of_window_sequence", "rate_limited", "unit", "implausible", "time_out_of_range",
)
#: what each reason code means and what to do about it (``supplynet quarantine`` shows it)
EXPLAIN = {
    "payload_too_large": "the message was larger than the gate's size limit and was not read",
    "schema": "the message is not a well-formed envelope, or a reading does not fit the canonical event schema",
    "unknown_device": "no device with this id is registered (supplynet devices add)",
    "revoked_device": "the device was revoked; its messages are refused",
    "bad_signature": "the signature (Ed25519, or HMAC-SHA256 for a symmetric device) does not match the body "
                     "with any key of the device valid now (tampered, corrupted, forged, or signed with an "
                     "expired key)",
    "binding": "the device reported something it is not bound to (another device, asset, site or quantity)",
    "clock_skew": "the envelope's timestamp is too far from the gateway clock: held through an outage (the "
                  "device client seals it again with a fresh time and resends it; it is not acknowledged "
                  "until then), or the device's clock is wrong (check it)",
    "replayed_sequence": "every sequence number of the message was already processed (a replay, or a resend "
                         "after a lost acknowledgement: the data is already stored)",
    "out_of_window_sequence": "the sequence number jumps too far past the acknowledged one",
    "rate_limited": "the device sent more than its rate limit; the message was refused (the device resends it)",
    "unit": "a value's unit is unknown or is not a unit of that quantity",
    "implausible": "a value is not finite or lies outside the plausible range of its quantity",
    "time_out_of_range": "a reading is dated in the future (past the gateway clock plus the allowed skew) or "
                         "long before its device was provisioned: the device's clock or firmware is wrong",
}
log = logging.getLogger(__name__)
Status = Literal["stored", "late", "quarantined", "refused"]
Item = bytes | str | dict[str, Any]


@dataclass(frozen=True)
class GateConfig:
    max_bytes: int = 1 << 20            # a sealed envelope larger than this is refused unread
    quarantine_raw_cap: int = 4096      # raw bytes kept per quarantined message
    clock_skew_s: float = 300.0
    seq_window: int = 1 << 24           # how far past the acknowledged seq an envelope may jump
    allowed_lateness_s: float = 3600.0
    rate_per_s: float = 50.0            # messages per second per device (token bucket)
    burst: float = 200.0
    #: a looser bucket per *claimed* device id, checked before the signature: a flood costs no
    #: Ed25519 verification beyond this factor of the quota (a forger can use it up for a victim,
    #: whose messages are then refused, not lost: the device sends them again)
    pre_verify_factor: float = 3.0
    #: how long before its provisioning a device's reading may be dated (a buffer filled before it
    #: was registered); older readings are quarantined as ``time_out_of_range``
    history_s: float = 30 * 86_400.0
    #: quarantine rows of unauthenticated messages per second per origin (source address), and burst
    quarantine_per_origin_s: float = 20.0
    quarantine_origin_burst: float = 200.0

    def __post_init__(self) -> None:
        for name in ("max_bytes", "quarantine_raw_cap", "seq_window"):
            if getattr(self, name) <= 0:
                raise ParameterError(f"GateConfig.{name} must be > 0, got {getattr(self, name)}")
        for name in ("clock_skew_s", "allowed_lateness_s", "rate_per_s", "burst", "pre_verify_factor", "history_s",
                     "quarantine_per_origin_s", "quarantine_origin_burst"):
            if not getattr(self, name) > 0:
                raise ParameterError(f"GateConfig.{name} must be > 0, got {getattr(self, name)}")


class Outcome(NamedTuple):
    """What happened to one message (a named tuple: one is made per message, cheaply)."""

    status: Status
    device: str
    reason: str | None = None
    detail: str = ""
    seq: int | None = None
    last_seq: int | None = None
    events: int = 0  # events stored (log + late table)
    #: the sender should send it again: its sequence numbers have no final outcome yet (refused, or
    #: quarantined for a reason that resending can cure, such as an envelope time off the clock)
    retry: bool = False

    @property
    def accepted(self) -> bool:
        return self.status in ("stored", "late")


class TokenBucket:
    """``rate`` tokens per second up to ``capacity`` (Turner 1986's token bucket)."""

    __slots__ = ("rate", "capacity", "tokens", "stamp")

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate, self.capacity, self.tokens, self.stamp = rate, capacity, capacity, now

    def take(self, now: float, cost: float = 1.0) -> bool:
        if now > self.stamp:  # batches checked by several threads may come with slightly older clocks:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now  # time never runs backwards here (it would take tokens away)
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False

    def retry_after(self, cost: float = 1.0) -> float:
        return max(0.0, (cost - self.tokens) / self.rate)


class SeqTracker:
    """Which sequence numbers of a device have a final outcome: everything up to ``acked`` plus
    disjoint spans above it, kept sorted (``acked`` is the end-to-end acknowledgement; ``high`` the
    largest seq seen). At most ``max_spans`` spans are kept: with several workers sharing a
    device's messages each sees gaps that never fill; forgetting the oldest spans only means a
    late duplicate goes on to the log, whose own deduplication stores it once."""

    __slots__ = ("acked", "high", "los", "his", "max_spans")

    def __init__(self, acked: int = -1, max_spans: int = 4096):
        self.acked = acked
        self.high = acked
        self.los: list[int] = []  # span starts, sorted, all > acked + 1
        self.his: list[int] = []  # span ends
        self.max_spans = max_spans

    @property
    def spans(self) -> dict[int, int]:
        return dict(zip(self.los, self.his, strict=True))

    def done(self, lo: int, hi: int) -> bool:
        if hi <= self.acked:
            return True
        i = bisect_right(self.los, lo) - 1
        return i >= 0 and hi <= self.his[i]

    def mark(self, lo: int, hi: int) -> None:
        self.high = max(self.high, hi)
        if hi <= self.acked:
            return
        lo = max(lo, self.acked + 1)
        los, his = self.los, self.his
        i = bisect_left(los, lo)
        if i > 0 and his[i - 1] >= lo - 1:  # touches the span before
            i -= 1
        j = i
        while j < len(los) and los[j] <= hi + 1:  # and every span it overlaps or touches
            j += 1
        if j > i:
            lo, hi = min(lo, los[i]), max(hi, his[j - 1])
        los[i:j] = [lo]
        his[i:j] = [hi]
        if los[0] == self.acked + 1:
            self.acked = his[0]
            del los[0], his[0]
        if len(los) > self.max_spans:
            del los[0], his[0]


@dataclass
class _Accepted:
    index: int
    device: str
    body: Body
    events: list[Row] | Rows  # Rows: the column path's readings, stored as one row of columns
    late: list[Row] = field(default_factory=list)


class Gate:
    """Authenticate, validate, deduplicate and durably store device messages.

    ``store`` is a :class:`supplynet.store.Store` (its ``log`` and its SQL ``backend`` for the
    ingest tables); ``registry`` defaults to the store's device table.
    """

    def __init__(self, store: Store, registry: DeviceRegistry | None = None, *, config: GateConfig | None = None,
                 clock: Callable[[], float] = time.time, monitor: Any = None, operator_keys: Iterable[str] = ()):
        from ..store.quarantine import IngestBatch

        self.store = store
        self.config = config or GateConfig()
        self.registry = registry if registry is not None else DeviceRegistry(store.devices)
        self.tables = store.ingest
        self._batch_cls = IngestBatch
        self.clock = clock
        #: trusted operator keys (key id -> public key): they sign file imports (adapter "replay")
        self._operators = {fingerprint(k): k for k in operator_keys}
        if monitor is True:
            from .monitors import DataQualityMonitor

            def interval_of(device: str) -> float | None:
                rec = self.registry.get(device)
                return rec.report_interval_s if rec is not None else None

            hw = store.log.high_water("dq-monitor")
            monitor = DataQualityMonitor(interval_of, start_seq=0 if hw is None else hw + 1)
        self.monitor = monitor or None
        #: seconds between clock-driven monitor checks triggered by traffic (adapters may also call
        #: :meth:`run_monitors` on their own timer)
        self.monitor_every_s = 10.0
        self._monitor_run = clock()
        self._lock = threading.Lock()
        self._monitor_lock = threading.RLock()  # the monitor's state (run_monitors may come from a timer)
        self._trackers: dict[str, SeqTracker] = {d: SeqTracker(s) for d, s in self.tables.acks().items()}
        #: per device, the acknowledged seq of the last committed batch (what acked() reports)
        self._durable: dict[str, int] = {d: t.acked for d, t in self._trackers.items()}
        self._buckets: dict[str, TokenBucket] = {}
        self._pre_buckets: dict[str, TokenBucket] = {}
        self._origin_buckets: dict[str, TokenBucket] = {}  # quarantine rows per origin (unauthenticated)
        self._pre_lock = threading.Lock()  # the pre-verification buckets and admit()'s refusals
        self._early: Counter[str] = Counter()  # refusals by admit() not yet in the counters table
        self._early_seen: Counter[str] = Counter()  # ... not yet in accounting / counters
        self._watermark_us: dict[str, int] = {}
        #: per registered device (``"?"`` for unregistered ids): messages received and their outcomes
        #: (stored, late, quarantined, refused, and per reason code)
        self._accounting: dict[str, Counter[str]] = defaultdict(Counter)
        #: per reason code (and ``stored`` / ``late``): messages, for the service's metrics
        self._counters: Counter[str] = Counter()

    # -- public ------------------------------------------------------------------------------------
    def acked(self, device: str) -> int | None:
        """Highest seq up to which every message of ``device`` has a final, durable outcome."""
        a = self._durable.get(device, -1)
        return None if a < 0 else a

    def _account_key(self, device: str, authenticated: bool) -> str:
        """Counters are kept per registered or authenticated source; unauthenticated ids nobody
        registered (forged, garbage) share ``"?"``, so a stream of invented ids cannot grow memory
        or the counter table."""
        return device if authenticated or self.registry.get(device) is not None else "?"

    def operator_keys(self) -> dict[str, str]:
        """Trusted operator keys now (key id -> public key): given to the gate, or in the registry."""
        return {**self.registry.operators(int(self.clock() * 1e6)), **self._operators}

    def _operator(self, kid: str, now_us: int) -> str | None:
        return self._operators.get(kid) or self.registry.operators(now_us).get(kid)

    def run_monitors(self) -> int:
        """Check the data-quality monitor's clock-driven conditions and append its alerts to the log."""
        if self.monitor is None:
            return 0
        with self._monitor_lock:
            self._monitor_run = self.clock()
            alerts = self.monitor.check(self._monitor_run)
        if alerts:
            self.store.log.append(alerts)
        return len(alerts)

    def retry_after(self, device: str) -> float:
        b = self._buckets.get(device)
        return 1.0 if b is None else max(0.05, b.retry_after())

    def admit(self, device: str) -> bool:
        """Charge the pre-verification bucket of ``device`` for one message *before* it is read (an
        adapter that knows the sender from the transport: the MQTT topic, which the broker's ACL
        ties to the publisher); False when it is over ``pre_verify_factor`` x its quota: the message
        is then refused (counted here as received and rate limited; the device sends it again), and
        costs no parsing or signature check. Admitted messages go to :meth:`submit` with
        ``admitted=True`` so the bucket is not charged twice."""
        now = self.clock()
        if self.registry.get(device) is None:
            return True  # an unknown sender is the checks' to reject (and quarantine)
        with self._pre_lock:  # not the gate's lock: a batch being checked does not hold up the network
            if self._pre_take(device, now):
                return True
            self._early[device] += 1  # persisted with the next batch
            self._early_seen[device] += 1  # counted at the next read of accounting / counters
        return False

    def _fold_early(self) -> None:
        """Move admit()'s refusals into accounting and counters (caller holds ``_lock``)."""
        with self._pre_lock:
            early, self._early_seen = self._early_seen, Counter()
        for key, n in early.items():
            acc = self._accounting[key]
            acc["received"] += n
            acc["refused"] += n
            acc["rate_limited"] += n
            self._counters["rate_limited"] += n

    @property
    def accounting(self) -> dict[str, Counter[str]]:
        """Per registered device (``"?"`` for unregistered ids): messages received and their outcomes
        (stored, late, quarantined, refused, and per reason code)."""
        with self._lock:
            self._fold_early()
            return self._accounting

    @property
    def counters(self) -> Counter[str]:
        """Per reason code (and ``stored`` / ``late`` / ``refused``): messages, for the service's metrics."""
        with self._lock:
            self._fold_early()
            return self._counters

    def _origin_take(self, origin: str, now: float) -> bool:
        """May an unauthenticated message from ``origin`` have its quarantine row (caller holds ``_lock``)?"""
        b = self._origin_buckets.get(origin)
        if b is None:
            if len(self._origin_buckets) >= 10_000:  # bounded: forget every origin (they start full again)
                self._origin_buckets.clear()
            cfg = self.config
            b = self._origin_buckets[origin] = TokenBucket(cfg.quarantine_per_origin_s, cfg.quarantine_origin_burst, now)
        return b.take(now)

    def _pre_take(self, device: str, now: float) -> bool:
        pre = self._pre_buckets.get(device)
        if pre is None:
            f = self.config.pre_verify_factor
            pre = self._pre_buckets[device] = TokenBucket(self.config.rate_per_s * f, self.config.burst * f, now)
        return pre.take(now)

    def submit(self, items: Sequence[Item], adapter: str = "mqtt", *, admitted: bool = False,
               origin: str | None = None) -> list[Outcome]:
        """Run every message through the checks, commit what passes, record the rest; returns one
        :class:`Outcome` per message, in order, after everything is durable. ``admitted``: the
        adapter already charged each message to its sender with :meth:`admit`. ``origin``: where the
        batch came from (a client address), for the per-origin bound on quarantine rows."""
        now = self.clock()
        now_us = int(now * 1e6)
        self.registry.refresh()
        outcomes: list[Outcome | None] = [None] * len(items)
        batch = self._batch_cls()
        accepted: list[_Accepted] = []
        with self._lock:
            with self._pre_lock:
                early, self._early = self._early, Counter()
            for key, n in early.items():
                batch.count(key, "rate_limited", n)
            self._fold_early()
            seen: set[tuple[str, int]] = set()
            for i, item in enumerate(items):
                try:
                    accepted.append(self._check(i, item, now, now_us, seen, adapter, admitted))
                except _Rejected as rej:
                    outcomes[i] = self._reject(rej, item, batch, now_us, adapter, origin)
                except Exception as exc:  # a check no one foresaw: this message, not its batch
                    log.exception("gate: message %d of a %s batch broke a check; quarantined as schema", i, adapter)
                    rej = _Rejected("schema", _peek_device(item), f"unprocessable message ({type(exc).__name__})")
                    outcomes[i] = self._reject(rej, item, batch, now_us, adapter, origin)
            self._split_late(accepted)
        # one durable transaction: the log rows and the gate's tables (quarantine, late, counters,
        # acks) commit together, so a crash cannot leave acks ahead of or behind the log
        saved: dict[str, SeqTracker] | None = None
        try:
            with self.store.transaction() as tx:
                results = self._commit(accepted, tx)
                saved = self._save_trackers(accepted)
                self._outcomes(items, outcomes, accepted, results, batch, now_us, adapter)
                self.tables.record_tx(tx, batch)
        except BaseException:
            if saved is not None:
                self._trackers.update(saved)  # nothing committed: forget the marks made above
            raise
        # committed: what this transaction wrote is durable (another batch may have marked more
        # since, not yet committed: acked() reports only this)
        with self._lock:
            durable = self._durable
            for d, a in batch.acks.items():
                if a > durable.get(d, -1):
                    durable[d] = a
        if self.monitor is not None:
            with self._monitor_lock:
                self._observe(accepted, now)
        return outcomes  # type: ignore[return-value]

    def _observe(self, accepted: list[_Accepted], now: float) -> None:
        monitor = self.monitor
        assert monitor is not None
        for acc in accepted:
            rows = acc.events
            columns = getattr(rows, "columns", None)
            if columns is not None and not acc.late:  # the column path: the values as computed
                monitor.observe_columns(acc.device, rows.tus, columns, now)
            else:
                for r in rows:
                    monitor.observe_row(acc.device, r, now)
        if now - self._monitor_run >= self.monitor_every_s:
            self.run_monitors()

    def _save_trackers(self, accepted: list[_Accepted]) -> dict[str, SeqTracker]:
        out = {}
        for d in {a.device for a in accepted}:
            t = self._trackers.get(d)
            if t is not None:
                c = SeqTracker(t.acked, t.max_spans)
                c.high, c.los, c.his = t.high, list(t.los), list(t.his)
                out[d] = c
        return out

    def _outcomes(self, items: Sequence[Item], outcomes: list[Outcome | None], accepted: list[_Accepted],
                  results: list[tuple[int, int]], batch: Any, now_us: int, adapter: str) -> None:
        with self._lock:
            for acc, res in zip(accepted, results, strict=True):
                outcomes[acc.index] = self._finish(acc, res, items[acc.index], batch, now_us, adapter)
            for o in outcomes:
                assert o is not None
                key = self._account_key(o.device, o.seq is not None)
                self._accounting[key]["received"] += 1
                self._accounting[key][o.status] += 1
                self._counters[o.reason or o.status] += 1
                if o.reason is not None:
                    self._accounting[key][o.reason] += 1
                if o.status != "quarantined":
                    batch.count(key, o.reason or o.status)
            for d in {o.device for o in outcomes if o.seq is not None}:  # the devices this batch marked
                t = self._trackers.get(d)
                if t is not None and t.acked >= 0:
                    batch.acks[d] = t.acked

    # -- checks ------------------------------------------------------------------------------------
    def _check(self, i: int, item: Item, now: float, now_us: int, seen: set[tuple[str, int]],
               adapter: str, admitted: bool = False) -> _Accepted:
        cfg = self.config
        size = _size(item)
        if size > cfg.max_bytes:
            raise _Rejected("payload_too_large", _peek_device(item), f"{size} bytes > limit {cfg.max_bytes}")
        try:
            outer = open_outer(item)
        except IngestError as exc:
            raise _Rejected(exc.reason, _peek_device(item), exc.detail) from None
        dev = outer.device
        rec = self.registry.get(dev)
        operator = self._operator(outer.kid, now_us) if adapter == "replay" else None
        if rec is not None and rec.kind == OPERATOR:
            raise _Rejected("binding", dev, "an operator signs imports; it does not report readings")
        if rec is None and operator is None:
            raise _Rejected("unknown_device", dev, "device is not registered")
        if rec is not None and rec.revoked_at_us is not None:
            raise _Rejected("revoked_device", dev, "device was revoked")
        if operator is None and not admitted:  # cheap pre-check on the claimed id, before the signature
            with self._pre_lock:
                ok = self._pre_take(dev, now)
            if not ok:
                raise _Rejected("rate_limited", dev, f"over {cfg.pre_verify_factor:g}x the device's rate before "
                                                     "verification", final=False, refused=True)
        key = None
        if operator is not None:  # trusted import: signed by an operator key, not the device's
            public = operator
        else:
            assert rec is not None
            key = rec.key(outer.kid, now_us)
            if key is None:
                raise _Rejected("bad_signature", dev, f"key {outer.kid[:16]!r} is not a valid key of this device now")
            public = key.public
        try:
            sig = b64u_decode(outer.sig, canonical=True)
        except ValueError:
            raise _Rejected("bad_signature", dev, "signature is not canonical base64") from None
        if key is not None and key.scheme == HMAC_SHA256:  # symmetric device: a few us, no need to yield the lock
            try:
                secret = self.registry.secret(dev, key)
            except SecurityError as exc:
                raise _Rejected("bad_signature", dev, str(exc)) from None
            ok = verify_mac(secret, outer.body, sig)
        else:
            self._lock.release()  # libsodium's verify releases the GIL: let other batches' checks run meanwhile
            try:
                ok = verify(public, outer.body, sig)
            finally:
                self._lock.acquire()
        if not ok:
            raise _Rejected("bad_signature", dev, "signature does not match the body")
        try:
            body = parse_body(outer.body)
        except IngestError as exc:
            raise _Rejected(exc.reason, dev, exc.detail) from None
        if body.device != dev:
            raise _Rejected("binding", dev, f"signed by {dev!r} but speaks for {body.device[:64]!r}", body)
        skew = body.ts.timestamp() - now
        if abs(skew) > cfg.clock_skew_s:  # not final: a buffer held through an outage is sealed again
            raise _Rejected("clock_skew", dev, f"envelope time is {skew:+.0f} s off the gateway clock "
                                               f"(allowed ±{cfg.clock_skew_s:.0f} s)", body, final=False)
        tracker = self._tracker(dev)
        if tracker.done(body.seq, body.last_seq) or (dev, body.seq) in seen:
            raise _Rejected("replayed_sequence", dev, f"seq {body.seq}..{body.last_seq} already processed "
                                                      f"(acknowledged up to {tracker.acked})", body, final=False)
        if body.seq > max(tracker.acked, tracker.high) + cfg.seq_window:
            raise _Rejected("out_of_window_sequence", dev, f"seq {body.seq} is more than {cfg.seq_window} past "
                                                           f"the highest seen {max(tracker.acked, tracker.high)}", body)
        bucket = self._buckets.get(dev)
        if bucket is None:
            bucket = self._buckets[dev] = TokenBucket(cfg.rate_per_s, cfg.burst, now)
        if operator is None and not bucket.take(now):
            raise _Rejected("rate_limited", dev, f"over {cfg.rate_per_s:g} messages/s", body, final=False,
                            refused=True)
        try:
            events = readings_to_rows(dev, body, asset=rec.asset if rec else None, site=rec.site if rec else None,
                                      allowed_kinds=rec.allowed_kinds if rec and rec.measures else None,
                                      any_site=rec is None or rec.any_site,  # rec None: an operator's import
                                      kinds=IMPORT_KINDS if operator is not None and rec is None else DEVICE_KINDS)
        except IngestError as exc:
            raise _Rejected(exc.reason, dev, exc.detail, body) from None
        tss = events.tus if isinstance(events, Rows) else [r[1] for r in events]
        lo_us = 0 if operator is not None or rec is None else max(0, rec.created_at_us - int(cfg.history_s * 1e6))
        hi_us = now_us + int(cfg.clock_skew_s * 1e6)
        first, last = min(tss), max(tss)
        if last > hi_us or first < lo_us:
            bad = last if last > hi_us else first
            raise _Rejected("time_out_of_range", dev, f"a reading is dated {_when(bad)}, outside "
                                                      f"[{_when(lo_us)}, {_when(hi_us)}]", body)
        seen.add((dev, body.seq))
        return _Accepted(i, dev, body, events)

    def _tracker(self, device: str) -> SeqTracker:
        """The device's sequence tracker (made on its first message; not allocated per lookup)."""
        tracker = self._trackers.get(device)
        if tracker is None:
            tracker = self._trackers[device] = SeqTracker()
        return tracker

    def _split_late(self, accepted: list[_Accepted]) -> None:
        lateness_us = int(self.config.allowed_lateness_s * 1e6)
        for acc in sorted(accepted, key=lambda a: a.body.ts):
            wm = self._watermark_us.get(acc.device)
            events = acc.events
            if not events:
                continue
            tss = events.tus if isinstance(events, Rows) else [r[1] for r in events]
            if wm is not None and min(tss) < wm - lateness_us:  # some are late: split reading by reading
                on_time, late = [], []
                for r in events:  # (a column run gives its events as rows here)
                    (late if r[1] < wm - lateness_us else on_time).append(r)
                acc.events, acc.late = on_time, late
                if not on_time:
                    continue
                tss = [r[1] for r in on_time]
            self._watermark_us[acc.device] = max(wm or 0, max(tss))

    def _commit(self, accepted: list[_Accepted], tx: Any) -> list[tuple[int, int]]:
        """Append the on-time events (event-time order across envelopes) inside ``tx``;
        ``(stored, duplicates)`` per envelope."""
        order = sorted(range(len(accepted)), key=lambda k: accepted[k].body.ts)
        runs = [(accepted[k].device, accepted[k].events) for k in order if accepted[k].events]
        res = self.store.log.append_wire_batches_tx(tx, runs) if runs else []
        out: list[tuple[int, int]] = [(0, 0)] * len(accepted)
        it = iter(res)
        for k in order:
            if accepted[k].events:
                r = next(it)
                out[k] = (r.stored, r.duplicates)
        return out

    # -- outcomes ----------------------------------------------------------------------------------
    def _reject(self, rej: _Rejected, item: Item, batch: Any, now_us: int, adapter: str,
                origin: str | None = None) -> Outcome:
        body = rej.body
        if rej.refused:
            return Outcome("refused", rej.device, rej.reason, rej.detail, body.seq if body else None,
                           body.last_seq if body else None, retry=True)
        if body is not None or origin is None or self._origin_take(origin, now_us / 1e6):
            raw = _raw(item)
            batch.quarantine.append((now_us, rej.device, rej.reason, rej.detail[:1000], adapter, len(raw),
                                     raw[: self.config.quarantine_raw_cap]))
        batch.count(self._account_key(rej.device, body is not None), rej.reason)
        retry = False
        if body is not None:
            tracker = self._tracker(rej.device)
            if rej.final:  # authenticated: resending will not help, acknowledge it
                tracker.mark(body.seq, body.last_seq)
            else:  # e.g. an envelope time off the clock: the device seals it again and resends it
                retry = not tracker.done(body.seq, body.last_seq)
        return Outcome("quarantined", rej.device, rej.reason, rej.detail, body.seq if body else None,
                       body.last_seq if body else None, retry=retry)

    def _finish(self, acc: _Accepted, res: tuple[int, int], item: Item, batch: Any, now_us: int,
                adapter: str) -> Outcome:
        stored, dups = res
        body = acc.body
        for r in acc.late:
            batch.late.append((acc.device, r[0], r[1], r[2], r[3], now_us))
        self._tracker(acc.device).mark(body.seq, body.last_seq)
        if stored == 0 and dups > 0 and not acc.late:
            rej = _Rejected("replayed_sequence", acc.device, f"seq {body.seq}..{body.last_seq} already in the log",
                            body, final=False)
            return self._reject(rej, item, batch, now_us, adapter)
        status: Status = "stored" if stored else "late"
        return Outcome(status, acc.device, None, "", body.seq, body.last_seq, stored + len(acc.late))


class _Rejected(Exception):
    def __init__(self, reason: str, device: str, detail: str, body: Body | None = None, *, final: bool = True,
                 refused: bool = False):
        self.reason, self.device, self.detail, self.body = reason, device[:128], detail, body
        self.final, self.refused = final, refused


def _when(us: int) -> str:
    try:
        return iso_utc(us_to_ts(us))
    except ValueError:
        return f"{us} us since 1970"


def _size(item: Item) -> int:
    if isinstance(item, bytes):
        return len(item)
    if isinstance(item, str):
        return len(item)  # characters; >= bytes/4, and the body is checked again as bytes
    b = item.get("body") if isinstance(item, dict) else None
    return len(b) if isinstance(b, str) else 0


def _raw(item: Item) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8", "replace")
    import orjson

    try:
        return orjson.dumps(item)
    except TypeError:
        return repr(item).encode("utf-8", "replace")


def _peek_device(item: Item) -> str:
    """Best-effort device id of a message that failed before authentication (for accounting)."""
    if isinstance(item, dict):
        d = item.get("device")
        return d[:128] if isinstance(d, str) and d else "?"
    raw = item.encode("utf-8", "replace") if isinstance(item, str) else item
    head = raw[:300]
    k = head.find(b'"device":"')
    if k < 0:
        return "?"
    end = head.find(b'"', k + 10)
    if end < 0:
        return "?"
    return head[k + 10 : end].decode("utf-8", "replace")[:128] or "?"
