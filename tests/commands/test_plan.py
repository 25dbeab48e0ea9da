"""``supplynet plan``: inventory plans (textbook-exact), the GSM on networks and Willems chains, apply."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.decide.plan import plan_inventory, stage_problem_from_network
from supplynet.model import example_path, load_network
from supplynet.policy import gsm
from supplynet.policy import sizing as sz
from supplynet.sim.demand import demand_from_forecast
from supplynet.sim.network import SimNetwork
from supplynet.store import open_store
from supplynet.testing.require import require_or_skip

runner = CliRunner()
REL = 1e-4


def _data_root() -> Path:
    base = os.environ.get("SUPPLYNET_DATA_DIR")
    return Path(base) if base else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


INSTANCES = _data_root() / "stockpyl" / "stockpyl_instances.json"
WILLEMS = _data_root() / "willems2008"


@pytest.fixture(scope="module")
def inst():
    if not INSTANCES.exists():
        require_or_skip(f"textbook instances not found at {INSTANCES} (set SUPPLYNET_DATA_DIR)", "data")
    return {i["name"]: i["data"] for i in json.loads(INSTANCES.read_text())["instances"]}


def _one_stage(tmp_path: Path, d: dict, policy: str) -> Path:
    """A supplier and a store: the textbook's single stage, one period = one day."""
    lead = d.get("lead_time", 0)
    fixed = d.get("fixed_cost", 0)
    text = f"""
name: textbook
start: 2025-01-01
sites:
  - {{id: SUP, name: Supplier, kind: supplier, location: {{lat: 50, lon: 0}}}}
  - {{id: ST, name: Store, kind: store, location: {{lat: 51, lon: 0}}}}
products:
  - {{sku: A, name: Item, unit_cost: 1, price: 2, holding_cost_rate: {d['holding_cost'] * 365!r},
      shortage_cost: {d['stockout_cost']!r}}}
lanes:
  - {{id: L1, origin: SUP, destination: ST, lead_time: {lead!r}, cost_per_unit: 0, fixed_cost_per_shipment: {fixed!r}}}
demand:
  - {{site: ST, sku: A, mean_per_day: {d['demand_mean']!r}, std_per_day: {d['demand_sd']!r}, dist: normal}}
policies:
  - {{site: ST, sku: A, type: {policy}, service_level: 0.9}}
"""
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return path


def _plan(tmp_path: Path, net: Path, *args: str) -> pd.DataFrame:
    out = tmp_path / "plan.csv"
    res = runner.invoke(app, ["plan", "inventory", "--network", str(net), "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    json.loads(res.stdout)
    return pd.read_csv(out)


@pytest.mark.data
def test_plan_inventory_is_the_textbook_on_single_stages(inst, tmp_path):
    # Snyder & Shen Example 4.4: base stock, h=0.18, p=0.70, N(50, 8^2), L=4 -> S* = 264.77, g* = 4.4668
    row = _plan(tmp_path, _one_stage(tmp_path, inst["example_4_4"], "base_stock"), "--cost-model").iloc[0]
    assert (row["type"], row["method"]) == ("base_stock", "cost_model")
    assert row["order_up_to"] == pytest.approx(264.7669, rel=REL)
    assert row["expected_cost_per_day"] == pytest.approx(4.4668, rel=REL)
    assert row["safety_stock"] == pytest.approx(264.7669 - 250, rel=REL)
    # the same network at a 95% cycle service level: mu (L+1) + z sigma sqrt(L+1)
    row = _plan(tmp_path, _one_stage(tmp_path, inst["example_4_4"], "base_stock"), "--service-level", "0.95").iloc[0]
    assert row["order_up_to"] == pytest.approx(sz.base_stock_for_service(0.95, 50, 8, 5), rel=1e-12)
    assert row["order_up_to"] == pytest.approx(250 + 1.6448536 * 8 * 5**0.5, rel=1e-6)
    # Example 4.8: (s,S) by the power approximation, K=2.5, L=0 -> s = 40.19, S = 74.29
    row = _plan(tmp_path, _one_stage(tmp_path, inst["example_4_8"], "sS"), "--cost-model").iloc[0]
    assert (row["reorder_point"], row["order_up_to"]) == (pytest.approx(40.1946, rel=REL),
                                                          pytest.approx(74.2902, rel=REL))
    # Example 5.1: (r,Q) by the loss-function approximation -> r = 126.87, Q = 328.45
    row = _plan(tmp_path, _one_stage(tmp_path, inst["example_5_1"], "RQ"), "--cost-model").iloc[0]
    assert row["reorder_point"] == pytest.approx(126.8671, rel=REL)
    assert row["order_quantity"] == pytest.approx(328.4491, rel=REL)
    assert row["order_up_to"] == pytest.approx(126.8671 + 328.4491, rel=REL)
    # the policy's own service level (0.9) when none is given, and the expected fill is consistent
    row = _plan(tmp_path, _one_stage(tmp_path, inst["example_4_4"], "base_stock")).iloc[0]
    assert row["order_up_to"] == pytest.approx(sz.base_stock_for_service(0.9, 50, 8, 5), rel=1e-12)
    short = sz.normal_loss(row["order_up_to"], 250, 8 * 5**0.5)
    assert row["expected_fill"] == pytest.approx(1 - short / 50, rel=1e-9)


def test_plan_with_forecasts_follows_the_forecast_demand(tmp_path):
    net = load_network(example_path("tiny"))
    fc = pd.DataFrame({"unique_id": "STORE-1/BREAD-800G", "ds": pd.date_range("2024-01-01", periods=4, freq="7D"),
                       "mean": [7 * 120.0] * 4, "lo-80": [7 * 100.0] * 4, "hi-80": [7 * 140.0] * 4})
    base = plan_inventory(net, SimNetwork.from_network(net)).set_index(["site", "sku"])
    new = plan_inventory(net, demand_from_forecast(SimNetwork.from_network(net), fc)).set_index(["site", "sku"])
    assert base.loc[("STORE-1", "BREAD-800G"), "demand_mean_per_day"] == 60
    assert new.loc[("STORE-1", "BREAD-800G"), "demand_mean_per_day"] == pytest.approx(120)
    assert new.loc[("DC-1", "BREAD-800G"), "demand_mean_per_day"] == pytest.approx(120 + 85)  # flows upstream
    assert new.loc[("STORE-1", "BREAD-800G"), "order_up_to"] > base.loc[("STORE-1", "BREAD-800G"), "order_up_to"]


def test_multi_echelon_plan_is_the_gsm_optimum(tmp_path):
    net_file = example_path("tiny")
    frame = _plan(tmp_path, net_file, "--multi-echelon", "--service-level", "0.95")
    net = load_network(net_file)
    problem = stage_problem_from_network(net, SimNetwork.from_network(net), 0.95)
    sol = gsm.solve(problem)
    assert frame["expected_cost_per_day"].sum() == pytest.approx(sol.cost, rel=1e-9)
    assert frame["safety_stock"].sum() == pytest.approx(sol.safety_stock(problem).sum(), rel=1e-9)
    stores = frame[frame["site"].str.startswith("STORE")]
    assert (stores["service_time_days"] == 0).all()  # customer-facing points quote no delay
    assert (frame["order_up_to"] >= frame["safety_stock"] - 1e-9).all()


@pytest.mark.data
@pytest.mark.parametrize("chain", [1, 2, 4])
def test_plan_gsm_on_willems_chains_equals_the_library_solver(chain, tmp_path):
    path = WILLEMS / f"willems_{chain:02d}.csv"
    if not path.exists():
        require_or_skip(f"willems2008 data not found at {WILLEMS}", "data")
    out = tmp_path / "stages.csv"
    res = runner.invoke(app, ["plan", "gsm", "--willems", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)  # nothing else on stdout (the solver's banner goes to stderr)
    problem = gsm.GsmProblem.from_stages(gsm.willems_rows(path), holding_rate=0.35, z_decimals=3)
    ref = gsm.solve(problem)
    assert got["cost"] == pytest.approx(ref.cost, rel=1e-9) and got["stages"] == problem.n
    table = pd.read_csv(out)
    assert table["cost"].sum() == pytest.approx(ref.cost, rel=1e-9)
    assert table["S"].tolist() == pytest.approx(ref.service.tolist())


def test_plan_apply_writes_the_policies_and_audits_it(tmp_path):
    net_file = tmp_path / "network.yaml"
    net_file.write_text(example_path("tiny").read_text())
    plan = tmp_path / "plan.csv"
    assert runner.invoke(app, ["plan", "inventory", "--network", str(net_file), "--out", str(plan)]).exit_code == 0
    url = f"sqlite:///{tmp_path / 's.db'}"
    res = runner.invoke(app, ["plan", "apply", str(plan), "--network", str(net_file), "--store", url,
                              "--actor", "planner:ann"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["policies_set"] == 8 and out["replaced"] == 3
    net = load_network(net_file)
    frame = pd.read_csv(plan).set_index(["site", "sku"])
    bread = net.policy_for("STORE-2", "BREAD-800G")
    assert bread.params["S"] == pytest.approx(frame.loc[("STORE-2", "BREAD-800G"), "order_up_to"], abs=1e-4)
    flour = net.policy_for("PLANT-1", "FLOUR-25KG")
    assert flour.type == "sS" and flour.params["s"] == pytest.approx(frame.loc[("PLANT-1", "FLOUR-25KG"),
                                                                                "reorder_point"], abs=1e-4)
    assert "# supplynet tiny network" in net_file.read_text()  # the file's comments stay
    with open_store(url) as st:
        [entry] = st.audit.entries()
        assert (entry.actor, entry.action, entry.subject) == ("planner:ann", "plan.apply", "tiny")
        assert len(entry.detail["new"]) == 8 and {"site": "STORE-2", "sku": "BREAD-800G", "type": "base_stock",
                                                  "params": {"S": 180}} in entry.detail["replaced"]
        assert st.audit.verify().ok
    # a plan naming a site the network does not have changes nothing
    before = net_file.read_text()
    bad = tmp_path / "bad.csv"
    pd.read_csv(plan).assign(site="NOWHERE").to_csv(bad, index=False)
    res = runner.invoke(app, ["plan", "apply", str(bad), "--network", str(net_file), "--store", url])
    assert res.exit_code == 2 and "NOWHERE" in res.stderr and net_file.read_text() == before


@pytest.mark.parametrize("args, message", [
    (["inventory", "--out", "p.csv", "--cost-model", "--service-level", "0.9"], "not both"),
    (["inventory", "--out", "p.txt"], "use a .csv, .parquet or .json file"),
    (["inventory", "--out", "p.csv", "--service-level", "1.5"], "between 0 and 1"),
    (["gsm"], "exactly one of --network FILE or --willems CSV"),
])
def test_plan_refuses_bad_arguments(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    net = ["--network", str(example_path("tiny"))] if args[0] == "inventory" else []
    res = runner.invoke(app, ["plan", *args, *net])
    assert res.exit_code == 2 and message in res.stderr, res.output
