"""Joint replenishment on a lane's release schedule: a lane's orders leave together at its cut-off (one
shipment per lane and release), out of cycle only when the expected stock-out before the next release costs
more than an extra shipment; policies sized for the review they actually get; plants' finished goods
planned as production orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.decide.record import action_name
from supplynet.decide.replenish import ProductionLine, Replenisher, size_policy
from supplynet.errors import DecisionError
from supplynet.events import OrderEvent, StockCount
from supplynet.model import example_path, load_network, parse_network
from supplynet.policy import sizing
from supplynet.twin import Twin

DAY0 = datetime(2026, 3, 2, tzinfo=UTC)

NET = """
name: t
start: 2026-03-01
sites:
  - {id: SUP, kind: supplier, location: {lat: 52.0, lon: 0.0}}
  - {id: DC, kind: dc, location: {lat: 52.2, lon: -1.0}}
  - {id: S1, kind: store, location: {lat: 52.4, lon: -1.9}}
products:
  - {sku: A, unit_cost: 2.0, price: 3.0, pack_size: 12}
  - {sku: B, unit_cost: 1.0, price: 9.0}
  - {sku: M, unit_cost: 1.0, price: 2.0, shelf_life_days: 4}
lanes:
  - {id: L-SUP-DC, origin: SUP, destination: DC, lead_time: 2, cost_per_unit: 0.1, fixed_cost_per_shipment: 500,
     skus: [A, B]}
  - {id: L-SUP-DC-M, origin: SUP, destination: DC, lead_time: 1, cost_per_unit: 0.1, fixed_cost_per_shipment: 100,
     skus: [M]}
  - {id: L-DC-S1, origin: DC, destination: S1, lead_time: 1, cost_per_unit: 0.02, fixed_cost_per_shipment: 50}
demand:
  - {site: S1, sku: A, mean_per_day: 40, cv: 0.3}
  - {site: S1, sku: B, mean_per_day: 100, cv: 0.3}
  - {site: S1, sku: M, mean_per_day: 30, cv: 0.3}
policies:
  - {site: DC, sku: "*", type: sS, service_level: 0.95}
  - {site: S1, sku: "*", type: base_stock, service_level: 0.95}
"""


@pytest.fixture
def net():
    return parse_network(NET)


def _twin(net, stock):
    tw = Twin(net)
    for i, ((site, sku), q) in enumerate(sorted(stock.items())):
        tw.apply(StockCount(source="wms", seq=i, ts=DAY0, site=site, sku=sku, quantity=q, method="manual"))
    return tw


def _touch(rep, tw, keys):
    for i, (site, sku) in enumerate(keys):
        rep.observe(StockCount(source="shelf", seq=1000 + i, ts=DAY0, site=site, sku=sku,
                               quantity=tw.state.position(site, sku).on_hand, method="shelf"), tw)


def test_review_cycle_sizes_the_protection_interval(net):
    spec = net.policy_for("S1", "A")
    daily, _ = size_policy(spec, (40.0, 12.0), (1.0, 0.2), net.product("A"))
    every3, info = size_policy(spec, (40.0, 12.0), (1.0, 0.2), net.product("A"), review_days=3)
    assert float(daily.S) == pytest.approx(sizing.base_stock_for_service(0.95, 40.0, 12.0, 2.0, 0.2))
    assert float(every3.S) == pytest.approx(sizing.base_stock_for_service(0.95, 40.0, 12.0, 4.0, 0.2))
    assert info["review_days"] == 3
    # demand comes in daily lumps: a 0.7-day lane reviewed daily protects two whole days (two closes), not 1.7
    lumpy, info = size_policy(spec, (40.0, 12.0), (0.7, 0.0), net.product("A"), review_days=1)
    assert info["protection_days"] == 2.0
    assert float(lumpy.S) == pytest.approx(sizing.base_stock_for_service(0.95, 40.0, 12.0, 2.0, 0.0))
    ss = net.policy_for("DC", "A")
    cont, _ = size_policy(ss, (40.0, 12.0), (2.0, 0.0), net.product("A"))
    periodic, _ = size_policy(ss, (40.0, 12.0), (2.0, 0.0), net.product("A"), review_days=2)
    assert float(periodic.s) == pytest.approx(sizing.base_stock_for_service(0.95, 40.0, 12.0, 4.0, 0.0))
    assert float(periodic.s) > float(cont.s)


def test_a_lanes_cycle_is_the_joint_eoq_capped_by_shelf_life_and_the_echelon_cap(net):
    rep = Replenisher(net, demand=False, lead_times=False, release_hour=6, max_review_days=3)
    # supplier lane: 500 per shipment against 140 units a day worth a few pence a day to hold: the EOQ cycle
    # is weeks, the cap of 3 days binds
    assert rep.review_days["L-SUP-DC"] == 3 and "capped at 3 d" in rep.review_why["L-SUP-DC"]
    # the store lane carries M (4 days of shelf life): at most every 2 days
    assert rep.review_days["L-DC-S1"] == 2 and "shelf life" in rep.review_why["L-DC-S1"]
    assert rep.sizing[("DC", "A")]["review_days"] == 3
    with pytest.raises(DecisionError, match="release_hour"):
        Replenisher(net, release_hour=24)
    with pytest.raises(DecisionError, match="max_review_days"):
        Replenisher(net, release_hour=6, max_review_days=0)


def test_orders_of_a_lane_wait_for_its_release_and_leave_together(net):
    rep = Replenisher(net, demand=False, lead_times=False, release_hour=6)
    tw = _twin(net, {("S1", "A"): 10.0, ("S1", "B"): 40.0, ("S1", "M"): 10.0, ("DC", "A"): 5000.0,
                     ("DC", "B"): 5000.0, ("DC", "M"): 5000.0})
    rep.next_release("L-DC-S1", DAY0.replace(hour=2))  # the schedule starts today: first release 06:00
    rep.next_release("L-SUP-DC", DAY0.replace(hour=2))
    _touch(rep, tw, [("S1", "B")])
    # B at the store is low but an extra truck (50) is not worth it with the release 4 h away... unless short
    early = rep.decide(tw, DAY0.replace(hour=2))
    assert all(p.extra["release"]["out_of_cycle"] for p in early)
    at6 = rep.decide(tw, DAY0.replace(hour=6))
    store = [p for p in at6 if p.lane_id == "L-DC-S1"]
    assert {p.sku for p in store} | {p.sku for p in early} == {"A", "B", "M"}
    rel = {p.extra["release"]["release"] for p in store}
    assert rel == {"L-DC-S1#1"}  # one release: one shipment for the lane
    assert all("released with L-DC-S1#1" in p.reason and "every 2 d" in p.reason for p in store)
    assert all(float(p.quantity) == int(p.quantity) and p.quantity % (12 if p.sku == "A" else 1) == 0 for p in store)
    # the orders are on order now; nothing more until the next release (two days on), whatever is touched
    for i, p in enumerate(store + early):
        tw.apply(OrderEvent(source="decide", seq=i, ts=DAY0.replace(hour=6), order_id=f"PO-{i}", order_type=p.order_type,
                            status="created", site=p.site, sku=p.sku, quantity=p.quantity, origin=p.origin,
                            lane_id=p.lane_id))
    _touch(rep, tw, [("S1", "A")])
    assert rep.decide(tw, DAY0.replace(hour=9)) == []
    assert rep.next_release("L-DC-S1", DAY0) == DAY0.replace(hour=6) + timedelta(days=2)
    d = store[0].to_decision(DAY0.replace(hour=6))
    assert d.model_output["release"]["release"] == "L-DC-S1#1"


def test_out_of_cycle_only_when_the_stock_out_costs_more_than_a_truck(net):
    rep = Replenisher(net, demand=False, lead_times=False, release_hour=6)
    tw = _twin(net, {("S1", "A"): 400.0, ("S1", "B"): 0.0, ("S1", "M"): 300.0, ("DC", "A"): 5000.0,
                     ("DC", "B"): 5000.0, ("DC", "M"): 5000.0})
    now = DAY0.replace(hour=7)
    rep.next_release("L-DC-S1", DAY0.replace(hour=6))
    rep._next_release["L-DC-S1"] = DAY0.replace(hour=6) + timedelta(days=2)  # just released
    # B (margin 8 a unit) has nothing: ~100 units a day short until the next release lands -> far more than 50
    case = rep.emergency(("S1", "B"), 0.0, now)
    assert case is not None and case["shortage_cost"] > case["extra_shipment_cost"] == 50.0
    # A with ten days of stock: no case
    assert rep.emergency(("S1", "A"), 400.0, now) is None
    _touch(rep, tw, [("S1", "A"), ("S1", "B")])
    out = rep.decide(tw, now)
    assert [(p.site, p.sku) for p in out] == [("S1", "B")]
    rel = out[0].extra["release"]
    assert rel["out_of_cycle"] and rel["release"] == "L-DC-S1#0+out-of-cycle"
    assert "out of cycle" in out[0].reason and "> an extra shipment 50" in out[0].reason


def test_plants_finished_goods_are_planned_as_production_orders():
    net = load_network(example_path("realistic"))
    rep = Replenisher(net, demand=False, lead_times=False, release_hour=6, plan_production=True)
    key = ("PLT-LEI", "BREAD-WHITE-800G")
    line = rep.inbound[key][0]
    assert isinstance(line, ProductionLine) and line.capacity_per_day == 4000.0
    assert rep.sizing[key]["type"] == "base_stock" and rep.review_days[line.id] == 1
    assert rep.sizing[("PLT-LEI", "FLOUR-25KG")]["type"] == "RQ"  # what the plant buys keeps its policy
    mu = rep.demand[key][0]
    assert 0 < mu < 4000
    tw = _twin(net, {key: 0.0})
    out = rep.decide(tw, datetime(2026, 1, 5, 6, tzinfo=UTC))
    made = next(p for p in out if (p.site, p.sku) == key)
    assert made.order_type == "production" and made.origin == "PLT-LEI" and made.lane_id == line.id
    assert 0 < made.quantity <= 4000 and made.quantity % net.product(key[1]).pack_size == 0
    d = made.to_decision(datetime(2026, 1, 5, 6, tzinfo=UTC))
    assert d.action.order_type == "production" and action_name(d) == "production_order"
    assert d.supplier is None  # a plant's own line is not a purchase
    off = Replenisher(net, demand=False, lead_times=False)
    assert key not in off.policies  # without production planning the plant's finished goods are not managed
