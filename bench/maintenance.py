"""Benchmark of predictive maintenance (issue 5). Run: .venv/bin/python bench/maintenance.py

RUL: :class:`supplynet.sense.health.rul.RulModel` trained on train_FD00x (timed: ``train_seconds``), scored
on the test units' last cycles: RMSE against the raw RUL file and against truth capped at 125,
PHM08 score (capped truth), coverage of the 80% conformal interval (capped truth).

Cost: the test units of FD001-3 replayed as one fleet (459 engines). Costs: preventive 1, failure 10
(so p* = 0.1), lost life 1/mean training life per cycle (a preventive renewal's cost spread over a
life), lead time 5 cycles, a maintenance opportunity every 10 cycles (horizon 15). Policies:
- risk: at every observed cycle the decision rule of :mod:`supplynet.decide.maintain` (Wilson lower
  bound of P(RUL <= horizon) > p*); the first trigger schedules maintenance ``lead`` cycles later.
  If the observed data end without a trigger (test units stop before failure), the last forecast is
  aged without new data until the rule would trigger (the work order's planned window);
- run-to-failure: every engine fails;
- fixed interval: maintenance at the age A that minimises the expected cost on the training lives;
- oracle: preventive action exactly at failure (cost 1, no lost life).
``oracle_savings_share`` = (RTF - risk) / (RTF - oracle).

``--quick``: FD001 and the bearing only (no fleet costs), for tests/test_bench_quick.py.

Bearing: FEMTO Bearing3_1, per-snapshot log RMS and log peak of both channels, health baseline from
the first 50 snapshots (8 min), one-sided score, CUSUM onset; seconds from onset to the last
snapshot, and whether any alarm fired in the first half of the run (it must not).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from supplynet.datasets.cmapss import load_cmapss  # noqa: E402
from supplynet.datasets.femto import load_femto_run  # noqa: E402
from supplynet.decide.maintain import MaintenancePolicy, significant  # noqa: E402
from supplynet.sense.health.features import snapshot_features  # noqa: E402
from supplynet.sense.health.health import detect_onset  # noqa: E402
from supplynet.sense.health.rul import RulModel, evaluate_last_cycle, rul_targets  # noqa: E402

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", ROOT.parent / "shared" / "data"))
SUBSETS = ("FD001", "FD002", "FD003")
POLICY = MaintenancePolicy(preventive_cost=1.0, failure_cost=10.0, lead_time=5, opportunity_interval=10)


def fleet_costs(model: RulModel, ds, policy: MaintenancePolicy, life_cost: float) -> dict[str, np.ndarray]:
    """Per test unit: cost under the risk policy; failure age; last observed age."""
    x, units, times = model.features(ds.test)
    point = model.predict_features(x)
    n_cal = np.array([len(r) for r in model.residuals_])[model._bins(point)]
    act = significant(model.prob_fail_before(point, policy.horizon), n_cal, policy)
    uniq = np.unique(units)
    cost, fail_age, seen = np.zeros(len(uniq)), np.zeros(len(uniq)), np.zeros(len(uniq))
    for i, u in enumerate(uniq):
        rows = np.flatnonzero(units == u)
        last_age = float(times[rows[-1]])
        f = last_age + float(ds.rul[i])
        hit = np.flatnonzero(act[rows])
        if len(hit):
            t_act = float(times[rows[hit[0]]])
        else:  # no new data after the last cycle: age the last forecast until the rule triggers
            p_last, n_last = point[rows[-1]], n_cal[rows[-1]]
            ahead = np.arange(1, 400, dtype=float)
            pf = model.prob_fail_before(np.full(len(ahead), p_last), ahead + policy.horizon)
            trig = np.flatnonzero(significant(pf, n_last, policy))
            t_act = last_age + (ahead[trig[0]] if len(trig) else 400.0)
        t_maint = t_act + policy.lead_time
        cost[i] = policy.failure_cost if t_maint >= f else policy.preventive_cost + life_cost * (f - t_maint)
        fail_age[i], seen[i] = f, last_age
    return {"risk": cost, "fail_age": fail_age, "seen": seen}


def fixed_interval(train_lives: np.ndarray, policy: MaintenancePolicy, life_cost: float) -> float:
    """Age A minimising the mean cost on the training lives (maintenance at A, failure if life <= A)."""
    ages = np.arange(1, int(train_lives.max()) + 1, dtype=float)
    lives = train_lives[None, :]
    c = np.where(lives <= ages[:, None], policy.failure_cost,
                 policy.preventive_cost + life_cost * (lives - ages[:, None])).mean(axis=1)
    return float(ages[np.argmin(c)])


def fleet_shares(trained: list, policy: MaintenancePolicy) -> dict[str, object]:
    """Costs of the four policies over the pooled test fleets, and the shares of the oracle's savings."""
    fleet: dict[str, list[np.ndarray]] = {"risk": [], "rtf": [], "fixed": [], "oracle": []}
    per: dict[str, object] = {}
    for sub, model, ds in trained:
        lives = (rul_targets(ds.train["unit"].to_numpy(), ds.train["cycle"].to_numpy(), None)
                 + ds.train["cycle"].to_numpy())
        train_lives = np.unique(np.c_[ds.train["unit"].to_numpy(), lives], axis=0)[:, 1]
        life_cost = policy.preventive_cost / float(train_lives.mean())
        fc = fleet_costs(model, ds, policy, life_cost)
        a = fixed_interval(train_lives, policy, life_cost)
        f = fc["fail_age"]
        fleet["risk"].append(fc["risk"])
        fleet["rtf"].append(np.full(len(f), policy.failure_cost))
        fleet["fixed"].append(np.where(f <= a, policy.failure_cost, policy.preventive_cost + life_cost * (f - a)))
        fleet["oracle"].append(np.full(len(f), policy.preventive_cost))
        per[sub] = {"fixed_interval_age": a, "risk_failures": int((fc["risk"] >= policy.failure_cost).sum()),
                    "units": len(f), **{k: round(float(np.sum(v[-1])), 2) for k, v in fleet.items()}}
    total = {k: float(np.sum(np.concatenate(v))) for k, v in fleet.items()}
    gap = total["rtf"] - total["oracle"]
    return {"risk_share": round((total["rtf"] - total["risk"]) / gap, 3),
            "fixed_share": round((total["rtf"] - total["fixed"]) / gap, 3),
            "total_cost": {k: round(v, 2) for k, v in total.items()}, "per_subset": per}


def main() -> None:
    quick = "--quick" in sys.argv[1:]  # FD001 and the bearing only: no fleet costs
    figures: dict[str, float | None] = {}
    notes: dict[str, object] = {"quick": quick}
    cmapss = DATA / "cmapss"
    trained = []
    for sub in SUBSETS[:1] if quick else SUBSETS:
        ds = load_cmapss(cmapss, sub)
        t0 = time.perf_counter()
        model = RulModel(seed=0).fit(ds.train)
        figures[f"train_seconds_{sub}"] = round(time.perf_counter() - t0, 2)
        res = evaluate_last_cycle(model, ds.test, ds.rul, level=0.8)
        figures[f"rmse_capped_{sub}"] = round(res["rmse_capped"], 3)
        figures[f"rmse_{sub}"] = round(res["rmse"], 3)
        figures[f"phm08_{sub}"] = round(res["phm08_score"], 1)
        figures[f"coverage80_{sub}"] = round(res["interval_coverage"], 3)
        notes[f"{sub}_extra"] = {"phm08_raw_truth": round(res["phm08_score_raw"], 1),
                                 "interval_width": round(res["interval_width"], 2),
                                 "regimes": model.normalizer_.conditions.k}
        trained.append((sub, model, ds))
        print(sub, figures, flush=True)
    if quick:
        notes["fleet"] = "not run (--quick)"
    else:
        fleet_figures(trained, figures, notes)
    bearing(figures, notes)
    targets = {
        "rmse_capped_FD001": "<= 11.5", "rmse_capped_FD003": "<= 11.5", "rmse_capped_FD002": "<= 12.0",
        "coverage80_FD00x": "0.75-0.85", "train_seconds_FD00x": "< 60", "oracle_savings_share": ">= 0.70",
        "bearing_onset_seconds_before_failure": "> 0, no alarm in the first half",
    }
    write_result("maintenance", figures, targets, notes)


def fleet_figures(trained: list, figures: dict, notes: dict) -> None:
    main_run = fleet_shares(trained, POLICY)
    figures["oracle_savings_share"] = main_run["risk_share"]
    notes["fleet"] = main_run
    # sensitivity: other cost ratios and a longer lead time (not figures; for honesty about the setting)
    notes["fleet_sensitivity"] = {
        name: {k: v for k, v in fleet_shares(trained, pol).items() if k in ("risk_share", "fixed_share")}
        for name, pol in {
            "failure_cost_5": MaintenancePolicy(preventive_cost=1.0, failure_cost=5.0, lead_time=5,
                                                opportunity_interval=10),
            "failure_cost_30": MaintenancePolicy(preventive_cost=1.0, failure_cost=30.0, lead_time=5,
                                                 opportunity_interval=10),
            "lead_20_interval_20": MaintenancePolicy(preventive_cost=1.0, failure_cost=10.0, lead_time=20,
                                                     opportunity_interval=20),
        }.items()}


def bearing(figures: dict, notes: dict) -> None:
    run = load_femto_run(DATA / "femto-pronostia" / "Learning_set" / "Bearing3_1")
    feats, names = snapshot_features(run)
    cols = [names.index(n) for n in ("h_rms", "h_peak", "v_rms", "v_peak")]
    onset, _ = detect_onset(feats[:, cols], n_baseline=50, one_sided=True)
    half = len(run.times_s) // 2
    figures["bearing_onset_seconds_before_failure"] = (
        float(run.times_s[-1] - run.times_s[onset]) if onset is not None else None)
    notes["bearing"] = {"onset_snapshot": onset, "snapshots": len(run.times_s),
                        "alarm_in_first_half": onset is not None and onset < half}


if __name__ == "__main__":
    main()
