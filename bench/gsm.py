"""Benchmark of guaranteed-service safety-stock placement (issue 6). Run: .venv/bin/python bench/gsm.py

The 38 real chains of Willems (2008) (``../shared/data/willems2008``, or $SUPPLYNET_DATA_DIR),
each compared with ``reported_optimal_cost.txt``.

Sources of the reference figures (read from public code that uses these very files):
- ``reported_optimal_cost.txt``: the optimal costs of Humair & Willems (2011), "Optimizing strategic
  safety stock placement in general acyclic networks", Operations Research 59(3) (the SNC code that
  made the CSVs says "Optimal cost from DAG paper" with that reference). Three significant figures.
- ``optimal_inventory_levels.csv``: total safety and total stock of Humair, Ruark, Tomlin &
  Willems (2013), Interfaces 43(5), for 12 chains with stochastic lead times, solved with the
  stochastic lead time, its mean, or its maximum (``LT`` column).
- The CSVs: SNC's ``convert_excel_to_csv.py`` (stochasticnetworkcontrol/snc) from the MSOM Excel
  file: ``lead_time = stageTime`` (the mean; ``stdDev stageTime`` and the discrete distributions
  ``stageTime_k`` are dropped), ``cost_rate = stageCost`` (cost added at the stage), every arc
  written with quantity 1 (the source's arc sheet has no quantities), ``risk_pool = 2`` on internal
  stages, ``ext_demand_thres = round(norm.ppf(serviceLevel), 3)``.

Cost conventions (how they were established is in ``notes.conventions``):
- holding cost of stage j = rate x cumulative cost (own added cost plus its suppliers' cumulative
  costs, quantity 1 per arc); safety stock ``z sigma_j sqrt(tau_j)``, demand only at leaf stages
  (true of all 38 chains), internal stages pool independent demands (``sigma_j`` = root of the sum
  of squares, risk pool 2); demand stages quote at most ``maxServiceTime``, others unconstrained.
- ``z`` = the exact quantile of the service level: the CSV's 3-decimal z is mapped back to its
  service level (:func:`supplynet.policy.gsm.service_level_of_rounded_z`).
- rate = 0.35. Not stated in any source reachable here; it is the one constant consistent with
  the published costs of the chains with deterministic lead times (``notes.rate_intervals``).

Solvers: :func:`supplynet.policy.gsm.solve` on every chain (none of the 38 is a tree): integer lead
times go to the exact solver (Graves-Willems DP folds the tree-shaped parts, an exact
``(S, SI)``-pair model of the 2-core solved by HiGHS proves optimality); fractional (mean) lead
times to the iterative piecewise-linear MILP (Magnanti et al. 2006).

Coverage: a chain is covered when none of its lead times is stochastic in the source (counts from
the folder's ``snc_summary_notes.txt``, topology section). The published optimum of the others
includes the lead-time variability that the CSV does not carry; each is listed with its count and
how far below the published cost our mean-lead-time optimum lies. As an independent check of the
model on them, ``notes.mean_lead_time_reference`` compares our total safety stock with the
"mean lead time" rows of ``optimal_inventory_levels.csv``.

Precision: the reported costs have three significant figures (a rounding interval of +-0.05% to
+-0.5%). ``gsm_chains_within_0_1pct`` counts the strict 0.1% criterion only;
``notes.covered_within_rounding`` counts the chains whose cost rounds to the published figure.

Figures: gsm_chains_within_0_1pct, gsm_chains_covered, gsm_706_seconds (willems_31.csv, 706
stages: read + build + solve).

Re-validation (``notes.revalidation``): the rate and the pooling rule were fitted to the very costs
they are scored against; :func:`revalidate` fits the rate on some chains and scores the others
(leave one chain out; odd- against even-numbered chains), with p = 2 and with p = 1.

Outcome when measured (2026-12-07, load 15, 7 plain chains): the rate fitted on the other chains is
0.3499-0.3501 whichever chain is left out; held out with p = 2, 2 of 7 chains land within 0.1% and
3 within their rounding (odd-fitted on even: 2 of 2 within 0.1%; even-fitted on odd: 1 of 5 within
0.1%, 4 within rounding). With p = 1 the implied rates scatter (0.23-0.34) and no held-out chain
lands within rounding (errors up to 27%): the rate is stable across chains and the pooling rule is
supported out of sample, though the 0.1% criterion is met on fewer chains held out than in sample.

``--quick``: chains 2, 4, 17 and 31 at 10 s each, no re-validation (tests/test_bench_quick.py).
"""

from __future__ import annotations

import argparse
import ast
import csv
import math
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _common import write_result  # noqa: E402

from supplynet.model.willems import read_reported_costs, willems_dir  # noqa: E402
from supplynet.policy import gsm  # noqa: E402

HOLDING_RATE = 0.35
Z_DECIMALS = 3  # the CSV conversion wrote round(norm.ppf(serviceLevel), 3)
SIG_FIGS = 3  # of the published costs
#: --quick: small chains SNC's notes also solve (2, 4, 17) and the 706-stage chain 31
QUICK_CHAINS = (2, 4, 17, 31)


def topology(folder: Path) -> dict[int, dict[str, int]]:
    """Per chain: stages with a stochastic lead time (and as a discrete distribution), from the
    topology section of the SNC notes."""
    out: dict[int, dict[str, int]] = {}
    notes = folder / "snc_summary_notes.txt"
    if not notes.exists():
        return out
    section = notes.read_text().split("Topology", 1)[-1]
    for m in re.finditer(r"^(\d+) (\{.*\})$", section, flags=re.M):
        out[int(m.group(1))] = {k: int(v) for k, v in ast.literal_eval(m.group(2)).items()}
    return out


def stochastic_stages(folder: Path) -> dict[int, int]:
    """Stages with a stochastic lead time per chain (see :func:`topology`)."""
    return {c: t["stages_with_stoch_lead"] for c, t in topology(folder).items()}


def mean_lt_safety_stock(folder: Path) -> dict[int, float]:
    """Total safety stock with mean lead times (Humair et al. 2013), per chain."""
    path = folder / "optimal_inventory_levels.csv"
    if not path.exists():
        return {}
    with path.open(newline="") as f:
        return {
            int(r["SupplyChain"]): float(r["SafetyStock"]) for r in csv.DictReader(f) if r["LT"] == "mean"
        }


def rounding_unit(reported: float) -> float:
    """One unit in the last of ``SIG_FIGS`` significant figures of a published cost."""
    return 10.0 ** (math.floor(math.log10(reported)) - (SIG_FIGS - 1))


def build(path: Path, z_decimals: int | None = Z_DECIMALS) -> gsm.GsmProblem:
    return gsm.GsmProblem.from_stages(
        gsm.willems_rows(path), holding_rate=HOLDING_RATE, z_decimals=z_decimals
    )


def solve_chain(path: Path, budget: float) -> tuple[gsm.GsmProblem, gsm.GsmSolution, float]:
    """Read, build and solve one chain; seconds include all three."""
    t0 = time.perf_counter()
    pr = build(path)
    sol = gsm.solve(pr, time_limit=budget)
    return pr, sol, time.perf_counter() - t0


def convention_variants(path: Path, reported: float, budget: float) -> dict[str, float]:
    """Holding rate each alternative convention would need to meet the published cost
    (``reported / rate-1 optimum``): how far other readings of the data move a chain."""
    import dataclasses

    rows = gsm.willems_rows(path)
    demand = {r.id for r in rows if r.demand_mean is not None}

    def rate(stages, **kw) -> float:
        pr = gsm.GsmProblem.from_stages(stages, holding_rate=1.0, z_decimals=Z_DECIMALS, **kw)
        return reported / gsm.solve(pr, time_limit=budget).cost

    return {
        "as_read": rate(rows),
        "csv_rounded_z": reported
        / gsm.solve(gsm.GsmProblem.from_stages(rows, holding_rate=1.0), time_limit=budget).cost,
        "max_service_0_at_demand_stages": rate(
            [dataclasses.replace(r, max_service_time=0.0) if r.id in demand else r for r in rows]
        ),
        "demand_stage_lead_time_0": rate(
            [dataclasses.replace(r, lead_time=0.0) if r.id in demand else r for r in rows]
        ),
        "pooling_by_sum_p1": rate(
            [dataclasses.replace(r, risk_pool=None) for r in rows], default_risk_pool=1.0
        ),
    }


def _why_not_within(r: dict) -> str:
    """A one-line reason for a covered chain outside 0.1% (from its own figures)."""
    sign = "above" if r["cost"] > r["reported"] else "below"
    head = "proven optimum" if r["status"] == "optimal" else f"best found ({r['status']})"
    pct = f"{100 * r['rel_diff']:.3f}%"
    if r["power_of_ten"]:
        k = r["power_of_ten"]
        return (
            f"{head}; the published cost is 10^{k} x ours to {100 * r['rel_diff_after_power_of_ten']:.3f}%: "
            "a unit or transcription difference of 10^k that no documented convention explains; not counted"
        )
    if r["within_rounding"]:
        return (
            f"{head} {pct} {sign} the published cost but inside its rounding interval (+-"
            f"{100 * r['rounding_half_width']:.3f}%): three significant figures do not resolve 0.1%"
        )
    return (
        f"{head} {pct} {sign} the published cost, outside its rounding interval (+-"
        f"{100 * r['rounding_half_width']:.3f}%; holding rate {r['implied_rate_interval'][0]:.5f}-"
        f"{r['implied_rate_interval'][1]:.5f} would be needed): not reproduced; 'variants' gives the rate "
        "other readings of the data would need and whether 0.35 is inside its rounding interval"
    )


def _held_out(costs_rate1: dict[int, float], reported: dict[int, float], fit: list[int], test: list[int]) -> dict:
    """Fit the holding rate on ``fit`` (median of reported / rate-1 optimum) and score ``test`` with it."""
    rate = float(np.median([reported[c] / costs_rate1[c] for c in fit]))
    rel = {c: abs(rate * costs_rate1[c] - reported[c]) / reported[c] for c in test}
    rnd = [c for c in test if abs(rate * costs_rate1[c] - reported[c]) <= rounding_unit(reported[c]) / 2]
    return {"rate": round(rate, 5), "held_out": len(test), "within_0_1pct": sum(v <= 1e-3 for v in rel.values()),
            "within_rounding": len(rnd), "max_rel_diff": round(max(rel.values()), 5) if rel else None}


def revalidate(plain: list[dict], folder: Path, budget: float) -> dict:
    """The holding rate (0.35) and the pooling rule (p = 2) were fitted to the published costs they
    are scored against. Judge both on chains they were not fitted on: leave one chain out (the rate
    fitted on the other plain covered chains scores the one left out) and two halves (odd- and
    even-numbered chains, each fitted on the other); the same with pooling by plain sums (p = 1),
    solved here for the same chains."""
    import dataclasses

    reported = {r["chain"]: r["reported"] for r in plain}
    chains = sorted(reported)
    out: dict = {"chains": chains}
    costs: dict[str, dict[int, float]] = {"p2_root_sum_of_squares": {r["chain"]: r["cost"] / HOLDING_RATE
                                                                      for r in plain}}
    p1: dict[int, float] = {}
    for c in chains:
        rows = [dataclasses.replace(r, risk_pool=None) for r in gsm.willems_rows(folder / f"willems_{c:02d}.csv")]
        pr = gsm.GsmProblem.from_stages(rows, holding_rate=1.0, z_decimals=Z_DECIMALS, default_risk_pool=1.0)
        p1[c] = gsm.solve(pr, time_limit=budget).cost
    costs["p1_plain_sum"] = p1
    for name, cost1 in costs.items():
        loo = [_held_out(cost1, reported, [d for d in chains if d != c], [c]) for c in chains]
        odd, even = [c for c in chains if c % 2], [c for c in chains if not c % 2]
        implied = [reported[c] / cost1[c] for c in chains]
        out[name] = {
            "implied_rate_range": [round(min(implied), 5), round(max(implied), 5)],
            "leave_one_out": {"within_0_1pct": sum(x["within_0_1pct"] for x in loo),
                              "within_rounding": sum(x["within_rounding"] for x in loo), "of": len(chains),
                              "rates_fitted": [min(x["rate"] for x in loo), max(x["rate"] for x in loo)]},
            "fit_odd_score_even": _held_out(cost1, reported, odd, even),
            "fit_even_score_odd": _held_out(cost1, reported, even, odd),
        }
    return out


def strict_rate_feasibility(plain: list[dict]) -> dict:
    """Whether ANY single holding rate puts every plain covered chain within 0.1% of its published cost.

    The optimal service times do not depend on the rate (every holding cost scales with it), so chain
    c is within 0.1% exactly for rates in ``rate x [0.999, 1.001] x published / cost``. The most chains
    one rate can satisfy is the deepest overlap of these intervals (swept over their end points)."""
    iv = {r["chain"]: (HOLDING_RATE * 0.999 * r["reported"] / r["cost"], HOLDING_RATE * 1.001 * r["reported"] / r["cost"])
          for r in plain if r["cost"]}
    best: tuple[int, float, list[int]] = (0, HOLDING_RATE, [])
    for rate in sorted({e for lo_hi in iv.values() for e in lo_hi}):
        ok = [c for c, (lo, hi) in iv.items() if lo - 1e-12 <= rate <= hi + 1e-12]
        if len(ok) > best[0]:
            best = (len(ok), rate, ok)
    return {
        "note": ("holding rates for which each plain covered chain's proven optimum is within 0.1% of its "
                 "published cost; max_chains_one_rate is the most chains any single rate satisfies"),
        "per_chain": {c: [round(lo, 6), round(hi, 6)] for c, (lo, hi) in iv.items()},
        "max_chains_one_rate": best[0],
        "at_rate": round(best[1], 6),
        "chains_at_that_rate": best[2],
        "of": len(iv),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per covered chain")
    ap.add_argument("--budget-other", type=float, default=30.0, help="seconds per chain not covered")
    ap.add_argument(
        "--budget-reference",
        type=float,
        default=90.0,
        help="seconds per chain with a mean-lead-time stock reference (needs the optimum)",
    )
    ap.add_argument("--chains", type=str, default="", help="comma-separated chain numbers (default all)")
    ap.add_argument("--quick", action="store_true",
                    help=f"chains {','.join(map(str, QUICK_CHAINS))} only, 10 s per chain, no re-validation")
    args = ap.parse_args()
    if args.quick:
        args.chains = args.chains or ",".join(map(str, QUICK_CHAINS))
        args.budget = args.budget_other = args.budget_reference = 10.0
    folder = willems_dir(os.environ.get("SUPPLYNET_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
    if not folder.exists():
        sys.exit(f"data folder not found: {folder} (set SUPPLYNET_DATA_DIR)")
    reported = read_reported_costs(folder / "reported_optimal_cost.txt")
    topo = topology(folder)
    ss_ref = mean_lt_safety_stock(folder)
    chains = [int(c) for c in args.chains.split(",") if c] or sorted(reported)
    rows = []
    seconds_706 = None
    t_all = time.perf_counter()
    for c in chains:
        path = folder / f"willems_{c:02d}.csv"
        t = topo.get(c)
        covered = t is not None and t["stages_with_stoch_lead"] == 0
        budget = args.budget if covered else args.budget_reference if c in ss_ref else args.budget_other
        pr, sol, secs = solve_chain(path, budget)
        if pr.n == 706:
            seconds_706 = secs
        rep = reported[c]
        rel = abs(sol.cost - rep) / rep
        unit = rounding_unit(rep)
        status = sol.info.get("status", "optimal")
        # the same service times priced with the CSV's rounded z (for the z convention's effect)
        cost_csv_z = build(path, z_decimals=None).cost(sol.service)
        ratio = rep / sol.cost if sol.cost else math.inf
        k = round(math.log10(ratio)) if 0 < ratio < math.inf else 0
        rel_k = abs(sol.cost * 10**k - rep) / rep if k else rel
        row = {
            "chain": c,
            "stages": pr.n,
            "arcs": int(len(pr.edges)),
            "tree": pr.is_tree(),
            "integer_lead_times": bool(all(float(x).is_integer() for x in pr.lead_time)),
            "stochastic_lead_stages": None if t is None else t["stages_with_stoch_lead"],
            "distribution_lead_stages": None if t is None else t["stages_with_broken_down_stoch_lead"],
            "covered": covered,
            "method": sol.method,
            "status": status,
            "cost": round(sol.cost, 2),
            "lower_bound": round(sol.lower_bound, 2),
            "gap": (sol.cost - sol.lower_bound) / sol.cost if sol.cost else 0.0,
            "reported": rep,
            "rel_diff": rel,
            "ratio_reported_to_ours": ratio,
            "within_0_1pct": rel <= 1e-3,
            "rounding_half_width": unit / 2 / rep,
            "within_rounding": abs(sol.cost - rep) <= unit / 2,
            "power_of_ten": k if (k != 0 and rel_k <= 1e-3) else 0,
            "rel_diff_after_power_of_ten": rel_k,
            "cost_csv_rounded_z_same_service_times": round(cost_csv_z, 2),
            "implied_rate_interval": [
                HOLDING_RATE * (rep - unit / 2) / sol.cost,
                HOLDING_RATE * (rep + unit / 2) / sol.cost,
            ]
            if sol.cost
            else None,
            "seconds": round(secs, 3),
        }
        if c in ss_ref:
            ss = float(sol.safety_stock(pr).sum())
            row["mean_lt_safety_stock"] = {
                "ours": round(ss, 3),
                "ours_floor": math.floor(ss + 1e-6),
                "published": ss_ref[c],
                "rel_diff": (math.floor(ss + 1e-6) - ss_ref[c]) / ss_ref[c],
                "ours_status": status,
            }
        if not covered:
            if t is None:
                row["not_covered_reason"] = (
                    "stochastic lead-time count unknown (snc_summary_notes.txt missing)"
                )
            else:
                below = (rep - sol.cost) / rep
                bound = "optimum" if status == "optimal" else f"best found, {status}"
                dist = t["stages_with_broken_down_stoch_lead"]
                head = (
                    f"{t['stages_with_stoch_lead']} of {pr.n} stages have a stochastic lead time in the source"
                    + (f" ({dist} as a discrete distribution)" if dist else "")
                )
                if below > 0:
                    tail = (
                        "; the CSV keeps only the mean and the published optimum includes the variability: "
                        f"our mean-lead-time cost ({bound}) is {100 * below:.1f}% below it"
                    )
                elif status == "optimal":
                    tail = (
                        "; the CSV keeps only the mean. Our mean-lead-time optimum is "
                        f"{100 * -below:.0f}% ABOVE the published cost, so lead-time variability alone does "
                        "not explain the gap: the published run differs from the CSV in costs or demand too"
                    )
                else:
                    tail = (
                        "; the CSV keeps only the mean. Our mean-lead-time solution "
                        f"({bound}, not proven) is {100 * -below:.1f}% above the published cost"
                    )
                row["not_covered_reason"] = head + tail
        rows.append(row)
        print(
            f"chain {c:2d} n={pr.n:4d} {status:10s} cost={sol.cost:14.1f} reported={rep:12.0f} "
            f"diff={100 * rel:8.3f}% gap={100 * row['gap']:.3f}% {secs:6.2f}s "
            f"{'covered' if covered else 'not covered'}",
            file=sys.stderr,
            flush=True,
        )
    cov = [r for r in rows if r["covered"]]
    within = [r for r in cov if r["within_0_1pct"]]
    figures = {
        "gsm_chains_within_0_1pct": len(within),
        "gsm_chains_covered": len(cov),
        "gsm_706_seconds": round(seconds_706, 3) if seconds_706 is not None else None,
    }
    targets = {"gsm_chains_within_0_1pct": "equal to gsm_chains_covered", "gsm_706_seconds": "< 10"}
    plain = [r for r in cov if not r["power_of_ten"] and r["status"] == "optimal"]
    refs = [r for r in rows if "mean_lt_safety_stock" in r]
    variants = {}
    for r in cov:
        if not r["within_rounding"] and not r["power_of_ten"]:
            hw = r["rounding_half_width"]
            found = convention_variants(folder / f"willems_{r['chain']:02d}.csv", r["reported"], args.budget)
            variants[r["chain"]] = {
                name: {"rate": v, "admits_0_35": v * (1 - hw) <= HOLDING_RATE <= v * (1 + hw)}
                for name, v in found.items()
            }
    notes = {
        "holding_rate": HOLDING_RATE,
        "covered_chains": [r["chain"] for r in cov],
        "covered_within_0_1pct": [r["chain"] for r in within],
        "covered_within_rounding": [r["chain"] for r in cov if r["within_rounding"]],
        "covered_proven_optimal": sum(r["status"] == "optimal" for r in cov),
        "power_of_ten_mismatch": [
            {
                "chain": r["chain"],
                "power": r["power_of_ten"],
                "rel_diff_after": r["rel_diff_after_power_of_ten"],
            }
            for r in cov
            if r["power_of_ten"]
        ],
        "rate_intervals": {
            "note": (
                "holding rates that would make each covered chain's proven optimum round to its "
                "published cost (chains off by a power of ten left out); 0.35 lies in all but the "
                "chains listed as outside"
            ),
            "per_chain": {r["chain"]: r["implied_rate_interval"] for r in plain},
            "chains_excluding_0_35": [
                r["chain"]
                for r in plain
                if not (r["implied_rate_interval"][0] <= HOLDING_RATE <= r["implied_rate_interval"][1])
            ],
        },
        "strict_rate_feasibility": strict_rate_feasibility(plain),
        "conventions": CONVENTIONS,
        "mean_lead_time_reference": {
            "note": (
                "total safety stock (units, floor of the sum) of our optimum with the CSV's mean lead "
                "times vs the 'mean' rows of optimal_inventory_levels.csv (Humair et al. 2013); "
                "independent of the holding rate. Chains whose CSV mean lead times are integers "
                "reproduce it exactly; where the source had a discrete lead-time distribution "
                "(chains 3, 5, 8, 9, 11, 12) or fractional normal means, the CSV's stageTime is not "
                "necessarily the mean that paper used"
            ),
            "chains": {
                r["chain"]: {**r["mean_lt_safety_stock"], "integer_lead_times": r["integer_lead_times"]}
                for r in refs
            },
            "exact": [r["chain"] for r in refs if r["mean_lt_safety_stock"]["rel_diff"] == 0],
        },
        "budget_seconds_per_chain": {
            "covered": args.budget,
            "not_covered": args.budget_other,
            "not_covered_with_stock_reference": args.budget_reference,
        },
        "total_seconds": round(time.perf_counter() - t_all, 1),
        "covered_not_within": [
            {
                "chain": r["chain"],
                "ours": r["cost"],
                "published": r["reported"],
                "rel_diff": r["rel_diff"],
                "status": r["status"],
                "within_rounding": r["within_rounding"],
                "reason": _why_not_within(r),
                **({"variants": variants[r["chain"]]} if r["chain"] in variants else {}),
            }
            for r in cov
            if not r["within_0_1pct"]
        ],
        "not_covered": [
            {"chain": r["chain"], "reason": r["not_covered_reason"]} for r in rows if not r["covered"]
        ],
        "chains": rows,
        "quick": args.quick,
    }
    if not args.quick and not args.chains:
        notes["revalidation"] = revalidate(plain, folder, args.budget)
    write_result("gsm", figures, targets, notes)


#: how each convention was established (sources are public code and data that use these files)
CONVENTIONS = {
    "stage_cost": (
        "stageCost is the cost added at the stage; holding cost uses the cumulative cost (own plus "
        "suppliers' cumulative, quantity 1 per arc): SNC convert_excel_to_csv.py writes stageCost as "
        "cost_rate and every arc with quantity 1 (the source arc sheet has none); SNC tree_gsm "
        "_compute_cost_rates accumulates them; our rate-1 optima equal SNC's published costs for "
        "chains 2, 4, 17 to the cent (tests/decide/test_gsm.py)"
    ),
    "service_factor": (
        "z = Phi^-1(serviceLevel) exactly: the CSV stores round(norm.ppf(serviceLevel), 3) (SNC "
        "converter); with the exact quantile our mean-lead-time optimum of chain 15 has 511,227.0 units "
        "of safety stock, the published figure (Humair et al. 2013), against 511,252 with z = 1.812; "
        "chains 1, 6, 10 likewise match (floor of the total). Effect on cost: 0.005-0.02%"
    ),
    "demand": (
        "external demand only at leaf stages (true in all 38 chains); internal stages pool independent "
        "demands (std = root of the sum of squares, SNC risk_pool 2): pooling by plain sums (p = 1) "
        "scatters the implied rates from 0.23 to 0.39 on the deterministic chains, p = 2 gives 0.35 on all "
        "but chain 27"
    ),
    "service_times": (
        "demand stages quote at most maxServiceTime (max_s_time); internal stages unconstrained; "
        "integer service times suffice for integer lead times (network constraint matrix)"
    ),
    "lead_time": (
        "stageTime (the mean): SNC's converter sets lead_time = stageTime + 0 x stdDev stageTime and "
        "drops the stageTime_k distributions, so a chain with stochastic lead times cannot reproduce "
        "its published cost; its mean-lead-time optimum reproduces the mean-lead-time stocks of "
        "Humair et al. 2013 instead (notes.mean_lead_time_reference)"
    ),
    "holding_rate": (
        "0.35 (35% of the cumulative cost per unit held); undocumented in every source reachable here (the "
        "Willems 2008 and Humair & Willems 2011 texts are not in the corpus). Evidence: 0.35 lies in "
        "the rounding-consistent rate interval of every plain covered chain but 23 (0.03% short) and "
        "27 (notes.rate_intervals); SNC's notes show the same ratio (0.35) on chains 2, 4, 17"
    ),
    "published_costs": (
        "Humair & Willems (2011), Operations Research 59(3): SNC run_GSM_DAG_on_38_willems.py "
        "get_reported_costs ('Optimal cost from DAG paper'); three significant figures"
    ),
}


if __name__ == "__main__":
    main()
