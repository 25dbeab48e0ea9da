"""Backup lanes: while an item's own lane is closed, orders go to the cheapest open lane into the site."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.errors import SimulationError
from supplynet.model import example_path, load_network
from supplynet.policy.policies import BaseStock
from supplynet.sim import _kernel as K
from supplynet.sim.disruptions import Disruption, Draw, Target
from supplynet.sim.engine import Simulation
from supplynet.sim.network import SimNetwork
from supplynet.sim.scenario import Scenario

START, DAYS = 20, 30


def dc(backups: bool = True) -> SimNetwork:
    """dc/a fed by sup over 'main' (cost 1, 2 days); backups from sup2 ('far', cost 3, 4 days) and sup3
    ('near', cost 2, 3 days)."""
    net = SimNetwork.build(
        items=[("dc", "a"), ("sup", "a"), ("sup2", "a"), ("sup3", "a")], arcs=[(1, 0, 1)],
        site_kind={"sup": "supplier", "sup2": "supplier", "sup3": "supplier"}, source=[False, True, True, True],
        lead_time=[2, 1, 1, 1], demand_mean=[10.0, 0, 0, 0], lanes=["main", "far", "near"],
        item_lane=[0, -1, -1, -1], lane_cost=[1.0, 3.0, 2.0], price=5.0, policy=BaseStock([40.0, 0, 0, 0]),
        name="dc")
    if backups:  # added expensive first: the kernel still tries the cheapest first
        net = net.with_backup(("sup2", "a"), ("dc", "a"), "far", lead_time=4)
        net = net.with_backup(("sup3", "a"), ("dc", "a"), "near", lead_time=3)
    return net.replace(init_on_hand=np.array([40.0, 0, 0, 0]))


def closure(*lanes: str) -> Scenario:
    return Scenario("closed", tuple(Disruption("lane_closure", Draw(value=START), Draw(value=DAYS), 1.0,
                                               Target(lane=(ln,))) for ln in lanes))


def window(net: SimNetwork, scenario: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transport cost, demand and units served on time during the closure (per replication)."""
    sim = Simulation(net, horizon=START + DAYS, replications=200, seed=7, scenario=scenario).run(until=START)
    before = sim.acc[:, 0].copy()
    sim.run()
    d = sim.acc[:, 0] - before
    return d[:, K.A_TRANSPORT], d[:, K.A_DEMAND], d[:, K.A_SERVED_NOW]


def test_closed_lane_without_backup_starves_the_site():
    cost, demand, served = window(dc(backups=False), closure("main"))
    assert cost.max() == 0.0                      # nothing moves on the closed lane
    assert served.sum() / demand.sum() < 0.2      # 40 units of stock last about 4 of the 30 days


def test_orders_go_to_the_cheapest_open_backup_lane():
    cost, demand, served = window(dc(), closure("main"))
    # base stock orders what was sold: each unit now travels on 'near' at 2 per unit
    assert cost.sum() / demand.sum() == pytest.approx(2.0, rel=0.05)
    assert served.sum() / demand.sum() > 0.75     # a 3-day lane instead of 2: short only while it fills


def test_next_cheapest_when_the_cheapest_backup_is_closed_too():
    cost, demand, served = window(dc(), closure("main", "near"))
    assert cost.sum() / demand.sum() == pytest.approx(3.0, rel=0.05)
    assert served.sum() / demand.sum() > 0.6


def test_backups_idle_while_the_own_lane_is_open():
    with_b = Simulation(dc(), horizon=60, replications=50, seed=3).run().result()
    without = Simulation(dc(backups=False), horizon=60, replications=50, seed=3).run().result()
    np.testing.assert_array_equal(with_b.acc[:, 0], without.acc[:, 0])  # same numbers, same costs (CRN)


def test_partial_closure_keeps_the_own_lane():
    half = Scenario("half", (Disruption("lane_closure", Draw(value=START), Draw(value=DAYS), 0.5,
                                        Target(lane=("main",))),))
    cost, demand, _ = window(dc(), half)
    assert cost.sum() / demand.sum() == pytest.approx(1.0, rel=0.05)


def test_backup_lane_checks_itself():
    with pytest.raises(SimulationError, match="'nowhere' is not a lane"):
        dc().with_backup(("sup2", "a"), ("dc", "a"), "nowhere", lead_time=3)
    with pytest.raises(SimulationError, match="no lane of its own"):
        dc().with_backup(("dc", "a"), ("sup2", "a"), "far", lead_time=3)


def test_model_network_gets_backup_lanes_from_other_lanes_into_the_site(tmp_path):
    text = example_path("tiny").read_text()
    text = text.replace("sites:\n", "sites:\n  - {id: SUP-2, kind: supplier, location: {lat: 52.0, lon: -1.0}}\n", 1)
    text = text.replace("lanes:\n", "lanes:\n  - {id: L-SUP2-DC, origin: SUP-2, destination: DC-1, lead_time: 3, "
                                    "cost_per_unit: 0.09, skus: [MILK-2L]}\n", 1)
    path = tmp_path / "two_dairies.yaml"
    path.write_text(text)
    net = SimNetwork.from_network(load_network(path))
    (a,) = np.nonzero(net.arc_backup)[0]
    assert net.item_names[net.arc_src[a]] == "SUP-2/MILK-2L" and net.item_names[net.arc_dst[a]] == "DC-1/MILK-2L"
    assert net.lanes[net.arc_lane[a]] == "L-SUP2-DC" and net.source[net.arc_src[a]]
    milk = [net.item_names.index(f"STORE-{k}/MILK-2L") for k in (1, 2)]
    sc = closure("L-SUP-DC")
    res = Simulation(net, horizon=START + DAYS, replications=40, seed=1, scenario=sc).run().result()
    bare = net.replace(arc_src=net.arc_src[~net.arc_backup], arc_dst=net.arc_dst[~net.arc_backup],
                       arc_qty=net.arc_qty[~net.arc_backup], arc_backup=None, arc_lane=None, arc_lt=None)
    res0 = Simulation(bare, horizon=START + DAYS, replications=40, seed=1, scenario=sc).run().result()
    fill = res.acc[:, milk, K.A_SERVED_NOW].sum() / res.acc[:, milk, K.A_DEMAND].sum()
    fill0 = res0.acc[:, milk, K.A_SERVED_NOW].sum() / res0.acc[:, milk, K.A_DEMAND].sum()
    assert fill > 0.9 and fill0 < 0.75  # stores' milk: the second dairy keeps them served
