"""The gate commits a batch's log rows and its tables (quarantine, late, counters, acks) in ONE
durable transaction: a process killed (SIGKILL) in the middle leaves both or neither."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from supplynet.store import open_store

CHILD = textwrap.dedent("""
    import os, signal, sys
    from datetime import UTC, datetime
    from supplynet.ingest.envelope import seal
    from supplynet.ingest.gate import Gate, GateConfig
    from supplynet.store import open_store
    from supplynet.store.quarantine import IngestTables

    path, where = sys.argv[1], sys.argv[2]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    st = open_store(path)
    gate = Gate(st, clock=lambda: t0.timestamp(), config=GateConfig(rate_per_s=1e6, burst=1e6))
    cred = gate.registry.provision("dev-1", measures=("temperature",), asset="R1", report_interval_s=60.0,
                                   now_us=int(t0.timestamp() * 1e6))

    def msgs(lo, hi):
        return [seal(cred.device_id, cred.kid, cred.private_key, s, t0,
                     [{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"}) for s in range(lo, hi)]

    gate.submit(msgs(0, 50) + [b"not json"])  # committed: 50 stored, 1 quarantined, acked to 49

    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "before_tables":  # the log rows are written (inside the transaction), the tables not yet
        IngestTables.record_tx = die
    elif where == "before_commit":  # everything written, the COMMIT not yet issued
        orig = IngestTables.record_tx
        def record_then_die(self, tx, batch):
            orig(self, tx, batch)
            die()
        IngestTables.record_tx = record_then_die
    gate.submit(msgs(50, 120) + [b"{broken"])
    print("committed", flush=True)
""")


def _run(tmp_path: Path, where: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    db = tmp_path / "s.db"
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    p = subprocess.run([sys.executable, "-c", CHILD, str(db), where], capture_output=True, text=True, env=env,
                       timeout=120)
    return p, db


def _state(db: Path) -> tuple[int, int | None, dict[str, int], dict[str, dict[str, int]], int]:
    with open_store(db) as st:
        t = st.ingest
        n_log = st.log.count()
        return n_log, st.log.high_water("dev-1"), t.acks(), t.counters(), len(t.quarantined(limit=1000))


@pytest.mark.parametrize("where", ["before_tables", "before_commit"])
def test_sigkill_inside_the_batch_leaves_neither_log_rows_nor_acks(tmp_path, where):
    p, db = _run(tmp_path, where)
    assert p.returncode == -signal.SIGKILL, p.stderr
    n_log, hw, acks, counters, n_q = _state(db)
    # exactly the first batch: the killed batch left no log rows, no acks, no counters, no quarantine
    assert n_log == 50 and hw == 49
    assert acks == {"dev-1": 49}
    assert counters["dev-1"]["stored"] == n_log
    assert n_q == 1 and sum(c.get("bad_json", 0) + c.get("schema", 0) for c in counters.values()) <= 1


def test_completed_batch_has_log_and_acks_in_step(tmp_path):
    p, db = _run(tmp_path, "none")
    assert p.returncode == 0 and "committed" in p.stdout, p.stderr
    n_log, hw, acks, counters, n_q = _state(db)
    assert n_log == 120 and hw == 119
    assert acks == {"dev-1": hw}
    assert counters["dev-1"]["stored"] == n_log
    assert n_q == 2
