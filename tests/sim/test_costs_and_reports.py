"""The cost model in the simulator (components, fixed lane costs, downtime, demand taken away), TTS/TTR
for sites already short, the baseline never ranked, the report and the ``simulate`` summary table."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

import supplynet.model as model
from supplynet.errors import SimulationError
from supplynet.policy.policies import BaseStock
from supplynet.sim import kpi
from supplynet.sim.disruptions import Disruption, Draw, Target
from supplynet.sim.engine import Simulation
from supplynet.sim.network import SimNetwork
from supplynet.sim.report import cost_breakdown, ranking_rows, scenario_summary, service_panels, write_report
from supplynet.sim.scenario import Scenario, library, load_scenario

from .test_scenarios import small_network


def one_lane_two_skus(fixed: float = 100.0) -> SimNetwork:
    """dc -> store on one lane carrying two skus; the dc is supplied from outside."""
    return SimNetwork.build(
        items=[("store", "a"), ("store", "b"), ("dc", "a"), ("dc", "b")], arcs=[(2, 0, 1), (3, 1, 1)],
        site_kind={"store": "store", "dc": "dc"}, lead_time=[1, 1, 2, 2], demand_mean=[20.0, 30.0, 0, 0],
        lanes=["L"], item_lane=[0, 0, -1, -1], lane_fixed_cost=fixed, lane_cost=0.0, name="one-lane")


def per_rep(net, scenario=None, horizon=60, reps=8, seed=0):
    res = Simulation(net, horizon=horizon, replications=reps, seed=seed, scenario=scenario).run().result()
    return res, kpi.network_per_replication(res)


def test_a_lanes_fixed_cost_is_paid_once_a_day_not_once_per_sku():
    res, per = per_rep(one_lane_two_skus(100.0), horizon=60)
    # both skus ship on the lane every day: one truck a day, not two
    assert (per["transport_cost"] <= 100.0 * 60 + 1e-9).all()
    assert (per["transport_cost"] >= 100.0 * 50).all()
    _, free = per_rep(one_lane_two_skus(0.0), horizon=60)
    assert (free["transport_cost"] == 0).all()


def test_total_cost_is_the_sum_of_its_components():
    res, per = per_rep(small_network(), Scenario("out", (Disruption("site_outage", Draw(value=10), Draw(value=15),
                                                                   1.0, Target(site=("dc",))),)))
    parts = sum(per[c] for c in kpi.COST_COMPONENTS)
    assert np.allclose(per["total_cost"], parts)
    assert np.allclose(per["shortage_cost"], per["lost_sale_cost"] + per["backorder_cost"])
    assert (per["backorder_cost"] > 0).all() and (per["lost_sale_cost"] == 0).all()  # small_network backorders


def test_downtime_is_charged_while_a_disruption_takes_a_sites_capacity():
    net = small_network()
    plant = net.sites.index("plant")
    down = np.zeros(len(net.sites))
    down[plant] = 2400.0  # a day with the plant wholly down
    sc = Scenario("half", (Disruption("capacity_loss", Draw(value=5), Draw(value=10), 0.5, Target(site=("plant",))),))
    _, per = per_rep(net.replace(site_down=down), sc)
    assert np.allclose(per["downtime_cost"], 2400.0 * 0.5 * 10)
    _, none = per_rep(net.replace(site_down=down))                   # no disruption, no downtime
    assert (none["downtime_cost"] == 0).all()


def test_demand_a_disruption_takes_away_costs_the_lost_sale_penalty():
    net = small_network()
    sc = Scenario("shift", (Disruption("demand_shift", Draw(value=20), Draw(value=1), -0.25,
                                       Target(site_kind=("store",))),))
    _, per = per_rep(net, sc, horizon=60)
    expected_units = (5.0 + 7.0) * 0.25 * (60 - 20)
    assert np.allclose(per["demand_loss"], expected_units)
    assert np.allclose(per["demand_loss_cost"], 5.0 * expected_units)   # short_cost 5 per unit


def test_a_site_short_before_the_first_disruption_is_flagged_not_never_short():
    net = small_network()
    s1 = net.item_names.index("store1/kit")
    starved = net.with_policy(BaseStock(np.zeros(1)), [s1]).replace(
        init_on_hand=np.where(np.arange(net.n_items) == s1, 0.0, net.init_on_hand))
    sc = Scenario("late", (Disruption("site_outage", Draw(value=30), Draw(value=10), 1.0, Target(site=("dc",))),))
    res = Simulation(starved, horizon=90, replications=16, seed=2, scenario=sc).run().result()
    assert (res.first_short[:, s1] < 30).all() and (res.last_short[:, s1] >= 30).all()  # chronically short
    df = kpi.node_resilience(res).set_index("site")
    row = df.loc["store1"]
    assert bool(row["short_before_disruption"]) and row["share_short_before_disruption"] == 1.0
    # its one sku was failing before the disruption: no time to survive (flagged, not "TTS 0"), TTR past it
    assert np.isnan(row["tts_p50"]) and row["ttr_p50"] > 0 and row["share_short"] == 1.0
    assert bool(row["flag_tts_lt_ttr"])
    # before the fix: "never short, TTR 0" at a site ranked at risk
    assert not bool(df.loc["store2", "short_before_disruption"])


def test_one_small_sku_short_before_the_disruption_does_not_make_its_store_short_at_once():
    """A store's TTS weighs its skus by demand: a slow sku out of stock since day 0 (2 of 52 units a day)
    neither flags the store nor reads "TTS 0"; the store survives the DC's outage on its other skus' stock."""
    base = SimNetwork.build(
        items=[("store", "slow"), ("store", "a"), ("store", "b"), ("dc", "slow"), ("dc", "a"), ("dc", "b")],
        arcs=[(3, 0, 1), (4, 1, 1), (5, 2, 1)], site_kind={"store": "store", "dc": "dc"},
        lead_time=[1, 1, 1, 2, 2, 2], demand_mean=[2.0, 20.0, 30.0, 0, 0, 0], lanes=["L"],
        item_lane=[0, 0, 0, -1, -1, -1], name="slow-sku")
    slow = base.item_names.index("store/slow")
    net = base.with_policy(BaseStock(np.zeros(1)), [slow]).replace(
        init_on_hand=np.where(np.arange(base.n_items) == slow, 0.0, base.init_on_hand))
    sc = Scenario("out", (Disruption("site_outage", Draw(value=30), Draw(value=20), 1.0, Target(site=("dc",))),))
    res = Simulation(net, horizon=90, replications=16, seed=4, scenario=sc).run().result()
    assert (res.first_short[:, slow] < 30).all() and (res.last_short[:, slow] >= 30).all()
    row = kpi.node_resilience(res).set_index("site").loc["store"]
    assert not bool(row["short_before_disruption"]) and row["share_short_before_disruption"] == 0.0
    assert 0 < row["tts_p50"] < 20 <= row["ttr_p50"]   # runs dry during the 20-day outage, recovers after it
    assert bool(row["flag_tts_lt_ttr"])
    # with the threshold at 0 (any sku short makes the site short) the slow sku does flag it
    strict = kpi.node_resilience(res, short_share=0.0).set_index("site").loc["store"]
    assert bool(strict["short_before_disruption"])
    with pytest.raises(SimulationError, match="short_share"):
        kpi.node_resilience(res, short_share=1.0)


def test_the_baseline_is_never_ranked_as_a_risk():
    net = small_network()
    base = Simulation(net, horizon=60, replications=8, seed=1).run().result()
    rb = kpi.node_resilience(base)
    assert rb["risk_exposure_index"].isna().all()
    sc = Scenario("out", (Disruption("site_outage", Draw(value=10), Draw(value=20), 1.0, Target(site=("dc",))),))
    hit = Simulation(net, horizon=60, replications=8, seed=1, scenario=sc).run().result()
    hit.scenario = "out"
    rows = ranking_rows({"baseline": base, "out": hit})
    assert rows and {r["scenario"] for r in rows} == {"out"}


def test_panels_only_for_quantities_the_network_has():
    tiny = SimNetwork.from_network(model.load_network(model.example_path("tiny")))   # stores lose sales
    lost = {"baseline": Simulation(tiny, horizon=20, replications=4, seed=0).run().result()}
    assert [k for k, _ in service_panels(lost)] == ["fill", "lost"]
    backo = {"baseline": Simulation(small_network(), horizon=20, replications=4, seed=0).run().result()}
    assert [k for k, _ in service_panels(backo)] == ["fill", "backlog"]
    s = scenario_summary(lost)
    assert "lost_sales" in s and "backorders" not in s
    assert "backorders" in scenario_summary(backo) and "lost_sales" not in scenario_summary(backo)


def test_the_html_report_explains_tts_ttr_and_breaks_the_cost_down_in_the_currency(tmp_path):
    tiny = SimNetwork.from_network(model.load_network(model.example_path("tiny")))
    results = {}
    for name in ("baseline", "supplier_fire"):
        sc = None if name == "baseline" else load_scenario(name)
        results[name] = Simulation(tiny, horizon=60, replications=8, seed=0, scenario=sc).run().result()
        results[name].scenario = name
    summary = write_report(tmp_path, results, meta={"network": "tiny <b>", "replications": 8, "horizon": 60,
                                                    "seed": 0})
    html = (tmp_path / "report.html").read_text()
    assert "What TTS and TTR mean" in html and "time to survive" in html.lower()
    assert "Cost breakdown (GBP" in html and "total cost (GBP)" in html
    assert "tiny &lt;b&gt;" in html and "tiny <b>" not in html           # Jinja2 escapes what it is given
    assert "<td>backorders</td>" not in html and "<td>lost sales</td>" in html  # a lost-sales network
    assert summary["currency"] == "GBP" and summary["costs"]["supplier_fire"]["total_cost"] > 0
    assert all(r["scenario"] != "baseline" for r in summary["ranking"])
    bd = cost_breakdown(results)
    assert bd.loc["total_cost"].tolist() == pytest.approx(bd.drop("total_cost").sum().tolist())
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["scenarios"] == ["baseline", "supplier_fire"] and data["resilience"] and data["summary"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_library_scenario_costs_at_least_the_baseline_on_tiny(seed):
    tiny = SimNetwork.from_network(model.load_network(model.example_path("tiny")))
    _, base = per_rep(tiny, horizon=120, reps=24, seed=seed)
    for name in library():
        _, hit = per_rep(tiny, load_scenario(name), horizon=120, reps=24, seed=seed)
        assert hit["total_cost"].mean() >= base["total_cost"].mean(), (name, seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_library_scenario_costs_at_least_the_baseline_on_realistic(seed):
    net = SimNetwork.from_network(model.load_network(model.example_path("realistic")))
    _, base = per_rep(net, horizon=120, reps=16, seed=seed)
    for name in library():
        _, hit = per_rep(net, load_scenario(name), horizon=120, reps=16, seed=seed)
        assert hit["total_cost"].mean() >= base["total_cost"].mean(), (name, seed)


def test_simulate_prints_a_table_in_the_currency_and_json_on_request(tmp_path):
    from supplynet.commands.simulate import app

    args = ["--network", str(model.example_path("tiny")), "--scenario", "supplier_fire", "--replications", "6",
            "--horizon", "30", "--seed", "1", "--out", str(tmp_path / "rep")]
    r = CliRunner().invoke(app, args, terminal_width=80)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "total cost (GBP)" in r.stdout and "supplier_fire" in r.stdout and "{" not in r.stdout
    row = next(line for line in lines if "supplier_fire" in line and "%" in line)
    cells = [c.strip() for c in re.split(r"[│|┃]", row) if c.strip()]
    assert re.fullmatch(r"[\d.]+%", cells[1]) and re.fullmatch(r"\+?[\d,]+", cells[-1])
    raw = re.split(r"[│|┃]", row)[1:-1]
    for cell in raw[1:]:                                                # numbers right-aligned in their column
        assert len(cell) - len(cell.lstrip()) >= len(cell) - len(cell.rstrip()), row
    assert len(lines) < 40                                              # a summary, not 230 lines of JSON
    j = CliRunner().invoke(app, [*args, "--json"])
    assert j.exit_code == 0, j.output
    doc = json.loads(j.stdout)
    assert doc["scenarios"] == ["baseline", "supplier_fire"] and doc["currency"] == "GBP"
    assert doc["ranking"] and all(x["scenario"] != "baseline" for x in doc["ranking"])
    assert {"site", "scenario", "risk_exposure_index", "tts_p50", "ttr_p50", "flag_tts_lt_ttr"} <= set(doc["ranking"][0])


def test_a_site_short_before_every_disruption_ranks_with_no_tts_and_says_so():
    from supplynet.sim.live import rank_sites
    from supplynet.sim.report import ranking_table

    net = small_network()
    s1 = net.item_names.index("store1/kit")
    starved = net.with_policy(BaseStock(np.zeros(1)), [s1]).replace(
        init_on_hand=np.where(np.arange(net.n_items) == s1, 0.0, net.init_on_hand))
    sc = Scenario("late", (Disruption("site_outage", Draw(value=30), Draw(value=10), 1.0, Target(site=("dc",))),))
    base = Simulation(starved, horizon=90, replications=8, seed=2).run().result()
    hit = Simulation(starved, horizon=90, replications=8, seed=2, scenario=sc).run().result()
    hit.scenario = "late"
    ranking = rank_sites({"baseline": base, "late": hit}).set_index("site")
    assert bool(ranking.loc["store1", "short_before"]) and np.isnan(ranking.loc["store1", "tts_days"])
    assert not bool(ranking.loc["store2", "short_before"]) and np.isfinite(ranking.loc["store2", "tts_days"])
    rows = ranking_rows({"baseline": base, "late": hit})
    from rich.console import Console

    console = Console(record=True, width=160)
    console.print(ranking_table(rows))
    text = console.export_text()
    assert "store1" in text and "short before" in text and "nan" not in text.lower()
    assert "TTS (time to survive)" in text and "TTR (time to recover)" in text  # the table says what they mean
