"""Batched submission and approval decide exactly what one-by-one would, with fewer commits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supplynet.decide import decision as decisions
from supplynet.decide.autonomy import parse_policy
from supplynet.decide.decision import Decision, OrderAction
from supplynet.store import open_store

NOW = datetime(2026, 3, 2, 10, tzinfo=UTC)
POLICY = parse_policy({
    "high_impact_cost": 5000, "costly_action_cost": 100000,
    "kinds": {"replenish": {"level": "auto", "guardrails": {"max_spend_per_decision": 1000,
                                                              "max_spend_per_day": 2500}}},
})


def _decisions():
    out = []
    for i, cost in enumerate([400, 900, 1200, 800, 700, 300, 6000]):
        out.append(Decision(kind="replenish", created_at=NOW, cost=cost, trigger_event_ids=[f"pos-{i}:1"],
                            action=OrderAction(site=f"S{i}", sku="A", quantity=10, origin="SUP", lane_id="L1",
                                               order_type="purchase")))
    return out


def _outcome(results):
    return [(r.decision.status, r.decision.autonomy.get("guardrails_broken"), len(r.events)) for r in results]


@pytest.fixture
def two_stores(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as a, open_store(f"sqlite:///{tmp_path / 'b.db'}") as b:
        yield a, b


def test_submit_many_equals_one_by_one(two_stores):
    a, b = two_stores
    one = [decisions.submit(a, d, POLICY, now=NOW) for d in _decisions()]
    many = decisions.submit_many(b, _decisions(), POLICY, now=NOW)
    assert _outcome(one) == _outcome(many)
    # the daily cap (2500) is reached inside the batch: 400 + 900 + 800 = 2100, then 700 breaks it
    assert [r.decision.status for r in many] == ["executed", "executed", "proposed", "executed", "proposed",
                                                 "executed", "proposed"]
    assert a.log.count() == b.log.count() == 4
    assert b.audit.verify().ok


def test_approve_many_executes_and_refuses_what_is_not_proposed(two_stores):
    _, b = two_stores
    res = decisions.submit_many(b, _decisions(), POLICY, now=NOW)
    waiting = [r.decision.id for r in res if r.decision.status == "proposed"]
    done = decisions.approve_many(b, waiting, by="planner-1", now=NOW)
    assert [r.decision.status for r in done] == ["executed"] * 3
    assert all(r.decision.approvals[-1].by == "planner-1" for r in done)
    assert b.log.count() == 7
    with pytest.raises(decisions.DecisionError, match="only a proposed decision"):
        decisions.approve_many(b, waiting[:1], by="planner-2")
    assert b.audit.verify().ok
