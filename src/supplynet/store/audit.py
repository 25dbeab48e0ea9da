"""The audit log (``audit``, ``audit_head``): append-only and hash-chained.

Each entry holds the hash of the one before it (``prev_hash``) and its own ``hash``, the SHA-256 of
its canonical JSON (sequence number, time, actor, action, subject, detail, previous hash), in the
manner of Haber & Stornetta, "How to time-stamp a digital document" (J. Cryptology 3(2), 1991). The
``audit_head`` row keeps the sequence number and hash of the last entry, so cutting entries off the
end is detected as well. :meth:`AuditLog.verify` walks the chain and names the first entry that was
edited, deleted or moved.

Other modules append inside their own write transaction (:meth:`AuditLog.append_tx`), so a change and
the entry that records it commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ._sql import SqlBackend, Tx

__all__ = ["GENESIS", "AuditEntry", "AuditLog", "VerifyResult", "entry_hash"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_us: int
    actor: str
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at_us": self.at_us, "actor": self.actor, "action": self.action,
                "subject": self.subject, "detail": self.detail, "prev_hash": self.prev_hash, "hash": self.hash}


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    head_seq: int
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "problems": self.problems}


def _canon(detail: Any) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


def entry_hash(seq: int, at_us: int, actor: str, action: str, subject: str, detail_json: str, prev_hash: str) -> str:
    body = json.dumps([seq, at_us, actor, action, subject, detail_json, prev_hash], separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class AuditLog:
    """Narrow data access for the audit chain (no SQL elsewhere)."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    @staticmethod
    def append_tx(tx: Tx, actor: str, action: str, subject: str = "", detail: dict[str, Any] | None = None,
                  at_us: int | None = None) -> AuditEntry:
        """Append inside an open write transaction (the caller's change and its entry commit together)."""
        if not actor or not action:
            raise ValueError("an audit entry needs an actor and an action")
        head = tx.execute("SELECT seq, hash FROM audit_head WHERE id = 1")
        seq, prev = (int(head[0][0]) + 1, str(head[0][1])) if head else (1, GENESIS)
        at = int(at_us if at_us is not None else time.time_ns() // 1000)
        dj = _canon(detail or {})
        h = entry_hash(seq, at, actor, action, subject, dj, prev)
        tx.execute("INSERT INTO audit (seq, at_us, actor, action, subject, detail, prev_hash, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (seq, at, actor, action, subject, dj, prev, h))
        tx.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", (seq, h))
        return AuditEntry(seq, at, actor, action, subject, json.loads(dj), prev, h)

    def append(self, actor: str, action: str, subject: str = "", detail: dict[str, Any] | None = None) -> AuditEntry:
        with self._backend.write() as tx:
            return self.append_tx(tx, actor, action, subject, detail)

    def entries(self, *, after_seq: int = 0, limit: int = 100, actor: str | None = None,
                subject: str | None = None, newest_first: bool = False) -> list[AuditEntry]:
        where, params = [], []
        if newest_first and after_seq:
            where.append("seq < ?")
        elif after_seq:
            where.append("seq > ?")
        if after_seq:
            params.append(int(after_seq))
        for col, val in (("actor", actor), ("subject", subject)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT seq, at_us, actor, action, subject, detail, prev_hash, hash FROM audit"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT {int(limit)}"
        return [AuditEntry(int(s), int(a), ac, an, su, json.loads(d), p, h)
                for s, a, ac, an, su, d, p, h in self._backend.query(sql, params)]

    def _rows(self) -> Iterator[tuple[Any, ...]]:
        last = None
        while True:
            sql = "SELECT seq, at_us, actor, action, subject, detail, prev_hash, hash FROM audit"
            rows = self._backend.query(sql + (" WHERE seq > ?" if last is not None else "") + " ORDER BY seq LIMIT 5000",
                                       (last,) if last is not None else ())
            yield from rows
            if len(rows) < 5000:
                return
            last = rows[-1][0]

    def head(self) -> tuple[int, str]:
        rows = self._backend.query("SELECT seq, hash FROM audit_head WHERE id = 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else (0, GENESIS)

    def verify(self) -> VerifyResult:
        """Walk the chain: every hash recomputed, every link and sequence number checked, the head matched."""
        problems: list[str] = []
        prev, expect, n = GENESIS, 1, 0
        for seq, at, actor, action, subject, dj, prev_hash, h in self._rows():
            n += 1
            seq = int(seq)
            if seq != expect:
                problems.append(f"entry {seq}: expected entry {expect} next (entries {expect}..{seq - 1} deleted "
                                f"or the order changed)" if seq > expect else f"entry {seq}: out of order")
            if prev_hash != prev:
                problems.append(f"entry {seq}: its previous-hash does not match the entry before it "
                                f"(an entry was deleted, inserted or reordered)")
            if entry_hash(seq, int(at), actor, action, subject, dj, prev_hash) != h:
                problems.append(f"entry {seq}: its content does not match its hash (edited)")
            prev, expect = h, seq + 1
            if len(problems) > 50:
                break
        head_seq, head_hash = self.head()
        if not problems and (head_seq != expect - 1 or head_hash != prev):
            problems.append(f"the chain ends at entry {expect - 1} but the head records entry {head_seq} "
                            f"(entries cut off the end, or the head was changed)")
        return VerifyResult(ok=not problems, entries=n, head_seq=head_seq, problems=problems)
