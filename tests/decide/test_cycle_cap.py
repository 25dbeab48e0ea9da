"""Live order quantities a warehouse can hold: the EOQ capped at days of demand and shelf life, the lane's
fixed cost shared by the SKUs it carries. (The demo's DCs held 900k units, months of tinned tomatoes,
from the uncapped EOQ of a 0.22 SKU on an 800-a-trip rail lane.)"""

from __future__ import annotations

import pytest

from supplynet.decide.replenish import Replenisher, size_policy
from supplynet.model import example_path, load_network
from supplynet.model._schema import PolicySpec, Product
from supplynet.policy import sizing

CHEAP = Product(sku="TIN", unit_cost=0.22, price=0.55, holding_cost_rate=0.22)
SPEC = PolicySpec(site="DC", sku="TIN", type="sS", service_level=0.97)


def test_without_a_cap_the_textbook_eoq_stands():
    pol, info = size_policy(SPEC, (338.0, 60.0), (4.0, 1.2), CHEAP, fixed_cost=800.0)
    res = sizing.ss_eoq_safety_stock(800.0, 0.22 * 0.22 / 365, 338.0, 60.0, 4.0, 0.97, None, 1.2)
    assert info["Q_rule"] == "EOQ"
    assert float(pol.S) - float(pol.s) == pytest.approx(res.S - res.s)
    assert (float(pol.S) - float(pol.s)) / 338.0 > 150  # about half a year of tins


def test_the_cap_limits_an_order_to_days_of_demand_and_keeps_the_reorder_point():
    pol, info = size_policy(SPEC, (338.0, 60.0), (4.0, 1.2), CHEAP, fixed_cost=800.0, max_cycle_days=14.0)
    assert float(pol.S) - float(pol.s) == pytest.approx(14 * 338.0)
    assert float(pol.s) == pytest.approx(sizing.base_stock_for_service(0.97, 338.0, 60.0, 4.0, 1.2))
    assert "capped at 14.0 days" in info["Q_rule"]
    # a policy may set its own cap; a cap above the EOQ changes nothing
    own = PolicySpec(site="DC", sku="TIN", type="RQ", service_level=0.97, params={"max_cycle_days": 7})
    pol7, _ = size_policy(own, (338.0, 60.0), (4.0, 1.2), CHEAP, fixed_cost=800.0, max_cycle_days=14.0)
    assert float(pol7.Q) == pytest.approx(7 * 338.0)
    big, info_big = size_policy(SPEC, (338.0, 60.0), (4.0, 1.2), CHEAP, fixed_cost=800.0, max_cycle_days=10_000.0)
    assert info_big["Q_rule"] == "EOQ"


def test_a_perishable_orders_at_most_half_its_shelf_life():
    fresh = CHEAP.model_copy(update={"shelf_life_days": 6.0})
    pol, _ = size_policy(SPEC, (338.0, 60.0), (4.0, 1.2), fresh, fixed_cost=800.0, max_cycle_days=14.0)
    assert float(pol.S) - float(pol.s) == pytest.approx(3 * 338.0)


def test_the_live_replenisher_caps_cycles_and_shares_a_lanes_fixed_cost():
    net = load_network(example_path("realistic"))
    rep = Replenisher(net, demand=False, lead_times=False)
    mu = rep.sizing[("DC-DAV", "TOMATOES-400G")]["demand_per_day"][0]
    levels = rep.sizing[("DC-DAV", "TOMATOES-400G")]["levels"]
    assert levels["S"] - levels["s"] <= 14 * mu + 1e-6
    # every (s,S) and (r,Q) cycle of the network within two weeks of its demand
    for key, info in rep.sizing.items():
        lv, m = info["levels"], info["demand_per_day"][0]
        q = lv["S"] - lv["s"] if "s" in lv else lv.get("Q")
        if q is not None and m > 0 and not info.get("static"):
            product = net.product(key[1])
            assert q <= 14 * m + max(product.moq, product.pack_size) + 1e-6, (key, q, m)
    lane = net.lane(rep.sizing[("DC-DAV", "TOMATOES-400G")]["lane_id"])
    uncapped = Replenisher(net, demand=False, lead_times=False, max_cycle_days=None)
    assert "EOQ" == uncapped.sizing[("DC-DAV", "TOMATOES-400G")]["Q_rule"]
    q_shared = uncapped.sizing[("DC-DAV", "TOMATOES-400G")]["levels"]
    h = 0.22 * 0.22 / 365
    full = sizing.ss_eoq_safety_stock(lane.fixed_cost_per_shipment, h, mu, 59.6626, 4.06, 0.97, None, 1.22)
    assert q_shared["S"] - q_shared["s"] < (full.S - full.s) / 3  # the 12 SKUs of the lane share its cost


def test_an_orders_cost_carries_its_share_of_the_trip_not_the_whole_truck():
    net = load_network(example_path("realistic"))
    rep = Replenisher(net, demand=False, lead_times=False)
    (opt,) = [o for o in rep.options(("ST-LON", "MILK-2L"), 100.0) if o["origin"] == "DC-DAV"]
    lane = net.lane(opt["lane_id"])
    served = [k for k in rep.specs if k[0] == "ST-LON" and lane in rep.inbound[k]]
    assert opt["shipment_shared_by"] == len(served) > 20
    assert opt["fixed_cost"] == pytest.approx(lane.fixed_cost_per_shipment / len(served), abs=1e-4)
    assert opt["cost"] == pytest.approx(100.0 * opt["unit_cost"] + opt["fixed_cost"], abs=0.01)


def test_dcs_and_plants_cycle_at_most_a_week_stores_two():
    """Network-wide: an upstream echelon ordering two weeks at a time piles a week of its stores' demand
    where they cannot sell it; with ``upstream_cycle_days`` (opt-in) DCs and plants cycle at most that,
    stores keep theirs."""
    net = load_network(example_path("realistic"))
    rep = Replenisher(net, demand=False, lead_times=False, upstream_cycle_days=7.0)
    kind = {s.id: s.kind for s in net.sites}
    longest: dict[str, float] = {}
    for key, info in rep.sizing.items():
        lv, m = info["levels"], info["demand_per_day"][0]
        q = lv["S"] - lv["s"] if "s" in lv else lv.get("Q")
        if q is None or m <= 0 or info.get("static"):
            continue
        product = net.product(key[1])
        days = (q - max(product.moq, product.pack_size)) / m  # MOQ and a case may round one order up
        longest[kind[key[0]]] = max(longest.get(kind[key[0]], 0.0), days)
        cap = 7.0 if kind[key[0]] in ("dc", "plant") else 14.0
        assert q <= cap * m + max(product.moq, product.pack_size) + 1e-6, (key, q, m)
    assert longest["dc"] > 5.0  # the cap binds: without it DC orders were longer (see the cap of 14 above)
    wide = Replenisher(net, demand=False, lead_times=False)  # the default: no separate upstream cap
    assert wide.cycle_cap("DC-DAV") == wide.cycle_cap("ST-LON") == 14.0
    assert rep.cycle_cap("DC-DAV") == rep.cycle_cap("PLT-LEI") == 7.0 and rep.cycle_cap("ST-LON") == 14.0


def test_orders_are_whole_units_or_whole_cases():
    """A pack-size-1 SKU with fractional demand is ordered in whole units, a cased one in whole cases;
    a cut by capacity rounds down to whole units or cases, never to a fraction."""
    net = load_network(example_path("realistic"))
    rep = Replenisher(net, demand=False, lead_times=False)
    props = rep.plan({k: 0.0 for k in rep.policies})
    assert props
    for p in props:
        pack = max(net.product(p.sku).pack_size, 1.0)
        assert p.quantity > 0 and (p.quantity / pack) == int(p.quantity / pack), (p.site, p.sku, p.quantity)
    assert any(net.product(p.sku).pack_size == 1 for p in props)  # pack-1 components were among them
    tight = Replenisher(net, demand=False, lead_times=False, supplier_capacity={"SUP-NOR": 1234.5})
    cut = [p for p in tight.plan({k: 0.0 for k in tight.policies}) if p.origin == "SUP-NOR"]
    assert cut and sum(p.quantity for p in cut) <= 1234.5
    assert all(p.quantity == int(p.quantity) for p in cut)
