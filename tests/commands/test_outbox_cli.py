"""``supplynet outbox`` as an operator uses it, as real processes on a real store and a real receiver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from supplynet.decide.outbox import Dispatcher
from supplynet.decide.sinks import load_sinks
from supplynet.security.vault import Vault
from supplynet.store import open_store
from supplynet.testing.receivers import WebhookReceiver, verify_signature

SRC = Path(__file__).resolve().parents[2] / "src"


def cli(*args: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    e = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    return subprocess.run([sys.executable, "-m", "supplynet.cli", *map(str, args)], capture_output=True, text=True,
                          env=e, timeout=120)


def _setup(tmp_path: Path, url: str) -> tuple[str, Path, dict[str, str]]:
    store = f"sqlite:///{tmp_path / 's.db'}"
    sinks = tmp_path / "sinks.yaml"
    sinks.write_text(f"sinks:\n  - name: erp\n    kind: webhook\n    url: {url}\n    actions: [order]\n"
                     f"  - name: wms\n    kind: file\n    folder: {tmp_path / 'out'}\n    actions: [order]\n")
    env = {"SUPPLYNET_VAULT_KEY": Vault.generate_key(), "SUPPLYNET_HOME": str(tmp_path / "home")}
    return store, sinks, env


def test_list_json_resend_dead_then_delivered(tmp_path: Path, monkeypatch) -> None:
    with WebhookReceiver(script=[410]) as rx:
        store, sinks, env = _setup(tmp_path, rx.url)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        with open_store(store) as st:
            box = st.outbox
            box.enqueue(action_id="D-1:order", action="order", body={"site": "ST1", "sku": "A", "quantity": 4},
                        sinks=["erp", "wms"], decision_id="D-1", at_us=1)
            with Dispatcher(st, load_sinks(sinks)) as d:
                assert d.run_once()["dead"] == 1  # erp answered 410; wms (a file) took it

        r = cli("outbox", "list", "--store", store, "--json", env=env)
        assert r.returncode == 0, r.stderr
        rows = {x["sink"]: x for x in map(json.loads, r.stdout.splitlines())}
        assert {s: (x["action_id"], x["status"], x["attempts"]) for s, x in rows.items()} == {
            "erp": ("D-1:order", "dead", 1), "wms": ("D-1:order", "delivered", 1)}
        assert "HTTP 410" in rows["erp"]["last_error"]
        r = cli("outbox", "list", "--store", store, "--status", "dead", "--json", env=env)
        assert [json.loads(x)["sink"] for x in r.stdout.splitlines()] == ["erp"]
        r = cli("outbox", "list", "--store", store, env=env)
        assert r.returncode == 0 and "D-1:order" in r.stdout and "dead" in r.stdout

        r = cli("outbox", "resend", "D-1:order", "--store", store, env=env)
        assert r.returncode == 0, r.stderr
        assert "re-sending D-1:order to 1 sink: erp" in r.stdout
        r = cli("outbox", "dispatch", "--once", "--sinks", sinks, "--store", store, env=env)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["delivered"] == 1
        assert [x.status for x in rx.requests] == [410, 200]
        secret = cli("outbox", "secret", "erp", "--sinks", sinks, "--store", store, env=env).stdout.strip().encode()
        assert verify_signature(secret, rx.requests[1].body, rx.requests[1].headers["X-Supplynet-Signature"])

    r = cli("outbox", "list", "--store", store, "--json", env=env)
    assert {json.loads(x)["status"] for x in r.stdout.splitlines()} == {"delivered"}
    with open_store(store) as st:
        [entry] = [e for e in st.audit.entries(limit=1000) if e.action == "outbox.resend"]
        assert entry.subject == "D-1:order" and entry.detail == {"sinks": ["erp"]}
    r = cli("outbox", "resend", "D-1:order", "--store", store, env=env)
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: action 'D-1:order' is not a dead letter (erp: delivered, wms: delivered); only dead letters are re-sent")
    r = cli("outbox", "resend", "nope", "--store", store, env=env)
    assert r.returncode == 2 and r.stderr.strip() == "error: no outbox row for action 'nope'"


def test_bad_sinks_file_is_one_line_naming_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "sinks.yaml"
    bad.write_text("sinks:\n  - name: erp\n    kind: webhook\n    url: not-a-url\n    actions: [order]\n")
    r = cli("outbox", "dispatch", "--once", "--sinks", bad, "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert r.returncode == 2
    assert r.stderr == f"error: {bad}:4 sinks[0].url: expected an http:// or https:// URL, got 'not-a-url'\n"
    r = cli("outbox", "list", "--status", "lost", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert r.returncode == 2 and "Traceback" not in r.stderr and "--status 'lost'" in r.stderr
