"""The :class:`~supplynet.store.base.Store` over a SQL backend (:mod:`._sql`): the log, the snapshots and
every table's accessor, each made on first use (a command that only reads the log imports no more). Apart
from :mod:`._sql` so that the table modules, which build on the backend, and the store, which hands them
out, import in one direction."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from . import migrations as _migrations
from ._sql import SqlBackend, SqlEventLog, SqlSnapshotStore, Tx
from .base import Store

if TYPE_CHECKING:
    from .audit import AuditLog
    from .brain import BrainTables
    from .decisions import DecisionTable
    from .devices import SqlRegistryBackend
    from .outbox import OutboxTable, SinkSecretTable
    from .quarantine import IngestTables
    from .scenarios import ScenarioTable
    from .tokens import TokenTable

__all__ = ["SqlStore"]

_T = TypeVar("_T")


class SqlStore(Store):
    """A :class:`~supplynet.store.base.Store` over a :class:`SqlBackend`; migrates on open. Its
    tables' accessors are made on first use (a command that only reads the log imports no more)."""

    def __init__(self, backend: SqlBackend, migrate: bool = True):
        self.backend = backend
        self.url = backend.url
        self.dialect = backend.dialect
        self._log = SqlEventLog(backend)
        self._snapshots = SqlSnapshotStore(backend)
        self._tables: dict[type, Any] = {}
        self._closed = False
        if migrate:
            try:
                self.migrate()
            except BaseException:
                backend.close()
                raise

    @property
    def safe_url(self) -> str:
        return self.backend.safe_url

    @property
    def log(self) -> SqlEventLog:
        return self._log

    @property
    def snapshots(self) -> SqlSnapshotStore:
        return self._snapshots

    def _table(self, cls: type[_T]) -> _T:
        t = self._tables.get(cls)
        if t is None:
            t = self._tables[cls] = cls(self.backend)  # type: ignore[call-arg]
        return t

    @property
    def ingest(self) -> IngestTables:
        from .quarantine import IngestTables

        return self._table(IngestTables)

    @property
    def devices(self) -> SqlRegistryBackend:
        from .devices import SqlRegistryBackend

        return self._table(SqlRegistryBackend)

    @property
    def decisions(self) -> DecisionTable:
        from .decisions import DecisionTable

        return self._table(DecisionTable)

    @property
    def audit(self) -> AuditLog:
        from .audit import AuditLog

        return self._table(AuditLog)

    @property
    def tokens(self) -> TokenTable:
        from .tokens import TokenTable

        return self._table(TokenTable)

    @property
    def scenarios(self) -> ScenarioTable:
        from .scenarios import ScenarioTable

        return self._table(ScenarioTable)

    @property
    def outbox(self) -> OutboxTable:
        from .outbox import OutboxTable

        return self._table(OutboxTable)

    @property
    def sink_secrets(self) -> SinkSecretTable:
        from .outbox import SinkSecretTable

        return self._table(SinkSecretTable)

    @property
    def brain(self) -> BrainTables:
        from .brain import BrainTables

        return self._table(BrainTables)

    def transaction(self) -> AbstractContextManager[Tx]:
        return self.backend.write()

    def has_table(self, name: str) -> bool:
        return self.backend.table_exists(name)

    def check(self) -> tuple[list[str], list[str]]:
        from .check import check_store

        return check_store(self.backend)

    def migrate(self) -> int:
        return _migrations.apply_migrations(self.backend)

    def schema_version(self) -> int:
        return _migrations.current_version(self.backend)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._log.close()
        self.backend.close()

