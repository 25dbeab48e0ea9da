"""The twin predicts the live world: KPIs of the next days from the live state, under the live policies.

Fast tests run on a real SQLite store holding a few hours of the tiny network's events (as
tests/sim/test_live.py builds it) with the network recorded, through the CLI as a user runs it; the
slow ones run the demo's loop and check the prediction against what the live loop then does.
"""

from __future__ import annotations

import json
import math
import os
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from supplynet.decide.replenish import Replenisher
from supplynet.errors import SimulationError
from supplynet.model import example_path, load_network
from supplynet.policy.policies import RSPolicy
from supplynet.sim.forecast_live import (
    KPIS,
    MachineRisk,
    _apply_live,
    _first_order_day,
    _LiveScenario,
    _projected_policies,
    _week_paths,
    live_machines,
    predict_from_live,
)
from supplynet.sim.network import SimNetwork
from supplynet.store import open_store
from supplynet.twin import Twin
from supplynet.twin._state import TwinState

from .test_live import at, live_events

QS = ("p10", "p50", "p90")


@pytest.fixture()
def live_store(tmp_path):
    """A store with the tiny network recorded and its live events: (url, network, twin)."""
    path = example_path("tiny")
    model = load_network(path)
    url = f"sqlite:///{tmp_path / 'live.db'}"
    with open_store(url) as store:
        store.brain.record_network(Path(path).read_text(encoding="utf-8"), model.name)
        store.log.append(live_events())
        twin = Twin.rebuild(store, model)
    return url, model, twin


def _warm(model, twin):
    rep = Replenisher(model)
    return rep


def _simulate(*args):
    from supplynet.commands.simulate import app

    return CliRunner().invoke(app, list(args))


def _ordered(doc):
    for k in KPIS:
        q = doc[k]
        assert set(QS) <= set(q), k
        assert all(math.isfinite(q[p]) for p in QS), k
        assert q["p10"] <= q["p50"] <= q["p90"], (k, q)


def test_predict_from_live_gives_ordered_quantiles_of_every_kpi(live_store):
    _, model, twin = live_store
    rep = Replenisher(model)
    doc = predict_from_live(model, twin, horizon_days=10, replications=40, seed=3, policies=rep)
    _ordered(doc)
    assert 0.0 <= doc["store_fill_rate"]["p10"] <= doc["store_fill_rate"]["p90"] <= 1.0
    for k in ("inventory_plant", "inventory_dc", "inventory_store", "lost_sales_units", "total_cost"):
        assert doc[k]["p10"] >= 0.0
    meta = doc["meta"]
    assert meta["at"] == at(30).isoformat() and meta["horizon_days"] == 10 and meta["replications"] == 40
    assert meta["policies"] == "live replenisher" and meta["policies_by_source"]["live"] == len(rep.policies)
    assert meta["machines_down"] == ["OVEN-1"]  # the open work order stops the line from day 0
    # seeded: the same call gives the same answer, another seed another one
    again = predict_from_live(model, twin, horizon_days=10, replications=40, seed=3, policies=rep)
    assert again["inventory_store"] == doc["inventory_store"]
    other = predict_from_live(model, twin, horizon_days=10, replications=40, seed=4, policies=rep)
    assert other["inventory_store"] != doc["inventory_store"]


def test_the_prediction_starts_from_the_live_state(live_store):
    """Empty the stores' shelves in the twin: the same policies predict lost sales and a lower fill."""
    _, model, twin = live_store
    rep = Replenisher(model)
    full = predict_from_live(model, twin, horizon_days=3, replications=30, seed=1, policies=rep)
    empty = twin.state.copy()
    for (site, sku), p in list(empty.inventory.items()):
        if site.startswith("STORE"):
            empty.inventory[(site, sku)] = type(p)(site=site, sku=sku)
    bare = predict_from_live(model, empty, horizon_days=3, replications=30, seed=1, policies=rep)
    assert bare["store_fill_rate"]["p50"] < full["store_fill_rate"]["p50"]
    assert bare["lost_sales_units"]["p50"] > full["lost_sales_units"]["p50"]


def test_live_policy_levels_are_the_replenishers(live_store):
    """Each managed stocking point orders with the replenisher's current policy; an (R,S) review keeps
    the live calendar: simulated day t is reviewed when (epoch day of t - offset) % R == 0."""
    _, model, twin = live_store
    rep = Replenisher(model)
    key = next(iter(rep.policies))
    rep.policies[key] = RSPolicy(3, 123.0, offset=1)
    base = SimNetwork.from_network(model)
    start = at(30)
    info: dict = {}
    net = _apply_live(base, model, rep.policies, rep, start, 0.5, 2.0, info)
    i = net._index(key)
    assert (net.pol_kind[i], net.pol_a[i], net.pol_review[i]) == (3, 123.0, 3.0)
    day0 = (start.date() - date(1970, 1, 1)).days
    for t in range(9):
        live_review = (day0 + t - 1) % 3 == 0
        assert ((t - net.pol_offset[i]) % 3 == 0) == live_review
    for k, pol in rep.policies.items():
        if k != key:
            j = net._index(k)
            assert net.pol_a[j] == pytest.approx(float(np.asarray(pol.kernel_params()[1])))
    # the lead times are the learned (else declared) ones, plus the shift to the stores' closing time
    lane = rep._cheapest(key)
    assert net.lt_mean[i] == pytest.approx(max(float(lane.lead_time.mean), 0.0) + 0.5)


def test_the_latest_observed_week_repeats():
    """The projected demand of day d after the last close is what the sensor recorded 7 (or 14, ...) days
    before it; keys with less than a week recorded get none."""
    from supplynet.sense.demand.demand_live import DemandSensor

    sensor = DemandSensor()
    last = date(2026, 1, 11)
    for d in range(7):
        sensor.record(("S", "A"), last - timedelta(days=6 - d), float(10 + d))
    for d in range(3):
        sensor.record(("S", "B"), last - timedelta(days=2 - d), 5.0)
    paths = _week_paths(sensor, last, 16)
    assert set(paths) == {("S", "A")}
    assert paths[("S", "A")] == [10.0, 11, 12, 13, 14, 15, 16] * 2 + [10.0, 11]


def test_the_projection_re_sizes_the_policies_as_the_live_sensor_will(live_store):
    """A store's sensor has seen 6 days of twice the declared demand: still on the declared prior (7 days are
    needed), its policy is sized for the declared demand; fed the week again, the copy of the replenisher moves
    to the online estimate and its levels rise toward twice the demand, as the loop's would. The live
    replenisher itself is not touched."""
    from supplynet.decide.replenish import downstream_demand
    from supplynet.sense.demand.demand_live import DemandSensor

    _, model, twin = live_store
    # the plain smoothing, on the prior for a week (the sensor's defaults catch up faster; the mechanics are the same)
    rep = Replenisher(model, demand=DemandSensor(downstream_demand(model), min_days=7, prior_days=None, tracking=None))
    key = next(k for k in rep.policies if k[0].startswith("STORE"))
    mean = rep.demand_estimate(key).mean
    last = date(2024, 3, 10)
    for d in range(7):
        rep.sensor.record(key, last - timedelta(days=6 - d), 2.0 * mean)
    assert rep.demand_estimate(key).source == "network"
    before = float(np.asarray(rep.resize(key).kernel_params()[1]))
    days = _projected_policies(rep, None, _week_paths(rep.sensor, last, 10), last, 10)
    levels = [float(np.asarray(d[key].kernel_params()[1])) for d in days]
    assert len(levels) == 10 and levels[0] > before and levels[-1] > levels[0]
    assert rep.demand_estimate(key).source == "network"  # the live one is as it was
    assert float(np.asarray(rep.policies[key].kernel_params()[1])) == before


def test_bad_arguments_are_refused_with_one_line(live_store):
    _, model, twin = live_store
    with pytest.raises(SimulationError, match="horizon_days"):
        predict_from_live(model, twin, horizon_days=0, replications=10)
    with pytest.raises(SimulationError, match="replications"):
        predict_from_live(model, twin, horizon_days=3, replications=1)
    with pytest.raises(SimulationError, match="no events"):
        predict_from_live(model, TwinState.for_network(model), horizon_days=3, replications=10)
    with pytest.raises(SimulationError, match="policies"):
        predict_from_live(model, twin, horizon_days=3, replications=10, policies=["not", "policies"])
    with pytest.raises(SimulationError, match="network"):
        predict_from_live("tiny.yaml", twin, horizon_days=3, replications=10)


def test_cli_from_live_predicts_from_the_stores_network(live_store):
    url, model, _ = live_store
    res = _simulate("--from-live", "--store", url, "--horizon", "7", "--replications", "30", "--seed", "2", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    _ordered(doc)
    assert doc["meta"]["horizon_days"] == 7 and doc["meta"]["policies"] == "live replenisher"
    # the table for people names every KPI
    res = _simulate("--from-live", "--store", url, "--horizon", "7", "--replications", "30")
    assert res.exit_code == 0, res.output
    for label in ("store fill rate", "lost sales (units)", "inventory at DCs", "inventory at stores", "total cost"):
        assert label in res.stdout
    # as of an earlier time: the twin then
    res = _simulate("--from-live", "--store", url, "--at", at(10).isoformat(), "--horizon", "5", "--replications",
                    "20", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["meta"]["at"] == at(10).isoformat()


def test_cli_from_live_one_line_errors(live_store, tmp_path):
    from supplynet.cli import app as cli

    def run(*args):
        return CliRunner().invoke(cli, ["simulate", *args])

    # a store without a network
    bare = f"sqlite:///{tmp_path / 'bare.db'}"
    with open_store(bare) as store:
        store.log.append(live_events()[:3])
    res = run("--from-live", "--store", bare, "--horizon", "5")
    assert res.exit_code != 0 and "no network" in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    # a store with its network but no events
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    with open_store(empty) as store:
        store.brain.record_network(Path(example_path("tiny")).read_text(encoding="utf-8"), "tiny")
    res = run("--from-live", "--store", empty, "--horizon", "5")
    assert res.exit_code != 0 and "no events" in res.output and len(res.output.strip().splitlines()) == 1
    url, _, _ = live_store
    # another network than the store's
    res = run("--from-live", "--store", url, "--network", str(example_path("realistic")), "--horizon", "5")
    assert res.exit_code != 0 and "different network" in res.output and "Traceback" not in res.output
    res = run("--from-live", "--store", url, "--horizon", "5", "--replications", "1")
    assert res.exit_code != 0 and "replications" in res.output and "Traceback" not in res.output
    res = run("--from-live", "--store", url, "--horizon", "5", "--at", "yesterday")
    assert res.exit_code != 0 and "ISO 8601" in res.output
    # without --from-live the network file is still required
    res = run("--horizon", "5")
    assert res.exit_code != 0 and "--network" in res.output and "Traceback" not in res.output


# ------------------------------------------------------------------------------------------------ slow
DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_fidelity_on_one_seed_of_the_realistic_demo(tmp_path):
    """bench/twin_fidelity.py's check on one seed, end to end: at day 2 of the realistic demo world, predict
    days 2-5 from the live twin under the live replenisher; the loop runs on; the realized store fill rate,
    DC and store inventories are set against the predicted P10-P90. Whether they fall inside is the bench's
    figure (twin_fidelity_seeds_inside, target >= 4 of 5 seeds; see the bench for what it misses and why), so
    this test holds the bench's mechanics: ordered quantiles, realized values of the right kind, verdicts that
    agree with them, the policies re-sized over the days predicted."""
    import importlib.util

    from supplynet.testing.require import require_or_skip

    if not DATA.is_dir():
        require_or_skip("the public datasets (../shared/data) for the realistic demo world", "data")
    spec = importlib.util.spec_from_file_location("twin_fidelity",
                                                  Path(__file__).resolve().parents[2] / "bench" / "twin_fidelity.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    row = bench.one_seed(0, days=5, at_day=2, replications=100, data_dir=DATA, cache=tmp_path / "cache",
                         home=tmp_path / "home")
    for k in bench.CHECKED:
        assert row[k]["p10"] <= row[k]["p50"] <= row[k]["p90"], (k, row[k])
        assert row[k]["realized"] >= 0 and row[k]["p10"] >= 0, (k, row[k])
        assert row[k]["inside"] == (row[k]["p10"] <= row[k]["realized"] <= row[k]["p90"])
    assert 0.5 < row["store_fill_rate"]["realized"] <= 1 and row["store_fill_rate"]["p90"] <= 1
    assert row["inside"] == all(row[k]["inside"] for k in bench.CHECKED)
    assert row["meta"]["resized_days"] == 3 and row["meta"]["policies"] == "live replenisher"


def test_a_lane_released_every_two_days_is_reviewed_on_the_loops_release_days(live_store):
    """On a release schedule a SKU-site orders only when its inbound lane is released (every R days from its
    next release): the prediction reviews it on those days too, and leaves daily lanes reviewed daily."""
    _, model, _ = live_store
    rep = Replenisher(model, release_hour=5, max_review_days=2)
    start = at(30)
    plan = rep.release_plan()
    slow = [ln for ln, (r, _) in plan.items() if r == 2]
    daily = [ln for ln, (r, _) in plan.items() if r == 1]
    if not slow:  # the tiny network's lanes all release daily at this cap: make one lane's cycle two days
        slow = [daily.pop()]
        rep.review_days[slow[0]] = 2
    # the engine's day-0 orders are the loop's first release after the start (tomorrow at 05:00: the start is at
    # 14:00); the lane's next release is the day after that one
    rep._next_release[slow[0]] = (start + timedelta(days=2)).replace(hour=5)
    info: dict = {}
    net = _apply_live(SimNetwork.from_network(model), model, rep.policies, rep, start, 0.5, 2.0, info)
    for key in rep.lane_keys[slow[0]]:
        i = net._index(key)
        assert net.pol_review[i] == 2.0 and net.pol_offset[i] == 1.0  # the engine's days 1, 3, 5, ...
    for ln in daily:
        for key in rep.lane_keys[ln]:
            assert net.pol_review[net._index(key)] <= 1.0
    assert Replenisher(model).release_plan() == {}  # no schedule, nothing to follow


def test_the_engines_first_orders_are_the_loops_first_release_after_the_close():
    """Day 0 of the engine is the day that closed; its orders are the loop's next release: the morning after
    for a release hour before the closing hour, the same evening for a later one, at once without a schedule."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    close = datetime(2026, 1, 11, 22, 0, tzinfo=UTC)
    assert _first_order_day(SimpleNamespace(release_hour=5), close) == date(2026, 1, 12)
    assert _first_order_day(SimpleNamespace(release_hour=23), close) == date(2026, 1, 11)
    assert _first_order_day(SimpleNamespace(release_hour=None), close) == date(2026, 1, 11)
    assert _first_order_day(None, close) == date(2026, 1, 11)


def _no_work_orders(twin):
    import dataclasses

    state = twin.state.copy()
    for k, a in list(state.assets.items()):
        state.assets[k] = dataclasses.replace(a, open_work_order=None)
    return state


def test_a_machine_failure_drawn_from_its_rul_stops_its_lines(live_store):
    """A machine sure to fail tomorrow, for good (repair longer than the horizon), stops its line: the plant makes
    no more bread (the tiny network's DC also buys it from a supplier, so the stores keep selling); one whose
    failure falls after the horizon, or after the window its maintenance rule can still act in, changes nothing
    (the same replications, common random numbers)."""
    _, model, twin = live_store
    state = _no_work_orders(twin)
    rep = Replenisher(model)
    kw = dict(horizon_days=12, replications=30, seed=2, policies=rep, repair_days={"OVEN-1": 30.0})
    soon = predict_from_live(model, state, machines={"OVEN-1": MachineRisk(np.full(50, 0.5))}, **kw)
    late = predict_from_live(model, state, machines={"OVEN-1": MachineRisk(np.full(50, 40.0))}, **kw)
    caught = predict_from_live(model, state, machines={"OVEN-1": MachineRisk(np.full(50, 0.5), 0.25)}, **kw)
    assert soon["meta"]["machines_failure_risk"]["OVEN-1"]["p_fail_unpreventable"] == 1.0
    assert caught["meta"]["machines_failure_risk"]["OVEN-1"]["p_fail_unpreventable"] == 0.0
    assert soon["inventory_plant"]["p90"] < 0.1 * late["inventory_plant"]["p10"]
    assert soon["lost_sales_units"]["p50"] >= late["lost_sales_units"]["p50"]
    for k in ("store_fill_rate", "lost_sales_units", "inventory_plant", "inventory_dc", "inventory_store"):
        assert caught[k] == late[k], k
    with pytest.raises(SimulationError, match="machines must be a mapping"):
        predict_from_live(model, state, machines=[0.5, 1.0], **kw)
    with pytest.raises(SimulationError, match="rul_days"):
        predict_from_live(model, state, machines={"OVEN-1": []}, **kw)


def test_failures_are_drawn_per_replication_from_the_rul_samples():
    """Half the RUL samples fall in the first day and half after the horizon: about half the replications stop
    the line from the first close after the failure through the close the repair ends by; the draws depend on
    the replication's key only."""
    from types import SimpleNamespace

    net = SimpleNamespace(lanes=["bom:P:X", "lane-1"])
    risk = MachineRisk(np.r_[np.full(100, 0.4), np.full(100, 50.0)])
    sc = _LiveScenario("baseline", None, ((risk, 2.0, ("bom:P:X",)),))
    keys = np.arange(4000, dtype=np.uint64) * np.uint64(7919) + np.uint64(11)
    ev = sc.compile(net, keys, 10)
    assert list(ev.lane) == [0] and ev.severity.tolist() == [1.0]
    down = ev.start[:, 0] <= 10
    assert 0.45 < down.mean() < 0.55
    assert set(ev.start[down, 0]) == {1} and set(ev.end[down, 0]) == {3}  # closes 1 and 2 (0.4 + 2 = 2.4)
    again = sc.compile(net, keys[:100], 10)
    assert np.array_equal(again.start[:, 0], ev.start[:100, 0])
    with pytest.raises(SimulationError, match="rul_days"):
        MachineRisk(np.array([-1.0, 2.0]))
    with pytest.raises(SimulationError, match="unpreventable_days"):
        MachineRisk(np.array([1.0]), -1.0)


def test_live_machines_reads_the_loops_rul_forecasts_in_days():
    """The loop's maintenance watcher keeps each machine's latest RUL (in cycles of readings) and its maintenance
    policy: the twin reads them in days, with the window the rule can no longer act in (the policy's horizon)."""
    from types import SimpleNamespace

    from supplynet.decide.maintain import MaintenancePolicy

    model = load_network(example_path("tiny"))
    pol = MaintenancePolicy.from_asset(model.asset("OVEN-1"), opportunity_interval=8.0, days_per_unit=1 / 24)
    latest = SimpleNamespace(samples=np.array([24.0, 48.0, 96.0]))
    watch = SimpleNamespace(assets={"OVEN-1": SimpleNamespace(latest=latest, policy=pol),
                                    "NEW-1": SimpleNamespace(latest=None, policy=pol)})
    loop = SimpleNamespace(network=model, watchers=[SimpleNamespace(sensor=None), watch])
    got = live_machines(loop)
    assert list(got) == ["OVEN-1"]
    assert got["OVEN-1"].rul_days.tolist() == pytest.approx([1.0, 2.0, 4.0])
    assert got["OVEN-1"].unpreventable_days == pytest.approx(2.0 + 8.0 / 24)  # lead time 2 days + a shift
    assert live_machines(SimpleNamespace(watchers=[])) == {}


def test_the_horizon_ends_at_its_last_close(live_store):
    """The realized KPIs are counted at the last close, before the loop's next release: the prediction places
    no order on its last day (a one-day horizon orders nothing), while a longer one does."""
    _, model, twin = live_store
    rep = Replenisher(model)
    one = predict_from_live(model, twin, horizon_days=1, replications=20, seed=1, policies=rep)
    four = predict_from_live(model, twin, horizon_days=4, replications=20, seed=1, policies=rep)
    assert one["cost"]["ordering"]["p90"] == 0.0 and one["cost"]["transport"]["p90"] >= 0.0
    assert four["cost"]["ordering"]["p50"] > 0.0


def test_every_batch_starts_from_the_live_policies(live_store, monkeypatch):
    """The replications run in batches (one draw of the demand levels each); the kernel's level arrays can be
    the network's own, so each batch's day-0 orders must use the live policies again, not the levels the
    previous batch left on its last day (the stores' sensor saw a week at twice and half the declared demand:
    the re-sized levels move away from the live ones)."""
    from supplynet.decide.replenish import downstream_demand
    from supplynet.sense.demand.demand_live import DemandSensor
    from supplynet.sim import forecast_live as FL
    from supplynet.sim.engine import Simulation

    _, model, twin = live_store
    rep = Replenisher(model, demand=DemandSensor(downstream_demand(model), min_days=7, prior_days=None, tracking=None))
    last = FL._last_close(twin.state, FL._utc(twin.state.last_event_at), model).date()
    stores = [k for k in rep.policies if k[0].startswith("STORE")][:2]
    for f, key in zip((2.0, 0.5), stores, strict=True):
        mean = rep.demand_estimate(key).mean
        for d in range(7):
            rep.sensor.record(key, last - timedelta(days=6 - d), f * mean)
    day0: list[np.ndarray] = []
    run = Simulation.run

    def spy(self, until=None):
        if until == 1:
            day0.append(self._params.pol_a.copy())
        return run(self, until)

    monkeypatch.setattr(Simulation, "run", spy)
    doc = predict_from_live(model, twin, horizon_days=5, replications=8, seed=2, policies=rep)
    assert doc["meta"]["batches"] > 1 and len(day0) == doc["meta"]["batches"]
    for a in day0[1:]:
        np.testing.assert_array_equal(a, day0[0])


def test_a_load_landing_on_the_last_day_is_still_on_the_road_at_the_count_with_its_probability(live_store):
    """Released 7 h after the 22:00 close and counted at midnight, a load the engine lands on the last day is
    still on the road at the count when its lead time's fraction of a day is past 1 - 5/24: a sure 0.9-day
    lead time always, a sure 0.5-day one never, a spread one with the normal's probability; without a release
    schedule, or with releases after the count, never."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from scipy.stats import norm

    from supplynet.sim.forecast_live import _late_at_count

    _, model, _ = live_store
    net = SimNetwork.from_network(model)
    close = datetime(2026, 1, 11, 22, 0, tzinfo=UTC)
    moved = [i for i in range(net.n_items) if not net.source[i] and net.item_lane[i] >= 0
             and net.lanes[net.item_lane[i]] in {ln.id for ln in model.lanes}]
    assert moved

    def late(mean, std, hour=5):
        n = net.replace(lt_mean=np.full(net.n_items, mean + 0.5), lt_std=np.full(net.n_items, std))
        return _late_at_count(n, SimpleNamespace(release_hour=hour), close, 0.5, model)

    assert np.allclose(late(0.9, 1e-9)[moved], 1.0)
    assert np.allclose(late(0.5, 1e-9)[moved], 0.0)
    g = 5 / 24
    p = norm.cdf(1.0, 0.7, 0.1) - norm.cdf(1.0 - g, 0.7, 0.1)
    assert np.allclose(late(0.7, 0.1)[moved], p, atol=1e-6)
    assert late(0.9, 1e-9, hour=23).max() == 0.0  # released an hour after the close: before the count
    assert _late_at_count(net, SimpleNamespace(release_hour=None), close, 0.5, model).max() == 0.0
    others = np.setdiff1d(np.arange(net.n_items), moved)
    assert late(0.9, 1e-9)[others].max(initial=0.0) == 0.0  # no transport lane: made at the close


def test_a_trucks_items_are_late_together():
    """One lane's release leaves as one shipment: its items are on the road at the count together or not at all,
    each lane about as often as its probability says; items without a lane (index -1) share a draw too but carry
    probability 0 in the prediction."""
    from supplynet.sim.forecast_live import _still_on_the_road

    R = 4000
    item_lane = np.array([0, 0, 0, 1, 1, -1])
    p = np.array([0.3, 0.3, 0.3, 0.8, 0.8, 0.0])
    landing = np.tile(np.array([1.0, 2.0, 3.0, 10.0, 20.0, 5.0]), (R, 1))
    late = _still_on_the_road(landing, p, item_lane, np.random.default_rng(0))
    on0 = late[:, 0] > 0
    assert np.array_equal(on0, late[:, 1] > 0) and np.array_equal(on0, late[:, 2] > 0)
    assert np.array_equal(late[:, 3] > 0, late[:, 4] > 0)
    assert abs(on0.mean() - 0.3) < 0.03 and abs((late[:, 3] > 0).mean() - 0.8) < 0.03
    assert late[:, 5].max() == 0.0
    assert np.all((late == 0) | (late == landing))
