"""PostgreSQL backend (psycopg 3): the server store, for several gateway workers and machines.

Writers from every process serialize on one transaction-scoped advisory lock, so offsets are
given and become visible in commit order (a reader tailing by offset never skips a row that
commits later with a smaller offset). Events go in through ``COPY``. A commit returns after the
server has flushed it (``synchronous_commit`` on, the default). Broken connections are replaced
on the next call.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from ..errors import StoreError, StoreUnavailable
from ._sql import SqlBackend, Tx
from ._sqlstore import SqlStore
from .base import redact_url

__all__ = ["ADVISORY_LOCK_KEY", "PostgresBackend", "PostgresStore"]

#: key of the advisory lock every supplynet writer takes (b"SNLG" as an integer)
ADVISORY_LOCK_KEY = 0x534E4C47
CONNECT_TIMEOUT_S = 10


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


def _map(exc: psycopg.Error, url: str, what: str) -> StoreError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.OperationalError):
        return StoreUnavailable(f"PostgreSQL at {url} is unavailable ({what}): {msg}")
    return StoreError(f"PostgreSQL {what} failed on {url}: {msg}")


class _PgTx(Tx):
    def __init__(self, cur: psycopg.Cursor[Any]):
        self._cur = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(_pg(sql), params)
        return self._cur.fetchall() if self._cur.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._cur.executemany(_pg(sql), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], constants: Mapping[str, int] | None = None
    ) -> None:
        consts = dict(constants or {})
        extra = list(consts.values())
        with self._cur.copy(f"COPY {table} ({', '.join([*columns, *consts])}) FROM STDIN") as copy:
            if extra:
                for row in rows:
                    copy.write_row([*row, *extra])
            else:
                for row in rows:
                    copy.write_row(row)


class PostgresBackend(SqlBackend):
    dialect = "postgres"

    def __init__(self, url: str):
        if not url.startswith(("postgresql://", "postgres://")):
            raise StoreError(f"a PostgreSQL URL starts with postgresql://, not {redact_url(url)!r}")
        self.url = url
        self._wlock = threading.Lock()
        self._local = threading.local()
        self._readers: list[psycopg.Connection[Any]] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._wconn: psycopg.Connection[Any] | None = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise StoreUnavailable(f"cannot connect to PostgreSQL at {self.safe_url}: {_first_line(exc)}") from exc

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.safe_url} is closed")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._wlock:
            self._check_open()
            if self._wconn is None or self._wconn.closed or self._wconn.broken:
                self._wconn = self._connect()
            conn = self._wconn
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK_KEY,))
                    yield _PgTx(cur)
            except psycopg.Error as exc:
                raise _map(exc, self.safe_url, "write") from exc

    def _reader(self) -> psycopg.Connection[Any]:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._check_open()
        try:
            with self._reader().cursor() as cur:
                cur.execute(_pg(sql), params)
                return cur.fetchall()
        except psycopg.Error as exc:
            raise _map(exc, self.safe_url, "query") from exc

    def table_exists(self, name: str) -> bool:
        return bool(self.query("SELECT to_regclass(?) IS NOT NULL", (name,))[0][0])

    def close(self) -> None:
        with self._wlock:
            if self._closed:
                return
            self._closed = True
            if self._wconn is not None:
                self._wconn.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class PostgresStore(SqlStore):
    """The server store: ``PostgresStore("postgresql://user@host:5432/db")``."""

    def __init__(self, url: str, migrate: bool = True):
        super().__init__(PostgresBackend(url), migrate=migrate)
