"""Rebalancing: a transfer between sites is chosen when it beats a new order and expediting on cost
and time; otherwise the regular order stands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.decide.rebalance import Rebalancer, haversine_km
from supplynet.decide.replenish import Replenisher
from supplynet.errors import DecisionError
from supplynet.events import Sale, StockCount
from supplynet.model import parse_network
from supplynet.twin import Twin

T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)

NET = """
name: r
start: 2026-03-01
sites:
  - {id: SUP, kind: supplier, location: {lat: 52.0, lon: 0.0}}
  - {id: DC-A, kind: dc, location: {lat: 53.5, lon: -1.5}}
  - {id: DC-B, kind: dc, location: {lat: 52.3, lon: -1.8}}
  - {id: S1, kind: store, location: {lat: 52.48, lon: -1.89}}
  - {id: S2, kind: store, location: {lat: 52.40, lon: -1.50}}
products:
  - {sku: A, unit_cost: 2.0, price: 5.0, pack_size: 6}
lanes:
  - {id: L-SUP-A, origin: SUP, destination: DC-A, lead_time: 2, cost_per_unit: 0.1}
  - {id: L-SUP-B, origin: SUP, destination: DC-B, lead_time: 2, cost_per_unit: 0.1}
  - {id: L-A-S1, origin: DC-A, destination: S1, lead_time: 3, cost_per_unit: 0.02}
  - {id: L-B-S1, origin: DC-B, destination: S1, lead_time: 1, cost_per_unit: 0.08, fixed_cost_per_shipment: 5}
  - {id: L-A-S2, origin: DC-A, destination: S2, lead_time: 3, cost_per_unit: 0.02}
demand:
  - {site: S1, sku: A, mean_per_day: 30, cv: 0.3}
  - {site: S2, sku: A, mean_per_day: 10, cv: 0.3}
policies:
  - {site: DC-A, sku: A, type: base_stock, service_level: 0.95}
  - {site: DC-B, sku: A, type: base_stock, params: {S: 100}}
  - {site: S1, sku: A, type: base_stock, service_level: 0.95}
  - {site: S2, sku: A, type: base_stock, params: {S: 60}}
"""


@pytest.fixture
def net():
    return parse_network(NET)


def _twin(net, stock):
    tw = Twin(net)
    for i, ((site, sku), q) in enumerate(stock.items()):
        tw.apply(StockCount(source="ops", seq=i, ts=T0, site=site, sku=sku, quantity=q, method="manual"))
    return tw


def test_a_transfer_from_a_site_with_excess_beats_a_new_order_and_expediting(net):
    tw = _twin(net, {("S1", "A"): 10.0, ("DC-B", "A"): 1000.0, ("DC-A", "A"): 50.0})
    rb = Rebalancer(net, Replenisher(net, demand=False, lead_times=False))
    p = rb.evaluate(("S1", "A"), tw.state, T0)
    assert p is not None and p.order_type == "transfer" and p.origin == "DC-B" and p.lane_id == "L-B-S1"
    assert p.quantity == 84  # 3 days x 30 - 10 on hand = 80, rounded up to packs of 6
    kinds = {o["kind"]: o for o in p.options}
    assert set(kinds) == {"order", "expedite", "transfer"}
    assert kinds["transfer"]["chosen"] and not kinds["order"]["chosen"]
    assert kinds["transfer"]["cost"] < kinds["expedite"]["cost"] < kinds["order"]["cost"]
    assert kinds["transfer"]["lead_time_days"] <= kinds["order"]["lead_time_days"]
    # the order arrives after 3 days: 80 units short at a margin of 3 each
    assert kinds["order"]["expected_short_units"] == pytest.approx(80)
    assert kinds["transfer"]["expected_short_units"] == pytest.approx(20)  # one day's wait, 10 on hand
    assert p.extra["rebalance"]["origin"] == "DC-B" and "vs new order" in p.reason
    # the transfer now on its way closes the gap: no second proposal for it
    assert rb.evaluate(("S1", "A"), tw.state, T0 + timedelta(hours=1)) is None
    d = p.to_decision(T0)
    assert d.kind == "rebalance" and d.action.order_type == "transfer"


def test_without_excess_elsewhere_expediting_or_the_regular_order_stands(net):
    tw = _twin(net, {("S1", "A"): 10.0, ("DC-B", "A"): 90.0, ("DC-A", "A"): 500.0})  # DC-B keeps its 100
    rb = Rebalancer(net, Replenisher(net, demand=False, lead_times=False), expedite_cost_factor=3.0)
    p = rb.evaluate(("S1", "A"), tw.state, T0)
    assert p is not None and "expedite" in p.extra and p.origin == "DC-A"
    assert p.lead_time_days == pytest.approx(1.5)
    assert {o["kind"] for o in p.options} == {"order", "expedite"}
    pricey = Rebalancer(net, Replenisher(net, demand=False, lead_times=False), expedite_cost_factor=1e6)
    assert pricey.evaluate(("S1", "A"), tw.state, T0) is None  # the regular order is cheapest
    full = _twin(net, {("S1", "A"): 200.0, ("DC-B", "A"): 1000.0})
    assert rb.evaluate(("S1", "A"), full.state, T0) is None  # not at risk: nothing to do


def test_lateral_moves_are_costed_by_distance_and_must_not_be_slower_than_the_order(net):
    tw = _twin(net, {("S2", "A"): 1.0, ("S1", "A"): 500.0})  # S1 has excess; no lane S1 -> S2
    rep = Replenisher(net, demand=False, lead_times=False)
    off = Rebalancer(net, rep, expedite_cost_factor=50.0).evaluate(("S2", "A"), tw.state, T0)
    assert off is not None and all(o["kind"] != "transfer" for o in off.options)  # lateral moves are opt-in
    near = Rebalancer(net, rep, lateral_km=100.0, lateral_fixed_cost=10.0, expedite_cost_factor=50.0)
    p = near.evaluate(("S2", "A"), tw.state, T0)
    km = haversine_km(52.48, -1.89, 52.40, -1.50)
    assert 20 < km < 35
    assert p is not None and p.lane_id == "lateral:S1:S2" and p.origin == "S1"
    lateral = next(o for o in p.options if o["kind"] == "transfer")
    assert lateral["transport_cost"] == pytest.approx(p.quantity * km * 0.002 + 10.0, abs=0.006)
    slow = Rebalancer(net, rep, lateral_km=100.0, lateral_fixed_cost=10.0, lateral_speed_km_per_day=5.0,
                      expedite_cost_factor=50.0)
    p = slow.evaluate(("S2", "A"), tw.state, T0)  # ~6 days by road: slower than a new order
    assert p is None or p.origin != "S1"
    with pytest.raises(DecisionError, match="expedite_time_factor"):
        Rebalancer(net, rep, expedite_time_factor=0)


def test_event_driven_observe_then_decide(net):
    tw = _twin(net, {("S1", "A"): 40.0, ("DC-B", "A"): 1000.0})
    rb = Rebalancer(net, Replenisher(net, demand=False, lead_times=False))
    sale = Sale(source="pos", seq=1, ts=T0, site="S1", sku="A", quantity=30.0)
    tw.apply(sale)
    assert rb.observe(sale, tw) == [("S1", "A")]
    (p,) = rb.decide(tw, T0)
    assert p.order_type == "transfer" and p.site == "S1"
    assert rb.decide(tw, T0) == []
