"""Opening stores: URLs and paths, the embedded default, SQLite durability settings, error mapping."""

from __future__ import annotations

import psycopg
import pytest

from supplynet.errors import StoreError, StoreUnavailable
from supplynet.store import open_store, register_backend
from supplynet.store.base import redact_url
from supplynet.store.sqlite import SqliteStore, sqlite_path
from supplynet.testing.store_contract import sale


def test_default_is_sqlite_under_dot_supplynet(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SUPPLYNET_STORE_URL", raising=False)
    monkeypatch.delenv("SUPPLYNET_HOME", raising=False)
    with open_store() as store:
        store.log.append([sale("d", 1)])
        assert isinstance(store, SqliteStore)
    assert (tmp_path / ".supplynet" / "supplynet.db").is_file()


def test_sqlite_is_wal_with_full_sync(tmp_path) -> None:
    with SqliteStore(tmp_path / "deep" / "er" / "s.db") as store:
        assert store.backend.pragma("journal_mode") == "wal"
        assert store.backend.pragma("synchronous") == 2  # FULL
        assert store.backend.pragma("busy_timeout") > 0


def test_paths_and_urls(tmp_path) -> None:
    assert sqlite_path("sqlite:////abs/x.db").as_posix() == "/abs/x.db"
    assert sqlite_path("sqlite:///rel/x.db").as_posix() == "rel/x.db"
    assert sqlite_path(tmp_path) == tmp_path / "supplynet.db"
    with open_store(str(tmp_path)) as store:
        assert store.url == f"sqlite:///{tmp_path / 'supplynet.db'}"
    for bad, message in [
        ("sqlite://x.db", "sqlite:///relative/path"),
        ("sqlite:///:memory:", "in-memory"),
        ("mysql://u@h/db", "unsupported store URL 'mysql://u@h/db': known schemes are postgres://, postgresql://"),
        ("  ", "empty store URL"),
    ]:
        with pytest.raises(StoreError, match=message):
            open_store(bad)


def test_redact_url() -> None:
    assert redact_url("postgresql://bob:s3cret@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert redact_url("postgresql://bob@db/x") == "postgresql://bob@db/x"


def test_postgres_down_is_unavailable_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://postgres:s3cret@127.0.0.1:1/nothing")
    text = str(info.value)
    assert "s3cret" not in text and "postgresql://postgres:***@127.0.0.1:1/nothing" in text
    assert isinstance(info.value.__cause__, psycopg.OperationalError)


def test_sqlite_that_cannot_be_created_is_unavailable(tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable, match="cannot create the folder"):
        open_store(blocker / "sub" / "s.db")


def test_unreadable_row_names_its_offset(tmp_path) -> None:
    with open_store(tmp_path / "s.db") as store:
        store.log.append([sale("d", 1), sale("d", 2)])
        with store.transaction() as tx:
            tx.execute("UPDATE events SET body = ? WHERE off = 2", ('{"kind": "sale", "seq": "x"}',))
        with pytest.raises(StoreError, match="the log row at offset 2 cannot be read back"):
            list(store.log.read())


def test_plug_in_backend_by_scheme(tmp_path) -> None:
    opened = []

    def factory(url: str) -> SqliteStore:
        opened.append(url)
        return SqliteStore(tmp_path / url.removeprefix("mine://"))

    register_backend("mine", factory)
    with open_store("mine://x.db") as store:
        assert store.log.append([sale("d", 1)]).stored == 1
    assert opened == ["mine://x.db"]
    with pytest.raises(ValueError, match="a URL scheme"):
        register_backend("no/pe", factory)
