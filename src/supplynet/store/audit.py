"""The audit log (``audit``, ``audit_head``): append-only, hash-chained and keyed.

Each entry holds the hash of the one before it (``prev_hash``) and its own ``hash``, computed over
its canonical JSON (sequence number, time, actor, action, subject, detail, previous hash), in the
manner of Haber & Stornetta, "How to time-stamp a digital document" (J. Cryptology 3(2), 1991). The
``audit_head`` row keeps the sequence number and hash of the last entry, so cutting entries off the
end is detected as well. :meth:`AuditLog.verify` walks the chain and names the first entry that was
edited, deleted or moved.

The hash is an HMAC-SHA256 (RFC 2104) under the **audit key**, derived from the vault key
(:func:`supplynet.config.vault_key_text`), which lives outside the store: whoever can write the
database but not read the vault key cannot rewrite the entries and recompute their hashes. Stores
made before keyed chains hold plain SHA-256 entries; the first entry appended with a key after the
upgrade is an ``audit.keyed`` transition entry, and from there on every entry is keyed.
:meth:`AuditLog.verify` accepts plain entries only before the first keyed one, and a non-empty chain
without any keyed entry fails (it was rewritten, or nothing was appended since the upgrade). A
process whose vault key is not the one that keys a store's chain refuses to append to it.

Signed checkpoints (:mod:`supplynet.store.checkpoints`) anchor the head outside the store.

Other modules append inside their own write transaction (:meth:`AuditLog.append_tx`), so a change and
the entry that records it commit together or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ParameterError, SecurityError, StoreError
from ._sql import SqlBackend, Tx

if TYPE_CHECKING:
    from .checkpoints import Checkpoint

__all__ = ["GENESIS", "AuditEntry", "AuditKey", "AuditLog", "VerifyResult", "audit_key", "entry_hash",
           "set_audit_key"]

GENESIS = "0" * 64
_LABEL = b"supplynet audit chain v1"


@dataclass(frozen=True)
class AuditKey:
    """The HMAC key of the audit chain (never stored); ``id`` names it without revealing it."""

    secret: bytes = field(repr=False)

    @classmethod
    def from_vault_key(cls, vault_key: bytes) -> AuditKey:
        if len(vault_key) != 32:
            raise SecurityError("the vault key must be 32 bytes in URL-safe base64")
        return cls(hmac.new(vault_key, _LABEL, hashlib.sha256).digest())

    @property
    def id(self) -> str:
        return hashlib.sha256(b"supplynet audit key id" + self.secret).hexdigest()[:16]


_override: AuditKey | None = None
_cache: dict[tuple[str | None, ...], AuditKey] = {}


def set_audit_key(key: AuditKey | None) -> None:
    """Use ``key`` for this process instead of the one derived from the vault key (None: back to it)."""
    global _override
    _override = key


def audit_key(*, create: bool = False) -> AuditKey:
    """This process's audit key, derived from the vault key (``create``: make the home folder's vault
    key when there is none, as provisioning a symmetric device does). Raises SecurityError without one."""
    if _override is not None:
        return _override
    from ..config import vault_key_text

    where = (os.environ.get("SUPPLYNET_VAULT_KEY"), os.environ.get("SUPPLYNET_VAULT_KEY_FILE"),
             os.environ.get("SUPPLYNET_HOME"), os.getcwd())
    hit = _cache.get(where)
    if hit is not None:
        return hit
    import base64
    import binascii

    text, source = vault_key_text(create=create)
    t = text.strip()
    try:
        raw = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SecurityError(f"the vault key ({source}) must be 32 bytes in URL-safe base64")
    key = _cache[where] = AuditKey.from_vault_key(raw)
    return key


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at_us: int
    actor: str
    action: str
    subject: str
    detail: Any
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
    keyed_from: int | None = None  # the first keyed entry (entries before it are from before keyed chains)
    head_hash: str = GENESIS

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq, "problems": self.problems,
                "keyed_from": self.keyed_from}


def _canon(detail: Any) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)


def _body(seq: int, at_us: int, actor: str, action: str, subject: str, detail_json: str, prev_hash: str) -> bytes:
    return json.dumps([seq, at_us, actor, action, subject, detail_json, prev_hash], separators=(",", ":")).encode()


def entry_hash(seq: int, at_us: int, actor: str, action: str, subject: str, detail_json: str, prev_hash: str,
               key: AuditKey | None = None) -> str:
    """The entry's hash: HMAC-SHA256 under ``key``, or (entries from before keyed chains) plain SHA-256."""
    body = _body(seq, at_us, actor, action, subject, detail_json, prev_hash)
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key.secret, body, hashlib.sha256).hexdigest()


def _detail(text: str) -> Any:
    """A stored detail as data; one that is not JSON (written by hand) is shown as its text."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class AuditLog:
    """Narrow data access for the audit chain (no SQL elsewhere)."""

    def __init__(self, backend: SqlBackend):
        self._backend = backend

    @staticmethod
    def _insert(tx: Tx, key: AuditKey, seq: int, prev: str, at: int, actor: str, action: str, subject: str,
                dj: str) -> str:
        h = entry_hash(seq, at, actor, action, subject, dj, prev, key)
        tx.execute("INSERT INTO audit (seq, at_us, actor, action, subject, detail, prev_hash, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (seq, at, actor, action, subject, dj, prev, h))
        return h

    @staticmethod
    def append_tx(tx: Tx, actor: str, action: str, subject: str = "", detail: dict[str, Any] | None = None,
                  at_us: int | None = None) -> AuditEntry:
        """Append inside an open write transaction (the caller's change and its entry commit together)."""
        if not actor or not action:
            raise ParameterError("an audit entry needs an actor and an action")
        key = audit_key(create=True)
        head = tx.execute("SELECT seq, hash, key_id FROM audit_head WHERE id = 1")
        seq, prev, key_id = (int(head[0][0]), str(head[0][1]), head[0][2]) if head else (0, GENESIS, None)
        at = int(at_us if at_us is not None else time.time_ns() // 1000)
        if key_id is not None and key_id != key.id:
            raise StoreError(f"this process's vault key does not key this store's audit chain (key {key.id}, the "
                             f"chain's {key_id}): set SUPPLYNET_VAULT_KEY or SUPPLYNET_VAULT_KEY_FILE to the vault "
                             f"key of this deployment (a store made by 'supplynet demo --home DIR' has its key in "
                             f"DIR/vault.key: SUPPLYNET_HOME=DIR)")
        if key_id is None and seq > 0:  # a chain from before keyed entries: mark the transition
            seq += 1
            prev = AuditLog._insert(tx, key, seq, prev, at, "supplynet", "audit.keyed", "audit",
                                    _canon({"key_id": key.id, "unkeyed_entries": seq - 1}))
        seq += 1
        dj = _canon(detail or {})
        h = AuditLog._insert(tx, key, seq, prev, at, actor, action, subject, dj)
        tx.execute("INSERT INTO audit_head (id, seq, hash, key_id) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                   "SET seq = excluded.seq, hash = excluded.hash, key_id = excluded.key_id", (seq, h, key.id))
        from .checkpoints import maybe_checkpoint_tx

        maybe_checkpoint_tx(tx, seq, h, at)
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
        return [AuditEntry(int(s), int(a), str(ac), str(an), str(su), _detail(d), str(p), str(h))
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

    def hash_at(self, seq: int) -> str | None:
        rows = self._backend.query("SELECT hash FROM audit WHERE seq = ?", (int(seq),))
        return str(rows[0][0]) if rows else None

    # -- signed checkpoints of the head (supplynet.store.checkpoints) --------------------------------
    def checkpoint(self, private: Any, at_us: int) -> Checkpoint:
        """Sign the chain's current head now with the operator's Ed25519 key (kept beside the chain);
        refuses an empty chain."""
        from .checkpoints import make_checkpoint

        return make_checkpoint(self._backend, private, at_us)

    def latest_checkpoint(self) -> Checkpoint | None:
        from .checkpoints import latest_checkpoint

        return latest_checkpoint(self._backend)

    def check_anchor(self, anchor: Checkpoint, public_key: str | None = None) -> list[str]:
        """What is wrong with the chain against an exported checkpoint (empty: it holds)."""
        from .checkpoints import check_anchor

        return check_anchor(self._backend, anchor, public_key)

    def verify(self, key: AuditKey | None = None, *, check_hashes: bool = True) -> VerifyResult:
        """Walk the chain: every hash recomputed (keyed with ``key``, default this process's audit key),
        every link and sequence number checked, the head matched. ``check_hashes=False``: the links, the
        sequence numbers and the head only (without the vault key)."""
        problems: list[str] = []
        if key is None and check_hashes:
            try:
                key = audit_key()
            except SecurityError as exc:
                problems.append(f"cannot check the keyed chain: {exc}")
        prev, expect, n, keyed_from = GENESIS, 1, 0, None
        for seq, at, actor, action, subject, dj, prev_hash, h in self._rows():
            n += 1
            seq = int(seq)
            if seq != expect:
                problems.append(f"entry {seq}: expected entry {expect} next (entries {expect}..{seq - 1} deleted "
                                f"or the order changed)" if seq > expect else f"entry {seq}: out of order")
            if prev_hash != prev:
                problems.append(f"entry {seq}: its previous-hash does not match the entry before it "
                                f"(an entry was deleted, inserted or reordered)")
            args = (seq, int(at), str(actor), str(action), str(subject), str(dj), str(prev_hash))
            if not check_hashes:
                pass
            elif key is not None and hmac.compare_digest(entry_hash(*args, key), str(h)):
                keyed_from = keyed_from or seq
            elif keyed_from is None and entry_hash(*args) == h:
                pass  # an entry from before keyed chains
            elif key is not None:
                problems.append(f"entry {seq}: its content does not match its keyed hash (edited, or rewritten "
                                f"without the audit key)")
            prev, expect = str(h), seq + 1
            if len(problems) > 50:
                break
        if check_hashes and key is not None and n and keyed_from is None and not problems:
            problems.append(f"none of the {n} entries is keyed: the chain was rewritten, or nothing was recorded "
                            f"since the upgrade to keyed chains (any audited change starts the keyed part)")
        head_seq, head_hash = self.head()
        if len(problems) <= 50 and (head_seq != expect - 1 or head_hash != prev):
            problems.append(f"the chain ends at entry {expect - 1} but the head records entry {head_seq} "
                            f"(entries cut off the end, or the head was changed)")
        return VerifyResult(ok=not problems, entries=n, head_seq=head_seq, problems=problems, keyed_from=keyed_from,
                            head_hash=prev)
