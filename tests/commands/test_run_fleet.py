"""The issue's operating test: ``supplynet fleet`` (the world, through the real gate) and ``supplynet run``
(the brain) as separate processes on one SQLite store; the brain SIGKILLed three times at random moments
while the world writes, then restarted. Every executed decision reaches a real webhook receiver at least
once, each idempotency key always with the same body and a valid HMAC signature; no two decisions share
a dedupe key; the decision count is within 5% of an uninterrupted run on the same world (same seed)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supplynet.model import example_path
from supplynet.testing.brain import write_auto_policy
from supplynet.testing.receivers import WebhookReceiver

from .test_run import SRC, _decisions, _outbox, _Proc

TINY = str(example_path("tiny"))
SECRET = "fleet-and-run webhook secret"
DAYS, SEED = "10", "5"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "SUPPLYNET_HOME": str(home), "ERP_SECRET": SECRET}


def _sinks(folder: Path, url: str) -> Path:
    path = folder / "sinks.yaml"
    path.write_text("sinks:\n  - name: erp\n    kind: webhook\n    url: " + url + "\n    secret_env: ERP_SECRET\n"
                    "    actions: [order, transfer, production_order, work_order, reroute, expedite, alert]\n    backoff_s: 0.2\n"
                    "    backoff_max_s: 2\n", encoding="utf-8")
    return path


def _fleet(db: Path, home: Path, speed: str) -> list[str]:
    return [sys.executable, "-m", "supplynet.cli", "fleet", "--store", f"sqlite:///{db}", "--network", TINY,
            "--days", DAYS, "--seed", SEED, "--speed", speed, "--home", str(home)]


def _run(db: Path, policy: Path, sinks: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "supplynet.cli", "run", "--store", f"sqlite:///{db}", "--network", TINY,
            "--policy", str(policy), "--sinks", str(sinks), "--tick", "3600", "--status-every", "0.5",
            "--snapshot-events", "1500", *extra]


def _check_receipts(rx: WebhookReceiver, executed_ids: set[str]) -> None:
    bodies: dict[str, set[bytes]] = {}
    for r in rx.requests:
        assert r.signature_ok, r.headers  # every delivery signed with the sink's secret
        bodies.setdefault(r.headers["Idempotency-Key"], set()).add(r.body)
    assert all(len(b) == 1 for b in bodies.values())  # a key is always sent with the same body
    assert executed_ids <= set(bodies), sorted(executed_ids - set(bodies))[:5]  # each executed action arrived


@pytest.mark.slow
def test_fleet_and_run_as_processes_survive_three_sigkills(brain_home, tmp_path):
    home = tmp_path / "home"
    policy = write_auto_policy(tmp_path)
    # the uninterrupted reference: the same world (seed), then the brain to the head in one go
    base = tmp_path / "base.db"
    subprocess.run(_fleet(base, home, "max"), env=_env(brain_home), check=True, capture_output=True, timeout=600)
    with WebhookReceiver(secret=SECRET.encode()) as rx_base:
        p = _Proc(_run(base, policy, _sinks(tmp_path, rx_base.url), "--until-caught-up"), _env(brain_home))
        assert p.finish() == 0, p.lines[-5:]
        want = {r.dedupe_key for r in _decisions(base)[0]}
        executed = {f"act-{r.id}" for r in _decisions(base)[0] if r.status == "executed"}
        assert len(want) > 20 and executed
        _check_receipts(rx_base, executed)

    # the live one: the world writes at 20,000 simulated seconds per second while the brain is killed
    live = tmp_path / "live.db"
    rng = random.Random(20261207)
    with WebhookReceiver(secret=SECRET.encode(), script=[500, 500]) as rx:  # the ERP stumbles at first
        sinks = _sinks(tmp_path, rx.url)
        fleet = subprocess.Popen(_fleet(live, home, "20000"), env=_env(brain_home), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while not live.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            kills = 0
            while kills < 3:
                p = _Proc(_run(live, policy, sinks), _env(brain_home))
                p.wait_for("leader of the loop")
                time.sleep(rng.uniform(0.5, 3.0))
                p.p.send_signal(signal.SIGKILL)
                p.finish()
                kills += 1
            assert fleet.wait(timeout=600) == 0, fleet.stderr.read()[-2000:] if fleet.stderr else ""
        finally:
            if fleet.poll() is None:
                fleet.kill()
        p = _Proc(_run(live, policy, sinks, "--until-caught-up"), _env(brain_home))
        assert p.finish() == 0, p.lines[-5:]
        assert any("outbox drained" in ln for ln in p.lines), p.lines[-5:]
        rows, decided, cp, head, audit_ok = _decisions(live)
        keys = [r.dedupe_key for r in rows]
        assert len(keys) == len(set(keys))  # no two decisions share a dedupe key
        assert abs(len(rows) - len(want)) <= 0.05 * len(want), (len(rows), len(want))
        assert len(set(keys) & want) >= 0.95 * len(want)  # the same decisions, not just as many
        executed = {f"act-{r.id}" for r in rows if r.status == "executed"}
        assert executed and cp.offset == head and audit_ok
        outbox = _outbox(live)
        assert {o.status for o in outbox} == {"delivered"}, {o.status for o in outbox}
        assert rx.count >= len(outbox) + 2  # the two 500s were retried
        _check_receipts(rx, executed)
