"""The durable store: event log and twin snapshots, on SQLite (embedded default) or PostgreSQL.

>>> import tempfile, pathlib
>>> from supplynet.events import Sale
>>> with open_store(pathlib.Path(tempfile.mkdtemp()) / "s.db") as store:
...     e = Sale(source="till-1", seq=1, ts="2026-01-01T08:00:00Z", site="S1", sku="A", quantity=2)
...     store.log.append([e, e])
...     [x.event == e for x in store.log.read()]
AppendResult(stored=1, duplicates=1)
[True]

Other modules reach the database only through :class:`Store`: ``store.log``, ``store.snapshots``
and one accessor per table (``store.ingest``, ``store.devices``, ``store.decisions``, ``store.audit``,
``store.tokens``, ``store.scenarios``, ``store.outbox``, ``store.sink_secrets``, ``store.brain``), with
:meth:`Store.transaction` to write several tables in one durable commit (a test checks that no module
outside this package touches a store's ``backend``). A module of this package that adds a table appends
a migration to :data:`supplynet.store.migrations.MIGRATIONS`, works through the SQL backend, and is
handed out by an accessor declared on :class:`Store` and covered by
:mod:`supplynet.testing.store_contract`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..errors import ConfigError, StoreError
from ._sql import Tx
from .base import AppendResult, EventLog, LoggedEvent, Snapshot, SnapshotStore, Store, WireRun, redact_url

__all__ = [
    "AppendResult",
    "EventLog",
    "LoggedEvent",
    "Snapshot",
    "SnapshotStore",
    "Store",
    "Tx",
    "WireRun",
    "open_store",
    "register_backend",
]

_BACKENDS: dict[str, Callable[[str], Store]] = {}


def register_backend(scheme: str, factory: Callable[[str], Store]) -> None:
    """Let :func:`open_store` open ``scheme://...`` URLs with ``factory(url)`` (plug-in backends;
    check them with :mod:`supplynet.testing.store_contract`)."""
    if not scheme or not scheme.isidentifier():
        raise ConfigError(f"a URL scheme is a word such as 'mydb', not {scheme!r}")
    _BACKENDS[scheme.lower()] = factory


def _open_sqlite(url: str) -> Store:
    from .sqlite import SqliteStore

    return SqliteStore(url)


def _open_postgres(url: str) -> Store:
    from .postgres import PostgresStore

    return PostgresStore(url)


register_backend("sqlite", _open_sqlite)
register_backend("postgresql", _open_postgres)
register_backend("postgres", _open_postgres)


def open_store(url_or_path: str | Path | None = None, *, readonly: bool = False) -> Store:
    """Open (and migrate) the store at a URL (``sqlite:///path``, ``postgresql://...``) or a SQLite
    file path. None: ``SUPPLYNET_STORE_URL``, else ``.supplynet/supplynet.db`` (folder created).

    ``readonly``: for commands that only read (state, events, audit list, store check): never runs
    migrations, and a SQLite file that does not exist is an error instead of a new store."""
    if url_or_path is None:
        from ..config import Settings

        url_or_path = Settings().resolved_store_url()
    text = str(url_or_path).strip()
    if not text:
        raise StoreError("empty store URL: give sqlite:///path, postgresql://... or a file path")
    scheme, sep, _ = text.partition("://")
    scheme = scheme.lower() if sep else "sqlite"
    if scheme == "sqlite":
        try:
            if readonly:
                return _open_readonly(text, scheme)
            return (_BACKENDS["sqlite"] if sep and not isinstance(url_or_path, Path) else _open_sqlite)(text)
        except StoreError as exc:
            if "file is not a database" in str(exc):  # SQLite's word for a file that is something else
                raise StoreError(f"{redact_url(text)} is not a SQLite database (a file of another kind is there; "
                                 "check --store)") from exc
            raise
    if readonly and scheme in ("postgresql", "postgres"):
        return _open_readonly(text, scheme)
    if isinstance(url_or_path, Path) or not sep:  # a plain file path
        return _open_sqlite(text)
    factory = _BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(f"{s}://" for s in sorted(_BACKENDS))
        raise StoreError(f"unsupported store URL {redact_url(text)!r}: known schemes are {known}")
    return factory(text)


def _missing_store(path: Path) -> str:
    """The one line for a SQLite store a reading command cannot find: names the missing folder when it
    is the folder that is missing."""
    if not path.parent.is_dir():
        return f"no store at {path}: the folder {path.parent} does not exist (check --store; nothing to read)"
    return f"no store at {path} (check --store; nothing to read)"


def _open_readonly(text: str, scheme: str) -> Store:
    from ..errors import StoreUnavailable

    if scheme == "sqlite":
        from .sqlite import SqliteStore, sqlite_path

        path = sqlite_path(text)
        if not path.is_file():
            raise StoreUnavailable(_missing_store(path))
        return SqliteStore(path, migrate=False)
    from .postgres import PostgresStore

    return PostgresStore(text, migrate=False)
