"""SQLite checkpoints run on the backend's own thread, not inside a commit: the WAL still starts over
(it stays small), commits never wait for a whole checkpoint, and closing stops the thread."""

from __future__ import annotations

import sqlite3
import struct
import threading
import time
from pathlib import Path

from supplynet.store.sqlite import SqliteBackend


def _wal_frames(path) -> int:
    conn = sqlite3.connect(path)  # a passive checkpoint reports the WAL's frames now
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        conn.close()


def _backfilled(path) -> tuple[int, int]:
    """(frames in the WAL, frames copied back) as SQLite's shared WAL index records them, read off the
    ``-shm`` file without a connection (a connection's checkpoint would do the thread's work): the
    index header's ``mxFrame`` (byte 16) and the checkpoint info's ``nBackfill`` (byte 96), native
    32-bit integers (https://www.sqlite.org/walformat.html, "The WAL-Index Header")."""
    raw = Path(f"{path}-shm").read_bytes()[:100]
    return struct.unpack_from("=I", raw, 16)[0], struct.unpack_from("=I", raw, 96)[0]


def _wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return pred()


def _fill(b: SqliteBackend, commits: int, start: int = 0) -> None:
    for i in range(start, start + commits):
        with b.write() as tx:
            tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", (i, "x" * 200))


def test_the_wal_is_copied_back_by_the_thread_and_starts_over(tmp_path):
    b = SqliteBackend(tmp_path / "c.db")
    try:
        assert b.pragma("wal_autocheckpoint") == 0  # no commit pays for a checkpoint
        with b.write() as tx:
            tx.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        _fill(b, 2000)
        # the thread copies the whole WAL back after the last commit (it wakes every CHECKPOINT_EVERY_S;
        # the deadline is generous for a loaded machine): wait for that, not for a fixed time
        wal = _backfilled(tmp_path / "c.db")[0]
        assert wal > 0
        done = _wait_until(lambda: _backfilled(tmp_path / "c.db") == (wal, wal), 30.0)
        assert done, f"(WAL frames, frames copied back) = {_backfilled(tmp_path / 'c.db')}"
        _fill(b, 1, start=2000)  # this commit starts the WAL over
        assert _wal_frames(tmp_path / "c.db") < 20  # without the thread: thousands of frames
        assert b.query("SELECT count(*) FROM t") == [(2001,)]
    finally:
        b.close()
    assert not any(t.name.startswith("sqlite-checkpoint-c.db") for t in threading.enumerate())
    reopened = SqliteBackend(tmp_path / "c.db")
    try:
        assert reopened.query("SELECT count(*), max(k) FROM t") == [(2001, 2000)]
    finally:
        reopened.close()


def test_commits_go_on_while_a_checkpoint_copies(tmp_path, monkeypatch):
    import supplynet.store.sqlite as sq

    monkeypatch.setattr(sq, "CHECKPOINT_EVERY_S", 0.05)  # many checkpoints during the stream below
    monkeypatch.setattr(sq, "WAL_RESTART_FRAMES", 100)
    b = SqliteBackend(tmp_path / "c.db")
    try:
        with b.write() as tx:
            tx.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        stop = time.monotonic() + 1.5
        n = 0
        while time.monotonic() < stop or n < 2000:  # a steady stream of commits, never a pause
            _fill_one(b, n)
            n += 1
        # the WAL started over while the commits went on: it holds only the last of them (every
        # commit writes at least one frame: without the checkpointer's pass under the lock it would
        # hold n or more)
        frames = _wal_frames(tmp_path / "c.db")
        assert frames < 0.5 * n, (frames, n)
        busy, frames, copied = b.checkpoint()
        assert busy == 0 and copied == frames
        assert b.query("SELECT count(*) FROM t") == [(n,)]
    finally:
        b.close()


def _fill_one(b: SqliteBackend, k: int) -> None:
    with b.write() as tx:
        tx.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, "y" * 100))
