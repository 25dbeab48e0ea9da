"""KPIs (tidy frames, TTS/TTR, risk exposure), policy comparison on CRN, Dask runner, report, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import supplynet.model as model
from supplynet.errors import SimulationError
from supplynet.policy.policies import BaseStock
from supplynet.sim import kpi
from supplynet.sim.compare import compare_policies
from supplynet.sim.disruptions import Disruption, Draw, Target
from supplynet.sim.engine import Simulation
from supplynet.sim.report import write_report
from supplynet.sim.runners import run_replications
from supplynet.sim.scenario import Scenario

from .test_scenarios import small_network


def dc_outage(days=25):
    return Scenario("dc_outage", (Disruption("site_outage", Draw(value=10), Draw(value=days), 1.0,
                                             Target(site=("dc",))),))


def test_kpi_frames_are_tidy_with_quantiles():
    lost_sales = small_network().replace(backorders=np.array([False, False, True, True, True, True]))
    res = Simulation(lost_sales, horizon=80, replications=30, seed=1, scenario=dc_outage()).run().result()
    items = kpi.item_kpis(res)
    assert {"scenario", "site", "sku", "metric", "p5", "p50", "p95", "mean"} <= set(items.columns)
    assert (items["p5"] <= items["p50"] + 1e-9).all() and (items["p50"] <= items["p95"] + 1e-9).all()
    net = kpi.network_kpis(res).set_index("metric")
    assert 0 < net.loc["fill_rate", "p50"] < 1
    assert net.loc["revenue_at_risk", "mean"] == pytest.approx(10.0 * net.loc["lost_sales", "mean"])
    assert net.loc["revenue_at_risk", "mean"] > 0
    total = net.loc["total_cost", "mean"]
    parts = sum(net.loc[m, "mean"] for m in ("holding_cost", "ordering_cost", "transport_cost", "shortage_cost"))
    assert total == pytest.approx(parts)
    sites = kpi.site_kpis(res)
    assert set(sites["site"]) == {"store1", "store2", "dc", "plant", "sup"}


def test_tts_ttr_flags_and_risk_exposure_ranking():
    res = Simulation(small_network(), horizon=120, replications=30, seed=1, scenario=dc_outage(30)).run().result()
    df = kpi.node_resilience(res).set_index("site")
    # the DC is down 30 days from day 10: the stores run dry within days and recover only after it
    assert df.loc["store1", "tts_p50"] < 10 and df.loc["store1", "ttr_p50"] >= 30
    assert bool(df.loc["store1", "flag_tts_lt_ttr"])
    assert df["risk_exposure_index"].max() == pytest.approx(1.0)
    assert df.index[0] in ("store1", "store2", "dc")
    assert not bool(df.loc["sup", "flag_tts_lt_ttr"])


def test_stress_test_nodes_simchi_levi():
    df = kpi.stress_test_nodes(small_network(), ttr_days=20, horizon=60, replications=10)
    assert set(df["site"]) == {"dc", "plant", "sup"}
    top = df.iloc[0]
    assert top["risk_exposure_index"] == pytest.approx(1.0) and top["impact_mean"] > 0
    assert bool(df.set_index("site").loc["dc", "flag_tts_lt_ttr"])  # stores hold less than 20 days


def test_policy_comparison_paired_intervals():
    net = small_network()
    lean = lambda n: n.with_policy(BaseStock(n.policy_level()[~n.source] * 0.6), np.nonzero(~n.source)[0])  # noqa: E731
    per_rep, diff = compare_policies(net, {"current": lambda n: n, "lean": lean}, replications=40, horizon=90,
                                     seed=2)
    assert len(per_rep) == 80
    d = diff.set_index("metric")
    assert d.loc["fill_rate", "mean_diff"] < 0 and d.loc["fill_rate", "ci_high"] < 0  # leaner: worse service
    assert d.loc["holding_cost", "ci_high"] < 0                                          # and less stock
    assert d.loc["demand", "mean_diff"] == 0                                             # same demand (CRN)
    with pytest.raises(SimulationError, match="at least two"):
        compare_policies(net, {"one": lambda n: n}, replications=2, horizon=5)


def test_dask_runner_matches_local_on_a_two_worker_cluster():
    import distributed  # a dependency: missing, this fails (no skip)

    net = small_network()
    local = run_replications(net, replications=24, horizon=60, seed=8, scenario=dc_outage(), chunk_size=10)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        seen = []
        remote = run_replications(net, replications=24, horizon=60, seed=8, scenario=dc_outage(), executor="dask",
                                  scheduler=client, chunk_size=5, progress=seen.append)
    assert sum(seen) == 24
    np.testing.assert_array_equal(local.acc, remote.acc)
    np.testing.assert_array_equal(local.replications, remote.replications)
    with pytest.raises(SimulationError, match="executor"):
        run_replications(net, replications=2, horizon=5, executor="spark")


def test_report_folder(tmp_path):
    net = small_network()
    results = {"baseline": run_replications(net, replications=12, horizon=60, seed=1),
               "dc_outage": run_replications(net, replications=12, horizon=60, seed=1, scenario=dc_outage())}
    results["baseline"].scenario = "baseline"
    summary = write_report(tmp_path, results, meta={"network": "small"})
    for f in ("report.json", "report.html", "service_over_time.png", "tts_ttr.png", "cost_distribution.png"):
        assert (tmp_path / f).stat().st_size > 500, f
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["scenarios"] == ["baseline", "dc_outage"] and data["resilience"]
    assert summary["plots"] and "Risk exposure" in (tmp_path / "report.html").read_text()


def test_simulate_cli_on_the_tiny_example(tmp_path):
    from typer.testing import CliRunner

    from supplynet.commands.simulate import app

    out = tmp_path / "rep"
    r = CliRunner().invoke(app, ["--network", str(model.example_path("tiny")), "--scenario", "supplier_fire",
                                 "--replications", "12", "--horizon", "60", "--seed", "1", "--out", str(out),
                                 "--policy-compare", "base_stock:service_level=0.8", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout[r.stdout.index("{"):])
    assert doc["scenarios"] == ["baseline", "supplier_fire"] and doc["ranking"]
    rep = json.loads((out / "report.json").read_text())
    assert rep["comparison"] and (out / "report.html").exists()
    bad = CliRunner().invoke(app, ["--network", str(tmp_path / "none.yaml")])
    assert isinstance(bad.exception, SimulationError)


def test_from_network_tiny_example_and_policies():
    from supplynet.sim.network import SimNetwork

    n = model.load_network(model.example_path("tiny"))
    net = SimNetwork.from_network(n)
    names = net.item_names
    assert "STORE-1/BREAD-800G" in names and "PLANT-1/FLOUR-25KG" in names
    flour = names.index("PLANT-1/FLOUR-25KG")
    bread = names.index("PLANT-1/BREAD-800G")
    arc = np.nonzero((net.arc_src == flour) & (net.arc_dst == bread))[0]
    assert net.arc_qty[arc].tolist() == [0.02]                        # the BOM quantity
    assert net.source[names.index("SUP-1/FLOUR-25KG")]
    assert net.pol_kind[names.index("STORE-2/MILK-2L")] == 3         # RS from the file
    assert net.pol_a[names.index("STORE-2/BREAD-800G")] == 180       # S from the file
    res = Simulation(net, horizon=60, replications=10, seed=0).run().result()
    fill = kpi.network_kpis(res).set_index("metric").loc["fill_rate", "mean"]
    assert 0.8 < fill <= 1.0
