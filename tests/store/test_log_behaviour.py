"""Behaviour of the SQL log beyond the contract: group commit, batch rows, crashes, several writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from supplynet.store import AppendResult, open_store
from supplynet.testing.store_contract import sale


def test_group_commit_merges_waiting_callers_into_one_transaction(store_url: str) -> None:
    with open_store(store_url) as store:
        log = store.log
        before = log.commits
        results: dict[int, AppendResult] = {}

        def call(k: int) -> None:
            results[k] = log.append([sale(f"g{k}", 0), sale(f"g{k}", 1)])

        threads = [threading.Thread(target=call, args=(k,)) for k in range(8)]
        with store.transaction():  # another writer holds the database: callers pile up
            for t in threads:
                t.start()
            deadline = time.monotonic() + 10
            while len(log._pending) < 7 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(log._pending) == 7  # the eighth is the leader, waiting for the database
            assert results == {}  # nobody returns before its commit
        for t in threads:
            t.join()
        assert log.commits - before == 2  # the leader's own, then the seven others together
        assert results == {k: AppendResult(2, 0) for k in range(8)}
        assert log.count() == 16


def test_append_batch_keeps_one_row(store_url: str) -> None:
    with open_store(store_url) as store:
        run = [sale("dev", i, 60 + i) for i in range(100)]
        store.log.append_batch("dev", run)
        rows = store.backend.query("SELECT off, n, source, seq, seq_last, ts_min, ts_max, kind FROM events")
        t0 = run[0].ts.timestamp() * 1_000_000
        assert [tuple(r) for r in rows] == [(1, 100, "dev", 0, 99, int(t0), int(t0) + 99_000_000, "sale")]


def test_two_stores_on_one_database_write_each_event_once(store_url: str) -> None:
    a, b = open_store(store_url), open_store(store_url)
    try:
        def work(store, k: int) -> None:
            for i in range(40):
                store.log.append([sale(f"own{k}", i, i), sale("both", i, i)])
                store.log.append_batch("runs", [sale("runs", j, j) for j in range(i, i + 5)])

        threads = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate((a, b, a, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert a.log.count() == b.log.count() == 4 * 40 + 40 + 44
        assert [x.offset for x in b.log.read()] == list(range(1, 245))
        keys = [(x.event.source, x.event.seq) for x in a.log.read()]
        assert len(keys) == len(set(keys))
    finally:
        a.close()
        b.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from supplynet.store import open_store
    from supplynet.testing.store_contract import sale
    store = open_store(sys.argv[1])
    i = 0
    while True:
        store.log.append([sale("crash", i, i)])
        print(i, flush=True)  # acknowledged: the append returned
        i += 1
    """
)


def test_acknowledged_events_survive_sigkill(store_url: str, tmp_path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, store_url], stdout=subprocess.PIPE, text=True)
    acked = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            acked.append(int(line))
            if len(acked) >= 60:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    with open_store(store_url) as store:
        stored = {x.event.seq for x in store.log.read(sources=["crash"])}
        assert set(acked) <= stored
        assert stored == set(range(len(stored)))  # nothing half-written
        assert store.log.high_water("crash") == len(stored) - 1


def test_failed_commit_reaches_the_caller_and_stores_nothing(tmp_path, monkeypatch) -> None:
    import sqlite3

    from supplynet.errors import StoreError
    from supplynet.store import sqlite as sqlite_backend

    monkeypatch.setattr(sqlite_backend, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "busy.db"
    with open_store(path) as store:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(StoreError, match="locked"):
                store.log.append([sale("d", 1)])
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.log.count() == 0
        assert store.log.append([sale("d", 1)]) == AppendResult(1, 0)
