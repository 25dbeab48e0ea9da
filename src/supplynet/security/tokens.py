"""API tokens for people and programs (not devices): stored hashed, shown once, expiring, revocable.

A token reads ``snt_<id>_<secret>``: ``id`` finds the row, the 256-bit ``secret`` is checked against the
SHA-256 kept in the store (a fast hash is enough for a random secret of this length; a slow
password hash protects only low-entropy secrets). The secret is returned once, by :meth:`TokenService.create`.

Roles are ordered: ``viewer`` reads; ``planner`` also approves and rejects decisions, places orders and
work orders and runs scenarios; ``admin`` also manages devices, policies and tokens. Device credentials
(Ed25519 keys that sign envelopes) are not tokens: they never authenticate against these endpoints.

Every token belongs to a **person** (``person``; tokens made before people belong to a person named
after the token), who holds the roles of their tokens. The actor a principal acts as is
``role:person``, and the rules that need two people (:mod:`supplynet.decide.decision`) compare the
person (:func:`person_of`), so one person's tokens of two roles are still one person.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import SecurityError
from ..store.tokens import TokenRow, TokenTable

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["ROLES", "Forbidden", "Principal", "TokenService", "Unauthenticated", "people_behind", "person_of",
           "role_at_least"]

ROLES = ("viewer", "planner", "admin")
_RANK = {r: i for i, r in enumerate(ROLES)}
_FORMAT = re.compile(r"^snt_([a-z0-9]{12})_([A-Za-z0-9_\-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9_.@ \-]{1,64}$")


class Unauthenticated(SecurityError):
    """No valid token: missing, malformed, unknown, expired or revoked (HTTP 401)."""

    code = "unauthenticated"


class Forbidden(SecurityError):
    """A valid token whose role may not do this (HTTP 403)."""

    code = "forbidden"


def role_at_least(role: str, needed: str) -> bool:
    return _RANK.get(role, -1) >= _RANK[needed]


def person_of(actor: str) -> str:
    """The person behind an actor string (``role:person`` -> ``person``; others are their own person)."""
    role, sep, person = actor.partition(":")
    return person if sep and role in _RANK else actor


def people_behind(actor: str, sponsors: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The people who act through ``actor``: its person, and the people who issued its tokens (directly
    or through others; ``sponsors`` as :meth:`supplynet.store.tokens.TokenTable.sponsors` finds them).
    Two actors are two people only when these sets do not meet."""
    out = {person_of(actor)}
    out.update(person_of(a) for a in sponsors if a.partition(":")[0] in _RANK)
    return out


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name (the person or program), role and the person it belongs to."""

    name: str
    role: str
    token_id: str
    person: str = ""

    def require(self, needed: str) -> Principal:
        if not role_at_least(self.role, needed):
            raise Forbidden(f"{self.name} is a {self.role}; this needs the {needed} role")
        return self

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.person or self.name}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now_us() -> int:
    return time.time_ns() // 1000


class TokenService:
    """Create, check, list and revoke API tokens over the store's ``api_tokens`` table."""

    def __init__(self, store: Store, *, cache_s: float = 0.0):
        """``cache_s``: keep a token's row this long after reading it (the service uses about a second, so a
        busy client costs no query per request); a revocation made through this object applies at once,
        one made elsewhere (the CLI, another worker) within ``cache_s``."""
        if cache_s < 0:
            raise SecurityError(f"cache_s must be >= 0, not {cache_s}")
        self.table: TokenTable = store.tokens
        self.cache_s = cache_s
        self._cache: dict[str, tuple[TokenRow, float]] = {}

    def _get(self, token_id: str) -> TokenRow | None:
        if self.cache_s <= 0:
            return self.table.get(token_id)
        now = time.monotonic()
        hit = self._cache.get(token_id)
        if hit is not None and now - hit[1] < self.cache_s:
            return hit[0]
        row = self.table.get(token_id)
        if row is not None:  # unknown ids are not kept: a token created elsewhere works at once
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token_id] = (row, now)
        return row

    def create(self, *, role: str, name: str | None = None, expires_in_s: float | None = 90 * 86400.0,
               created_by: str = "cli", person: str | None = None) -> tuple[str, TokenRow]:
        """A new token for ``person`` (default: a person named ``name``); ``name`` labels the token
        (default: the person's name). Returns ``(token, row)``; the token string is not stored: show it once."""
        if role not in ROLES:
            raise SecurityError(f"role {role!r}: use one of {', '.join(ROLES)}")
        name = name or person
        person = person or name
        if not _NAME.match(name or ""):
            raise SecurityError(f"token name {name!r}: 1-64 letters, digits, spaces or _.@-")
        if not _NAME.match(person or ""):
            raise SecurityError(f"person {person!r}: 1-64 letters, digits, spaces or _.@-")
        if expires_in_s is not None and expires_in_s <= 0:
            raise SecurityError(f"expires_in_s must be > 0 (or None for no expiry), not {expires_in_s}")
        tid = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = _now_us()
        row = TokenRow(id=tid, name=name, role=role, hash=_hash(secret), created_at=now,
                       expires_at=None if expires_in_s is None else now + int(expires_in_s * 1e6),
                       revoked_at=None, created_by=created_by, last_used_at=None, person=person)
        self.table.insert(row)
        return f"snt_{tid}_{secret}", row

    def authenticate(self, token: str | None, now_us: int | None = None) -> Principal:
        """The principal of a bearer token, or :class:`Unauthenticated` saying why not."""
        if not token:
            raise Unauthenticated("no API token: send 'Authorization: Bearer snt_...'")
        m = _FORMAT.match(token.strip())
        if m is None:
            raise Unauthenticated("not an API token (device credentials cannot call the control API)")
        row = self._get(m.group(1))
        if row is None or not hmac.compare_digest(row.hash, _hash(m.group(2))):
            raise Unauthenticated("unknown API token")
        now = _now_us() if now_us is None else now_us
        if row.revoked_at is not None:
            raise Unauthenticated(f"API token {row.id} was revoked")
        if row.expires_at is not None and now >= row.expires_at:
            raise Unauthenticated(f"API token {row.id} expired")
        return Principal(name=row.name, role=row.role, token_id=row.id, person=row.holder)

    def list(self) -> list[TokenRow]:
        return self.table.all()

    def revoke(self, token_id: str, by: str = "cli") -> None:
        self._cache.pop(token_id, None)
        if not self.table.revoke(token_id, _now_us(), by):
            raise SecurityError(f"no API token {token_id!r}")
