"""The fleet's devices as real devices: each one has its own Ed25519 key and sends signed envelopes
through the ingestion gate (the same code path as MQTT and HTTP), checked for identity, signature,
replay, clock skew, schema, units, plausibility and binding.

Site systems (warehouse, production and maintenance systems: shipment, production and maintenance
records) are enterprise integrations, not devices; they go to ``systems`` (the log directly).
"""

from __future__ import annotations

from typing import Any

from ..ingest.sink import GateSink  # the fleet's devices send through the gate as a real device does
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
