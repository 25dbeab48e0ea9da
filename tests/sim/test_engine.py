"""The engine against theory, against itself (step vs run, chunks, seeds) and on its mechanics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from supplynet.errors import DataError, SimulationError
from supplynet.policy.policies import BaseStock, SsPolicy
from supplynet.sim import _kernel as K
from supplynet.sim.engine import SimResult, Simulation
from supplynet.sim.network import SimNetwork
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))


def single_node(S=14.0, lam=5.0, lead=2, **kw):
    return SimNetwork.build(items=[("dc", "a")], lead_time=lead, demand_mean=lam, policy=BaseStock(S), **kw)


def test_base_stock_poisson_matches_analytic_fill_rate_and_backorders():
    S, lam, L = 14, 5.0, 2
    sim = Simulation(single_node(S, lam, L), horizon=220, replications=1500, seed=11)
    sim.run(until=20)
    sim.reset_kpis()
    res = sim.run().result()
    acc = res.acc[:, 0, :]
    fill_r = acc[:, K.A_SERVED_NOW] / acc[:, K.A_DEMAND]
    eb_r = acc[:, K.A_BACKLOG_DAYS] / res.days
    # analytic (periodic review, order placed after demand arrives L days later):
    # end-of-day inventory level = S - Poisson(lam*L); new demand is served from S - Poisson(lam*(L-1))
    k = np.arange(400)
    eb = np.sum(np.maximum(k - S, 0) * stats.poisson.pmf(k, lam * L))
    y, d = np.meshgrid(k[:120], k[:120], indexing="ij")
    served = np.minimum(d, np.maximum(S - y, 0))
    fill = np.sum(stats.poisson.pmf(y, lam * (L - 1)) * stats.poisson.pmf(d, lam) * served) / lam
    assert abs(fill_r.mean() - fill) < 4 * fill_r.std(ddof=1) / np.sqrt(len(fill_r)) + 1e-4
    assert abs(eb_r.mean() - eb) < 4 * eb_r.std(ddof=1) / np.sqrt(len(eb_r)) + 1e-4


def test_step_by_step_equals_run_and_now_advances():
    net = single_node()
    a = Simulation(net, horizon=30, replications=16, seed=3)
    for day in range(1, 31):
        assert a.step().now == day
        assert np.all(a.on_hand >= 0) and np.all(a.backlog >= 0)
    b = Simulation(net, horizon=30, replications=16, seed=3).run(until=12).run()
    np.testing.assert_array_equal(a.acc, b.acc)
    with pytest.raises(SimulationError, match="over"):
        a.step()
    with pytest.raises(SimulationError, match='"until"'):
        Simulation(net, horizon=5, replications=2).run(until=9)


def test_position_after_a_tick_is_back_at_S_for_base_stock():
    sim = Simulation(single_node(S=20.0), horizon=10, replications=50, seed=1)
    sim.step()
    np.testing.assert_allclose(sim.position, 20.0)


def test_same_seed_same_numbers_chunks_do_not_matter_and_seeds_differ():
    net = single_node()
    whole = Simulation(net, horizon=40, replications=20, seed=5).run().result()
    parts = [Simulation(net, horizon=40, replications=n, seed=5, first_replication=f, parallel=p).run().result()
             for f, n, p in ((0, 7, True), (7, 13, False))]
    joined = SimResult.concat(parts)
    np.testing.assert_array_equal(whole.acc, joined.acc)
    np.testing.assert_array_equal(whole.daily, joined.daily)
    other = Simulation(net, horizon=40, replications=20, seed=6).run().result()
    assert not np.array_equal(whole.acc[:, :, K.A_DEMAND], other.acc[:, :, K.A_DEMAND])


def test_common_random_numbers_same_demand_whatever_the_policy():
    base = single_node()
    a = Simulation(base, horizon=60, replications=10, seed=2).run().result()
    b = Simulation(base.with_policy(SsPolicy(5, 30)), horizon=60, replications=10, seed=2).run().result()
    np.testing.assert_array_equal(a.daily[:, :, K.D_DEMAND], b.daily[:, :, K.D_DEMAND])
    assert not np.array_equal(a.acc[:, :, K.A_NORDERS], b.acc[:, :, K.A_NORDERS])


def test_two_echelon_bom_assembly_consumes_components_and_conserves_units():
    # plant makes "kit" from 2 x "part" (at the plant), parts come from a supplier source
    net = SimNetwork.build(
        items=[("store", "kit"), ("plant", "kit"), ("plant", "part"), ("sup", "part")],
        arcs=[(1, 0, 1.0), (2, 1, 2.0), (3, 2, 1.0)], source=[False, False, False, True],
        lead_time=[1, 2, 3, 1], demand_mean=[4.0, 0, 0, 0], policy=BaseStock([12.0, 20.0, 60.0, 0.0]))
    sim = Simulation(net, horizon=100, replications=30, seed=9).run()
    res = sim.result()
    # units never vanish: external demand = served + still backordered (backorders allowed)
    d = res.acc[:, 0, K.A_DEMAND]
    shipped = res.acc[:, 0, K.A_SHIPPED_EXT]
    np.testing.assert_allclose(d, shipped + sim.backlog[:, 0])
    # parts at the plant flow out at twice the kit rate: what the plant made came from 2x parts
    part_requests = sim.request[:, 1] + sim.staged[:, 1]
    assert np.all(part_requests >= 0)
    made_kits = res.acc[:, 1, K.A_ONHAND_DAYS]
    assert np.all(made_kits > 0)
    assert np.all(sim.on_hand >= -1e-9)


def test_lost_sales_when_backorders_are_off_and_capacity_limits_shipping():
    lost = Simulation(single_node(S=6.0, backorders=False), horizon=50, replications=20, seed=1).run()
    assert lost.backlog.sum() == 0 and lost.acc[:, 0, K.A_LOST].sum() > 0
    d = lost.acc[:, 0, K.A_DEMAND]
    np.testing.assert_allclose(d, lost.acc[:, 0, K.A_SHIPPED_EXT] + lost.acc[:, 0, K.A_LOST])
    capped = Simulation(single_node(S=100.0, site_capacity={"dc": 3.0}), horizon=50, replications=20, seed=1).run()
    assert capped.acc[:, 0, K.A_SHIPPED_EXT].max() <= 3.0 * 50 + 1e-9


def test_initial_state_from_live_twin():
    net = single_node(S=14.0)
    live = net.with_initial_state(on_hand={("dc", "a"): 0.0}, in_transit=[(("dc", "a"), 30.0, 3)])
    sim = Simulation(live, horizon=10, replications=4, seed=0)
    sim.step()
    assert np.all(sim.on_hand[:, 0] == 0) and np.all(sim.in_transit[:, 0] == 30.0)
    sim.run(until=4)
    assert np.all(sim.acc[:, 0, K.A_SERVED_NOW] > 0)  # the shipment landed on day 3
    with pytest.raises(SimulationError, match="no stocking point"):
        net.with_initial_state(on_hand={("nowhere", "a"): 1})


def test_stochastic_lead_time_mean_is_respected():
    net = SimNetwork.build(items=[("dc", "a")], lead_time=6.0, lead_std=2.0, lead_kind="normal",
                           demand_mean=3.0, policy=BaseStock(1000.0))
    sim = Simulation(net, horizon=200, replications=20, seed=4)
    sim.step()
    # in steady state Little's law: units in transit = daily orders x mean lead time
    sim.run()
    mean_in_transit = sim.acc[:, 0, K.A_TRANSIT].mean() / 200
    assert mean_in_transit == pytest.approx(3.0 * 6.0, rel=0.1)


def test_cycles_and_bad_arcs_are_refused():
    with pytest.raises(SimulationError, match="cycle"):
        SimNetwork.build(items=[("a", "x"), ("b", "x")], arcs=[(0, 1, 1.0), (1, 0, 1.0)], policy=BaseStock(1))
    with pytest.raises(SimulationError, match="replications"):
        Simulation(single_node(), horizon=5, replications=0)


def test_willems_reader_on_a_generated_chain(tmp_path):
    p = tmp_path / "chain.csv"
    p.write_text("stage_id,lead_time,max_s_time,cost_rate,risk_pool,ext_demand_mean,ext_demand_std,"
                 "ext_demand_thres,up_stages\n"
                 "Part_1,5,,10,2,,,\nPart_2,3,,4,2,,,\nManuf_1,2,,30,2,,,,Part_1,1,Part_2,2\n"
                 "Retail_1,0,0,0,,20.0,4.0,1.645,Manuf_1,1\n")
    net = SimNetwork.from_willems(p)
    assert net.n_items == 4 and sorted(net.arc_qty.tolist()) == [1.0, 1.0, 2.0]
    res = Simulation(net, horizon=60, replications=8, seed=1).run().result()
    fill = res.acc[:, 3, K.A_SERVED_NOW].sum() / res.acc[:, 3, K.A_DEMAND].sum()
    assert 0.8 < fill <= 1.0
    bad = tmp_path / "bad.csv"  # read by the one Willems parser (supplynet.model.willems.read_stages)
    bad.write_text("stage_id,lead_time,max_s_time,cost_rate,risk_pool,ext_demand_mean,ext_demand_std,"
                   "ext_demand_thres,up_stages\nA,x\n")
    with pytest.raises(DataError, match=r"bad\.csv:2 lead_time: expected a number, got 'x'"):
        SimNetwork.from_willems(bad)
    bad.write_text("stage_id,lead_time\nA,1\n")
    with pytest.raises(DataError, match=r"bad\.csv:1: expected the header stage_id,lead_time,max_s_time"):
        SimNetwork.from_willems(bad)


@pytest.mark.data
def test_snyder_shen_example_6_1_serial_cost_within_1_percent():
    path = DATA / "stockpyl" / "stockpyl_instances.json"
    if not path.exists():
        require_or_skip(f"{path} absent (public data folder not mounted)", "data")
    inst = next(i for i in json.loads(path.read_text())["instances"] if i["name"] == "example_6_1")
    nodes = sorted(inst["data"]["_nodes"], key=lambda n: n["_index"])  # stage 1 (demand) .. 3
    echelon = {1: 6.48, 2: 12.03, 3: 22.72}
    local_S = [echelon[1], echelon[2] - echelon[1], echelon[3] - echelon[2]]
    h = [float(n["local_holding_cost"]) for n in nodes]
    dem = nodes[0]["demand_source"]
    net = SimNetwork.build(
        items=[(f"stage{n['_index']}", "x") for n in nodes], arcs=[(1, 0, 1.0), (2, 1, 1.0)],
        lead_time=[n["shipment_lead_time"] for n in nodes], demand=["normal", "none", "none"],
        demand_mean=[dem["mean"], 0, 0], demand_std=[dem["standard_deviation"], 0, 0], hold=h,
        transit_hold=[h[1], h[2], 0.0],  # in transit to a stage: the shipper's local holding cost
        backlog_cost=[nodes[0]["stockout_cost"], 0, 0], policy=BaseStock(local_S))
    sim = Simulation(net, horizon=1100, replications=800, seed=7)
    sim.run(until=100)
    sim.reset_kpis()
    res = sim.run().result()
    per_period = (res.acc[:, :, K.A_HOLD] + res.acc[:, :, K.A_TRANSIT] + res.acc[:, :, K.A_SHORT]).sum(axis=1)
    per_period = per_period / res.days
    assert per_period.mean() == pytest.approx(47.665, rel=0.01)


@pytest.mark.data
@pytest.mark.slow
def test_every_willems_chain_loads_and_simulates():
    folder = DATA / "willems2008"
    files = sorted(folder.glob("willems_*.csv"))
    if not files:
        require_or_skip(f"{folder} absent (public data folder not mounted)", "data")
    assert len(files) == 38
    for f in files:
        net = SimNetwork.from_willems(f)
        res = Simulation(net, horizon=30, replications=2, seed=0).run().result()
        demand = res.acc[:, :, K.A_DEMAND].sum()
        assert demand > 0 and np.isfinite(res.acc).all(), f.name
