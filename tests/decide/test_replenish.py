"""Replenishment: policies re-sized from forecasts and learned lead times; orders under MOQ, pack,
lane and supplier capacity and budget; each order carries its reason and converts to a Decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from supplynet.decide.replenish import (
    OrderProposal,
    Replenisher,
    fill_rate_factor,
    size_levels,
    size_policy,
)
from supplynet.errors import DecisionError
from supplynet.events import Line, Sale, ShipmentStatus
from supplynet.model import parse_network
from supplynet.policy import sizing
from supplynet.twin import Twin

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)

NET = """
name: t
start: 2026-03-01
sites:
  - {id: SUP, kind: supplier, location: {lat: 52.0, lon: 0.0}, capacity_per_day: 1000}
  - {id: SUP2, kind: supplier, location: {lat: 52.5, lon: 0.5}}
  - {id: DC, kind: dc, location: {lat: 52.2, lon: -1.0}}
  - {id: S1, kind: store, location: {lat: 52.4, lon: -1.9}}
products:
  - {sku: A, unit_cost: 2.0, price: 3.0, pack_size: 12, moq: 48}
  - {sku: B, unit_cost: 1.0, price: 2.0}
  - {sku: C, unit_cost: 1.0, price: 2.0}
lanes:
  - {id: L-SUP-DC, origin: SUP, destination: DC, lead_time: 2, cost_per_unit: 0.1, capacity_per_day: 600}
  - {id: L-SUP2-DC, origin: SUP2, destination: DC, lead_time: 3, cost_per_unit: 0.3}
  - {id: L-DC-S1, origin: DC, destination: S1, lead_time: 1, cost_per_unit: 0.02}
demand:
  - {site: S1, sku: A, mean_per_day: 40, cv: 0.3}
  - {site: S1, sku: B, mean_per_day: 100, cv: 0.3}
  - {site: S1, sku: C, mean_per_day: 100, cv: 0.3}
policies:
  - {site: DC, sku: "*", type: base_stock, service_level: 0.95}
  - {site: S1, sku: A, type: base_stock, service_level: 0.95}
  - {site: S1, sku: B, type: base_stock, params: {S: 250}}
  - {site: S1, sku: C, type: RS, params: {R: 2}, service_level: 0.9}
"""


@pytest.fixture
def net():
    return parse_network(NET)


def _twin_with(net, events):
    tw = Twin(net)
    for e in events:
        tw.apply(e)
    return tw


# ------------------------------------------------------------------------------ sizing
def test_vectorized_levels_equal_the_scalar_sizing_functions():
    rng = np.random.default_rng(3)
    mu, sd, L = rng.uniform(5, 100, 20), rng.uniform(1, 30, 20), rng.integers(1, 6, 20).astype(float)
    a, b = size_levels("base_stock", mu * L, sd * np.sqrt(L), mu, service_level=0.93)
    want = [sizing.base_stock_for_service(0.93, m, s, n) for m, s, n in zip(mu, sd, L, strict=True)]
    np.testing.assert_allclose(a, np.maximum(want, 0), rtol=1e-9)
    assert np.all(b == 0)
    s, S = size_levels("sS", mu * L, sd * np.sqrt(L), 3 * mu, fill_rate=0.97)
    want = [sizing.base_stock_for_fill_rate(0.97, m, d, n, demand_per_cycle=3 * m) for m, d, n in
            zip(mu, sd, L, strict=True)]
    np.testing.assert_allclose(s, np.maximum(want, 0), rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(S - s, 3 * mu)
    r, Q = size_levels("RQ", mu, sd, mu, service_level=0.5)
    np.testing.assert_allclose(r, mu)
    k = fill_rate_factor(np.array([0.0833, 0.0005]))
    g = stats.norm.pdf(k) - k * stats.norm.sf(k)
    np.testing.assert_allclose(g, [0.0833, 0.0005], rtol=1e-6)
    with pytest.raises(DecisionError, match="exactly one"):
        size_levels("sS", mu, sd, mu)
    with pytest.raises(DecisionError, match="unknown policy"):
        size_levels("kanban", mu, sd, mu, service_level=0.9)


def test_size_policy_uses_the_lead_time_distribution_and_keeps_given_levels(net):
    spec = net.policy_for("S1", "A")
    product = net.product("A")
    fixed, _ = size_policy(spec, (40.0, 12.0), (1.0, 0.0), product)
    noisy, info = size_policy(spec, (40.0, 12.0), (1.0, 0.5), product)
    # Var = E[L+1] s^2 + mu^2 Var[L]: a lead time that varies needs more stock
    want = sizing.base_stock_for_service(0.95, 40.0, 12.0, 2.0, 0.5)
    assert float(noisy.S) == pytest.approx(want)
    assert float(noisy.S) > float(fixed.S)
    assert info["target"] == {"service_level": 0.95} and info["lead_time_days"] == [1.0, 0.5]
    static, info = size_policy(net.policy_for("S1", "B"), (500.0, 50.0), (9.0, 2.0), net.product("B"))
    assert float(static.S) == 250 and info["static"] is True
    rs, info = size_policy(net.policy_for("S1", "C"), (100.0, 30.0), (1.0, 0.0), net.product("C"), fill_rate=0.98)
    assert info["target"] == {"fill_rate": 0.98}
    assert float(rs.S) == pytest.approx(sizing.rs_order_up_to(2, 100.0, 30.0, 1.0, fill_rate=0.98))


# ------------------------------------------------------------------------------ forecasts and lead times
def test_sales_above_the_declared_rate_raise_the_level(net):
    rep = Replenisher(net)
    before = float(rep.policies[("S1", "A")].S)
    assert rep.sizing[("S1", "A")]["demand_source"] == "network"
    rng = np.random.default_rng(0)
    tw = Twin(net)
    for d in range(30):
        for h in range(4):
            e = Sale(source="pos", seq=d * 4 + h, ts=T0 + timedelta(days=d, hours=h), site="S1", sku="A",
                     quantity=float(rng.poisson(20)))
            tw.apply(e)
            rep.observe(e, tw)
    rep.decide(tw, T0 + timedelta(days=30))
    info = rep.sizing[("S1", "A")]
    assert info["demand_source"] == "online"
    assert info["demand_per_day"][0] == pytest.approx(80, rel=0.15)  # 4 sales of ~20 a day
    assert float(rep.policies[("S1", "A")].S) > 1.6 * before


def test_learned_lead_time_from_shipments_resizes_the_policies_fed_by_the_lane(net):
    rep = Replenisher(net)
    before = float(rep.policies[("S1", "A")].S)
    tw = Twin(net)
    seq = 0
    for i in range(20):
        kw = dict(source="fleet", shipment_id=f"SH{i}", lane_id="L-DC-S1", origin="DC", destination="S1",
                  lines=(Line(sku="B", quantity=1.0),))
        for status, dt in (("departed", 0.0), ("delivered", 4.0)):
            seq += 1
            e = ShipmentStatus(seq=seq, ts=T0 + timedelta(days=i + dt), status=status, **kw)
            tw.apply(e)
            rep.observe(e, tw)
    rep.decide(tw, T0 + timedelta(days=30))
    est = rep.lead_time_estimate(net.lane("L-DC-S1"))
    assert est.n == 20 and 3.0 < est.mean_days < 4.0  # 20 samples of 4 d blended with the declared 1 d
    assert rep.sizing[("S1", "A")]["lead_time_source"] == "learned"
    assert float(rep.policies[("S1", "A")].S) > 1.5 * before


# ------------------------------------------------------------------------------ constraints
def test_orders_respect_moq_and_pack(net):
    rep = Replenisher(net, demand=False, lead_times=False, fill_rates={"S1": 0.99})
    assert rep.sizing[("S1", "C")]["target"] == {"fill_rate": 0.99}
    (p,) = rep.plan({("S1", "A"): float(rep.policies[("S1", "A")].S) - 3.0}, [("S1", "A")])
    assert p.quantity == 48  # 3 short, lifted to the MOQ of 48 = 4 packs of 12
    (p,) = rep.plan({("S1", "A"): 0.0}, [("S1", "A")])
    assert p.quantity % 12 == 0 and p.quantity >= float(rep.policies[("S1", "A")].S)
    assert "pack 12" in p.constraints and "MOQ 48" in p.constraints


def test_lane_and_supplier_capacity_spill_to_the_next_option_and_free_up_next_day(net):
    rep = Replenisher(net, demand=False, lead_times=False)
    keys = [("DC", "A"), ("DC", "B"), ("DC", "C")]
    day1 = rep.plan({k: -500.0 for k in keys}, keys, day=10)
    via = {}
    for p in day1:
        via.setdefault(p.lane_id, 0.0)
        via[p.lane_id] += p.quantity
    assert via["L-SUP-DC"] <= 600 + 1e-9  # lane capacity 600/day (supplier SUP: 1000/day)
    assert via.get("L-SUP2-DC", 0) > 0  # what does not fit goes to the dearer supplier
    cut = [p for p in day1 if p.lane_id == "L-SUP-DC" and any("lane capacity" in c for c in p.constraints)]
    spilled = [p for p in day1 if p.lane_id == "L-SUP2-DC"]
    assert cut or spilled
    for p in spilled:
        first = next(o for o in p.options if o["lane_id"] == "L-SUP-DC")
        assert first["cost"] < p.cost or first.get("feasible") is False
    day2 = rep.plan({("DC", "A"): -500.0}, [("DC", "A")], day=11)
    assert day2[0].lane_id == "L-SUP-DC"  # a new day frees the lane


def test_budget_goes_to_the_most_urgent_first(net):
    rep = Replenisher(net, demand=False, lead_times=False, budget_per_day=400.0)
    pos = {("S1", "A"): 100.0, ("S1", "B"): -50.0, ("S1", "C"): 200.0}
    out = rep.plan(pos, list(pos), day=5)
    assert sum(p.cost for p in out) <= 400.0 + 1e-6
    assert out[0].sku == "B"  # fewest days of cover
    assert any("budget" in c for p in out for c in p.constraints)
    empty = Replenisher(net, demand=False, lead_times=False, budget_per_day=0.0)
    assert empty.plan(pos, list(pos), day=5) == []
    assert [b["sku"] for b in empty.blocked] == ["B", "A"]  # C is above its level: nothing wanted
    assert "MOQ/pack" in empty.blocked[0]["options"][0]["why_not"]
    with pytest.raises(DecisionError, match="budget_per_day"):
        Replenisher(net, budget_per_day=-1.0)


# ------------------------------------------------------------------------------ reason, events, decision
def test_each_order_carries_forecast_position_policy_and_costed_options(net):
    rep = Replenisher(net, demand=False, lead_times=False)
    (p,) = rep.plan({("DC", "B"): 10.0}, [("DC", "B")])
    assert isinstance(p, OrderProposal) and p.order_type == "purchase"
    assert p.forecast["mean_per_day"] > 0 and p.position == 10.0
    assert p.extra["sizing"]["type"] == "base_stock" and "S" in p.extra["sizing"]["levels"]
    assert [o["lane_id"] for o in p.options] == ["L-SUP-DC", "L-SUP2-DC"]
    assert p.options[0]["cost"] < p.options[1]["cost"] and p.options[0]["chosen"]
    assert p.cost == pytest.approx(p.options[0]["cost"])
    for word in ("position 10.0", "base_stock", "network demand", "L-SUP-DC", "2 option(s)"):
        assert word in p.reason


def test_event_driven_decide_touches_only_what_the_events_changed(net):
    rep = Replenisher(net)
    sale = Sale(source="pos", seq=1, ts=T0, site="S1", sku="A", quantity=5.0)
    tw = _twin_with(net, [sale])
    assert rep.observe(sale, tw) == [("S1", "A")]
    out = rep.decide(tw, T0)
    assert [(p.site, p.sku) for p in out] == [("S1", "A")]
    assert out[0].trigger_event_ids == ("pos:1",)
    assert rep.decide(tw, T0) == []  # nothing new: nothing re-evaluated


def test_to_decision_keeps_options_and_reason(net):
    rep = Replenisher(net, demand=False, lead_times=False)
    (p,) = rep.plan({("DC", "B"): 10.0}, [("DC", "B")])
    d = p.to_decision(T0, trigger_event_ids=["pos:7"])
    assert d.kind == "replenish" and d.chosen == "L-SUP-DC" and d.why == p.reason
    assert [o.label for o in d.options] == ["L-SUP-DC", "L-SUP2-DC"]
    assert d.action.quantity == p.quantity and d.trigger_event_ids == ["pos:7"]
    assert d.model_output["forecast"]["source"] == "network"


# ------------------------------------------------------------------------------ store fill target, echelon demand
def test_store_fill_rate_sizes_stores_only_and_explicit_targets_win(net):
    rep = Replenisher(net, demand=False, lead_times=False, store_fill_rate=0.99)
    assert rep.sizing[("S1", "A")]["target"] == {"fill_rate": 0.99}
    assert rep.sizing[("DC", "A")]["target"] == {"service_level": 0.95}  # a DC keeps its policy's target
    higher = Replenisher(net, demand=False, lead_times=False, store_fill_rate=0.999)
    assert float(higher.policies[("S1", "A")].S) > float(rep.policies[("S1", "A")].S)
    both = Replenisher(net, demand=False, lead_times=False, store_fill_rate=0.99, fill_rates={"S1": 0.97})
    assert both.sizing[("S1", "A")]["target"] == {"fill_rate": 0.97}
    with pytest.raises(DecisionError, match="store_fill_rate"):
        Replenisher(net, demand=False, lead_times=False, store_fill_rate=1.5)


def test_echelon_demand_sizes_a_dc_from_its_stores_not_their_lumpy_orders(net):
    from supplynet.events import OrderEvent

    reps = {flag: Replenisher(net, lead_times=False, echelon_demand=flag) for flag in (False, True)}
    tw = Twin(net)
    rng = np.random.default_rng(1)
    seq = 0
    for d in range(30):
        seq += 1
        sale = Sale(source="pos", seq=seq, ts=T0 + timedelta(days=d, hours=14), site="S1", sku="B",
                    quantity=float(rng.poisson(100)))
        events = [sale]
        if d % 3 == 0:  # the store orders three days at a time: the DC sees 300 every third day
            events.append(OrderEvent(source="erp", seq=seq, ts=T0 + timedelta(days=d, hours=5), order_id=f"O{d}",
                                     order_type="transfer", status="created", site="S1", sku="B", quantity=300.0,
                                     origin="DC"))
        for e in events:
            tw.apply(e)
            for rep in reps.values():
                rep.observe(e, tw)
    lumpy, echelon = (reps[f].demand_estimate(("DC", "B")) for f in (False, True))
    store = reps[True].demand_estimate(("S1", "B"))
    assert lumpy.source == "online" and echelon.source == "echelon"
    assert echelon.mean == pytest.approx(store.mean) and echelon.std == pytest.approx(store.std)
    assert lumpy.std > 5 * echelon.std  # 300 / 0 / 0 a day: a spread of ~140 against the sales' ~10
    for rep in reps.values():
        rep.resize(("DC", "B"))
    assert float(reps[True].policies[("DC", "B")].S) < float(reps[False].policies[("DC", "B")].S)
