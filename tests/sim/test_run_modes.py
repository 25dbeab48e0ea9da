"""One way into the simulator: run_scenarios also compares policies (``compare=``) and predicts the live
world (``predict=True``), giving the same answers as the functions it dispatches to; the CLI goes through it."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.decide.replenish import Replenisher
from supplynet.errors import SimulationError
from supplynet.policy.policies import BaseStock
from supplynet.sim import run_scenarios
from supplynet.sim.compare import compare_policies
from supplynet.sim.forecast_live import predict_from_live
from supplynet.sim.scenario import load_scenario

from .test_forecast_live import live_store  # noqa: F401 - the fixture
from .test_scenarios import small_network


def _lean(n):
    return n.with_policy(BaseStock(n.policy_level()[~n.source] * 0.6), np.nonzero(~n.source)[0])


def test_compare_mode_runs_the_scenarios_and_the_paired_comparison():
    net = small_network()
    variants = {"current": lambda n: n, "lean": _lean}
    report = run_scenarios(net, ["supplier_fire"], replications=20, horizon=60, seed=4, compare=variants)
    assert report.scenarios == ["baseline", "supplier_fire"]
    assert report.options["compare"] == ["current", "lean"]
    # the same figures as compare_policies under the first scenario, on the same seed
    per_rep, diff = compare_policies(net, variants, replications=20, horizon=60, seed=4,
                                     scenario=load_scenario("supplier_fire"))
    assert report.per_replication is not None and report.comparison is not None
    assert report.per_replication.equals(per_rep)
    assert report.comparison.equals(diff)
    d = report.comparison.set_index("metric")
    assert d.loc["demand", "mean_diff"] == 0 and d.loc["fill_rate", "mean_diff"] < 0
    # without compare= there is none
    assert run_scenarios(net, replications=4, horizon=10).comparison is None


def test_compare_mode_progress_counts_every_replication():
    seen = []
    run_scenarios(small_network(), replications=6, horizon=10, compare={"a": lambda n: n, "b": _lean},
                  progress=seen.append)
    assert sum(seen) == 6 * 3  # the baseline, then the two variants


def test_predict_mode_is_the_live_prediction(live_store):  # noqa: F811
    _, model, twin = live_store
    report = run_scenarios(model, twin=twin, predict=True, policies=Replenisher(model), horizon=5,
                           replications=20, seed=3)
    doc = predict_from_live(model, twin, horizon_days=5, replications=20, seed=3, policies=Replenisher(model))
    assert report.prediction is not None and report.scenarios == []
    assert report.prediction["store_fill_rate"] == doc["store_fill_rate"]
    assert report.prediction["total_cost"] == doc["total_cost"]
    assert report.options["predict"] is True


def test_mode_misuse_is_one_clear_error(live_store):  # noqa: F811
    _, model, twin = live_store
    with pytest.raises(SimulationError, match="needs the live twin"):
        run_scenarios(model, predict=True, horizon=5)
    with pytest.raises(SimulationError, match="runs no scenario"):
        run_scenarios(model, ["supplier_fire"], twin=twin, predict=True, horizon=5)
    with pytest.raises(SimulationError, match="predict=True"):
        run_scenarios(model, policies={}, horizon=5)
    with pytest.raises(SimulationError, match="at least two"):
        run_scenarios(small_network(), replications=2, horizon=5, compare={"one": lambda n: n})


def test_cli_policy_compare_prints_the_paired_differences_at_80_columns(tmp_path):
    from typer.testing import CliRunner

    from supplynet.cli import app
    from supplynet.model import example_path

    r = CliRunner().invoke(app, ["simulate", "--network", str(example_path("tiny")), "--scenario", "supplier_fire",
                                 "-r", "12", "-d", "60", "--seed", "1", "--out", str(tmp_path / "rep"),
                                 "--policy-compare", "base_stock:service_level=0.8"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 80 and "…" not in r.stdout
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Policies against 'current'"))
    table = "\n".join(lines[start:])
    assert "fill rate" in table and "significant" in table
    fill = next(ln for ln in lines[start:] if "fill rate" in ln)
    assert "%" in fill and (" yes" in fill or " no" in fill)
