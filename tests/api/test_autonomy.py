"""Autonomy: one test per guardrail (an auto decision breaking it becomes a proposal naming it), the
levels, the second-source rule, the two-person rule for high-impact decisions, and the executor."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supplynet.decide.autonomy import evaluate, load_policy, parse_policy
from supplynet.decide.decision import (
    DECIDE_SOURCE,
    Approval,
    Decision,
    OrderAction,
    WorkOrderAction,
    approve,
    execute,
    reject,
    submit,
)
from supplynet.errors import DecisionError
from supplynet.store import open_store

NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
TWO = ["till-1", "shelf-3"]


def policy(**guardrails):
    return parse_policy({"high_impact_cost": 50_000, "costly_action_cost": 1_000,
                         "kinds": {"replenish": {"level": "auto", "guardrails": guardrails}}})


def verdict(pol, *, cost=500.0, quantity=100.0, lane="L1", supplier="SUP-1", sources=TWO, at=NOON, spent=0.0):
    return evaluate(kind="replenish", cost=cost, quantity=quantity, lane_id=lane, supplier=supplier, sources=sources,
                    at=at, spent_today=spent, policy=pol)


def test_within_every_guardrail_is_auto():
    pol = policy(max_spend_per_decision=1000, max_spend_per_day=5000, max_quantity=200, allowed_lanes=["L1"],
                 allowed_suppliers=["SUP-1"], quiet_hours={"start": "22:00", "end": "06:00"})
    v = verdict(pol)
    assert v.status == "auto" and v.broken == ()


@pytest.mark.parametrize("guardrails, kwargs, name", [
    ({"max_spend_per_decision": 400}, {}, "max_spend_per_decision"),
    ({"max_spend_per_day": 1000}, {"spent": 700.0}, "max_spend_per_day"),
    ({"max_quantity": 50}, {}, "max_quantity"),
    ({"allowed_lanes": ["L2", "L3"]}, {}, "allowed_lanes"),
    ({"allowed_suppliers": ["SUP-2"]}, {}, "allowed_suppliers"),
    ({"quiet_hours": {"start": "22:00", "end": "06:00"}}, {"at": datetime(2026, 1, 5, 23, 30, tzinfo=UTC)},
     "quiet_hours"),
    ({"quiet_hours": {"start": "11:00", "end": "13:00"}}, {}, "quiet_hours"),
])
def test_each_guardrail_turns_auto_into_a_named_proposal(guardrails, kwargs, name):
    pol = policy(**guardrails)
    v = verdict(pol, **kwargs)
    assert v.status == "proposed" and v.level == "auto"
    assert [b.split(":")[0] for b in v.broken] == [name]
    # and the same decision without the guardrail goes through
    assert verdict(policy(), **kwargs).status == "auto"


def test_quiet_hours_use_the_policy_time_zone():
    pol = parse_policy({"timezone": "America/New_York", "kinds": {"replenish": {"level": "auto", "guardrails": {
        "quiet_hours": {"start": "22:00", "end": "06:00"}}}}})
    # 03:30 UTC is 22:30 in New York (EST): quiet there
    assert verdict(pol, at=datetime(2026, 1, 6, 3, 30, tzinfo=UTC)).status == "proposed"
    assert verdict(pol, at=datetime(2026, 1, 6, 12, 0, tzinfo=UTC)).status == "auto"


def test_one_device_alone_never_triggers_a_costly_action():
    pol = policy()
    v = verdict(pol, cost=1500.0, sources=["vib-7"])
    assert v.status == "proposed" and v.broken[0].startswith("second_source")
    assert verdict(pol, cost=1500.0, sources=["vib-7", "vib-7"]).status == "proposed"  # the same source twice
    assert verdict(pol, cost=1500.0, sources=["vib-7", "oil-lab"]).status == "auto"
    assert verdict(pol, cost=500.0, sources=["vib-7"]).status == "auto"  # cheap: one source is enough


def test_levels_manual_propose_and_high_impact():
    pol = parse_policy({"high_impact_cost": 1000, "kinds": {"replenish": {"level": "manual"},
                                                            "maintain": {"level": "propose"}}})
    assert verdict(pol).status == "noted"
    v = evaluate(kind="maintain", cost=10, quantity=None, lane_id=None, supplier=None, sources=TWO, at=NOON,
                 spent_today=0, policy=pol)
    assert v.status == "proposed"
    auto = parse_policy({"high_impact_cost": 1000, "kinds": {"replenish": {"level": "auto"}}})
    v = verdict(auto, cost=5000.0)
    assert v.status == "proposed" and v.distinct_approver and any(b.startswith("high_impact") for b in v.broken)


def test_policy_errors_name_the_field(tmp_path):
    bad = tmp_path / "a.yaml"
    bad.write_text("kinds:\n  replenish:\n    level: sometimes\n")
    with pytest.raises(DecisionError, match=r"a.yaml kinds.replenish.level"):
        load_policy(bad)
    with pytest.raises(DecisionError, match="unknown decision kind"):
        parse_policy({"kinds": {"teleport": {"level": "auto"}}})
    assert load_policy("examples/autonomy.yaml").for_kind("replenish").level == "auto"


# -- through the store -------------------------------------------------------------------------------------
@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "d.db") as st:
        yield st


def order(qty=100.0, cost=500.0, **kw):
    return Decision(kind="replenish", created_at=NOON, trigger_event_ids=["till-1:5", "shelf-3:9"],
                    action=OrderAction(site="S1", sku="A", quantity=qty, origin="SUP-1", lane_id="L1"), cost=cost, **kw)


def test_auto_decision_is_executed_with_its_trail(store):
    res = submit(store, order(), policy(max_quantity=1000))
    d = res.decision
    assert d.status == "executed" and d.approvals[0].automatic and d.approvals[0].by == "autonomy-policy"
    assert [e.kind for e in res.events] == ["order"]
    logged = [r.event for r in store.log.read(sources=[DECIDE_SOURCE])]
    assert logged == res.events and logged[0].decision_id == d.id and logged[0].quantity == 100
    actions = [e.action for e in store.audit.entries()]
    assert actions == ["decision.auto", "decision.execute"]


def test_daily_spend_accumulates_across_decisions(store):
    pol = policy(max_spend_per_day=1200)
    assert submit(store, order(cost=500), pol).decision.status == "executed"
    assert submit(store, order(cost=500), pol).decision.status == "executed"
    third = submit(store, order(cost=500), pol).decision
    assert third.status == "proposed" and "max_spend_per_day" in third.autonomy["reason"]


def test_proposal_is_approved_then_executed_and_rejection_needs_a_reason(store):
    pol = policy(max_quantity=10)
    p = submit(store, order(), pol).decision
    assert p.status == "proposed" and p.autonomy["guardrails_broken"][0].startswith("max_quantity")
    assert list(store.log.read(sources=[DECIDE_SOURCE])) == []
    res = approve(store, p.id, "planner:ann")
    assert res.decision.status == "executed" and res.decision.approvals[-1].by == "planner:ann"
    with pytest.raises(DecisionError, match="only a proposed decision"):
        approve(store, p.id, "planner:bob")
    q = submit(store, order(), pol).decision
    with pytest.raises(DecisionError, match="reason"):
        reject(store, q.id, "planner:ann", "  ")
    r = reject(store, q.id, "planner:ann", "supplier on strike")
    assert r.status == "rejected" and r.rejection["reason"] == "supplier on strike"
    assert store.audit.verify().ok


def test_high_impact_needs_someone_other_than_the_proposer(store):
    pol = policy()
    d = order(cost=80_000).model_copy(update={"proposer": "planner:ann", "sources": ["planner:ann"]})
    p = submit(store, d, pol).decision
    assert p.status == "proposed" and p.autonomy["distinct_approver"]
    with pytest.raises(DecisionError, match="someone other than its proposer"):
        approve(store, p.id, "planner:ann")
    assert approve(store, p.id, "planner:bob").decision.status == "executed"
    # below the threshold a person's own order counts as approved by them
    small = submit(store, order(cost=100).model_copy(update={"proposer": "planner:ann"}), pol).decision
    assert small.status == "executed" and small.approvals[0].by == "planner:ann"


def test_executor_refuses_without_an_approval_record(store):
    p = submit(store, order(), policy(max_quantity=10)).decision
    with pytest.raises(DecisionError, match="no approval record"):
        execute(store, p)
    forged = p.model_copy(update={"status": "approved"})  # approved, but nobody approved it
    with pytest.raises(DecisionError, match="no approval record"):
        execute(store, forged)
    unsaved = order().model_copy(update={"status": "approved", "approvals": [Approval(by="x", at=NOON)]})
    with pytest.raises(DecisionError, match="stored"):
        execute(store, unsaved)
    assert list(store.log.read(sources=[DECIDE_SOURCE])) == []


def test_idempotency_key_makes_one_decision_and_one_order(store):
    pol = policy()
    a = submit(store, order(idempotency_key="k-1"), pol)
    b = submit(store, order(idempotency_key="k-1"), pol)
    assert a.created and not b.created and a.decision.id == b.decision.id
    assert len(list(store.log.read(kinds=["order"]))) == 1


def test_work_order_decision_opens_a_work_order(store):
    d = Decision(kind="maintain", created_at=NOON, sources=["vib-1", "oil-lab"], cost=300,
                 action=WorkOrderAction(asset_id="OVEN-1", detail="bearing"))
    p = submit(store, d, parse_policy({"kinds": {"maintain": {"level": "propose"}}})).decision
    assert p.status == "proposed"
    ev = approve(store, p.id, "planner:ann").events
    assert ev[0].kind == "maintenance" and ev[0].action == "work_order_opened" and ev[0].work_order_id == f"WO-{p.id}"
