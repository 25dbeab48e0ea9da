"""SQLite backend: the embedded default, one file under ``.supplynet/``.

WAL journal with ``synchronous=FULL``: a commit is fsync'd before it is acknowledged (with
``NORMAL`` a WAL commit can be lost on power failure). One write connection, used by one thread
at a time (the group-commit leader or another writer); one read connection per reading thread,
so readers never wait for writers. ``BEGIN IMMEDIATE`` takes the database's write lock at the
start of a write, so several processes sharing the file serialize cleanly (busy timeout).

Checkpoints (copying the WAL back into the database file, with its own fsyncs) run on a background
thread with its own connection, every quarter second after writes, instead of inside whichever
commit crosses SQLite's automatic threshold: that commit -- and every device waiting for its
acknowledgement -- would otherwise stall for the whole checkpoint (measured here: 100-200 ms tails
on a 2 ms commit). A passive checkpoint (``PRAGMA wal_checkpoint(PASSIVE)``) copies the bulk beside
the writers; when the WAL has grown past SQLite's own threshold (a steady stream of commits never
lets a passive checkpoint finish), a second one between two commits copies what they added
meanwhile, so the next commit starts the WAL over and the file stays small. A reader holding an old
snapshot only delays how much of the WAL can be copied, as with SQLite's own checkpoints.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import StoreError, StoreUnavailable
from ._sql import SqlBackend, Tx
from ._sqlstore import SqlStore

__all__ = ["DEFAULT_PATH", "SqliteBackend", "SqliteStore", "sqlite_path"]

DEFAULT_PATH = Path(".supplynet") / "supplynet.db"
BUSY_TIMEOUT_S = 30.0
CHECKPOINT_EVERY_S = 0.25
#: a WAL longer than this (4 KiB pages; SQLite's own autocheckpoint threshold) is copied to its end
#: between two commits, holding the write lock for that short pass, so that it starts over
WAL_RESTART_FRAMES = 1000
#: after the WAL starts over, a file grown past this is cut back (bytes)
WAL_SIZE_LIMIT = 32 * 1024 * 1024

log = logging.getLogger(__name__)


def sqlite_path(url_or_path: str | Path) -> Path:
    """``sqlite:///rel/path``, ``sqlite:////abs/path`` or a plain path -> the database file."""
    s = str(url_or_path)
    if s.startswith("sqlite:"):
        rest = s[len("sqlite:") :]
        if not rest.startswith("///"):
            raise StoreError(f"a SQLite URL looks like sqlite:///relative/path or sqlite:////absolute/path, not {s!r}")
        s = rest[3:]
    if s in ("", ":memory:") or s.startswith("file:"):
        raise StoreError(f"SQLite store needs a file path (in-memory databases are not shared between connections): {s!r}")
    p = Path(s).expanduser()
    return p / DEFAULT_PATH.name if p.is_dir() else p


def _map(exc: sqlite3.Error, url: str, what: str) -> StoreError:
    msg = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and ("unable to open" in msg or "readonly" in msg):
        return StoreUnavailable(f"cannot open SQLite database {url}: {msg}")
    if "locked" in msg or "busy" in msg:
        return StoreError(f"SQLite database {url} stayed locked by another writer for {BUSY_TIMEOUT_S:.0f} s ({what})")
    return StoreError(f"SQLite {what} failed on {url}: {msg}")


class _SqliteTx(Tx):
    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._conn.executemany(sql, rows)

    def data_version(self) -> int | None:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], constants: Mapping[str, int] | None = None
    ) -> None:
        consts = {k: int(v) for k, v in (constants or {}).items()}  # integers only: safe as SQL literals
        names = ", ".join([*columns, *consts])
        values = ", ".join(["?"] * len(columns) + [str(v) for v in consts.values()])
        self._conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({values})", rows)


class SqliteBackend(SqlBackend):
    dialect = "sqlite"

    def __init__(self, path: str | Path = DEFAULT_PATH):
        self.path = sqlite_path(path)
        self.url = f"sqlite:///{self.path}"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailable(f"cannot create the folder for {self.url}: {exc}") from exc
        self._wlock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._commits = 0  # commits by this backend; the checkpointer copies the WAL after they move
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpoints = threading.Event()
        self._wconn = self._connect()
        try:
            mode = self._wconn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._wconn.execute("PRAGMA synchronous=FULL")
            self._wconn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            self._wconn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        except sqlite3.Error as exc:
            self._wconn.close()
            raise _map(exc, self.url, "setup") from exc
        if str(mode).lower() != "wal":
            self._wconn.close()
            raise StoreError(f"SQLite database {self.url} refused WAL mode (journal_mode={mode})")

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise _map(exc, self.url, "connect") from exc
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.url} is closed")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        with self._wlock:
            self._check_open()
            conn = self._wconn
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _map(exc, self.url, "begin") from exc
            try:
                yield _SqliteTx(conn)
                conn.execute("COMMIT")
                self._commits += 1
                if self._checkpointer is None:
                    self._start_checkpointer()
            except BaseException as exc:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                if isinstance(exc, sqlite3.Error):
                    raise _map(exc, self.url, "write") from exc
                raise

    def _start_checkpointer(self) -> None:
        t = threading.Thread(target=self._checkpoint_loop, name=f"sqlite-checkpoint-{self.path.name}", daemon=True)
        self._checkpointer = t
        t.start()

    def _checkpoint_loop(self) -> None:
        conn: sqlite3.Connection | None = None
        done = -1
        while not self._stop_checkpoints.wait(CHECKPOINT_EVERY_S):
            n = self._commits
            if n == done:
                continue
            try:
                if conn is None:
                    conn = self._connect()
                    conn.execute("PRAGMA synchronous=FULL")
                frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]  # beside the writers
                if frames > WAL_RESTART_FRAMES:  # a steady stream of commits never leaves the WAL fully
                    with self._wlock:  # copied: copy the rest between two commits, so the next one starts
                        if self._closed:  # the WAL over and the file stays small
                            break
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                done = n
            except (sqlite3.Error, StoreError) as exc:  # nothing is lost: the WAL keeps it; try again later
                log.warning("sqlite checkpoint of %s failed (will retry): %s", self.url, exc)
        if conn is not None:
            conn.close()

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the WAL into the database file now (passive): ``(busy, wal frames, frames copied)``."""
        with self._wlock:
            self._check_open()
            row = self._wconn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._check_open()
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _map(exc, self.url, "query") from exc

    def table_exists(self, name: str) -> bool:
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def pragma(self, name: str) -> Any:
        """A PRAGMA value as the write connection sees it (e.g. ``synchronous``, ``journal_mode``)."""
        with self._wlock:
            self._check_open()
            return self._wconn.execute(f"PRAGMA {name}").fetchone()[0]

    def close(self) -> None:
        self._stop_checkpoints.set()
        if self._checkpointer is not None:
            self._checkpointer.join(30)
        with self._wlock:
            if self._closed:
                return
            self._closed = True
            self._wconn.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()


class SqliteStore(SqlStore):
    """The embedded store: ``SqliteStore(".supplynet/supplynet.db")`` or a ``sqlite:///`` URL."""

    backend: SqliteBackend

    def __init__(self, path: str | Path = DEFAULT_PATH, migrate: bool = True):
        super().__init__(SqliteBackend(path), migrate=migrate)

    @property
    def path(self) -> Path:
        return self.backend.path
