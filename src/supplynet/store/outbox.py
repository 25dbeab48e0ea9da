"""The transactional outbox (``outbox``) and the sinks' sealed secrets (``sink_secrets``).

An executed action (an order, a transfer, a work order, a reroute, an expedite) or an alert that must
reach the world outside is written here *in the transaction that decides it*
(:meth:`OutboxTable.enqueue_tx`), one row per sink that takes it; a dispatcher
(:mod:`supplynet.decide.outbox`) later delivers the rows and marks them. So a decision is never
lost between the database and the sink, and a webhook is never called inside a decision's
transaction (the pattern Debezium's outbox event router and microservices.io describe).

A row is ``pending`` until delivered (``delivered``) or given up (``dead``: refused by the sink, or
out of attempts); ``next_at_us`` is when it is next due. ``(action_id, sink)`` is unique: enqueuing
the same action again for a sink is ignored, so a replayed decision sends nothing twice. The body
is kept as canonical JSON (sorted keys), so what a sink receives for one action id is the same
bytes on every attempt (:meth:`OutboxRow.payload`).

>>> import tempfile, pathlib
>>> from supplynet.store import open_store
>>> with open_store(pathlib.Path(tempfile.mkdtemp()) / "s.db") as store:
...     box = store.outbox
...     box.enqueue(action_id="A1", action="order", body={"qty": 3}, sinks=["erp", "log"], decision_id="D1", at_us=0)
...     box.enqueue(action_id="A1", action="order", body={"qty": 3}, sinks=["erp"], decision_id="D1", at_us=5)
...     box.counts()
2
0
{'pending': 2}
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import StoreError
from ._sql import SqlBackend, Tx
from .audit import AuditLog

__all__ = ["ACTIONS", "STATUSES", "OutboxRow", "OutboxTable", "SinkSecretTable", "canonical_json"]

#: what an outbox row may carry
ACTIONS = ("order", "transfer", "work_order", "reroute", "expedite", "alert", "production_order")
STATUSES = ("pending", "delivered", "dead")
_COLS = ("id, action_id, sink, action, decision_id, body, status, attempts, next_at_us, created_at_us, "
         "updated_at_us, last_error, resends")
_ERROR_CHARS = 1000


def canonical_json(value: Any) -> bytes:
    """Compact JSON with sorted keys: one spelling per value (the bytes a sink receives)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise StoreError(f"an outbox body must be JSON (dicts, lists, strings, numbers): {exc}") from exc


@dataclass(frozen=True)
class OutboxRow:
    """One action for one sink. ``attempts``: deliveries tried so far; ``resends``: times an operator
    sent it again after it died; ``last_error``: why the last attempt failed (None after success)."""

    id: int
    action_id: str
    sink: str
    action: str
    decision_id: str | None
    body: dict[str, Any]
    status: str
    attempts: int
    next_at_us: int
    created_at_us: int
    updated_at_us: int
    last_error: str | None
    resends: int = 0
    body_json: str = ""

    def payload(self) -> bytes:
        """What is delivered: ``{"action":..,"action_id":..,"body":{..},"decision_id":..}`` as canonical
        JSON. Built only from what the row keeps unchanged, so every attempt (and every sink of the
        action, since they are enqueued together) carries the same bytes."""
        d = orjson.dumps
        return (b'{"action":' + d(self.action) + b',"action_id":' + d(self.action_id) + b',"body":'
                + self.body_json.encode() + b',"decision_id":' + d(self.decision_id) + b"}")

    def to_json(self) -> dict[str, Any]:
        """The row as the CLI's ``--json`` and the API show it."""
        return {"id": self.id, "action_id": self.action_id, "sink": self.sink, "action": self.action,
                "decision_id": self.decision_id, "status": self.status, "attempts": self.attempts,
                "next_at_us": self.next_at_us, "created_at_us": self.created_at_us,
                "updated_at_us": self.updated_at_us, "last_error": self.last_error, "resends": self.resends}


def _row(r: tuple[Any, ...]) -> OutboxRow:
    i, aid, sink, action, did, body, st, att, nxt, ca, ua, err, rs = r
    return OutboxRow(int(i), aid, sink, action, did, orjson.loads(body), st, int(att), int(nxt), int(ca), int(ua),
                     err, int(rs), body)


def _check_enqueue(action_id: str, action: str, sinks: Sequence[str]) -> None:
    if not action_id or not isinstance(action_id, str):
        raise StoreError(f"an outbox row needs an action id (a non-empty string), not {action_id!r}")
    if action not in ACTIONS:
        raise StoreError(f"outbox action {action!r} is not one of {', '.join(ACTIONS)}")
    if isinstance(sinks, str):
        raise StoreError(f"sinks must be a list of sink names, not the string {sinks!r}")


class OutboxTable:
    """Narrow data access to the outbox for :mod:`supplynet.decide`, the CLI and the API."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    # -- writing -----------------------------------------------------------------------------------
    @staticmethod
    def enqueue_tx(tx: Tx, *, action_id: str, action: str, body: dict[str, Any], sinks: Sequence[str],
                   decision_id: str | None, at_us: int) -> int:
        """Add the action for each of ``sinks`` inside the caller's write transaction (the one that
        records the decision); a ``(action_id, sink)`` already there is left as it is. Returns the
        number of rows inserted."""
        _check_enqueue(action_id, action, sinks)
        text = canonical_json(body).decode()
        n = 0
        for sink in dict.fromkeys(sinks):
            n += len(tx.execute(
                "INSERT INTO outbox (action_id, sink, action, decision_id, body, status, attempts, next_at_us, "
                "created_at_us, updated_at_us, last_error, resends) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, "
                "NULL, 0) ON CONFLICT (action_id, sink) DO NOTHING RETURNING id",
                (action_id, sink, action, decision_id, text, int(at_us), int(at_us), int(at_us))))
        return n

    def enqueue(self, *, action_id: str, action: str, body: dict[str, Any], sinks: Sequence[str],
                decision_id: str | None, at_us: int) -> int:
        """:meth:`enqueue_tx` in a transaction of its own."""
        with self._backend.write() as tx:
            return self.enqueue_tx(tx, action_id=action_id, action=action, body=body, sinks=sinks,
                                   decision_id=decision_id, at_us=at_us)

    def claim(self, now_us: int, limit: int, lease_us: int) -> builtins.list[OutboxRow]:
        """The due rows (as :meth:`due`), pushed ``lease_us`` into the future in the same transaction,
        so a second dispatcher does not take them meanwhile; a dispatcher that dies holding them
        leaves them due again when the lease ends (at-least-once)."""
        with self._backend.write() as tx:
            rows = [_row(r) for r in tx.execute(
                f"SELECT {_COLS} FROM outbox WHERE status = 'pending' AND next_at_us <= ? "
                f"ORDER BY next_at_us, id LIMIT {int(limit)}", (int(now_us),))]
            if rows:
                tx.executemany("UPDATE outbox SET next_at_us = ? WHERE id = ?",
                               [(int(now_us) + int(lease_us), r.id) for r in rows])
        return rows

    def settle(self, *, now_us: int, delivered: Sequence[int] = (),
               retry: Sequence[tuple[int, int, str]] = (), dead: Sequence[tuple[int, str]] = (),
               defer: Sequence[tuple[int, int]] = ()) -> None:
        """Record a round of attempts in one transaction: ``delivered`` row ids, ``retry`` as
        ``(id, next_at_us, error)``, ``dead`` as ``(id, error)``, each counting one more attempt; and
        ``defer`` as ``(id, next_at_us)``: not tried this round (no attempt counted)."""
        if not (delivered or retry or dead or defer):
            return
        now = int(now_us)
        with self._backend.write() as tx:
            if delivered:
                tx.executemany("UPDATE outbox SET status = 'delivered', attempts = attempts + 1, updated_at_us = ?, "
                               "last_error = NULL WHERE id = ? AND status = 'pending'", [(now, int(i)) for i in delivered])
            if retry:
                tx.executemany("UPDATE outbox SET attempts = attempts + 1, next_at_us = ?, updated_at_us = ?, "
                               "last_error = ? WHERE id = ? AND status = 'pending'",
                               [(int(nxt), now, err[:_ERROR_CHARS], int(i)) for i, nxt, err in retry])
            if defer:
                tx.executemany("UPDATE outbox SET next_at_us = ? WHERE id = ? AND status = 'pending'",
                               [(int(nxt), int(i)) for i, nxt in defer])
            if dead:
                tx.executemany("UPDATE outbox SET status = 'dead', attempts = attempts + 1, updated_at_us = ?, "
                               "last_error = ? WHERE id = ? AND status = 'pending'",
                               [(now, err[:_ERROR_CHARS], int(i)) for i, err in dead])

    def mark_delivered(self, row_id: int, *, now_us: int) -> None:
        self.settle(now_us=now_us, delivered=[row_id])

    def mark_retry(self, row_id: int, *, now_us: int, next_at_us: int, error: str) -> None:
        self.settle(now_us=now_us, retry=[(row_id, next_at_us, error)])

    def mark_dead(self, row_id: int, *, now_us: int, error: str) -> None:
        self.settle(now_us=now_us, dead=[(row_id, error)])

    def resend(self, action_id: str, sink: str | None = None, *, now_us: int | None = None,
               actor: str | None = None) -> int:
        """Dead letters of ``action_id`` (for ``sink``, or every sink) back to pending, due now, with
        their attempts reset; returns how many. ``actor``: who asked (recorded in the audit chain in
        the same transaction)."""
        import time

        now = int(now_us if now_us is not None else time.time_ns() // 1000)
        where, params = "action_id = ? AND status = 'dead'", [action_id]
        if sink is not None:
            where += " AND sink = ?"
            params.append(sink)
        with self._backend.write() as tx:
            ids = tx.execute(
                f"UPDATE outbox SET status = 'pending', attempts = 0, next_at_us = ?, updated_at_us = ?, "
                f"resends = resends + 1 WHERE {where} RETURNING sink", (now, now, *params))
            if ids and actor is not None:
                AuditLog.append_tx(tx, actor, "outbox.resend", action_id, {"sinks": sorted(r[0] for r in ids)},
                                   at_us=now)
        return len(ids)

    # -- reading -----------------------------------------------------------------------------------
    def due(self, now_us: int, limit: int) -> builtins.list[OutboxRow]:
        """Pending rows due at ``now_us``, the longest waiting first."""
        return [_row(r) for r in self._backend.query(
            f"SELECT {_COLS} FROM outbox WHERE status = 'pending' AND next_at_us <= ? "
            f"ORDER BY next_at_us, id LIMIT {int(limit)}", (int(now_us),))]

    def get(self, row_id: int) -> OutboxRow | None:
        rows = self._backend.query(f"SELECT {_COLS} FROM outbox WHERE id = ?", (int(row_id),))
        return _row(rows[0]) if rows else None

    def list(self, status: str | None = None, sink: str | None = None, limit: int = 1000,
             action_id: str | None = None) -> builtins.list[OutboxRow]:
        """Rows, newest first, filtered by ``status``, ``sink`` and ``action_id``."""
        if status is not None and status not in STATUSES:
            raise StoreError(f"outbox status {status!r} is not one of {', '.join(STATUSES)}")
        where, params = [], []
        for col, val in (("status", status), ("sink", sink), ("action_id", action_id)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = f"SELECT {_COLS} FROM outbox" + (" WHERE " + " AND ".join(where) if where else "")
        return [_row(r) for r in self._backend.query(sql + f" ORDER BY id DESC LIMIT {int(limit)}", params)]

    def counts(self) -> dict[str, int]:
        """Rows by status (statuses without rows left out)."""
        return {s: int(n) for s, n in self._backend.query("SELECT status, count(*) FROM outbox GROUP BY status")}


class SinkSecretTable:
    """Per-sink HMAC secrets, kept sealed under the vault key (the sealing belongs to
    :mod:`supplynet.security.vault`; this table only keeps the sealed text)."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def get(self, sink: str) -> tuple[str, str] | None:
        """``(sealed, vault_id)`` of ``sink``'s secret, or None."""
        rows = self._backend.query("SELECT sealed, vault_id FROM sink_secrets WHERE sink = ?", (sink,))
        return (rows[0][0], rows[0][1]) if rows else None

    def put_if_absent(self, sink: str, sealed: str, vault_id: str, at_us: int) -> tuple[str, str]:
        """Keep ``sealed`` for ``sink`` unless another process kept one first; returns the one kept."""
        with self._backend.write() as tx:
            tx.execute("INSERT INTO sink_secrets (sink, sealed, vault_id, created_at_us) VALUES (?, ?, ?, ?) "
                       "ON CONFLICT (sink) DO NOTHING", (sink, sealed, vault_id, int(at_us)))
            r = tx.execute("SELECT sealed, vault_id FROM sink_secrets WHERE sink = ?", (sink,))
        return r[0][0], r[0][1]
