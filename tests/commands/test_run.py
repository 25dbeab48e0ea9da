"""``supplynet run`` as a real process on a real SQLite store: caught up, killed and restarted, stopped
gracefully, alone on its store. Runs snapshot every 1,500 events, so restarts resume from snapshots."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from supplynet.decide.decision import DECIDE_SOURCE
from supplynet.model import example_path
from supplynet.store import open_store
from supplynet.testing.brain import fill_log, write_auto_policy

SRC = Path(__file__).resolve().parents[2] / "src"
TINY = str(example_path("tiny"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("world")
    with open_store(folder / "world.db") as st:
        n = fill_log(st, days=6, seed=3)
    return folder / "world.db", write_auto_policy(folder), n


def _sinks(folder: Path) -> Path:
    """A file sink taking every action (what an ERP reading a folder would see)."""
    path = folder / "sinks.yaml"
    path.write_text(f"sinks:\n  - {{name: erp-folder, kind: file, folder: {folder / 'actions'}, rotate: none, "
                    f"actions: [order, transfer, production_order, work_order, reroute, expedite, alert]}}\n")
    return path


def _env(home):
    return {**os.environ, "PYTHONPATH": str(SRC), "SUPPLYNET_HOME": str(home)}


def _cmd(db, policy, *extra):
    return [sys.executable, "-m", "supplynet.cli", "run", "--store", f"sqlite:///{db}", "--network", TINY,
            "--policy", str(policy), "--tick", "3600", "--status-every", "0.5", "--snapshot-events", "1500", *extra]


def _copy(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    return dst


class _Proc:
    """A ``supplynet run`` subprocess whose stderr is read line by line."""

    def __init__(self, cmd, env):
        self.p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line.rstrip())

    def wait_for(self, text, timeout=180.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in ln for ln in self.lines):
                return
            if self.p.poll() is not None:
                self._t.join(timeout=5)
                if any(text in ln for ln in self.lines):
                    return
                raise AssertionError(f"exited {self.p.returncode} before {text!r}: {self.lines[-5:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {text!r} within {timeout} s: {self.lines[-5:]}")

    def finish(self, timeout=300.0):
        rc = self.p.wait(timeout=timeout)
        self._t.join(timeout=5)
        return rc


def _wait_for_snapshot(db, timeout=180.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = sqlite3.connect(db, timeout=30)
        try:
            if conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]:
                return
        finally:
            conn.close()
        time.sleep(0.1)
    raise AssertionError(f"no snapshot within {timeout} s")


def _outbox(db):
    with open_store(db) as st:
        return st.outbox.list(limit=10_000_000)


def _decisions(db):
    with open_store(db) as st:
        rows = st.decisions.list(limit=10_000_000)
        decided = {e.event.event_id for e in st.log.read(sources=[DECIDE_SOURCE])}
        cp = st.brain.checkpoint("main")
        head = st.log.last_offset()
        audit_ok = st.audit.verify().ok
    return rows, decided, cp, head, audit_ok


@pytest.fixture(scope="module")
def baseline(world, brain_home, tmp_path_factory):
    db = _copy(world[0], tmp_path_factory.mktemp("base") / "base.db")
    p = _Proc(_cmd(db, world[1], "--until-caught-up"), _env(brain_home))
    assert p.finish() == 0, p.lines[-5:]
    return db, p.lines


def test_until_caught_up_decides_and_checkpoints_at_the_head(baseline):
    db, lines = baseline
    rows, decided, cp, head, audit_ok = _decisions(db)
    assert len(rows) > 100
    assert all(r.dedupe_key and r.dedupe_key.startswith(f"{r.kind}:") for r in rows)
    assert cp is not None and cp.offset == head  # it stopped at the log head, its own actions folded
    assert any("leader of the loop" in ln for ln in lines) and any(ln.startswith("supplynet run: done") for ln in lines)
    assert any("events/s" in ln and "lag" in ln for ln in lines)
    assert audit_ok


def test_sigkill_at_random_moments_neither_loses_nor_repeats_a_decision(world, baseline, brain_home, tmp_path):
    want = {r.dedupe_key for r in _decisions(baseline[0])[0]}
    db = _copy(world[0], tmp_path / "killed.db")
    sinks = _sinks(tmp_path)
    rng = random.Random(20261207)
    resumed = []
    for i in range(3):
        p = _Proc(_cmd(db, world[1], "--sinks", sinks), _env(brain_home))
        p.wait_for("leader of the loop")
        if i == 2:  # the last kill comes after a snapshot was written, however slow the shared machine is
            _wait_for_snapshot(db)
        time.sleep(rng.uniform(0.3, 2.5))
        p.p.send_signal(signal.SIGKILL)
        p.finish()
        resumed += [int(ln.split("resuming at offset ")[1].split(",")[0]) for ln in p.lines if "resuming at" in ln]
    p = _Proc(_cmd(db, world[1], "--sinks", sinks, "--until-caught-up"), _env(brain_home))
    assert p.finish() == 0, p.lines[-5:]
    resumed += [int(ln.split("resuming at offset ")[1].split(",")[0]) for ln in p.lines if "resuming at" in ln]
    assert max(resumed) > 0  # restarts resumed from a snapshot (twin and decision makers), not the log's start
    rows, decided, cp, head, audit_ok = _decisions(db)
    keys = [r.dedupe_key for r in rows]
    assert len(keys) == len(set(keys))  # no two decisions share a dedupe key
    assert abs(len(rows) - len(want)) <= 0.05 * len(want), (len(rows), len(want))
    assert len(set(keys) & want) >= 0.95 * len(want)
    executed = [r for r in rows if r.status == "executed"]
    assert executed and all(set(r.record["executed"]["event_ids"]) <= decided for r in executed)
    assert cp.offset == head and audit_ok
    # every executed decision has its outbox row, once; what reached the folder carries one body per key
    outbox = _outbox(db)
    assert sorted(o.action_id for o in outbox if o.decision_id) == sorted(f"act-{r.id}" for r in executed)
    assert {o.action for o in outbox} <= {"order", "transfer", "production_order", "alert"} and all(o.sink == "erp-folder" for o in outbox)
    with open_store(db) as st:
        alerts = {f"alert-{e.event.event_id}" for e in st.log.read(kinds=["alert"])}
    assert {o.action_id for o in outbox if o.action == "alert"} <= alerts  # each alert raised once, in the log
    by_key: dict[str, set[str]] = {}
    for line in (tmp_path / "actions" / "actions.jsonl").read_text().splitlines():
        by_key.setdefault(json.loads(line)["action_id"], set()).add(line)
    assert by_key and all(len(bodies) == 1 for bodies in by_key.values())
    assert set(by_key) <= {o.action_id for o in outbox}


def test_sigterm_finishes_the_batch_checkpoints_and_exits_0(world, brain_home, tmp_path):
    db = _copy(world[0], tmp_path / "term.db")
    p = _Proc(_cmd(db, world[1]), _env(brain_home))
    p.wait_for("leader of the loop")
    p.wait_for("running:")
    p.p.send_signal(signal.SIGTERM)
    assert p.finish(timeout=60) == 0, p.lines[-5:]
    assert any(ln.startswith("supplynet run: done") for ln in p.lines)
    rows, _, cp, head, _ = _decisions(db)
    assert cp is not None and cp.offset > 0 and rows


def test_a_second_run_on_the_same_sqlite_store_is_refused(world, brain_home, tmp_path):
    db = _copy(world[0], tmp_path / "two.db")
    first = _Proc(_cmd(db, world[1]), _env(brain_home))
    try:
        first.wait_for("leader of the loop")
        second = subprocess.run(_cmd(db, world[1]), env=_env(brain_home), capture_output=True, text=True,
                                timeout=180)
        assert second.returncode == 2
        err = second.stderr.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: another 'supplynet run'") and str(first.p.pid) in err[0]
    finally:
        first.p.send_signal(signal.SIGTERM)
        assert first.finish(timeout=60) == 0


def test_postgres_standby_takes_over_within_10_s_without_a_double_decision(pg_url, brain_home, tmp_path):
    with open_store(pg_url) as st:
        fill_log(st, days=4, seed=4)
    policy = write_auto_policy(tmp_path)

    def cmd(*extra):
        return [sys.executable, "-m", "supplynet.cli", "run", "--store", pg_url, "--network", TINY, "--policy",
                str(policy), "--tick", "3600", "--status-every", "0.5", "--snapshot-events", "1000", *extra]

    procs = [_Proc(cmd(), _env(brain_home)), _Proc(cmd(), _env(brain_home))]  # started together
    try:
        deadline = time.monotonic() + 180
        while not all(any("standby" in ln or "leader of" in ln for ln in p.lines) for p in procs):
            assert time.monotonic() < deadline and all(p.p.poll() is None for p in procs), [p.lines for p in procs]
            time.sleep(0.05)
        a, b = sorted(procs, key=lambda p: not any("leader of" in ln for ln in p.lines))
        assert any("standby" in ln for ln in b.lines)  # exactly one leads
        a.wait_for("running:")
        a.p.send_signal(signal.SIGKILL)
        killed, killed_wall = time.monotonic(), time.time()
        a.finish()
        b.wait_for("leader of the loop", timeout=60)
        takeover = time.monotonic() - killed
        assert takeover < 10, takeover
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # the new leader catches up with the log head
            with open_store(pg_url) as st:
                cp = st.brain.checkpoint("main")
                if cp is not None and cp.updated_at > killed_wall * 1e6 and cp.offset == st.log.last_offset():
                    break
            time.sleep(0.5)
        b.p.send_signal(signal.SIGTERM)
        assert b.finish(timeout=60) == 0, b.lines[-5:]
    finally:
        for p in procs:
            if p.p.poll() is None:
                p.p.kill()
    with open_store(pg_url) as st:
        rows = st.decisions.list(limit=10_000_000)
        lease = st.brain.lease("main")
        cp = st.brain.checkpoint("main")
        head = st.log.last_offset()
    assert lease[1] == 2 and lease[0].split(":")[1] == str(b.p.pid)  # the standby leads, at the second epoch
    assert cp.offset == head and len(rows) > 50, (a.lines[-3:], b.lines[-5:])
    made = [(r.kind, r.record["action"].get("site"), r.record["action"].get("sku"), r.record["created_at"])
            for r in rows]
    assert len(made) == len(set(made))  # one decision per SKU-site and tick, whoever made it


def test_serve_loop_hosts_the_brain_and_metrics_show_its_lag(world, brain_home, tmp_path):
    import socket
    import urllib.request

    from supplynet.security.tokens import TokenService

    db = _copy(world[0], tmp_path / "serve.db")
    with open_store(db) as st:
        token, _ = TokenService(st).create(role="viewer", name="test")
        lag_before = st.log.last_offset()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "supplynet.cli", "serve", "--loop", "--store", f"sqlite:///{db}", "--network", TINY,
           "--policy", str(world[1]), "--tick", "3600", "--host", "127.0.0.1", "--port", str(port)]
    p = _Proc(cmd, _env(brain_home))

    def metrics():
        req = urllib.request.Request(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return {ln.split(" ")[0]: float(ln.split(" ")[1]) for ln in r.read().decode().splitlines()
                    if ln and not ln.startswith("#")}

    try:
        seen, deadline = [], time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                m = metrics()
            except OSError:
                assert p.p.poll() is None, p.lines[-5:]
                time.sleep(0.3)
                continue
            seen.append(m["supplynet_loop_lag_events"])
            if m["supplynet_loop_lag_events"] == 0:
                break
            time.sleep(0.3)
        assert seen and seen[-1] == 0 and max(seen) > 0, seen  # behind at first, then caught up
        assert max(seen) <= lag_before
        made = sum(v for k, v in m.items() if k.startswith('supplynet_loop_decisions{kind="replenish"'))
        assert made > 100 and m["supplynet_loop_lag_seconds"] == 0
        p.p.send_signal(signal.SIGTERM)
        assert p.finish(timeout=60) == 0, p.lines[-5:]
    finally:
        if p.p.poll() is None:
            p.p.kill()
    rows, _, cp, head, _ = _decisions(db)
    assert len(rows) == made and cp.offset == head
