"""A person's attention is a budget: proposals grouped per site, kind and day (most money first) and
answered in bulk, with the single approve's rules per decision (the two-person rule holds in bulk too).
Through the API with tokens of several people, and through the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from supplynet.api import create_app
from supplynet.api.middleware import Limits
from supplynet.cli import app as cli_app
from supplynet.config import Settings
from supplynet.decide.autonomy import parse_policy
from supplynet.decide.decision import Decision, OrderAction, WorkOrderAction, submit
from supplynet.decide.groups import parse_group_key
from supplynet.errors import DecisionError
from supplynet.security.tokens import TokenService
from supplynet.store import open_store

POLICY = {"high_impact_cost": 25_000.0, "costly_action_cost": 1e9,
          "kinds": {"replenish": {"level": "propose"}, "maintain": {"level": "propose"}}}
D1, D2 = datetime(2026, 1, 6, 9, tzinfo=UTC), datetime(2026, 1, 7, 9, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny():
    from supplynet.model import example_path, load_network

    return load_network(example_path("tiny"))


@pytest.fixture
def env(tmp_path, tiny):
    store = open_store(tmp_path / "g.db")
    svc = TokenService(store)
    toks = {"alice-planner": svc.create(role="planner", person="alice")[0],
            "alice-admin": svc.create(role="admin", person="alice", name="alice ops")[0],
            "bob": svc.create(role="planner", person="bob")[0],
            "viewer": svc.create(role="viewer", person="vera")[0]}
    policy = parse_policy(POLICY)
    app = create_app(Settings(environment="test", home=tmp_path), store=store, network=tiny, policy=policy,
                     limits=Limits(max_body_bytes=256 * 1024, rate_per_s=1e6, burst=1e6), twin_refresh_s=0.0)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, toks, store, policy
    store.close()


def _h(toks, who):
    return {"Authorization": f"Bearer {toks[who]}"}


def _propose(store, policy, site, sku, qty, at, cost):
    d = Decision(kind="replenish", created_at=at, cost=cost, why="test",
                 action=OrderAction(site=site, sku=sku, quantity=qty, origin="DC-1", order_type="transfer"))
    out = submit(store, d, policy, now=at).decision
    assert out.status == "proposed"
    return out.id


def _seed(store, policy):
    """Five proposals: STORE-1 on day 1 (two, 300 + 200), STORE-2 on day 1 (one, 900), STORE-1 on day 2 (one,
    50) and a work order at PLANT-1 (the oven's site) on day 2 (one, 2,500)."""
    ids = {"s1d1": [_propose(store, policy, "STORE-1", "MILK-2L", 10, D1, 300.0),
                    _propose(store, policy, "STORE-1", "BREAD-800G", 12, D1, 200.0)],
           "s2d1": [_propose(store, policy, "STORE-2", "MILK-2L", 30, D1, 900.0)],
           "s1d2": [_propose(store, policy, "STORE-1", "MILK-2L", 5, D2, 50.0)]}
    wo = submit(store, Decision(kind="maintain", created_at=D2, cost=2500.0, why="test",
                                action=WorkOrderAction(asset_id="OVEN-1")), policy, now=D2).decision
    ids["oven"] = [wo.id]
    return ids


def test_groups_per_site_kind_and_day_most_money_first(env):
    client, toks, store, policy = env
    ids = _seed(store, policy)
    r = client.get("/v1/decisions/groups?status=proposed", headers=_h(toks, "viewer"))
    assert r.status_code == 200, r.text
    groups = r.json()["groups"]
    assert [g["key"] for g in groups] == ["PLANT-1|maintain|2026-01-07", "STORE-2|replenish|2026-01-06",
                                         "STORE-1|replenish|2026-01-06", "STORE-1|replenish|2026-01-07"]
    s1 = groups[2]
    assert s1 == {"key": "STORE-1|replenish|2026-01-06", "site": "STORE-1", "kind": "replenish", "day": "2026-01-06",
                  "count": 2, "money_at_stake": 500.0, "currency": "GBP", "ids": sorted(ids["s1d1"])}
    assert [g["money_at_stake"] for g in groups] == [2500.0, 900.0, 500.0, 50.0]
    # approved ones leave the proposed groups
    client.post("/v1/decisions/bulk", json={"ids": ids["s2d1"], "action": "approve"}, headers=_h(toks, "bob"))
    left = client.get("/v1/decisions/groups", headers=_h(toks, "viewer")).json()["groups"]
    assert "STORE-2|replenish|2026-01-06" not in [g["key"] for g in left]
    assert client.get("/v1/decisions/groups?status=bogus", headers=_h(toks, "viewer")).status_code == 422
    assert client.get("/v1/decisions/groups").status_code == 401


def test_bulk_approve_and_reject_answer_each_id(env):
    client, toks, store, policy = env
    ids = _seed(store, policy)
    body = {"ids": [*ids["s1d1"], "D9999999", ids["s1d1"][0]], "action": "approve", "note": "morning review"}
    r = client.post("/v1/decisions/bulk", json=body, headers=_h(toks, "bob"))
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["id"] for x in res] == [*ids["s1d1"], "D9999999"]  # a repeated id is answered once
    assert [x["status"] for x in res[:2]] == ["executed", "executed"] and res[0]["error"] is None
    assert res[2]["status"] == "not_found" and "D9999999" in res[2]["error"]
    again = client.post("/v1/decisions/bulk", json={"ids": ids["s1d1"][:1], "action": "approve"},
                        headers=_h(toks, "bob")).json()["results"][0]
    assert again["status"] == "executed" and "only a proposed decision" in again["error"]
    # reject needs a reason; with one, the proposals are rejected with it
    no_reason = client.post("/v1/decisions/bulk", json={"ids": ids["s2d1"], "action": "reject"}, headers=_h(toks, "bob"))
    assert no_reason.status_code == 409 and "reason" in no_reason.text
    ok = client.post("/v1/decisions/bulk", json={"ids": ids["s2d1"], "action": "reject", "note": "overstocked"},
                     headers=_h(toks, "bob")).json()["results"]
    assert ok == [{"id": ids["s2d1"][0], "status": "rejected", "error": None}]
    d = client.get(f"/v1/decisions/{ids['s2d1'][0]}", headers=_h(toks, "viewer")).json()
    assert d["rejection"]["reason"] == "overstocked"


def test_bulk_keeps_the_two_person_rule(env):
    """A high-impact proposal of alice's is refused to alice in bulk (under either of her tokens) and
    approved by bob; her other, ordinary proposals in the same request go through."""
    client, toks, store, policy = env
    ids = _seed(store, policy)
    big = client.post("/v1/orders", json={"site": "STORE-1", "sku": "MILK-2L", "quantity": 40_000},
                      headers={**_h(toks, "alice-planner"), "Idempotency-Key": "big-order-0001"})
    assert big.status_code == 201, big.text
    big_id = big.json()["decision"]["id"]
    assert big.json()["decision"]["status"] == "proposed"
    for who in ("alice-planner", "alice-admin"):
        res = client.post("/v1/decisions/bulk", json={"ids": [big_id, ids["s1d2"][0]] if who == "alice-planner"
                                                      else [big_id], "action": "approve"},
                          headers=_h(toks, who)).json()["results"]
        assert res[0]["status"] == "proposed" and "someone other than its proposer alice" in res[0]["error"]
    assert res is not None
    first = client.get(f"/v1/decisions/{ids['s1d2'][0]}", headers=_h(toks, "viewer")).json()
    assert first["status"] == "executed"  # the ordinary one in alice's request went through
    ok = client.post("/v1/decisions/bulk", json={"ids": [big_id], "action": "approve"}, headers=_h(toks, "bob"))
    assert ok.json()["results"] == [{"id": big_id, "status": "executed", "error": None}]


@pytest.mark.parametrize("body", [
    {"ids": ["D1"], "action": "delete"},
    {"ids": [], "action": "approve"},
    {"ids": ["1; DROP TABLE decisions"], "action": "approve"},
    {"ids": ["D1"] * 1001, "action": "approve"},
    {"ids": "D1", "action": "approve"},
    {"ids": ["D1"], "action": "approve", "note": "x" * 501},
    {"ids": ["D1"], "action": "approve", "by": "bob"},  # no forging who approves
])
def test_bulk_refuses_malformed_bodies(env, body):
    client, toks, _, _ = env
    r = client.post("/v1/decisions/bulk", json=body, headers=_h(toks, "bob"))
    assert r.status_code == 422, r.text


def test_bulk_needs_a_planner(env):
    client, toks, store, policy = env
    ids = _seed(store, policy)
    r = client.post("/v1/decisions/bulk", json={"ids": ids["s1d1"], "action": "approve"}, headers=_h(toks, "viewer"))
    assert r.status_code == 403
    assert client.post("/v1/decisions/bulk", json={"ids": ids["s1d1"], "action": "approve"}).status_code == 401
    still = client.get(f"/v1/decisions/{ids['s1d1'][0]}", headers=_h(toks, "bob")).json()["status"]
    assert still == "proposed"


def test_group_keys_are_checked():
    assert parse_group_key("ST-LON|replenish|2026-01-07") == ("ST-LON", "replenish", "2026-01-07")
    for bad in ("ST-LON|replenish", "ST-LON|steal|2026-01-07", "ST-LON|replenish|yesterday", "a|b|c|d", ""):
        with pytest.raises(DecisionError):
            parse_group_key(bad)


def test_cli_answers_a_group_or_ids(tmp_path, tiny):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    with open_store(url) as store:

        store.brain.record_network(open(tiny_path(), encoding="utf-8").read(), tiny.name)
        ids = _seed(store, parse_policy(POLICY))
    run = CliRunner().invoke
    out = run(cli_app, ["decisions", "groups", "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    keys = [g["key"] for g in json.loads(out.output)["groups"]]
    assert keys[0] == "PLANT-1|maintain|2026-01-07"
    out = run(cli_app, ["decisions", "approve", "--group", "STORE-1|replenish|2026-01-06", "--store", url, "--json"])
    assert out.exit_code == 0, out.output
    res = [json.loads(x) for x in out.output.splitlines()]
    assert sorted(r["id"] for r in res) == sorted(ids["s1d1"]) and {r["status"] for r in res} == {"executed"}
    out = run(cli_app, ["decisions", "reject", *ids["s2d1"], "--note", "not needed", "--store", url])
    assert out.exit_code == 0 and "rejected" in out.output
    for args in (["approve", "--group", "STORE-1|replenish", "--store", url],
                 ["approve", "--group", "STORE-1|replenish|2026-01-06", ids["s1d2"][0], "--store", url],
                 ["approve", "--store", url], ["approve", "DROP", "--store", url],
                 ["reject", ids["s1d2"][0], "--store", url],
                 ["approve", "--group", "STORE-9|replenish|2026-01-06", "--store", url]):
        bad = run(cli_app, ["decisions", *args])
        assert bad.exit_code == 2, (args, bad.output)
        assert "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1, bad.output
    # an answered one again: the result says why, and the exit code is 1
    again = run(cli_app, ["decisions", "approve", ids["s1d1"][0], "--store", url])
    assert again.exit_code == 1 and "only a proposed decision" in again.output


def tiny_path():
    from supplynet.model import example_path

    return example_path("tiny")
