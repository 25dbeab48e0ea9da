"""The brain's tables: the loop's checkpoint, its leader lease, and the network the store runs.

* ``loop_checkpoints(name, log_offset, clock_us, updated_at)``: how far the loop named ``name`` has
  folded the log and decided (written in the same transaction as the decisions, see
  :func:`supplynet.decide.record.record`); the loop's lag is the log head minus ``log_offset``.
* ``loop_lease(name, holder, epoch, expires_at)``: who leads. A new leader bumps ``epoch``; every
  transaction that acts checks, under the write lock, that the row still names it (fencing: a leader
  that lost the lease cannot commit a decision after another took over).
* ``loop_state(name, log_offset, blob, created_at)``: the decision makers' state (their sensors and
  trackers) saved with each twin snapshot, so a restart resumes them where the snapshot resumes the twin.
* ``store_network(sha256, content, name, recorded_at)``: the network file the store was first run
  with; later commands without ``--network`` use it, a different one is refused unless updated.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from ..errors import StoreError
from ._sql import SqlBackend, Tx

__all__ = ["BrainTables", "Checkpoint", "NetworkRecord", "NotLeader", "network_sha256"]


class NotLeader(StoreError):
    """This process no longer holds the loop's lease (another took over)."""

    code = "not_leader"


@dataclass(frozen=True)
class Checkpoint:
    name: str
    offset: int
    clock_us: int
    updated_at: int


@dataclass(frozen=True)
class NetworkRecord:
    sha256: str
    content: str
    name: str
    recorded_at: int


def network_sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def _now_us() -> int:
    return time.time_ns() // 1000


class BrainTables:
    """Narrow data access for the loop's service (``supplynet run``) and the commands that read its state."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    # -- checkpoints ------------------------------------------------------------------------------
    @staticmethod
    def set_checkpoint_tx(tx: Tx, name: str, offset: int, clock_us: int) -> None:
        tx.execute("INSERT INTO loop_checkpoints (name, log_offset, clock_us, updated_at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET log_offset = excluded.log_offset, clock_us = excluded.clock_us, "
                   "updated_at = excluded.updated_at", (name, int(offset), int(clock_us), _now_us()))

    def checkpoint(self, name: str) -> Checkpoint | None:
        rows = self._backend.query("SELECT name, log_offset, clock_us, updated_at FROM loop_checkpoints "
                                   "WHERE name = ?", (name,))
        return Checkpoint(rows[0][0], int(rows[0][1]), int(rows[0][2]), int(rows[0][3])) if rows else None

    # -- the leader lease -------------------------------------------------------------------------
    def acquire(self, name: str, holder: str, ttl_s: float) -> int | None:
        """Take the lease when it is free, expired or already ours; returns the new epoch (None: another
        process holds it)."""
        now = _now_us()
        with self._backend.write() as tx:
            rows = tx.execute("SELECT holder, epoch, expires_at FROM loop_lease WHERE name = ?", (name,))
            if rows and rows[0][0] != holder and int(rows[0][2]) > now:
                return None
            epoch = int(rows[0][1]) + 1 if rows else 1
            tx.execute("INSERT INTO loop_lease (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                       "(name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, "
                       "expires_at = excluded.expires_at", (name, holder, epoch, now + int(ttl_s * 1e6)))
        return epoch

    def take_over(self, name: str, holder: str, ttl_s: float) -> int:
        """Take the lease whoever holds it (the caller won an election held elsewhere, e.g. a PostgreSQL
        advisory lock); returns the new epoch."""
        now = _now_us()
        with self._backend.write() as tx:
            rows = tx.execute("SELECT epoch FROM loop_lease WHERE name = ?", (name,))
            epoch = int(rows[0][0]) + 1 if rows else 1
            tx.execute("INSERT INTO loop_lease (name, holder, epoch, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                       "(name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, "
                       "expires_at = excluded.expires_at", (name, holder, epoch, now + int(ttl_s * 1e6)))
        return epoch

    @staticmethod
    def check_lease_tx(tx: Tx, name: str, holder: str, epoch: int, ttl_s: float) -> None:
        """Inside a write transaction: raise :class:`NotLeader` unless ``holder`` still holds the lease at
        ``epoch``; renews it for ``ttl_s``."""
        rows = tx.execute("SELECT holder, epoch FROM loop_lease WHERE name = ?", (name,))
        if not rows or rows[0][0] != holder or int(rows[0][1]) != epoch:
            who = f"{rows[0][0]} (epoch {rows[0][1]})" if rows else "nobody"
            raise NotLeader(f"the loop {name!r} is now led by {who}, not {holder}; this process stops deciding")
        tx.execute("UPDATE loop_lease SET expires_at = ? WHERE name = ?", (_now_us() + int(ttl_s * 1e6), name))

    def release(self, name: str, holder: str) -> None:
        with self._backend.write() as tx:
            tx.execute("UPDATE loop_lease SET expires_at = 0 WHERE name = ? AND holder = ?", (name, holder))

    def lease(self, name: str) -> tuple[str, int, int] | None:
        rows = self._backend.query("SELECT holder, epoch, expires_at FROM loop_lease WHERE name = ?", (name,))
        return (rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None

    # -- the decision makers' state beside the twin's snapshot --------------------------------------
    def save_state(self, name: str, offset: int, blob: bytes) -> None:
        with self._backend.write() as tx:
            tx.execute("INSERT INTO loop_state (name, log_offset, blob, created_at) VALUES (?, ?, ?, ?) ON CONFLICT "
                       "(name) DO UPDATE SET log_offset = excluded.log_offset, blob = excluded.blob, "
                       "created_at = excluded.created_at", (name, int(offset), bytes(blob), _now_us()))

    def state(self, name: str) -> tuple[int, bytes] | None:
        rows = self._backend.query("SELECT log_offset, blob FROM loop_state WHERE name = ?", (name,))
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    # -- the network the store runs ---------------------------------------------------------------
    def network(self) -> NetworkRecord | None:
        rows = self._backend.query("SELECT sha256, content, name, recorded_at FROM store_network WHERE id = 1")
        return NetworkRecord(rows[0][0], rows[0][1], rows[0][2], int(rows[0][3])) if rows else None

    def record_network(self, content: str, name: str, *, replace: bool = False) -> tuple[NetworkRecord, bool]:
        """Record the network's file content; returns the record and whether it was written. An existing
        different network is kept unless ``replace`` (compare-and-set under the write lock)."""
        sha = network_sha256(content)
        now = _now_us()
        with self._backend.write() as tx:
            rows = tx.execute("SELECT sha256, content, name, recorded_at FROM store_network WHERE id = 1")
            if rows and (rows[0][0] == sha or not replace):
                return NetworkRecord(rows[0][0], rows[0][1], rows[0][2], int(rows[0][3])), False
            tx.execute("INSERT INTO store_network (id, sha256, content, name, recorded_at) VALUES (1, ?, ?, ?, ?) "
                       "ON CONFLICT (id) DO UPDATE SET sha256 = excluded.sha256, content = excluded.content, "
                       "name = excluded.name, recorded_at = excluded.recorded_at", (sha, content, name, now))
        return NetworkRecord(sha, content, name, now), True
