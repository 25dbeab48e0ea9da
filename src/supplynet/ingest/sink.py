"""Send canonical events through the gate as a device would: a fleet :class:`Sink` for the
ingestion path (``fleet`` -> sealed envelopes -> gate -> log), and the helpers behind it.

Events already carry SI units and their own ``(source, seq)``; they become readings with canonical
field names and an absolute ``ts``, packed one envelope per run of consecutive sequence numbers.
Only device kinds travel this way (position, condition, machine_reading, stock_count, sale).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..events import EventBase, to_utc
from ..security.devices import Credential
from .envelope import DEVICE_KINDS, seal
from .gate import Gate

__all__ = ["GateSink", "events_to_readings", "seal_events"]

MAX_PER_ENVELOPE = 1000


def events_to_readings(events: Sequence[EventBase]) -> list[dict[str, Any]]:
    out = []
    for e in events:
        d = e.model_dump(mode="json", exclude_none=True, exclude={"v", "source", "seq"})
        out.append(d)
    return out


def seal_events(cred: Credential, events: Sequence[EventBase], now: datetime | None = None) -> list[bytes]:
    """Envelopes for ``events`` of one device (sorted by seq; split where seq jumps)."""
    evs = sorted(events, key=lambda e: e.seq)
    ts = now or datetime.now(UTC)
    out: list[bytes] = []
    i = 0
    while i < len(evs):
        j = i + 1
        while j < len(evs) and j - i < MAX_PER_ENVELOPE and evs[j].seq == evs[j - 1].seq + 1:
            j += 1
        out.append(seal(cred.device_id, cred.kid, cred.private_key, evs[i].seq, ts, events_to_readings(evs[i:j])))
        i = j
    return out


class GateSink:
    """A fleet sink that sends each device's events as envelopes sealed with its credential
    (:func:`seal_events`) through ``gate`` on ``flush``: the path a real device takes.

    Events of a source without a credential, or of a kind no device sends (site systems' shipment,
    production and maintenance records), go to ``systems`` (another sink, e.g. the log directly)
    when one is given, else they are dropped and counted in ``skipped``. ``outcomes`` counts what
    the gate did with every envelope (stored, late, quarantined, refused), ``reasons`` the reason
    codes. The envelopes are stamped with ``clock()`` (a timezone-aware datetime; default: the
    gate's clock).
    """

    def __init__(self, gate: Gate, credentials: Mapping[str, Credential], systems: Any = None,
                 clock: Callable[[], datetime] | None = None, adapter: str = "fleet"):
        self.gate = gate
        self.credentials = dict(credentials)
        self.systems = systems
        self.clock = clock or (lambda: datetime.fromtimestamp(self.gate.clock(), UTC))
        self.adapter = adapter
        self._pending: list[bytes] = []
        self.outcomes: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.skipped = 0

    @property
    def creds(self) -> dict[str, Credential]:
        return self.credentials

    def send(self, source: str, events: list[EventBase]) -> None:
        cred = self.credentials.get(source)
        if cred is None or any(e.kind not in DEVICE_KINDS for e in events):  # type: ignore[attr-defined]
            if self.systems is not None:
                self.systems.send(source, events)
                return
            device = [e for e in events if e.kind in DEVICE_KINDS] if cred else []  # type: ignore[attr-defined]
            self.skipped += len(events) - len(device)
            events = device
        if cred is not None and events:
            self._pending.extend(seal_events(cred, events, to_utc(self.clock())))

    def flush(self) -> None:
        flush = getattr(self.systems, "flush", None)
        if flush:
            flush()
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        for o in self.gate.submit(batch, self.adapter):
            self.outcomes[o.status] += 1
            if o.reason:
                self.reasons[o.reason] += 1
