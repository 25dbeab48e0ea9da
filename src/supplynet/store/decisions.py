"""Decisions' tables (``decisions``, ``idempotency``, ``control_settings``).

A decision is one JSON record (its structure belongs to :mod:`supplynet.decide.decision`) with a few
columns beside it for queries: ``kind``, ``status``, ``cost``, the UTC ``day`` it was made (spend per
day), an optional idempotency key (a person's request, unique: the same key makes one decision, not
two) and an optional ``dedupe_key`` (the platform's: kind, subject and trigger; unique, so a decision
the loop makes again after a restart is the row it made the first time). Its
number ``no`` is given by the database. Every write also appends an audit entry in the same
transaction.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from ..errors import DecisionError
from ._sql import SqlBackend
from .audit import AuditLog

__all__ = ["Audit", "DecisionRow", "DecisionTable"]

Audit = tuple[str, str, dict[str, Any]]  # (actor, action, detail)


@dataclass(frozen=True)
class DecisionRow:
    no: int
    id: str
    kind: str
    status: str
    cost: float
    created_at: int
    updated_at: int
    day: str
    idem_key: str | None
    record: dict[str, Any]
    dedupe_key: str | None = None


_COLS = "no, id, kind, status, cost, created_at, updated_at, day, idem_key, record"
_READ = _COLS + ", dedupe_key"


def _row(r: tuple[Any, ...]) -> DecisionRow:
    no, i, k, s, c, ca, ua, d, ik, rec, *dk = r
    return DecisionRow(int(no), i, k, s, float(c), int(ca), int(ua), d, ik, json.loads(rec), dk[0] if dk else None)


class DecisionTable:
    """Narrow data access for :mod:`supplynet.decide` and the API (no SQL elsewhere)."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def insert(self, make: Any, *, kind: str, cost: float, day: str, idem_key: str | None,
               audit: Audit | None, peers_days: tuple[str, ...] = ()) -> tuple[DecisionRow, bool]:
        """Insert a decision; ``make(no) -> (id, status, record)`` builds it from its number. Returns the
        row and True, or the existing row and False when ``idem_key`` was used before.

        ``peers_days``: ``make(no, peers) -> (id, status, record, audit)`` also gets the approved and
        executed decisions of those days, read in the same write transaction (writers are serialized),
        so rules that add decisions up (split orders, daily caps) hold under concurrent requests."""
        now = time.time_ns() // 1000
        with self._backend.write() as tx:
            if idem_key is not None:
                old = tx.execute(f"SELECT {_COLS} FROM decisions WHERE idem_key = ?", (idem_key,))
                if old:
                    return _row(old[0]), False
            nxt = tx.execute("SELECT coalesce(max(no), 0) + 1 FROM decisions")[0][0]
            if peers_days:
                marks = ", ".join("?" * len(peers_days))
                peers = [_row(r) for r in tx.execute(
                    f"SELECT {_COLS} FROM decisions WHERE day IN ({marks}) AND status IN ('approved', 'executed')",
                    peers_days)]
                did, status, record, audit = make(int(nxt), peers)
            else:
                did, status, record = make(int(nxt))
            if audit is None:
                raise DecisionError("a decision is inserted with its audit entry")
            tx.execute(f"INSERT INTO decisions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (int(nxt), did, kind, status, float(cost), now, now, day, idem_key, json.dumps(record)))
            actor, action, detail = audit
            AuditLog.append_tx(tx, actor, action, did, detail, at_us=now)
        return DecisionRow(int(nxt), did, kind, status, float(cost), now, now, day, idem_key, record), True

    def insert_many(self, items: list[tuple[Any, str, float, str, Audit]]) -> list[DecisionRow]:
        """Insert several new decisions (no idempotency keys) in ONE durable transaction: items are
        ``(make, kind, cost, day, audit)`` with ``make(no) -> (id, status, record)``."""
        now = time.time_ns() // 1000
        out = []
        with self._backend.write() as tx:
            nxt = int(tx.execute("SELECT coalesce(max(no), 0) + 1 FROM decisions")[0][0])
            for make, kind, cost, day, (actor, action, detail) in items:
                did, status, record = make(nxt)
                tx.execute(f"INSERT INTO decisions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (nxt, did, kind, status, float(cost), now, now, day, None, json.dumps(record)))
                AuditLog.append_tx(tx, actor, action, did, detail, at_us=now)
                out.append(DecisionRow(nxt, did, kind, status, float(cost), now, now, day, None, record))
                nxt += 1
        return out

    def update_many(self, items: list[tuple[DecisionRow, str, str, dict[str, Any], Audit]]) -> list[DecisionRow]:
        """Change several decisions in ONE durable transaction: items are
        ``(current row, expected status, new status, record, audit)`` (compare-and-set each)."""
        now = time.time_ns() // 1000
        out = []
        with self._backend.write() as tx:
            for cur, expect, status, record, (actor, action, detail) in items:
                n = tx.execute("SELECT status FROM decisions WHERE id = ?", (cur.id,))
                if not n or n[0][0] != expect:
                    raise DecisionError(f"decision {cur.id} is {n[0][0] if n else 'missing'}, not {expect}")
                tx.execute("UPDATE decisions SET status = ?, record = ?, updated_at = ? WHERE id = ?",
                           (status, json.dumps(record), now, cur.id))
                AuditLog.append_tx(tx, actor, action, cur.id, detail, at_us=now)
                out.append(DecisionRow(cur.no, cur.id, cur.kind, status, cur.cost, cur.created_at, now, cur.day,
                                       cur.idem_key, record))
        return out

    def update(self, decision_id: str, *, expect_status: str | tuple[str, ...], status: str,
               record: dict[str, Any], audit: Audit) -> DecisionRow:
        """Change a decision's status and record if it is still in ``expect_status`` (compare-and-set)."""
        expect = (expect_status,) if isinstance(expect_status, str) else expect_status
        now = time.time_ns() // 1000
        with self._backend.write() as tx:
            rows = tx.execute(f"SELECT {_COLS} FROM decisions WHERE id = ?", (decision_id,))
            if not rows:
                raise DecisionError(f"no decision {decision_id!r}")
            cur = _row(rows[0])
            if cur.status not in expect:
                raise DecisionError(f"decision {decision_id} is {cur.status}, not {' or '.join(expect)}")
            tx.execute("UPDATE decisions SET status = ?, record = ?, updated_at = ? WHERE id = ?",
                       (status, json.dumps(record), now, decision_id))
            actor, action, detail = audit
            AuditLog.append_tx(tx, actor, action, decision_id, detail, at_us=now)
        return DecisionRow(cur.no, cur.id, cur.kind, status, cur.cost, cur.created_at, now, cur.day, cur.idem_key,
                           record)

    def get(self, decision_id: str) -> DecisionRow | None:
        rows = self._backend.query(f"SELECT {_READ} FROM decisions WHERE id = ?", (decision_id,))
        return _row(rows[0]) if rows else None

    def list(self, *, status: str | None = None, kind: str | None = None, before_no: int | None = None,
             limit: int = 50) -> list[DecisionRow]:
        where, params = [], []
        for col, val in (("status", status), ("kind", kind)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if before_no is not None:
            where.append("no < ?")
            params.append(int(before_no))
        sql = f"SELECT {_READ} FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_row(r) for r in self._backend.query(sql + f" ORDER BY no DESC LIMIT {int(limit)}", params)]

    # -- the loop's decisions, written inside its one transaction -----------------------------------------
    @staticmethod
    def by_dedupe_tx(tx: Any, dedupe_keys: list[str]) -> dict[str, DecisionRow]:
        """The decisions already made under ``dedupe_keys`` (inside the caller's write transaction)."""
        out: dict[str, DecisionRow] = {}
        for i in range(0, len(dedupe_keys), 500):
            chunk = dedupe_keys[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            for r in tx.execute(f"SELECT {_READ} FROM decisions WHERE dedupe_key IN ({marks})", chunk):
                row = _row(r)
                out[row.dedupe_key] = row  # type: ignore[index]
        return out

    @staticmethod
    def next_no_tx(tx: Any) -> int:
        return int(tx.execute("SELECT coalesce(max(no), 0) + 1 FROM decisions")[0][0])

    @staticmethod
    def spent_tx(tx: Any, kind: str, day: str) -> float:
        rows = tx.execute("SELECT coalesce(sum(cost), 0) FROM decisions WHERE kind = ? AND day = ? AND status IN "
                          "('approved', 'executed')", (kind, day))
        return float(rows[0][0] or 0.0)

    @staticmethod
    def insert_tx(tx: Any, row: DecisionRow, audit: list[Audit]) -> None:
        """Insert a decision made by the loop (its number from :meth:`next_no_tx`) with its audit entries."""
        tx.execute(f"INSERT INTO decisions ({_READ}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (row.no, row.id, row.kind, row.status, float(row.cost), row.created_at, row.updated_at, row.day,
                    row.idem_key, json.dumps(row.record), row.dedupe_key))
        for actor, action, detail in audit:
            AuditLog.append_tx(tx, actor, action, row.id, detail, at_us=row.updated_at)

    def spent(self, kind: str, day: str) -> float:
        """Committed spend of ``kind`` on ``day``: decisions executed or approved (or auto) that day."""
        rows = self._backend.query(
            "SELECT coalesce(sum(cost), 0) FROM decisions WHERE kind = ? AND day = ? AND status IN "
            "('approved', 'executed')", (kind, day))
        return float(rows[0][0] or 0.0)

    def counts(self) -> dict[tuple[str, str], int]:
        return {(k, s): int(n) for k, s, n in self._backend.query(
            "SELECT kind, status, count(*) FROM decisions GROUP BY kind, status")}

    def loop_counts(self) -> dict[tuple[str, str], int]:
        """(kind, status) -> number of the loop's decisions (those carrying a dedupe key)."""
        return {(k, s): int(n) for k, s, n in self._backend.query(
            "SELECT kind, status, count(*) FROM decisions WHERE dedupe_key IS NOT NULL GROUP BY kind, status")}

    def version(self) -> tuple[int, int]:
        """(number of decisions, last change time): changes when anything changes (for live updates)."""
        r = self._backend.query("SELECT count(*), coalesce(max(updated_at), 0) FROM decisions")[0]
        return int(r[0]), int(r[1])

    # -- idempotency keys of state-changing requests ---------------------------------------------------
    def idempotent_response(self, key: str) -> tuple[str, str, int, dict[str, Any]] | None:
        rows = self._backend.query("SELECT actor, request, status, response FROM idempotency WHERE key = ?", (key,))
        if not rows:
            return None
        a, req, st, resp = rows[0]
        return a, req, int(st), json.loads(resp)

    def remember_response(self, key: str, actor: str, request: str, status: int, response: Any) -> None:
        with self._backend.write() as tx:
            tx.execute("INSERT INTO idempotency (key, actor, request, status, response, created_at) VALUES "
                       "(?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                       (key, actor, request, int(status), json.dumps(response, default=str), time.time_ns() // 1000))

    # -- settings (the autonomy policy) -----------------------------------------------------------------
    def setting(self, key: str) -> str | None:
        rows = self._backend.query("SELECT value FROM control_settings WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def put_setting(self, key: str, value: str, audit: Audit) -> None:
        now = time.time_ns() // 1000
        with self._backend.write() as tx:
            tx.execute("INSERT INTO control_settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) "
                       "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at", (key, value, now))
            actor, action, detail = audit
            AuditLog.append_tx(tx, actor, action, key, detail, at_us=now)
