"""The fleet's devices as real devices: each one has its own Ed25519 key and sends signed envelopes
through the ingestion gate (the same code path as MQTT and HTTP), checked for identity, signature,
replay, clock skew, schema, units, plausibility and binding.

Site systems (warehouse, production and maintenance systems: shipment, production and maintenance
records) are enterprise integrations, not devices; they go to ``systems`` (the log directly).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..events import EventBase, to_utc
from ..ingest.envelope import DEVICE_KINDS
from ..ingest.sink import seal_events
from ..security.devices import Credential, DeviceRegistry

__all__ = ["GateSink", "provision_fleet"]


def provision_fleet(registry: DeviceRegistry, network: Any, now_us: int) -> dict[str, Credential]:
    """Register every device of ``network`` (binding, measures, interval); returns the credentials,
    which only the devices keep."""
    creds = {}
    for d in network.devices:
        if registry.get(d.id) is not None:
            continue
        creds[d.id] = registry.provision(d.id, kind=d.kind, measures=d.measures, asset=d.bound_to.asset,
                                         site=d.bound_to.site, report_interval_s=d.report_interval_s, now_us=now_us,
                                         scheme=d.scheme)
    return creds


class GateSink:
    """Sends each device's events of a tick as signed envelopes (:func:`supplynet.ingest.sink.seal_events`)
    through ``gate``; events of sources without a credential (site systems) go to ``systems``.
    ``outcomes`` counts what the gate did with every envelope (stored, late, quarantined, refused),
    ``reasons`` the reason codes of the rest."""

    def __init__(self, gate: Any, credentials: dict[str, Credential], systems: Any, clock: Any):
        self.gate = gate
        self.creds = credentials
        self.systems = systems
        self.clock = clock
        self._sealed: list[bytes] = []
        self.outcomes: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()

    def send(self, source: str, events: list[EventBase]) -> None:
        cred = self.creds.get(source)
        if cred is None or any(e.kind not in DEVICE_KINDS for e in events):  # type: ignore[attr-defined]
            self.systems.send(source, events)
            return
        self._sealed.extend(seal_events(cred, events, to_utc(self.clock())))

    def flush(self) -> None:
        flush = getattr(self.systems, "flush", None)
        if flush:
            flush()
        if not self._sealed:
            return
        batch, self._sealed = self._sealed, []
        for o in self.gate.submit(batch, adapter="fleet"):
            self.outcomes[o.status] += 1
            if o.reason:
                self.reasons[o.reason] += 1
