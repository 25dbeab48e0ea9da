"""API tokens' table (``api_tokens``): one row per token, holding only the SHA-256 of its secret;
and the people who hold them (``people``: a person's name and the roles their tokens were given).

The structure and rules (roles, expiry, format) belong to :mod:`supplynet.security.tokens`; this module
only keeps the rows. Every change is recorded in the audit chain in the same transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._sql import SqlBackend
from .audit import AuditLog

__all__ = ["TokenRow", "TokenTable"]

_ROLES = ("viewer", "planner", "admin")  # an actor "role:person" names a person
_COLS = "id, name, role, hash, created_at, expires_at, revoked_at, created_by, last_used_at, person"


@dataclass(frozen=True)
class TokenRow:
    id: str
    name: str
    role: str
    hash: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    created_by: str
    last_used_at: int | None
    person: str = ""  # the person it belongs to ("" = the token's name, for rows made before people)

    @property
    def holder(self) -> str:
        return self.person or self.name


def _row(r: tuple[Any, ...]) -> TokenRow:
    i, n, ro, h, c, e, rv, cb, lu, pe = r
    return TokenRow(i, n, ro, h, int(c), None if e is None else int(e), None if rv is None else int(rv), cb,
                    None if lu is None else int(lu), pe or n)


class TokenTable:
    def __init__(self, backend: SqlBackend):
        self._backend = backend

    def insert(self, row: TokenRow) -> None:
        with self._backend.write() as tx:
            tx.execute(f"INSERT INTO api_tokens ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (row.id, row.name, row.role, row.hash, row.created_at, row.expires_at, row.revoked_at,
                        row.created_by, row.last_used_at, row.holder))
            had = tx.execute("SELECT roles FROM people WHERE name = ?", (row.holder,))
            roles = sorted({*(json.loads(had[0][0]) if had else []), row.role})
            if not had:
                tx.execute("INSERT INTO people (name, roles, created_at, created_by) VALUES (?, ?, ?, ?)",
                           (row.holder, json.dumps(roles), row.created_at, row.created_by))
            elif roles != json.loads(had[0][0]):
                tx.execute("UPDATE people SET roles = ? WHERE name = ?", (json.dumps(roles), row.holder))
            AuditLog.append_tx(tx, row.created_by, "token.create", row.id,
                               {"name": row.name, "person": row.holder, "role": row.role,
                                "expires_at": row.expires_at})

    def get(self, token_id: str) -> TokenRow | None:
        rows = self._backend.query(f"SELECT {_COLS} FROM api_tokens WHERE id = ?", (token_id,))
        return _row(rows[0]) if rows else None

    def all(self) -> list[TokenRow]:
        return [_row(r) for r in self._backend.query(f"SELECT {_COLS} FROM api_tokens ORDER BY created_at, id")]

    def revoke(self, token_id: str, at_us: int, by: str) -> bool:
        with self._backend.write() as tx:
            rows = tx.execute("SELECT revoked_at FROM api_tokens WHERE id = ?", (token_id,))
            if not rows:
                return False
            if rows[0][0] is None:
                tx.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (at_us, token_id))
                AuditLog.append_tx(tx, by, "token.revoke", token_id, {})
        return True

    def people(self) -> dict[str, list[str]]:
        """Every person and the roles they hold."""
        return {n: json.loads(r) for n, r in self._backend.query("SELECT name, roles FROM people ORDER BY name")}

    def sponsors(self, token_id: str | None = None, *, person: str | None = None, depth: int = 8) -> set[str]:
        """Who issued this token (or any token of ``person``), who issued the tokens of those people,
        and so on: actor strings as ``created_by`` records them (``admin:alice``, ``cli:root``)."""
        if token_id is not None:
            rows = self._backend.query("SELECT created_by FROM api_tokens WHERE id = ?", (token_id,))
        else:
            rows = self._backend.query("SELECT DISTINCT created_by FROM api_tokens WHERE person = ?", (person,))
        seen = {str(r[0]) for r in rows}
        frontier = set(seen)
        for _ in range(depth):
            people = {a.partition(":")[2] for a in frontier if a.partition(":")[0] in _ROLES}
            if not people:
                break
            marks = ", ".join("?" * len(people))
            frontier = {str(r[0]) for r in self._backend.query(
                f"SELECT DISTINCT created_by FROM api_tokens WHERE person IN ({marks})", sorted(people))} - seen
            seen |= frontier
        return seen

    def touch(self, token_id: str, at_us: int) -> None:
        """Record use (best effort, at most once a minute per token)."""
        with self._backend.write() as tx:
            tx.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND "
                       "(last_used_at IS NULL OR last_used_at < ?)", (at_us, token_id, at_us - 60_000_000))
