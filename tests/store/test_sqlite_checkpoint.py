"""SQLite checkpoints run on the backend's own thread, not inside a commit: the WAL still starts over
(it stays small), commits never wait for a whole checkpoint, and closing stops the thread."""

from __future__ import annotations

import sqlite3
import threading
import time

from supplynet.store.sqlite import CHECKPOINT_EVERY_S, SqliteBackend


def _wal_frames(path) -> int:
    conn = sqlite3.connect(path)  # a passive checkpoint reports the WAL's frames now
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        conn.close()


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
        time.sleep(CHECKPOINT_EVERY_S * 4)  # the thread copies the WAL between two commits
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
