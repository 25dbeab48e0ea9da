"""Schema migrations: numbered, recorded in schema_version, applied once, old databases upgraded."""

from __future__ import annotations

import pytest

from supplynet.errors import StoreError
from supplynet.store import open_store
from supplynet.store.migrations import (
    MIGRATIONS,
    Migration,
    apply_migrations,
    current_version,
    latest_version,
)
from supplynet.store.postgres import PostgresBackend
from supplynet.store.sqlite import SqliteBackend, sqlite_path
from supplynet.testing.store_contract import sale


def _backend(url: str):
    return PostgresBackend(url) if url.startswith("postgres") else SqliteBackend(sqlite_path(url))


def test_old_database_is_migrated_on_open(store_url: str) -> None:
    backend = _backend(store_url)
    try:
        assert current_version(backend) == 0
        assert apply_migrations(backend, target=1) == 1  # a database made by the first release
        assert not backend.table_exists("snapshots")
    finally:
        backend.close()
    # the first release's store writes its log
    from supplynet.store._sqlstore import SqlStore

    old = SqlStore(_backend(store_url), migrate=False)
    old.log.append([sale("d", i, i) for i in range(5)])
    old.log.append_batch("b", [sale("b", i, i) for i in range(3)])
    old.close()

    with open_store(store_url) as store:
        assert store.schema_version() == latest_version()
        rows = store.backend.query("SELECT version, name FROM schema_version ORDER BY version")
        assert [tuple(r) for r in rows] == [(m.version, m.name) for m in MIGRATIONS]
        assert [(x.event.source, x.event.seq) for x in store.log.read()] == [("d", i) for i in range(5)] + [
            ("b", i) for i in range(3)
        ]
        assert store.snapshots.save_snapshot(8, 0, b"x") >= 1
        assert store.migrate() == latest_version()  # idempotent
        rows = store.backend.query("SELECT count(*) FROM schema_version")
        assert rows[0][0] == len(MIGRATIONS)


def test_newer_database_is_refused(store_url: str) -> None:
    with open_store(store_url) as store:
        with store.transaction() as tx:
            tx.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)", (999, "future", "x"))
    with pytest.raises(StoreError, match="schema version 999, newer than this supplynet knows"):
        open_store(store_url)


def test_a_new_migration_is_one_more_list_entry(store_url: str) -> None:
    extra = Migration(
        len(MIGRATIONS) + 1,
        "audit",
        sqlite=("CREATE TABLE audit_demo (id INTEGER PRIMARY KEY, what TEXT NOT NULL)",),
        postgres=("CREATE TABLE audit_demo (id BIGSERIAL PRIMARY KEY, what TEXT NOT NULL)",),
    )
    with open_store(store_url) as store:
        assert apply_migrations(store.backend, migrations=[*MIGRATIONS, extra]) == extra.version
        assert store.has_table("audit_demo")
        assert apply_migrations(store.backend, migrations=[*MIGRATIONS, extra]) == extra.version


def test_migrations_are_numbered_without_gaps(tmp_path) -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    backend = SqliteBackend(tmp_path / "x.db")
    try:
        with pytest.raises(StoreError, match="numbered 1, 2, 3"):
            apply_migrations(backend, migrations=[MIGRATIONS[0], MIGRATIONS[2]])
        with pytest.raises(StoreError, match="outside 0.."):
            apply_migrations(backend, target=len(MIGRATIONS) + 5)
    finally:
        backend.close()
