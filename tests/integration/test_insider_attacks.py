"""A dishonest insider against the running control tower (``supplynet serve`` as its own process,
over TCP, with tokens of several people made by the CLI): she cannot approve her own proposal with
her other token, cannot split an order to slip under the threshold (also sending the parts at once),
cannot price a work order at zero to skip the second person, cannot raise the threshold alone; every
device and token change she makes is in the audit chain with her name; and rewriting the chain in the
database afterwards is caught by ``supplynet audit verify``, also against an exported signed checkpoint."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from supplynet.model import example_path

POLICY = "high_impact_cost: 2500\ncostly_action_cost: 100000\nkinds:\n  maintain: {level: propose}\n"
MILK = {"site": "STORE-1", "sku": "MILK-2L"}  # 0.87 per unit to STORE-1: 1,000 units ~ 870


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env, *args):
    out = subprocess.run([sys.executable, "-m", "supplynet.cli", *args], capture_output=True, text=True, env=env,
                         timeout=120)
    return out


@pytest.fixture
def tower(tmp_path):
    env = {**os.environ, "SUPPLYNET_HOME": str(tmp_path / "home"),
           "SUPPLYNET_VAULT_KEY": "k" * 43, "SUPPLYNET_ENVIRONMENT": "test"}
    env.pop("SUPPLYNET_AUDIT_SIGNING_KEY", None)
    url = f"sqlite:///{tmp_path / 'tower.db'}"
    tokens = {}
    for key, person, role in (("alice", "alice", "planner"), ("alice-admin", "alice", "admin"),
                              ("bob", "bob", "planner")):
        out = _cli(env, "tokens", "create", "--person", person, "--role", role, "--store", url)
        assert out.returncode == 0, out.stderr
        tokens[key] = json.loads(out.stdout)["token"]
    (tmp_path / "policy.yaml").write_text(POLICY)
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "supplynet.cli", "serve", "--store", url, "--network",
                             str(example_path("tiny")), "--policy", str(tmp_path / "policy.yaml"), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"serve did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    with httpx.Client(base_url=base, timeout=30) as client:
        yield client, tokens, env, url, tmp_path
    proc.terminate()
    proc.wait(20)


def _h(tokens, who, key=None):
    h = {"Authorization": f"Bearer {tokens[who]}"}
    if key:
        h["Idempotency-Key"] = key
    return h


def _order(client, tokens, who, qty, key):
    r = client.post("/v1/orders", json={**MILK, "quantity": qty}, headers=_h(tokens, who, key))
    assert r.status_code == 201, r.text
    return r.json()["decision"]


def test_a_dishonest_insider_against_the_running_tower(tower):
    client, tokens, env, url, tmp_path = tower
    # 1. her own high-impact proposal, approved with her admin token: refused; bob may
    big = _order(client, tokens, "alice", 4_000, "attack-big-01")
    assert big["status"] == "proposed"
    r = client.post(f"/v1/decisions/{big['id']}/approve", headers=_h(tokens, "alice-admin"))
    assert 400 <= r.status_code < 500 and "someone other than its proposer alice" in r.text
    assert client.post(f"/v1/decisions/{big['id']}/approve", headers=_h(tokens, "bob")).status_code == 200
    # 2. the same 2,610 as three orders of 870 sent at once: at most two go through on her word
    with ThreadPoolExecutor(3) as pool:
        parts = list(pool.map(lambda i: _order(client, tokens, "alice", 1_000, f"attack-split-{i}"), range(3)))
    assert sorted(p["status"] for p in parts) == ["executed", "executed", "proposed"]
    # 3. a work order "costing 0": costed from the network (2,500), so it waits for a second person
    wo = client.post("/v1/work-orders", json={"asset_id": "OVEN-1", "cost": 0}, headers=_h(tokens, "alice", "attack-wo-01"))
    assert wo.status_code == 201 and wo.json()["decision"]["status"] == "proposed"
    assert wo.json()["decision"]["cost"] == 2500
    # 4. raising the threshold on her own authority: pending, not in force
    loose = {"high_impact_cost": 1e9, "costly_action_cost": 1e5, "kinds": {"maintain": {"level": "propose"}}}
    r = client.put("/v1/policies/autonomy", json=loose, headers=_h(tokens, "alice-admin"))
    assert r.status_code == 202 and r.json()["status"] == "pending"
    assert client.get("/v1/policies/autonomy", headers=_h(tokens, "bob")).json()["high_impact_cost"] == 2500
    # 5. her device and token changes through the API are audited with her name
    dev = client.post("/v1/devices", json={"device_id": "rf-9", "measures": ["temperature"], "site": "DC-1"},
                      headers=_h(tokens, "alice-admin"))
    assert dev.status_code == 201, dev.text
    assert client.post("/v1/devices/rf-9/revoke", headers=_h(tokens, "alice-admin")).status_code == 200
    tok = client.post("/v1/tokens", json={"name": "mallory", "role": "planner"}, headers=_h(tokens, "alice-admin"))
    assert tok.status_code == 201
    listed = _cli(env, "audit", "list", "--store", url, "--limit", "200", "--json")
    entries = [json.loads(x) for x in listed.stdout.splitlines()]
    mine = {(e["action"], e["subject"]) for e in entries if e["actor"] == "admin:alice"}
    assert {("device.provision", "rf-9"), ("device.revoke", "rf-9"),
            ("token.create", tok.json()["info"]["id"])} <= mine
    assert _cli(env, "audit", "verify", "--store", url).returncode == 0
    # 6. an anchor exported now; then she rewrites the chain in the database with plain hashes
    assert _cli(env, "audit", "keygen", "--out", str(tmp_path / "op.key")).returncode == 0
    anchor = tmp_path / "anchor.json"
    assert _cli(env, "audit", "checkpoint", "--store", url, "--key", str(tmp_path / "op.key"),
                "--out", str(anchor)).returncode == 0
    from supplynet.store.audit import entry_hash

    conn = sqlite3.connect(tmp_path / "tower.db")
    prev = "0" * 64
    with conn:
        for seq, at, actor, action, subject, detail in conn.execute(
                "SELECT seq, at_us, actor, action, subject, detail FROM audit ORDER BY seq").fetchall():
            actor = "admin:carol" if actor == "admin:alice" else actor
            h = entry_hash(seq, at, actor, action, subject, detail, prev)
            conn.execute("UPDATE audit SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?", (actor, prev, h, seq))
            prev = h
        conn.execute("UPDATE audit_head SET hash = ?", (prev,))
    conn.close()
    out = _cli(env, "audit", "verify", "--store", url)
    assert out.returncode == 1 and "is keyed" in out.stdout
    out = _cli(env, "audit", "verify", "--store", url, "--anchor", str(anchor))
    assert out.returncode == 1 and "differs from the signed anchor" in out.stdout
    assert _cli(env, "store", "check", "--store", url).returncode == 2
