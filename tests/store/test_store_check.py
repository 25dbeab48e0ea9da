"""``supplynet store check``: 4 KiB of random bytes written in the middle of a SQLite file are reported
(exit 2, one line per problem); so are broken log invariants (a gap in the offsets, a sequence number
held twice, ``log_sources`` out of step) and a tampered audit chain, on SQLite and PostgreSQL. It reads
only: a missing store is not created."""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from supplynet.events import Sale
from supplynet.store import open_store
from supplynet.store.migrations import apply_migrations, latest_version
from supplynet.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "supplynet.cli", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def vault_env(monkeypatch, tmp_path):
    key = "q" * 43 + "="  # 32 bytes in URL-safe base64
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY", key)
    monkeypatch.setenv("SUPPLYNET_HOME", str(tmp_path / "home"))
    return {"SUPPLYNET_VAULT_KEY": key, "SUPPLYNET_HOME": str(tmp_path / "home")}


def _fill(url, n=4000):
    with open_store(url) as st:
        for b in range(0, n, 500):
            st.log.append([Sale(source=f"till-{i % 7}", seq=i // 7 + 1, ts=T0 + timedelta(seconds=i), site="S1",
                                sku=f"SKU-{i % 50}", quantity=1 + i % 3) for i in range(b, b + 500)])
        st.log.append_batch("gw-1", [Sale(source="gw-1", seq=s, ts=T0, site="S2", sku="A", quantity=1)
                                     for s in range(1, 40)])
        for i in range(5):
            st.audit.append("admin:a", "token.create", f"t{i}")


def test_healthy_sqlite_store_is_ok(tmp_path, vault_env):
    url = f"sqlite:///{tmp_path / 's.db'}"
    _fill(url)
    out = _cli("store", "check", "--store", url, env=vault_env)
    assert out.returncode == 0 and out.stdout.strip().endswith(f"ok: {url}"), out.stdout + out.stderr
    # without the vault key the chain's links are still checked, and the output says what was not
    env = {k: v for k, v in os.environ.items() if k != "SUPPLYNET_VAULT_KEY"}
    out = subprocess.run([sys.executable, "-m", "supplynet.cli", "store", "check", "--store", url],
                         capture_output=True, text=True, timeout=120,
                         env={**env, "SUPPLYNET_HOME": str(tmp_path / "elsewhere")})
    assert out.returncode == 0 and "note: audit chain: links and sequence numbers only" in out.stdout


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes_in_the_middle_of_the_file_are_reported(tmp_path, vault_env, seed):
    path = tmp_path / "s.db"
    _fill(f"sqlite:///{path}")
    assert not (tmp_path / "s.db-wal").exists() or (tmp_path / "s.db-wal").stat().st_size == 0
    size = path.stat().st_size
    assert size > 64 * 1024
    with path.open("r+b") as f:
        f.seek(size // 2)
        f.write(random.Random(seed).randbytes(4096))
    out = _cli("store", "check", "--store", f"sqlite:///{path}", env=vault_env)
    lines = out.stdout.splitlines()
    assert out.returncode == 2, out.stdout + out.stderr
    assert lines and all(x.startswith(("problem: ", "note: ")) for x in lines) and "Traceback" not in out.stderr
    assert lines[0].startswith(("problem: integrity_check: ", "problem: cannot open the store: "))


def _break_log(conn_exec):
    conn_exec("DELETE FROM events WHERE off = (SELECT min(off) + 3 FROM events)")  # a hole, counts out of step
    conn_exec("UPDATE events SET seq_last = seq_last + 1 WHERE source = 'till-1' AND seq = 1")  # overlap
    conn_exec("UPDATE audit SET actor = 'admin:mallory' WHERE seq = 2")


def _expect_log_problems(out):
    assert out.returncode == 2, out.stdout + out.stderr
    text = out.stdout
    assert "offsets missing" in text and "holds sequence number 2 twice" in text
    assert "is recorded with" in text and "audit chain: entry 2" in text


def test_broken_log_invariants_are_reported_sqlite(tmp_path, vault_env):
    path = tmp_path / "s.db"
    _fill(f"sqlite:///{path}", n=200)
    conn = sqlite3.connect(path)
    with conn:
        _break_log(conn.execute)
    conn.close()
    _expect_log_problems(_cli("store", "check", "--store", f"sqlite:///{path}", env=vault_env))


def test_broken_log_invariants_are_reported_postgres(pg_url, vault_env):
    import psycopg

    _fill(pg_url, n=200)
    assert _cli("store", "check", "--store", pg_url, env=vault_env).returncode == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:  # with amcheck installed, every index is checked
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
    with open_store(pg_url, readonly=True) as st:
        calls = []
        real = st.backend.query
        st.backend.query = lambda sql, params=(): calls.append(sql) or real(sql, params)
        problems, _ = st.check()
    assert problems == [] and sum("bt_index_check" in c for c in calls) >= 5
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _break_log(conn.execute)
    _expect_log_problems(_cli("store", "check", "--store", pg_url, env=vault_env))


def test_check_never_creates_or_migrates(tmp_path, vault_env):
    missing = tmp_path / "none" / "x.db"
    out = _cli("store", "check", "--store", f"sqlite:///{missing}", env=vault_env)
    assert out.returncode == 2 and out.stderr.startswith("error: ") and not missing.parent.exists()
    old = tmp_path / "old.db"  # a store made by the previous version (schema 8)
    with SqliteStore(old, migrate=False) as st:
        apply_migrations(st.backend, target=8)
    for args in (("store", "check"), ("audit", "list"), ("tokens", "list"), ("devices", "list"), ("events",),
                 ("state",)):
        _cli(*args, "--store", f"sqlite:///{old}", env=vault_env)
        out = _cli(*args, "--store", f"sqlite:///{missing}", env=vault_env)
        assert out.returncode == 2 and "Traceback" not in out.stderr and not missing.parent.exists(), args
    conn = sqlite3.connect(old)
    assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 8
    conn.close()
    out = _cli("store", "migrate", "--store", f"sqlite:///{old}", env=vault_env)
    assert out.returncode == 0 and out.stdout.strip().endswith(f"schema version 8 -> {latest_version()}")
