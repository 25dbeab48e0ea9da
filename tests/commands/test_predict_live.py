"""``supplynet simulate --from-live`` predicts under the live loop's own rules (issue #16 item 6).

The demo's loop runs on a store (the tiny network, four days); at the end of day 3 its replenisher's release
plan, policies and the machines' failure risk are taken; the CLI's rules rebuilt from the store as of that
time must be the same. Then the CLI as a user runs it: which rules it ran under, and bad input (a policy file
that is missing or wrong, a stored policy that is corrupt, a store of another network, junk numbers, a time
past the calendar) is one clear line; a read-only store is read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from supplynet.commands._netstore import store_network
from supplynet.commands._predict_live import live_rules, resolve_policy, rul_risks
from supplynet.decide.autonomy import load_policy
from supplynet.events import Sale, StockCount
from supplynet.loop import Loop, default_policy, live_replenisher
from supplynet.model import example_path, load_network
from supplynet.store import open_store

T0 = datetime(2024, 3, 4, 8, tzinfo=UTC)


def _simulate(*args):
    from supplynet.cli import app

    res = CliRunner().invoke(app, ["simulate", *args])
    assert "Traceback" not in res.output, res.output
    return res


def _one_line_error(res, *words):
    out = res.output.strip()
    assert res.exit_code == 2, out
    assert len(out.splitlines()) == 1, out
    for w in words:
        assert w in out, out


def _kernel(pol):
    return tuple(float(np.asarray(x)) for x in pol.kernel_params())


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    """The tiny demo's store after 17 days, and what its live loop held at the end of days 3 and 16."""
    from supplynet.demo import run_demo
    from supplynet.sim.forecast_live import live_machines, live_refit, predict_from_live

    seen: dict = {}

    def on_day(day, loop, net):
        if day == 16:  # the forecaster has refitted (14 days of history): the sizing follows its forecast
            seen["refitted"] = {"at": loop.twin.state.last_event_at, "refits": live_refit(loop).refits,
                                "policies": {k: _kernel(p) for k, p in loop.replenisher.policies.items()},
                                "sources": {k: loop.replenisher.demand_estimate(k).source
                                            for k in loop.replenisher.policies}}
        if day == 3:
            rep = loop.replenisher
            seen.update(at=loop.twin.state.last_event_at, offset=loop.twin.offset, plan=rep.release_plan(),
                        policies={k: _kernel(p) for k, p in rep.policies.items()}, machines=live_machines(loop),
                        rules={a: getattr(rep, a) for a in ("release_hour", "max_review_days", "plan_production",
                                                             "echelon_demand", "budget_per_day",
                                                             "upstream_cycle_days", "store_fill_rate")})
            # the demo's own prediction (bench/twin_fidelity.py's), without the machines the CLI can only approximate
            seen["prediction"] = predict_from_live(net, loop.twin, horizon_days=4, replications=40, seed=3,
                                                   policies=rep, refit=live_refit(loop))

    home = tmp_path_factory.mktemp("demo")
    run_demo(cache_dir=tmp_path_factory.mktemp("rul"), network=example_path("tiny"), days=17, seed=9, home=home,
             stress_replications=0, fidelity_replications=0, on_day=on_day)
    assert seen, "the demo never reached day 3"
    return f"sqlite:///{home / 'demo.db'}", seen


def test_the_cli_rebuilds_the_live_loops_replenisher_release_plan_and_machines(demo_store):
    url, seen = demo_store
    with open_store(url, readonly=True) as st:
        net = store_network(st, None, record=False)
        policy, source = resolve_policy(st, None)
        live = live_rules(st, net, policy, at=seen["at"])
    assert source == "packaged example"  # the demo runs the packaged policy and stores none: run finds the same
    assert live.twin.offset == seen["offset"]
    rep = live.replenisher
    assert {a: getattr(rep, a) for a in seen["rules"]} == seen["rules"]
    # the release schedule: every lane's cycle and next release as the loop has them (the 2-day lane's phase
    # comes from the loop's recorded releases)
    assert rep.release_plan() == seen["plan"]
    assert any(r > 1 for r, _ in seen["plan"].values())
    assert live.rules["release_schedule"]["calendar"] == "the loop's recorded releases"
    # production planning: the plant's finished goods have the loop's base-stock level, every level the loop's
    assert any(k[0].startswith("PLANT") and k[1] == "BREAD-800G" for k in rep.policies)
    assert {k: _kernel(p) for k, p in rep.policies.items()} == seen["policies"]
    # the machines: the same ones, the maintenance rule's same horizon, the RUL's distribution from the rul alert's
    # quantiles (20 equally likely values of the loop's samples)
    assert set(live.machines) == set(seen["machines"]) and live.machines
    for a, risk in live.machines.items():
        loop_risk = seen["machines"][a]
        u = loop_risk.unpreventable_days
        assert risk.unpreventable_days == pytest.approx(u)
        assert np.median(risk.rul_days) == pytest.approx(np.median(loop_risk.rul_days), rel=0.1)
        assert abs(np.mean(risk.rul_days < u) - np.mean(loop_risk.rul_days < u)) <= 0.1
    failures = live.rules["failures"]
    assert failures["drawn"] is True and failures["from_quantiles"] == len(live.machines)


def test_after_the_forecasters_refit_the_sizing_is_the_loops(demo_store):
    """The loop refits daily from its first step, from the days its decisions had closed (none in the quiet
    hours): replayed tick by tick, the CLI's sensor holds the same forecast and the levels are the loop's."""
    url, seen = demo_store
    loop = seen["refitted"]
    assert loop["refits"] >= 1 and "forecast" in loop["sources"].values()
    with open_store(url, readonly=True) as st:
        net = store_network(st, None, record=False)
        live = live_rules(st, net, resolve_policy(st, None)[0], at=loop["at"])
    assert live.rules["tick_seconds"] == 3600.0  # the demo's brain decides every hour
    assert live.refit.refits >= 1
    assert {k: live.replenisher.demand_estimate(k).source for k in live.replenisher.policies} == loop["sources"]
    mine = {k: _kernel(p) for k, p in live.replenisher.policies.items()}
    assert mine.keys() == loop["policies"].keys()
    for k, v in loop["policies"].items():
        assert mine[k] == pytest.approx(v), k


def test_the_cli_predicts_what_the_live_loop_predicts(demo_store):
    """Same twin, replenisher and refit as the loop in hand: the same KPIs, replication for replication."""
    from supplynet.sim.forecast_live import KPIS, predict_from_live

    url, seen = demo_store
    with open_store(url, readonly=True) as st:
        net = store_network(st, None, record=False)
        live = live_rules(st, net, resolve_policy(st, None)[0], at=seen["at"])
    mine = predict_from_live(net, live.twin, horizon_days=4, replications=40, seed=3, policies=live.replenisher,
                             refit=live.refit)
    for k in KPIS:
        assert mine[k] == pytest.approx(seen["prediction"][k]), k


def test_the_cli_prediction_says_which_rules_it_ran_under(demo_store):
    url, seen = demo_store
    res = _simulate("--from-live", "--store", url, "--at", seen["at"].isoformat(), "--horizon", "3",
                    "--replications", "20", "--json")
    assert res.exit_code == 0, res.output
    meta = json.loads(res.stdout)["meta"]
    rules = meta["rules"]
    assert rules["autonomy_policy"] == "packaged example"
    assert rules["release_schedule"]["release_hour_utc"] == seen["rules"]["release_hour"]
    assert rules["plan_production"] is True and rules["echelon_demand"] is True
    assert rules["failures"]["drawn"] is True and set(meta["machines_failure_risk"]) == set(seen["machines"])
    assert meta["refit"] is not None  # the projection refits as the loop's DemandRefit does
    res = _simulate("--from-live", "--store", url, "--at", seen["at"].isoformat(), "--horizon", "3",
                    "--replications", "20")
    assert res.exit_code == 0, res.output
    for words in ("under the live loop's rules", "release schedule: 05:00 UTC", "production planning: on",
                  "machine failures: drawn"):
        assert words in res.stdout, res.stdout


def test_loop_and_cli_build_the_replenisher_in_one_place(tmp_path):
    net = load_network(example_path("tiny"))
    policy = default_policy()
    with open_store(f"sqlite:///{tmp_path / 'x.db'}") as st:
        loop = Loop(st, net, policy)
    made = live_replenisher(net, policy)
    for a in ("release_hour", "max_review_days", "plan_production", "echelon_demand", "budget_per_day",
              "upstream_cycle_days"):
        assert getattr(loop.replenisher, a) == getattr(made, a), a
    assert made.release_hour == 5  # the packaged policy's quiet hours end at 05:00
    later = load_policy("kinds:\n  replenish:\n    level: auto\n    guardrails:\n"
                        "      quiet_hours: {start: '22:00', end: '07:00'}\nbudget_per_day: 9000\n")
    r = live_replenisher(net, later)
    assert (r.release_hour, r.budget_per_day) == (7, 9000)
    assert live_replenisher(net, load_policy("high_impact_cost: 100\n")).release_hour == 6  # no quiet hours
    plain = live_replenisher(net, policy, release_hour=None, plan_production=False)
    assert plain.release_plan() == {} and not plain.echelon_demand and not plain.lines


def test_machine_risk_from_a_rul_alert():
    net = load_network(example_path("tiny"))
    risks, why = rul_risks(net, {"OVEN-1": {"low": 48.0, "median": 96.0, "high": 240.0, "level": 0.8,
                                            "unit": "cycles"}})
    r = risks["OVEN-1"]
    assert why["drawn"] and np.median(r.rul_days) == pytest.approx(4.0, rel=0.02)  # 96 cycles of an hour
    assert np.quantile(r.rul_days, 0.1) == pytest.approx(2.0, rel=0.05)
    assert np.quantile(r.rul_days, 0.9) == pytest.approx(10.0, rel=0.05)
    assert r.rul_days.min() >= 0
    # the alert's quantiles, when it carries them, are the distribution (in days at an hour a cycle)
    grid = [float(x) for x in range(24, 504, 24)]
    risks, why = rul_risks(net, {"OVEN-1": {"low": 48.0, "median": 96.0, "high": 240.0, "level": 0.8,
                                            "quantiles": grid[::-1]}})
    assert why["from_quantiles"] == 1 and list(risks["OVEN-1"].rul_days) == pytest.approx([g / 24 for g in grid])
    for junk in ([-1.0, 2.0], [], ["a"], "24,48", [float("nan")]):  # not a distribution: the split normal
        risks, why = rul_risks(net, {"OVEN-1": {"low": 48.0, "median": 96.0, "high": 240.0, "quantiles": junk}})
        assert why["from_quantiles"] == 0 and len(risks["OVEN-1"].rul_days) == 200, junk
    none, why = rul_risks(net, {})
    assert none == {} and not why["drawn"] and "no RUL forecast" in why["why"]
    junk, _ = rul_risks(net, {"OVEN-1": {"low": "x", "median": 1.0, "high": 2.0}})
    assert junk == {}
    backwards, _ = rul_risks(net, {"OVEN-1": {"low": 9.0, "median": 1.0, "high": 2.0}})
    assert backwards == {}


# ----------------------------------------------------------------------------- the CLI on a small store
def _events(n_days: int = 2) -> list:
    ev, seq = [], iter(range(1, 10_000))
    for site, sku, q in (("DC-1", "BREAD-800G", 900), ("DC-1", "MILK-2L", 640), ("STORE-1", "BREAD-800G", 75),
                         ("STORE-1", "MILK-2L", 52), ("STORE-2", "BREAD-800G", 110), ("STORE-2", "MILK-2L", 93),
                         ("PLANT-1", "BREAD-800G", 210), ("PLANT-1", "FLOUR-25KG", 17)):
        ev.append(StockCount(source="t", seq=next(seq), ts=T0, site=site, sku=sku, quantity=q, method="manual"))
    for d in range(n_days):
        for site in ("STORE-1", "STORE-2"):
            ev.append(Sale(source="t", seq=next(seq), ts=T0 + timedelta(days=d, hours=6), site=site,
                           sku="BREAD-800G", quantity=20))
    return ev


@pytest.fixture()
def small_store(tmp_path):
    path = tmp_path / "live.db"
    with open_store(f"sqlite:///{path}") as st:
        st.brain.record_network(Path(example_path("tiny")).read_text(encoding="utf-8"), "tiny")
        st.log.append(_events())
    return path


def _rules(res):
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["meta"]["rules"]


def test_the_policy_is_the_one_run_would_use(small_store, tmp_path):
    url = f"sqlite:///{small_store}"
    args = ("--from-live", "--store", url, "--horizon", "2", "--replications", "4", "--json")
    rules = _rules(_simulate(*args))
    assert rules["autonomy_policy"] == "packaged example" and rules["release_schedule"]["release_hour_utc"] == 5
    # the control tower's stored policy: quiet hours to 07:00, a budget
    stored = {"budget_per_day": 5000, "kinds": {"replenish": {"level": "auto", "guardrails": {
        "quiet_hours": {"start": "21:00", "end": "07:00"}}}}}
    with open_store(url) as st:
        st.decisions.put_setting("autonomy_policy", json.dumps(stored), ("admin:a", "policy.update", {}))
    rules = _rules(_simulate(*args))
    assert rules["autonomy_policy"] == "stored" and rules["release_schedule"]["release_hour_utc"] == 7
    assert rules["budget_per_day"] == 5000
    # --policy FILE wins, as with run
    f = tmp_path / "p.yaml"
    f.write_text("kinds:\n  replenish:\n    level: auto\n    guardrails:\n      quiet_hours: {start: '20:00', "
                 "end: '04:00'}\n")
    rules = _rules(_simulate(*args, "--policy", str(f)))
    assert rules["autonomy_policy"] == f"file {f}" and rules["release_schedule"]["release_hour_utc"] == 4
    # a store whose log has no rul alert: no failure drawn, and the notes say why
    res = _simulate(*args)
    meta = json.loads(res.stdout)["meta"]
    assert meta["rules"]["failures"]["drawn"] is False
    assert any("machine failures not drawn" in n for n in meta["notes"])
    assert "machines_failure_risk" not in meta
    assert any("record no release" in n for n in meta["notes"])


def test_bad_policies_are_one_line(small_store, tmp_path):
    url = f"sqlite:///{small_store}"
    args = ("--from-live", "--store", url, "--horizon", "2", "--replications", "4")
    _one_line_error(_simulate(*args, "--policy", str(tmp_path / "none.yaml")), "--policy", "no such file")
    _one_line_error(_simulate(*args, "--policy", str(tmp_path)), "--policy", "folder")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kinds: [1, 2\n")  # the YAML parser's message spans several lines
    _one_line_error(_simulate(*args, "--policy", str(bad)), "--policy", "not valid YAML")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("kinds: {replenish: {level: sometimes}}\n")
    _one_line_error(_simulate(*args, "--policy", str(wrong)), "--policy", "kinds.replenish.level")
    _one_line_error(_simulate(*args, "--policy", str(example_path("tiny"))), "--policy", "Extra inputs")
    # --policy belongs to the prediction only
    _one_line_error(_simulate("--network", str(example_path("tiny")), "--horizon", "2", "--policy", str(wrong)),
                    "--policy applies only")
    # a stored policy that is not JSON
    with open_store(url) as st:
        st.decisions.put_setting("autonomy_policy", "{not json", ("admin:a", "policy.update", {}))
    _one_line_error(_simulate(*args), "stored autonomy policy")


def test_junk_numbers_and_times_are_one_line(small_store):
    url = f"sqlite:///{small_store}"
    base = ("--from-live", "--store", url)
    for flag, value in (("--horizon", "abc"), ("--horizon", "0"), ("--horizon", "-3"), ("--horizon", "1e9"),
                        ("--horizon", "nan"), ("--horizon", "3651"), ("--replications", "x"),
                        ("--replications", "0"), ("--replications", "1"), ("--replications", "9" * 20),
                        ("--seed", "-1")):
        _one_line_error(_simulate(*base, flag, value), flag.lstrip("-")[:4])
    _one_line_error(_simulate(*base, "--horizon", "2", "--at", "1990-01-01T00:00:00Z"), "no events")
    # a time so late the horizon runs past the calendar (was an OverflowError from the engine's calendar)
    _one_line_error(_simulate(*base, "--horizon", "2", "--replications", "4", "--at", "9999-12-31T23:00:00Z"),
                    "--at", "calendar")


def test_a_store_of_another_network_is_refused(small_store, tmp_path):
    other = tmp_path / "other.db"
    with open_store(f"sqlite:///{small_store}", readonly=True) as st:
        events = [r.event for r in st.log.read(order="offset")]
    with open_store(f"sqlite:///{other}") as st:  # the realistic network recorded, the tiny world's events logged
        st.brain.record_network(Path(example_path("realistic")).read_text(encoding="utf-8"), "realistic")
        st.log.append(events)
    _one_line_error(_simulate("--from-live", "--store", f"sqlite:///{other}", "--horizon", "2", "--replications", "4"),
                    "another network's", "STORE-1")


def test_the_prediction_writes_nothing_to_the_store(small_store):
    """The prediction reads the store (opened read-only): no network recorded again, no checkpoint, no decision."""
    import hashlib

    def digest():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                for p in small_store.parent.iterdir() if p.name.startswith(small_store.name) and p.stat().st_size}

    before = digest()
    res = _simulate("--from-live", "--store", f"sqlite:///{small_store}", "--horizon", "2", "--replications", "4",
                    "--json")
    assert res.exit_code == 0, res.output
    assert digest() == before
