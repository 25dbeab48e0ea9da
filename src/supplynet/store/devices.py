"""The device registry's table (``devices``): one JSON record per device, plus a generation counter
that moves on every change so readers (the gate) reload only when something changed.

The records hold verification material only: public keys, or a symmetric device's secret sealed
under the vault key (which is not in the store) -- never a private key or a secret in plain. The
structure of a record belongs to :mod:`supplynet.security.devices`; this module only keeps it.
Every change is recorded in the audit chain in the same transaction (who: the backend's ``actor``;
what: ``device.provision``, ``device.rotate``, ``device.revoke`` or ``device.update``, with the key ids
and binding, never key material).
"""

from __future__ import annotations

import json
import time
from typing import Any

from ._sql import SqlBackend
from .audit import AuditLog

__all__ = ["SqlRegistryBackend"]


class SqlRegistryBackend:
    """:class:`supplynet.security.devices.RegistryBackend` over the store's SQL backend."""

    def __init__(self, backend: SqlBackend, *, actor: str = "supplynet"):
        """``actor``: who makes the changes through this object, as the audit chain records it."""
        self._backend = backend
        self.actor = actor

    def acting_as(self, actor: str) -> SqlRegistryBackend:
        """The same table, its changes recorded in the audit chain as made by ``actor``."""
        return SqlRegistryBackend(self._backend, actor=actor)

    def get_device(self, device_id: str) -> dict[str, Any] | None:
        rows = self._backend.query("SELECT record FROM devices WHERE device_id = ?", (device_id,))
        return json.loads(rows[0][0]) if rows else None

    def put_device(self, device_id: str, record: dict[str, Any]) -> None:
        now = time.time_ns() // 1000
        with self._backend.write() as tx:
            old = tx.execute("SELECT record FROM devices WHERE device_id = ?", (device_id,))
            action, detail = _change(json.loads(old[0][0]) if old else None, record)
            AuditLog.append_tx(tx, self.actor, action, device_id, detail, at_us=now)
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


def _change(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The audit action and detail of a record change (key ids and binding only, no key material)."""
    kids = [k.get("kid") for k in new.get("keys") or ()]
    detail = {"kind": new.get("kind"), "measures": new.get("measures"), "site": new.get("site"),
              "asset": new.get("asset"), "kids": kids}
    if old is None:
        return "device.provision", detail
    if old.get("revoked_at_us") is None and new.get("revoked_at_us") is not None:
        return "device.revoke", {"kids": kids}
    if [k.get("kid") for k in old.get("keys") or ()] != kids:
        return "device.rotate", detail
    return "device.update", detail
