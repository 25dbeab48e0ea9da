"""Scenarios: YAML with errors naming the field, the shipped library, and what disruptions do."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.errors import SimulationError
from supplynet.policy.policies import BaseStock
from supplynet.sim import _kernel as K
from supplynet.sim.disruptions import Disruption, Draw, Target
from supplynet.sim.engine import Simulation
from supplynet.sim.network import SimNetwork
from supplynet.sim.scenario import Scenario, library, load_scenario, parse_scenario

LIBRARY = ["demand_surge", "pandemic_demand_shift", "plant_breakdown", "port_closure", "supplier_fire"]


def small_network() -> SimNetwork:
    """supplier -> plant (BOM 2 parts per kit) -> dc -> 2 stores, lanes with modes."""
    items = [("store1", "kit"), ("store2", "kit"), ("dc", "kit"), ("plant", "kit"), ("plant", "part"),
             ("sup", "part")]
    return SimNetwork.build(
        items=items, arcs=[(2, 0, 1), (2, 1, 1), (3, 2, 1), (4, 3, 2), (5, 4, 1)],
        site_kind={"store1": "store", "store2": "store", "dc": "dc", "plant": "plant", "sup": "supplier"},
        source=[False] * 5 + [True], lead_time=[1, 2, 3, 1, 4, 1], demand_mean=[5.0, 7.0, 0, 0, 0, 0],
        lanes=["dc-s1", "dc-s2", "plant-dc", "bom", "sea"], item_lane=[0, 1, 2, 3, 4, -1],
        price=[10.0] * 6, short_cost=5.0, policy=None, name="small").replace(
            lane_mode=["truck", "truck", "rail", "production", "sea"])


def run(net, scenario=None, reps=40, horizon=120):
    return Simulation(net, horizon=horizon, replications=reps, seed=3, scenario=scenario).run().result()


def test_library_ships_five_scenarios_that_load_and_compile():
    assert sorted(library()) == LIBRARY
    net = small_network()
    keys = np.arange(1, 9, dtype=np.uint64)
    for name in LIBRARY:
        sc = load_scenario(name)
        ev = sc.compile(net, keys, 200)
        assert ev.start.shape == (8, len(ev.kind)) and np.all(ev.end > ev.start), name


def test_random_durations_are_drawn_per_replication_and_reproducible():
    sc = load_scenario("supplier_fire")
    net = small_network()
    keys = Simulation(net, horizon=5, replications=50, seed=1).keys
    a = sc.compile(net, keys, 100)
    b = sc.compile(net, keys, 100)
    np.testing.assert_array_equal(a.end, b.end)
    assert len(np.unique(a.end - a.start)) > 5
    assert (a.end - a.start).mean() == pytest.approx(30, rel=0.25)


@pytest.mark.parametrize("doc, match", [
    ({"name": "x", "events": [{"type": "volcano"}]}, r"events\[0\].type: unknown disruption 'volcano'"),
    ({"name": "x", "events": [{"type": "site_outage", "severity": 2}]}, r"events\[0\].severity: must be in \[0, 1\]"),
    ({"name": "x", "events": [{"type": "site_outage", "duration": {"dist": "uniform", "low": 5}}]},
     r"events\[0\].duration.high: required"),
    ({"name": "x", "events": [{"type": "lane_closure", "target": {"site": "dc"}}]}, "selects lanes"),
    ({"name": "x", "events": [{"type": "site_outage", "when": 3}]}, r"unknown key\(s\) \['when'\]"),
    ({"name": "x", "events": []}, "non-empty list"),
])
def test_bad_scenarios_name_the_field(doc, match):
    with pytest.raises(SimulationError, match=match):
        parse_scenario(doc, "bad.yaml")


def test_yaml_errors_carry_file_and_line(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nevents:\n  - type: site_outage\n    start: 3\n  - type: demand_spike\n    severity: -2\n")
    with pytest.raises(SimulationError, match=r"s.yaml:5 events\[1\].severity"):
        load_scenario(p)
    with pytest.raises(SimulationError, match="not in the library"):
        load_scenario("no_such_scenario")


def test_unknown_targets_are_refused():
    ev = Disruption("site_outage", Draw(value=1), Draw(value=3), 1.0, Target(site=("mars",)))
    with pytest.raises(SimulationError, match="'mars' is not a site"):
        Scenario("x", (ev,)).compile(small_network(), np.ones(2, np.uint64), 10)


def test_site_outage_hurts_service_and_lifts_after_it_ends():
    net = small_network()
    base = run(net)
    out = Scenario("dc down", (Disruption("site_outage", Draw(value=20), Draw(value=15), 1.0,
                                          Target(site=("dc",))),))
    hit = run(net, out)
    fill = lambda r: r.acc[:, :2, K.A_SERVED_NOW].sum() / r.acc[:, :2, K.A_DEMAND].sum()  # noqa: E731
    assert fill(hit) < fill(base) - 0.05
    np.testing.assert_array_equal(base.daily[:, :20, K.D_DEMAND], hit.daily[:, :20, K.D_DEMAND])
    # service recovers after the outage: the last 30 days look like the baseline again
    late = lambda r: r.daily[:, -30:, K.D_SERVED_NOW].sum() / r.daily[:, -30:, K.D_DEMAND].sum()  # noqa: E731
    assert late(hit) > 0.9 * late(base)


def test_demand_spike_and_shift_scale_demand():
    net = small_network()
    base = run(net)
    spike = run(net, Scenario("s", (Disruption("demand_spike", Draw(value=10), Draw(value=20), 1.0,
                                               Target(site_kind=("store",))),)))
    ratio = spike.daily[:, 10:30, K.D_DEMAND].sum() / base.daily[:, 10:30, K.D_DEMAND].sum()
    assert ratio == pytest.approx(2.0, rel=0.05)
    shift = run(net, Scenario("s", (Disruption("demand_shift", Draw(value=10), Draw(value=10), -0.5),)))
    after = shift.daily[:, 40:, K.D_DEMAND].sum() / base.daily[:, 40:, K.D_DEMAND].sum()
    assert after == pytest.approx(0.5, rel=0.05)


def test_lane_closure_and_lead_time_shock_delay_supply():
    net = small_network()
    base = run(net)
    closed = run(net, load_scenario("port_closure"))  # closes the sea lane into the plant's parts
    assert closed.acc[:, 4, K.A_OWED_DAYS].sum() > base.acc[:, 4, K.A_OWED_DAYS].sum()
    shock = Scenario("slow", (Disruption("lead_time_shock", Draw(value=0), Draw(value=120), 1.0,
                                         Target(lane=("plant-dc",))),))
    slow = run(net, shock)
    # twice the lead time on the plant->dc lane: twice the units in transit to the dc
    assert slow.acc[:, 2, K.A_TRANSIT].mean() == pytest.approx(2 * base.acc[:, 2, K.A_TRANSIT].mean(), rel=0.15)


def test_capacity_loss_limits_the_plant():
    net = small_network().replace(site_capacity=np.array([np.inf, np.inf, np.inf, 20.0, np.inf]))
    sc = Scenario("cap", (Disruption("capacity_loss", Draw(value=0), Draw(value=120), 0.75,
                                     Target(site=("plant",))),))
    res = run(net, sc)
    assert res.acc[:, 3, K.A_OWED_DAYS].mean() > 0  # 5 units/day cannot serve 12 units/day


def test_supplier_failure_on_willems_like_chain_without_kinds_uses_busiest():
    net = SimNetwork.build(items=[("a", "x"), ("b", "x")], arcs=[(1, 0, 1)], source=[False, True],
                           lead_time=[2, 1], demand_mean=[4.0, 0], policy=BaseStock([12.0, 0]))
    res = run(net, load_scenario("supplier_fire"), reps=20, horizon=90)
    assert res.acc[:, 0, K.A_BACKLOG_DAYS].sum() > 0
