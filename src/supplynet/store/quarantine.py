"""The ingestion gateway's tables: quarantine, late events, per-device counters and acknowledgements.

* ``quarantine``: every message the gate rejected, with its reason code, a short detail, the
  adapter it came through, its original size and its raw bytes cut to a cap;
* ``late_events``: events from verified messages that arrived later than the allowed lateness
  (kept, never dropped; unique per ``(source, seq)``);
* ``ingest_counters``: ``(device, outcome) -> n`` messages (``stored``, ``late``, a reason code ...);
* ``ingest_acks``: per device the highest sequence number up to which every message has a final,
  durable outcome (the end-to-end acknowledgement sent back to devices).

One :meth:`IngestTables.record` call writes a gate batch's rows in one durable transaction;
:meth:`IngestTables.record_tx` writes them inside the gate's own (:meth:`supplynet.store.Store.transaction`),
together with the log's ``append_wire_batches_tx``: one durable commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._sql import SqlBackend, Tx

__all__ = ["IngestBatch", "IngestTables", "QuarantineRow"]


@dataclass(frozen=True)
class QuarantineRow:
    id: int
    at_us: int
    device: str
    reason: str
    detail: str
    adapter: str
    size: int
    raw: bytes


@dataclass
class IngestBatch:
    """What a gate batch adds: quarantine rows ``(at_us, device, reason, detail, adapter, size, raw)``,
    late events ``(source, seq, ts_us, kind, body, received_at)``, counter increments and acks."""

    quarantine: list[tuple[int, str, str, str, str, int, bytes]] = field(default_factory=list)
    late: list[tuple[str, int, int, str, str, int]] = field(default_factory=list)
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    acks: dict[str, int] = field(default_factory=dict)

    def count(self, device: str, outcome: str, n: int = 1) -> None:
        self.counts[(device, outcome)] = self.counts.get((device, outcome), 0) + n

    def __bool__(self) -> bool:
        return bool(self.quarantine or self.late or self.counts or self.acks)


class IngestTables:
    """Narrow data access for :mod:`supplynet.ingest` (no SQL elsewhere)."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def record(self, batch: IngestBatch) -> None:
        if not batch:
            return
        with self._backend.write() as tx:
            self.record_tx(tx, batch)

    def record_tx(self, tx: Tx, batch: IngestBatch) -> None:
        """:meth:`record` inside a write transaction the caller holds."""
        if batch.quarantine:
            tx.executemany(
                "INSERT INTO quarantine (at_us, device, reason, detail, adapter, size, raw) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", batch.quarantine)
        if batch.late:
            tx.executemany(
                "INSERT INTO late_events (source, seq, ts_us, kind, body, received_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (source, seq) DO NOTHING", batch.late)
        if batch.counts:
            tx.executemany(
                "INSERT INTO ingest_counters (device, outcome, n) VALUES (?, ?, ?) "
                "ON CONFLICT (device, outcome) DO UPDATE SET n = ingest_counters.n + excluded.n",
                [(d, o, n) for (d, o), n in batch.counts.items()])
        if batch.acks:
            tx.executemany(
                "INSERT INTO ingest_acks (device, acked_seq) VALUES (?, ?) ON CONFLICT (device) DO UPDATE "
                "SET acked_seq = CASE WHEN excluded.acked_seq > ingest_acks.acked_seq "
                "THEN excluded.acked_seq ELSE ingest_acks.acked_seq END",
                sorted(batch.acks.items()))

    # -- reads -------------------------------------------------------------------------------------
    def acks(self) -> dict[str, int]:
        return {d: int(s) for d, s in self._backend.query("SELECT device, acked_seq FROM ingest_acks")}

    def counters(self, device: str | None = None) -> dict[str, dict[str, int]]:
        sql, params = "SELECT device, outcome, n FROM ingest_counters", ()
        if device is not None:
            sql, params = sql + " WHERE device = ?", (device,)
        out: dict[str, dict[str, int]] = {}
        for d, o, n in self._backend.query(sql + " ORDER BY device, outcome", params):
            out.setdefault(d, {})[o] = int(n)
        return out

    def quarantined(self, *, device: str | None = None, reason: str | None = None, limit: int = 100,
                    before_id: int | None = None) -> list[QuarantineRow]:
        where, params = _where(device=device, reason=reason)
        if before_id is not None:
            where.append("id < ?")
            params.append(before_id)
        sql = "SELECT id, at_us, device, reason, detail, adapter, size, raw FROM quarantine"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._backend.query(sql + f" ORDER BY id DESC LIMIT {int(limit)}", params)
        return [QuarantineRow(int(i), int(a), d, r, dt, ad, int(s), bytes(raw)) for i, a, d, r, dt, ad, s, raw in rows]

    def quarantine_entry(self, entry_id: int) -> QuarantineRow | None:
        rows = self._backend.query(
            "SELECT id, at_us, device, reason, detail, adapter, size, raw FROM quarantine WHERE id = ?", (entry_id,))
        return None if not rows else QuarantineRow(*(rows[0][:6]), int(rows[0][6]), bytes(rows[0][7]))

    def prune_quarantine(self, older_than_us: int, *, reason: str | None = None) -> int:
        """Delete quarantine entries recorded before ``older_than_us`` (of one reason, or all);
        returns how many. The outcome counters keep counting them (received = stored + quarantined
        + refused still holds)."""
        where, params = _where(reason=reason)
        where.append("at_us < ?")
        params.append(int(older_than_us))
        clause = " WHERE " + " AND ".join(where)
        with self._backend.write() as tx:
            n = int(tx.execute("SELECT count(*) FROM quarantine" + clause, params)[0][0])
            tx.execute("DELETE FROM quarantine" + clause, params)
        return n

    def quarantine_counts(self) -> dict[str, int]:
        return {r: int(n) for r, n in self._backend.query(
            "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY reason")}

    def late(self, sources: Iterable[str] | None = None, limit: int = 1000) -> list[tuple[str, int, int, str, str]]:
        where, params = _where()
        if sources is not None:
            srcs = list(sources)
            where.append(f"source IN ({', '.join('?' * len(srcs))})")
            params += srcs
        sql = "SELECT source, seq, ts_us, kind, body FROM late_events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [(s, int(q), int(t), k, b) for s, q, t, k, b in
                self._backend.query(sql + f" ORDER BY ts_us, source, seq LIMIT {int(limit)}", params)]

    def late_count(self) -> int:
        return int(self._backend.query("SELECT count(*) FROM late_events")[0][0])


def _where(**eq: Any) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for k, v in eq.items():
        if v is not None:
            where.append(f"{k} = ?")
            params.append(v)
    return where, params

