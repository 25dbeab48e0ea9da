"""Turning a fresh SQLite store back into one an earlier release made, for upgrade tests.

:func:`undo_after_audit` removes what the migrations after the keyed audit chain (9) added: the
outbox (10), the brain's tables and the decisions' dedupe key (11), and the snapshots' names (12). A test that also undoes 9
itself gets a store at schema 8, as the previous release left it.
"""

from __future__ import annotations

import sqlite3

__all__ = ["undo_after_audit"]

_UNDO = (
    "DROP TABLE IF EXISTS outbox", "DROP TABLE IF EXISTS sink_secrets",
    "DROP INDEX IF EXISTS decisions_dedupe", "ALTER TABLE decisions DROP COLUMN dedupe_key",
    "DROP TABLE IF EXISTS loop_checkpoints", "DROP TABLE IF EXISTS loop_lease", "DROP TABLE IF EXISTS store_network",
    "DROP TABLE IF EXISTS loop_state", "DROP INDEX IF EXISTS snapshots_name", "ALTER TABLE snapshots DROP COLUMN name",
    "DELETE FROM schema_version WHERE version > 9",
)


def undo_after_audit(conn: sqlite3.Connection) -> None:
    """Undo migrations 10 to 12 on an open connection (inside the caller's transaction)."""
    for stmt in _UNDO:
        conn.execute(stmt)
