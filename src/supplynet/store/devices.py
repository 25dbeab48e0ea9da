"""The device registry's table (``devices``): one JSON record per device, plus a generation counter
that moves on every change so readers (the gate) reload only when something changed.

The records hold verification material only: public keys, or a symmetric device's secret sealed
under the vault key (which is not in the store) -- never a private key or a secret in plain. The
structure of a record belongs to :mod:`supplynet.security.devices`; this module only keeps it.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ._sql import SqlBackend

__all__ = ["SqlRegistryBackend"]


class SqlRegistryBackend:
    """:class:`supplynet.security.devices.RegistryBackend` over the store's SQL backend."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def get_device(self, device_id: str) -> dict[str, Any] | None:
        rows = self._backend.query("SELECT record FROM devices WHERE device_id = ?", (device_id,))
        return json.loads(rows[0][0]) if rows else None

    def put_device(self, device_id: str, record: dict[str, Any]) -> None:
        now = time.time_ns() // 1000
        with self._backend.write() as tx:
            gen = int(tx.execute("SELECT coalesce(max(generation), 0) FROM devices")[0][0]) + 1
            tx.execute(
                "INSERT INTO devices (device_id, record, generation, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device_id) DO UPDATE SET record = excluded.record, "
                "generation = excluded.generation, updated_at = excluded.updated_at",
                (device_id, json.dumps(record, sort_keys=True), gen, now),
            )

    def all_devices(self) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self._backend.query("SELECT record FROM devices ORDER BY device_id")]

    def devices_generation(self) -> int:
        return int(self._backend.query("SELECT coalesce(max(generation), 0) FROM devices")[0][0])
