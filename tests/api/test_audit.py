"""The audit chain detects an edited, deleted or reordered entry, and entries cut off the end; the
tests tamper with the database directly and expect ``supplynet audit verify`` to fail."""

from __future__ import annotations

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from supplynet.commands.audit import app as audit_app
from supplynet.store import open_store


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "audit.db"
    with open_store(path) as st:
        log = st.audit
        for i in range(6):
            log.append(f"planner:p{i % 2}", "decision.approve", f"D{i:07d}", {"note": f"n{i}", "cost": 100 * i})
        assert log.verify().ok
    return path


def _verify(path):
    with open_store(path) as st:
        return st.audit.verify()


def _sql(path, *stmts):
    conn = sqlite3.connect(path)
    with conn:
        for s in stmts:
            conn.execute(s)
    conn.close()


def test_untouched_chain_verifies(db):
    res = _verify(db)
    assert res.ok and res.entries == 6 and res.head_seq == 6


def test_edited_entry_is_detected(db):
    _sql(db, "UPDATE audit SET actor = 'planner:mallory' WHERE seq = 3")
    res = _verify(db)
    assert not res.ok and any("entry 3" in p and "edited" in p for p in res.problems)


def test_edited_detail_with_recomputed_own_hash_breaks_the_next_link(db):
    from supplynet.store.audit import entry_hash

    conn = sqlite3.connect(db)
    seq, at, actor, action, subject, detail, prev = conn.execute(
        "SELECT seq, at_us, actor, action, subject, detail, prev_hash FROM audit WHERE seq = 2").fetchone()
    forged = json.dumps({"cost": 0, "note": "n1"}, separators=(",", ":"), sort_keys=True)
    with conn:
        conn.execute("UPDATE audit SET detail = ?, hash = ? WHERE seq = 2",
                     (forged, entry_hash(seq, at, actor, action, subject, forged, prev)))
    conn.close()
    res = _verify(db)
    assert not res.ok and any(p.startswith("entry 3") for p in res.problems)


def test_deleted_entry_is_detected(db):
    _sql(db, "DELETE FROM audit WHERE seq = 4")
    res = _verify(db)
    assert not res.ok and any("entry 5" in p for p in res.problems)


def test_reordered_entries_are_detected(db):
    # swap the contents of entries 2 and 5, keeping their sequence numbers (and their hashes)
    conn = sqlite3.connect(db)
    a = conn.execute("SELECT at_us, actor, action, subject, detail, prev_hash, hash FROM audit WHERE seq = 2").fetchone()
    b = conn.execute("SELECT at_us, actor, action, subject, detail, prev_hash, hash FROM audit WHERE seq = 5").fetchone()
    upd = "UPDATE audit SET at_us=?, actor=?, action=?, subject=?, detail=?, prev_hash=?, hash=? WHERE seq=?"
    with conn:
        conn.execute(upd, (*b, 2))
        conn.execute(upd, (*a, 5))
    conn.close()
    assert not _verify(db).ok
    # renumbering rows (moving an entry to another position) is caught as well
    _sql(db, "UPDATE audit SET seq = 100 WHERE seq = 1")
    assert not _verify(db).ok


def test_entries_cut_off_the_end_are_detected(db):
    _sql(db, "DELETE FROM audit WHERE seq >= 5")
    res = _verify(db)
    assert not res.ok and "head records entry 6" in res.problems[0]


def test_cli_verify_exit_codes(db):
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--store", f"sqlite:///{db}"])
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True
    _sql(db, "UPDATE audit SET action = 'decision.reject' WHERE seq = 1")
    bad = runner.invoke(audit_app, ["verify", "--store", f"sqlite:///{db}"])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["ok"] is False
    listed = runner.invoke(audit_app, ["list", "--store", f"sqlite:///{db}", "--limit", "2", "--json"])
    assert listed.exit_code == 0 and [json.loads(x)["seq"] for x in listed.stdout.splitlines()] == [6, 5]


def test_every_mutating_api_call_is_audited(api):
    before = api.client.get("/v1/audit", headers=api.h("viewer")).json()["head_seq"]
    api.client.post("/v1/tokens", json={"name": "bot", "role": "viewer"}, headers=api.h("admin"))
    api.client.post("/v1/orders", json={"site": "STORE-1", "sku": "MILK-2L", "quantity": 2},
                    headers=api.h("planner", **{"Idempotency-Key": "audit-order-1"}))
    api.client.put("/v1/policies/autonomy", json={"kinds": {"maintain": {"level": "manual"}}}, headers=api.h("admin"))
    api.client.post("/v1/devices", json={"device_id": "t-1", "measures": ["temperature"], "asset": "R1"}, headers=api.h("admin"))
    items = api.client.get("/v1/audit", headers=api.h("viewer")).json()["items"]
    new = [e for e in items if e["seq"] > before]
    assert {e["action"] for e in new} >= {"token.create", "decision.place", "decision.execute", "policy.update",
                                          "device.provision"}
    assert {e["actor"] for e in new} == {"admin:admin-1", "planner:planner-1"}
    assert api.client.get("/v1/audit/verify", headers=api.h("admin")).json()["ok"] is True


def test_api_audit_page_shows_a_non_json_detail_as_text(api):
    api.client.post("/v1/tokens", json={"name": "bot", "role": "viewer"}, headers=api.h("admin"))
    seq = api.client.get("/v1/audit", headers=api.h("viewer")).json()["head_seq"]
    with api.store.transaction() as tx:  # an entry edited by hand, its detail no longer JSON
        tx.execute("UPDATE audit SET detail = ? WHERE seq = ?", ("{broken", seq))
    r = api.client.get("/v1/audit", headers=api.h("viewer"))
    assert r.status_code == 200 and r.json()["items"][0]["detail"] == "{broken"
    v = api.client.get("/v1/audit/verify", headers=api.h("admin")).json()
    assert v["ok"] is False and any(f"entry {seq}" in p for p in v["problems"])
