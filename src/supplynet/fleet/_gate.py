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
from ..ingest.envelope import DEVICE_KINDS, seal
from ..security.devices import Credential, DeviceRegistry

__all__ = ["GateSink", "provision_fleet", "to_reading"]

# canonical field -> the device's field name (values stay in SI, so no units are needed)
_DEVICE_NAMES = {"speed_m_s": "speed", "heading_deg": "heading", "accuracy_m": "accuracy",
                 "temperature_k": "temperature", "shock_m_s2": "shock"}
_UNITS = {"temperature": "K", "speed": "m/s", "shock": "m/s2", "accuracy": "m", "heading": "deg"}


def provision_fleet(registry: DeviceRegistry, network: Any, now_us: int) -> dict[str, Credential]:
    """Register every device of ``network`` (binding, measures, interval); returns the credentials,
    which only the devices keep."""
    creds = {}
    for d in network.devices:
        rec = registry.get(d.id)
        if rec is not None:
            continue
        creds[d.id] = registry.provision(d.id, kind=d.kind, measures=d.measures, asset=d.bound_to.asset,
                                         site=d.bound_to.site, report_interval_s=d.report_interval_s, now_us=now_us)
    return creds


def to_reading(event: EventBase) -> dict[str, Any]:
    """What a device puts in its envelope for ``event``: its fields under the device's names."""
    d = event.model_dump(mode="json", exclude={"v", "source", "seq"}, exclude_none=True)
    return {_DEVICE_NAMES.get(k, k): v for k, v in d.items()}


class GateSink:
    """Sends each device's events of a tick as one signed envelope through ``gate``; events of
    sources without a credential (site systems) go to ``systems``. ``outcomes`` counts what the
    gate did with every envelope (stored, late, quarantined, refused)."""

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
        readings = [to_reading(e) for e in events]
        units = {u: s for r in readings for u, s in _UNITS.items() if u in r}
        self._sealed.append(seal(source, cred.kid, cred.private_key, events[0].seq, to_utc(self.clock()), readings,
                                 units=units or None))

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
