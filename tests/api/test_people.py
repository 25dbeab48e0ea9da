"""People, not tokens: the two-person rule compares the person behind a token (one person's planner
and admin tokens are one person); a person's split orders to one subject and their day's spend add up
against the high-impact threshold, also when sent at once; the cost that gates a work order comes
from the network, not from the requester. Through the API with tokens of several people."""

from __future__ import annotations

import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from supplynet.api import create_app
from supplynet.api.middleware import Limits
from supplynet.commands.tokens import app as tokens_app
from supplynet.config import Settings
from supplynet.decide.autonomy import parse_policy
from supplynet.decide.decision import Decision, OrderAction, approve, submit
from supplynet.errors import DecisionError
from supplynet.security.tokens import TokenService, person_of
from supplynet.store import open_store
from supplynet.testing.old_store import undo_after_audit

HIGH = 25_000.0
POLICY = {"high_impact_cost": HIGH, "costly_action_cost": 1_000, "kinds": {"maintain": {"level": "propose"}}}
# MILK-2L to STORE-1 costs 0.85 + 0.02 per unit plus the lane's fixed cost: 20k units ~ 17.4k
MILK = {"site": "STORE-1", "sku": "MILK-2L"}


@pytest.fixture
def people(tmp_path, tiny):
    store = open_store(tmp_path / "p.db")
    svc = TokenService(store)
    toks = {"alice-planner": svc.create(role="planner", person="alice")[0],
            "alice-admin": svc.create(role="admin", person="alice", name="alice ops")[0],
            "bob": svc.create(role="planner", person="bob")[0],
            "carol-admin": svc.create(role="admin", person="carol")[0]}
    app = create_app(Settings(environment="test", home=tmp_path), store=store, network=tiny,
                     policy=parse_policy(POLICY), limits=Limits(max_body_bytes=64 * 1024, rate_per_s=1e6, burst=1e6),
                     twin_refresh_s=0.0)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, toks, store
    store.close()


@pytest.fixture(scope="module")
def tiny():
    from supplynet.model import example_path, load_network

    return load_network(example_path("tiny"))


def _h(toks, who, key=None):
    h = {"Authorization": f"Bearer {toks[who]}"}
    if key:
        h["Idempotency-Key"] = key
    return h


def _order(client, toks, who, qty, key, **body):
    r = client.post("/v1/orders", json={**MILK, "quantity": qty, **body}, headers=_h(toks, who, key))
    assert r.status_code == 201, r.text
    return r.json()["decision"]


def test_the_same_person_cannot_approve_her_own_proposal_with_another_role(people):
    client, toks, _ = people
    big = _order(client, toks, "alice-planner", 40_000, "big-order-0001")
    assert big["status"] == "proposed" and big["proposer"] == "planner:alice"
    r = client.post(f"/v1/decisions/{big['id']}/approve", headers=_h(toks, "alice-admin"))
    assert r.status_code in (400, 409, 422) and "someone other than its proposer alice" in r.text
    assert client.get(f"/v1/decisions/{big['id']}", headers=_h(toks, "bob")).json()["status"] == "proposed"
    ok = client.post(f"/v1/decisions/{big['id']}/approve", headers=_h(toks, "bob"))
    assert ok.status_code == 200 and ok.json()["decision"]["status"] == "executed"


def test_an_admin_cannot_mint_a_second_person(people):
    client, toks, _ = people
    big = _order(client, toks, "alice-planner", 40_000, "mint-0001")
    minted = {}
    for name, role, by in (("mallory", "planner", "alice-admin"), ("bob", "planner", "alice-admin"),
                           ("puppet", "admin", "alice-admin"), ("bob2", "planner", "puppet")):
        r = client.post("/v1/tokens", json={"name": name, "role": role}, headers=_h({**toks, **minted}, by))
        assert r.status_code == 201, r.text
        minted[name] = r.json()["token"]
    r = client.post("/v1/tokens", json={"name": "bob laptop", "person": "bob", "role": "planner"},
                    headers=_h(toks, "alice-admin"))
    assert r.status_code == 201 and r.json()["info"]["person"] == "bob"
    minted["bob laptop"] = r.json()["token"]
    for who in ("mallory", "bob", "bob2", "bob laptop"):  # new people, bob's namesake or his, via a puppet
        r = client.post(f"/v1/decisions/{big['id']}/approve", headers=_h(minted, who))
        assert r.status_code in (400, 409, 422) and "issued by the same person (alice)" in r.text, (who, r.text)
    # the other way round: a puppet's proposal approved by the admin who minted it
    puppet_order = _order(client, {"p": minted["mallory"]}, "p", 40_000, "mint-0002")
    r = client.post(f"/v1/decisions/{puppet_order['id']}/approve", headers=_h(toks, "alice-planner"))
    assert r.status_code in (400, 409, 422) and "issued by the same person (alice)" in r.text
    ok = client.post(f"/v1/decisions/{big['id']}/approve", headers=_h(toks, "bob"))  # bob's own token (CLI)
    assert ok.status_code == 200 and ok.json()["decision"]["status"] == "executed"


def test_split_orders_to_one_subject_add_up(people):
    client, toks, _ = people
    first = _order(client, toks, "alice-planner", 10_000, "split-0001")
    second = _order(client, toks, "alice-planner", 10_000, "split-0002")
    third = _order(client, toks, "alice-planner", 10_000, "split-0003")
    assert first["status"] == "executed" and second["status"] == "executed"
    assert third["status"] == "proposed" and "split_decisions" in third["autonomy"]["reason"]
    # another person's order to the same subject adds up as well: nobody has reviewed the earlier ones
    assert _order(client, toks, "bob", 9_000, "split-0004")["status"] == "proposed"
    # and another subject is not held up by them
    other = _order(client, toks, "bob", 100, "split-0005", sku="BREAD-800G")
    assert other["status"] == "executed"


def test_split_orders_sent_at_once_do_not_all_execute(people):
    client, toks, _ = people
    with ThreadPoolExecutor(3) as pool:
        out = list(pool.map(lambda i: _order(client, toks, "alice-planner", 20_000, f"burst-000{i}"), range(3)))
    assert sorted(d["status"] for d in out) == ["executed", "proposed", "proposed"]


def test_a_person_has_a_daily_cap(tmp_path):
    pol = parse_policy({"high_impact_cost": 50_000, "person_max_spend_per_day": 12_000})
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with open_store(tmp_path / "cap.db") as st:
        def place(sku, cost, who="planner:carol"):
            return submit(st, Decision(kind="replenish", created_at=at, proposer=who, sources=[who], cost=cost,
                                       action=OrderAction(site="S1", sku=sku, quantity=10)), pol).decision
        assert place("A", 5_000).status == "executed" and place("B", 5_000).status == "executed"
        third = place("C", 5_000)
        assert third.status == "proposed" and "person_max_spend_per_day" in third.autonomy["reason"]
        assert place("D", 5_000, who="planner:dan").status == "executed"  # the cap is per person
        with pytest.raises(DecisionError, match="someone other than its proposer carol"):
            approve(st, third.id, "admin:carol")
        assert approve(st, third.id, "planner:dan").decision.status == "executed"


def test_work_order_cost_comes_from_the_network_not_the_requester(people, tiny):
    client, toks, store = people
    oven = next(a for a in tiny.assets if a.id == "OVEN-1")
    r = client.post("/v1/work-orders", json={"asset_id": "OVEN-1", "cost": 0},
                    headers=_h(toks, "alice-planner", "wo-key-0001"))
    d = r.json()["decision"]
    assert r.status_code == 201 and d["cost"] == oven.preventive_cost
    assert d["options"][0]["detail"] == {"requested_cost": 0.0}
    # with the oven's preventive cost above the threshold, a zero quote no longer skips the second person
    pol = parse_policy({**POLICY, "high_impact_cost": oven.preventive_cost})
    client.app.state.control.set_policy(pol, "admin:test")
    r = client.post("/v1/work-orders", json={"asset_id": "OVEN-1", "cost": 0},
                    headers=_h(toks, "alice-planner", "wo-key-0002"))
    assert r.json()["decision"]["status"] == "proposed"


def test_tokens_belong_to_people(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    runner = CliRunner()
    out = runner.invoke(tokens_app, ["create", "--person", "erin", "--role", "planner", "--store", url])
    assert out.exit_code == 0 and json.loads(out.stdout)["person"] == "erin"
    runner.invoke(tokens_app, ["create", "--person", "erin", "--role", "admin", "--store", url])
    people = json.loads(runner.invoke(tokens_app, ["people", "--store", url, "--json"]).stdout)
    assert people == {"erin": ["admin", "planner"]}
    with open_store(url) as st:
        p = TokenService(st).authenticate(json.loads(out.stdout)["token"])
    assert p.actor == "planner:erin" and person_of(p.actor) == "erin" and person_of("supplynet") == "supplynet"


def test_existing_tokens_migrate_to_a_person_named_after_them(tmp_path):
    path = tmp_path / "old.db"
    with open_store(path) as st:
        token, _ = TokenService(st).create(role="planner", name="frank")
    conn = sqlite3.connect(path)  # back to schema 8: no people, no person column
    with conn:
        undo_after_audit(conn)
        conn.execute("DROP TABLE people")
        conn.execute("ALTER TABLE api_tokens DROP COLUMN person")
        conn.execute("DROP TABLE audit_checkpoints")
        conn.execute("DELETE FROM schema_version WHERE version = 9")
        conn.execute("CREATE TABLE h (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)")
        conn.execute("INSERT INTO h SELECT id, seq, hash FROM audit_head")
        conn.execute("DROP TABLE audit_head")
        conn.execute("ALTER TABLE h RENAME TO audit_head")
    conn.close()
    with open_store(path) as st:
        svc = TokenService(st)
        assert svc.table.people() == {"frank": ["planner"]}
        assert svc.authenticate(token).actor == "planner:frank"


def test_loosening_the_two_person_rule_needs_a_second_admin(people):
    client, toks, _ = people
    loose = {"high_impact_cost": 1e9, "costly_action_cost": 1_000, "kinds": {"maintain": {"level": "propose"}}}
    r = client.put("/v1/policies/autonomy", json=loose, headers=_h(toks, "alice-admin"))
    assert r.status_code == 202 and r.json()["loosens"][0].startswith("high_impact_cost 25,000.00 -> ")
    assert client.put("/v1/policies/autonomy", json=loose, headers=_h(toks, "alice-admin")).status_code == 202
    puppet = client.post("/v1/tokens", json={"name": "puppet", "role": "admin"}, headers=_h(toks, "alice-admin"))
    r = client.put("/v1/policies/autonomy", json=loose, headers={"Authorization": f"Bearer {puppet.json()['token']}"})
    assert r.status_code == 202  # a second admin she minted herself does not count
    assert client.get("/v1/policies/autonomy", headers=_h(toks, "bob")).json()["high_impact_cost"] == HIGH
    assert _order(client, toks, "alice-planner", 40_000, "loose-0001")["status"] == "proposed"
    # the puppet's pending change confirmed by alice herself: still one person
    assert client.put("/v1/policies/autonomy", json=loose, headers=_h(toks, "alice-admin")).status_code == 202
    # alice's pending change confirmed by carol: two people
    r = client.put("/v1/policies/autonomy", json=loose, headers=_h(toks, "carol-admin"))
    assert r.status_code == 200 and r.json()["high_impact_cost"] == 1e9
    # tightening it again takes one admin
    strict = {**loose, "high_impact_cost": 10_000}
    assert client.put("/v1/policies/autonomy", json=strict, headers=_h(toks, "alice-admin")).status_code == 200
