"""Checks of a store's integrity: the database's own, then the log's and the audit chain's invariants.

:func:`check_store` returns one line per problem (empty: healthy):

* SQLite: ``PRAGMA integrity_check`` (every page, index and constraint; a damaged file is named);
* PostgreSQL: ``bt_index_check`` (the ``amcheck`` extension, when installed) on every index of the
  store's tables, and otherwise catalogue sanity (the tables the schema version promises exist) and a
  full read of each table;
* the log: offsets start at 1 and each row follows the one before without a gap (``off`` = previous
  ``off + n``); a row holds at most as many events as its sequence range; a source's sequence ranges
  never overlap ((source, seq) is unique); ``log_sources`` agrees with the rows (event count and
  highest sequence number per source);
* the audit chain (:meth:`supplynet.store.audit.AuditLog.verify`; without the vault key only its links
  and sequence numbers, which is said).
"""

from __future__ import annotations

from typing import Any

from ..errors import SecurityError, StoreError
from ._sql import SqlBackend

__all__ = ["check_store"]

_TABLES = ("events", "log_sources", "snapshots", "quarantine", "devices", "api_tokens", "decisions", "audit",
           "audit_head")


def _q(backend: SqlBackend, sql: str, problems: list[str], what: str) -> list[tuple[Any, ...]] | None:
    try:
        return backend.query(sql)
    except StoreError as exc:
        problems.append(f"{what}: {exc}")
        return None


def _database(backend: SqlBackend, problems: list[str]) -> None:
    if backend.dialect == "sqlite":
        rows = _q(backend, "PRAGMA integrity_check", problems, "integrity_check")
        if rows is not None and [r[0] for r in rows] != ["ok"]:
            problems.extend(f"integrity_check: {r[0]}" for r in rows[:50])
        return
    existing = {r[0] for r in _q(backend, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()",
                                 problems, "catalogue") or ()}
    missing = [t for t in _TABLES if t not in existing and (t != "audit_head" or "audit" in existing)]
    if "events" in existing:  # a supplynet store: name the tables it should have and does not
        problems.extend(f"catalogue: table {t} is missing" for t in missing if t in ("events", "log_sources"))
    for t in sorted(existing & set(_TABLES)):
        _q(backend, f"SELECT count(*) FROM {t}", problems, f"reading table {t}")
    if _q(backend, "SELECT 1 FROM pg_extension WHERE extname = 'amcheck'", problems, "catalogue"):
        for (name,) in _q(backend, "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                   "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am a ON a.oid = c.relam "
                                   "WHERE a.amname = 'btree' AND t.relnamespace = current_schema()::regnamespace",
                          problems, "catalogue") or ():
            _q(backend, f"SELECT bt_index_check('{name}'::regclass)", problems, f"amcheck of index {name}")


def _log(backend: SqlBackend, problems: list[str]) -> None:
    if not backend.table_exists("events"):
        problems.append("not a supplynet store: it has no event log")
        return
    first = _q(backend, "SELECT min(off) FROM events", problems, "log")
    if first and first[0][0] is not None and int(first[0][0]) != 1:
        problems.append(f"log: the first offset is {first[0][0]}, not 1 (rows cut off the start)")
    for off, expect in _q(backend, "SELECT off, prev FROM (SELECT off, lag(off + n) OVER (ORDER BY off) AS prev "
                                   "FROM events) x WHERE prev IS NOT NULL AND off <> prev LIMIT 20",
                          problems, "log offsets") or ():
        problems.append(f"log: offset {off} follows a row that ends at {int(expect) - 1} (offsets "
                        f"{'missing' if off > expect else 'overlap'})")
    for off, n, seq, last in _q(backend, "SELECT off, n, seq, seq_last FROM events WHERE n < 1 OR seq_last < seq "
                                         "OR n > seq_last - seq + 1 LIMIT 20", problems, "log rows") or ():
        problems.append(f"log: the row at offset {off} holds {n} events for sequence numbers {seq}..{last}")
    for source, seq, prev in _q(backend, "SELECT source, seq, prev FROM (SELECT source, seq, lag(seq_last) OVER "
                                         "(PARTITION BY source ORDER BY seq) AS prev FROM events) x "
                                         "WHERE prev >= seq LIMIT 20", problems, "log sequence numbers") or ():
        problems.append(f"log: source {source!r} holds sequence number {seq} twice (a row up to {prev})")
    for source, n_log, seq_log, n_rows, seq_rows in _q(
            backend, "SELECT s.source, s.n_events, s.seq_max, coalesce(e.n, 0), e.seq FROM log_sources s "
                     "LEFT JOIN (SELECT source, sum(n) AS n, max(seq_last) AS seq FROM events GROUP BY source) e "
                     "ON e.source = s.source WHERE s.n_events <> coalesce(e.n, 0) OR e.seq IS NULL "
                     "OR s.seq_max <> e.seq LIMIT 20", problems, "log sources") or ():
        problems.append(f"log: source {source!r} is recorded with {n_log} events up to {seq_log}, its rows hold "
                        f"{n_rows} up to {seq_rows}")


def _audit(backend: SqlBackend, problems: list[str], notes: list[str]) -> None:
    if not backend.table_exists("audit"):
        return
    from .audit import AuditLog, audit_key

    try:
        key = audit_key()
    except SecurityError as exc:
        key = None
        notes.append(f"audit chain: links and sequence numbers only, not the keyed hashes ({exc})")
    try:
        res = AuditLog(backend).verify(key, check_hashes=key is not None)
    except StoreError as exc:
        problems.append(f"audit chain: {exc}")
        return
    problems.extend(f"audit chain: {p}" for p in res.problems)


def check_store(backend: SqlBackend) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: what is wrong with the store (empty: healthy) and what was not checked."""
    problems: list[str] = []
    notes: list[str] = []
    _database(backend, problems)
    if problems and backend.dialect == "sqlite":  # a damaged file: its rows cannot be trusted to read
        return problems, notes
    _log(backend, problems)
    _audit(backend, problems, notes)
    return problems, notes
