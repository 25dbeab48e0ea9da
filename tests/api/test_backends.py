"""The control tower's tables (decisions, idempotency keys, settings, API tokens, scenario runs, the audit
chain) behave the same on SQLite and PostgreSQL, and tampering with the audit table directly in either
database is detected (also by ``supplynet audit verify``). The PostgreSQL cases are integration tests
(they use the session database of tests/conftest.py and are skipped only when PostgreSQL is not installed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from supplynet.api import create_app
from supplynet.api.middleware import Limits
from supplynet.commands.audit import app as audit_app
from supplynet.commands.tokens import app as tokens_app
from supplynet.config import Settings
from supplynet.decide.autonomy import parse_policy
from supplynet.errors import DecisionError, SecurityError
from supplynet.security.tokens import TokenService, Unauthenticated
from supplynet.store import open_store
from supplynet.store.scenarios import ScenarioRow

from .conftest import POLICY


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tower.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(url) -> Iterator[object]:
    st = open_store(url)
    yield st
    st.close()


def _raw(url: str, *stmts: str) -> None:
    """Change the database behind the store's back (a raw connection, no supplynet code)."""
    if url.startswith("sqlite:"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///"):])
        with conn:
            for s in stmts:
                conn.execute(s)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=False) as conn:
            for s in stmts:
                conn.execute(s)
            conn.commit()


def _make(no: int, status: str = "proposed"):
    return lambda n: (f"D{n:07d}", status, {"no": n, "note": f"made as {no}"})


def test_decision_table(store):
    t = store.decisions
    a, new = t.insert(_make(1), kind="replenish", cost=100.0, day="2026-01-05", idem_key="k1",
                      audit=("planner:p", "decision.propose", {"cost": 100.0}))
    again, new2 = t.insert(_make(2), kind="replenish", cost=999.0, day="2026-01-05", idem_key="k1",
                           audit=("planner:p", "decision.propose", {}))
    assert new and not new2 and again == a and a.id == "D0000001" and a.record == {"no": 1, "note": "made as 1"}
    many = t.insert_many([(_make(3, "executed"), "maintain", 50.0, "2026-01-05", ("auto", "decision.execute", {})),
                          (_make(4), "reroute", 7.5, "2026-01-06", ("auto", "decision.propose", {}))])
    assert [r.id for r in many] == ["D0000002", "D0000003"]
    v0 = t.version()
    upd = t.update("D0000001", expect_status="proposed", status="executed", record={"done": True},
                   audit=("planner:q", "decision.approve", {"note": "ok"}))
    assert upd.status == "executed" and t.get("D0000001").record == {"done": True} and t.version() != v0
    with pytest.raises(DecisionError, match="D0000001 is executed, not proposed"):
        t.update("D0000001", expect_status="proposed", status="rejected", record={}, audit=("planner:q", "x", {}))
    with pytest.raises(DecisionError, match="no decision"):
        t.update("D0000099", expect_status="proposed", status="rejected", record={}, audit=("planner:q", "x", {}))
    assert [r.id for r in t.list()] == ["D0000003", "D0000002", "D0000001"]
    assert [r.id for r in t.list(status="executed")] == ["D0000002", "D0000001"]
    assert [r.id for r in t.list(before_no=3, limit=1)] == ["D0000002"]
    assert t.counts() == {("replenish", "executed"): 1, ("maintain", "executed"): 1, ("reroute", "proposed"): 1}
    assert t.spent("replenish", "2026-01-05") == 100.0 and t.spent("reroute", "2026-01-06") == 0.0
    t.remember_response("planner:p|key-1", "planner:p", "fp", 201, {"id": "D0000001"})
    t.remember_response("planner:p|key-1", "planner:p", "other", 500, {})  # first answer stands
    assert t.idempotent_response("planner:p|key-1") == ("planner:p", "fp", 201, {"id": "D0000001"})
    assert t.idempotent_response("nope") is None
    t.put_setting("autonomy_policy", '{"a": 1}', audit=("admin:a", "policy.update", {}))
    t.put_setting("autonomy_policy", '{"a": 2}', audit=("admin:a", "policy.update", {}))
    assert t.setting("autonomy_policy") == '{"a": 2}' and t.setting("missing") is None
    log = store.audit
    assert [e.action for e in log.entries()] == ["decision.propose", "decision.execute", "decision.propose",
                                                 "decision.approve", "policy.update", "policy.update"]
    assert log.verify().ok


def test_tokens(store):
    svc = TokenService(store)
    tok, row = svc.create(role="planner", name="pat", expires_in_s=60.0)
    p = svc.authenticate(tok)
    assert (p.name, p.role, p.token_id) == ("pat", "planner", row.id)
    assert "secret" not in json.dumps([r.__dict__ for r in svc.list()]) and tok.split("_", 2)[2] not in str(svc.list())
    with pytest.raises(Unauthenticated, match="expired"):
        svc.authenticate(tok, now_us=row.expires_at)
    with pytest.raises(Unauthenticated, match="unknown"):
        svc.authenticate(tok[:-1] + ("A" if tok[-1] != "A" else "B"))
    forever, frow = svc.create(role="viewer", name="v", expires_in_s=None)
    svc.table.touch(frow.id, 5_000_000)
    assert svc.table.get(frow.id).last_used_at == 5_000_000 and svc.table.get(frow.id).expires_at is None
    svc.revoke(row.id, by="admin:a")
    with pytest.raises(Unauthenticated, match="revoked"):
        svc.authenticate(tok)
    assert svc.authenticate(forever).role == "viewer"
    assert [(e.action, e.actor) for e in store.audit.entries()] == [
        ("token.create", "cli"), ("token.create", "cli"), ("token.revoke", "admin:a")]


def test_scenario_runs(store):
    t = store.scenarios
    for i, rid in enumerate(("aaa", "bbb", "ccc")):
        t.insert(ScenarioRow(id=rid, status="queued", params={"scenario": "supplier_fire", "seed": i},
                             requested_by="planner:p", created_at=1_000 + i, started_at=None, finished_at=None,
                             error=None), audit=("planner:p", "scenario.run"))
    t.started("aaa", 2_000)
    t.finished("aaa", 3_000, results={"network": [{"p50": np.float64(0.5), "p95": float("nan")}],
                                      "daily": {"x": {"p5": [np.float32(1.5), math.inf]}}})
    t.started("bbb", 2_500)
    t.finished("bbb", 2_600, error="SimulationError: boom")
    assert t.results("aaa") == {"network": [{"p50": 0.5, "p95": None}], "daily": {"x": {"p5": [1.5, None]}}}
    assert t.results("bbb") is None and t.get("zzz") is None
    a = t.get("aaa")
    assert (a.status, a.started_at, a.finished_at, a.params["seed"]) == ("done", 2_000, 3_000, 0)
    assert [r.id for r in t.list()] == ["ccc", "bbb", "aaa"] and [r.id for r in t.list(limit=1)] == ["ccc"]
    assert t.interrupt_unfinished(9_000, "interrupted") == 1 and t.interrupt_unfinished(9_001, "again") == 0
    c = t.get("ccc")
    assert (c.status, c.error, c.finished_at) == ("failed", "interrupted", 9_000) and t.get("bbb").error.startswith("Sim")
    with pytest.raises(ValueError, match="either results or an error"):
        t.finished("ccc", 1, results={}, error="x")
    assert [e.subject for e in store.audit.entries()] == ["aaa", "bbb", "ccc"]


def _chain(store, n: int = 6) -> None:
    log = store.audit
    for i in range(n):
        log.append(f"planner:p{i % 2}", "decision.approve", f"D{i:07d}", {"note": f"n{i}", "cost": 100 * i})


TAMPER = {
    "edited": ("UPDATE audit SET actor = 'planner:mallory' WHERE seq = 3",),
    "deleted": ("DELETE FROM audit WHERE seq = 4",),
    "reordered": ("UPDATE audit SET seq = 100 WHERE seq = 2", "UPDATE audit SET seq = 2 WHERE seq = 5",
                  "UPDATE audit SET seq = 5 WHERE seq = 100"),
    "cut off": ("DELETE FROM audit WHERE seq >= 5",),
}


@pytest.mark.parametrize("how", list(TAMPER))
def test_audit_tampering_is_detected(url, store, how):
    _chain(store)
    runner = CliRunner()
    ok = runner.invoke(audit_app, ["verify", "--store", url])
    assert ok.exit_code == 0 and json.loads(ok.stdout) == {"ok": True, "entries": 6, "head_seq": 6, "problems": [],
                                                       "keyed_from": 1}
    _raw(url, *TAMPER[how])
    res = store.audit.verify()
    assert not res.ok and res.problems
    bad = runner.invoke(audit_app, ["verify", "--store", url])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["problems"] == res.problems


def test_approve_through_the_api(store, tiny):
    """The decision flow end to end on the backend: propose, approve, executed, order in the twin, audited."""
    from .test_routes import _proposal

    svc = TokenService(store)
    tokens = {r: svc.create(role=r, name=f"{r}-1")[0] for r in ("viewer", "planner")}
    app = create_app(Settings(environment="test"), store=store, network=tiny, policy=parse_policy(POLICY),
                     limits=Limits(rate_per_s=1e6, burst=1e6))
    with TestClient(app) as c:
        did = _proposal(SimpleNamespace(store=store))
        h = {"Authorization": f"Bearer {tokens['planner']}", "Idempotency-Key": "backend-approve-1"}
        r = c.post(f"/v1/decisions/{did}/approve", json={"note": "ok"}, headers=h)
        assert r.status_code == 200 and r.json()["decision"]["status"] == "executed", r.text
        again = c.post(f"/v1/decisions/{did}/approve", json={"note": "ok"}, headers=h)
        assert again.json() == r.json() and again.headers["Idempotent-Replayed"] == "true"
        orders = c.get("/v1/state/orders", headers={"Authorization": f"Bearer {tokens['viewer']}"}).json()["rows"]
        assert [o["decision_id"] for o in orders] == [did]
    entries = store.audit.entries(subject=did)
    assert {e.actor for e in entries} >= {"planner:planner-1"} and store.audit.verify().ok


def test_tokens_cli(url, store):
    """``supplynet tokens create | list | revoke`` on the backend: shown once, listed without secrets, revoked."""
    runner = CliRunner()
    made = runner.invoke(tokens_app, ["create", "--role", "planner", "--name", "ops bot", "--expires", "2",
                                      "--store", url])
    assert made.exit_code == 0, made.output
    out = json.loads(made.stdout)
    assert out["role"] == "planner" and out["token"].startswith(f"snt_{out['id']}_") and "shown once" in out["note"]
    svc = TokenService(store)
    assert svc.authenticate(out["token"]).name == "ops bot"
    forever = json.loads(runner.invoke(tokens_app, ["create", "--role", "viewer", "--name", "kiosk", "--expires", "0",
                                                    "--store", url]).stdout)
    listed = runner.invoke(tokens_app, ["list", "--store", url, "--json"])
    assert listed.exit_code == 0
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert set(rows) == {out["id"], forever["id"]} and rows[forever["id"]]["expires_at"] is None
    assert rows[out["id"]]["expires_at"] is not None and rows[out["id"]]["revoked_at"] is None
    # the whole secret (it may itself hold "_"), never a fragment of it
    assert out["token"].split("_", 2)[2] not in listed.stdout and "hash" not in listed.stdout
    gone = runner.invoke(tokens_app, ["revoke", out["id"], "--store", url])
    assert gone.exit_code == 0 and json.loads(gone.stdout) == {"revoked": out["id"]}
    with pytest.raises(Unauthenticated, match="revoked"):
        svc.authenticate(out["token"])
    assert json.loads(runner.invoke(tokens_app, ["list", "--store", url, "--json"]).stdout)[0]["revoked_at"] is not None
    # errors are SupplynetErrors (the main CLI prints them as one line), never half-done work
    unknown = runner.invoke(tokens_app, ["revoke", "nosuchtoken1", "--store", url])
    assert isinstance(unknown.exception, SecurityError) and "nosuchtoken1" in str(unknown.exception)
    role = runner.invoke(tokens_app, ["create", "--role", "root", "--name", "x", "--store", url])
    assert isinstance(role.exception, SecurityError) and "viewer, planner, admin" in str(role.exception)
    import getpass

    cli = f"cli:{getpass.getuser()}"  # who: the login name of the person at the command line
    assert [(e.action, e.actor) for e in store.audit.entries()] == [
        ("token.create", cli), ("token.create", cli), ("token.revoke", cli)]
