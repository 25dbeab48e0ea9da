"""Benchmark of guaranteed-service safety-stock placement (issue 6). Run: .venv/bin/python bench/gsm.py

The 38 real chains of Willems (2008) (``../shared/data/willems2008``, or $SUPPLYNET_DATA_DIR),
each compared with ``reported_optimal_cost.txt``.

Solvers: covered chains (integer lead times throughout) go to :func:`supplynet.decide.gsm.solve`:
the Graves-Willems tree DP folds the tree-shaped parts into the 2-core and the exact
``(S, SI)``-pair model of the core is solved by HiGHS (LP relaxation first; it is integral on every
covered chain, so each cost is a proven optimum for the CSV data). Chains not covered get the
iterative piecewise-linear MILP (Magnanti et al. 2006) under a short budget (``--budget-other``),
or the exact solver when the chain is a tree; their costs are informative only.

Cost convention: holding cost = 35% x cumulative unit cost. The rate is not stated in the data
folder; it is the one constant that reproduces the published costs of the chains with
deterministic lead times, and the folder's ``snc_summary_notes.txt`` (an independent
implementation) shows the same ratio (reported / rate-1 cost = 0.35 on chains 2, 4, 17). Our
rate-1 optima equal that file's costs for chains 2, 4 and 17 to the cent (``snc_cost_rate_1``).

Coverage: a chain is covered when all its lead times are deterministic in the source. The CSVs
keep only the mean where the source had a stochastic (or piecewise) lead time and the published
optimum accounts for it, so those chains cannot be reproduced from the CSV (the count of such
stages per chain is read from the folder's ``snc_summary_notes.txt``, topology section).

Precision: the reported costs have three significant figures, i.e. a rounding interval of up to
+-0.5%; ``within_reported_precision`` says whether our cost rounds to the reported value at the
reported number of significant figures. The issue's figure ``gsm_chains_within_0_1pct`` counts the
strict 0.1% criterion only. Chains 18 and 19: their proven CSV optima are exactly 1/100 and 1/10
of the reported cost (to 5 significant digits): a unit-scale difference between the CSV and the
publication that the data folder does not document, so they are NOT counted as matching; they
are listed in ``notes.power_of_ten_mismatch``.

Figures: gsm_chains_within_0_1pct, gsm_chains_covered, gsm_706_seconds (willems_31.csv, 706
stages: read + build + solve).
"""

from __future__ import annotations

import argparse
import ast
import math
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from _common import write_result  # noqa: E402

from supplynet.decide import gsm  # noqa: E402
from supplynet.decide.willems_data import data_dir, read_reported_costs, read_willems_csv  # noqa: E402

HOLDING_RATE = 0.35


def stochastic_stages(folder: Path) -> dict[int, int]:
    """Stages with a stochastic lead time per chain, from the topology section of the SNC notes."""
    out: dict[int, int] = {}
    notes = folder / "snc_summary_notes.txt"
    if not notes.exists():
        return out
    text = notes.read_text()
    section = text.split("Topology", 1)[-1]
    for m in re.finditer(r"^(\d+) (\{.*\})$", section, flags=re.M):
        out[int(m.group(1))] = int(ast.literal_eval(m.group(2))["stages_with_stoch_lead"])
    return out


def snc_costs(folder: Path) -> dict[int, float]:
    """Rate-1 costs that the folder's SNC notes computed per chain (``cost=...`` lines)."""
    notes = folder / "snc_summary_notes.txt"
    if not notes.exists():
        return {}
    found = re.findall(r"Supply chain (\d+) \*+\n(?:.*\n){0,3}?cost=([0-9.]+)", notes.read_text())
    return {int(c): float(v) for c, v in found}


def sig_figs(x: float) -> int:
    """Significant figures of a reported integer cost (trailing zeros are not significant)."""
    digits = str(int(round(x))).rstrip("0")
    return max(len(digits), 1)


def _why_not_within(r: dict, power10: set[int]) -> str:
    """A one-line reason for a covered chain outside 0.1% (from its own figures, not assumed)."""
    sign = "above" if (r["cost"] > r["reported"]) else "below"
    head = "proven optimum" if r["status"] == "optimal" else f"best found ({r['status']})"
    pct = f"{100 * r['rel_diff']:.3f}%"
    if r["chain"] in power10:
        return f"{head}; reported is {r['ratio_reported_to_ours']:.4f} x ours: unit scale (not counted)"
    if r["within_reported_precision"]:
        return (
            f"{head} {pct} {sign} the reported cost but rounds to it: the reported figure has only "
            f"{sig_figs(r['reported'])} significant figures, finer than 0.1% is not resolved"
        )
    return f"{head} {pct} {sign} the reported cost, outside its rounding interval: not reproduced"


def solve_chain(
    path: Path, budget: float, exact: bool = True
) -> tuple[gsm.GsmProblem, gsm.GsmSolution, float]:
    t0 = time.perf_counter()
    pr = gsm.GsmProblem.from_stages(read_willems_csv(path), holding_rate=HOLDING_RATE)
    if exact or pr.is_tree():
        sol = gsm.solve(pr, time_limit=budget)
    else:
        sol = gsm.solve_milp(pr, time_limit=budget)
    return pr, sol, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per covered chain")
    ap.add_argument("--budget-other", type=float, default=3.0, help="seconds per chain not covered")
    ap.add_argument("--chains", type=str, default="", help="comma-separated chain numbers (default all)")
    args = ap.parse_args()
    folder = data_dir()
    if not folder.exists():
        sys.exit(f"data folder not found: {folder} (set SUPPLYNET_DATA_DIR)")
    reported = read_reported_costs(folder / "reported_optimal_cost.txt")
    stoch = stochastic_stages(folder)
    snc = snc_costs(folder)
    chains = [int(c) for c in args.chains.split(",") if c] or sorted(reported)
    rows = []
    seconds_706 = None
    t_all = time.perf_counter()
    for c in chains:
        path = folder / f"willems_{c:02d}.csv"
        is_covered = stoch.get(c) == 0
        budget = args.budget if is_covered else args.budget_other
        pr, sol, secs = solve_chain(path, budget if c != 31 else max(budget, 30.0), exact=is_covered)
        if pr.n == 706:
            seconds_706 = secs
        rep = reported.get(c)
        rel = abs(sol.cost - rep) / rep if rep else None
        n_stoch = stoch.get(c)
        covered = n_stoch == 0
        if n_stoch is None:
            reason = "stochastic lead-time count unknown (snc_summary_notes.txt missing)"
        elif n_stoch > 0:
            reason = f"{n_stoch} stages had stochastic lead times; the CSV keeps only their mean"
        else:
            reason = ""
        row = {
            "chain": c,
            "stages": pr.n,
            "arcs": int(len(pr.edges)),
            "tree": pr.is_tree(),
            "stochastic_lead_stages": n_stoch,
            "covered": covered,
            "not_covered_reason": reason,
            "method": sol.method,
            "status": sol.info.get("status", "optimal"),
            "cost": round(sol.cost, 2),
            "lower_bound": round(sol.lower_bound, 2),
            "gap": (sol.cost - sol.lower_bound) / sol.cost if sol.cost else 0.0,
            "reported": rep,
            "rel_diff": rel,
            "ratio_reported_to_ours": rep / sol.cost if rep and sol.cost else None,
            "within_0_1pct": bool(rel is not None and rel <= 1e-3),
            "within_reported_precision": bool(
                rep is not None
                and float(f"{sol.cost:.{sig_figs(rep) - 1}e}") == float(f"{rep:.{sig_figs(rep) - 1}e}")
            ),
            "snc_cost_rate_1": snc.get(c),
            "ours_rate_1": round(sol.cost / HOLDING_RATE, 2),
            "seconds": round(secs, 3),
        }
        rows.append(row)
        flag = "covered" if covered else "not covered"
        print(
            f"chain {c:2d} n={pr.n:4d} {row['status']:10s} cost={sol.cost:14.1f} reported={rep:12.0f} "
            f"diff={100 * rel:8.3f}% gap={100 * row['gap']:.3f}% {secs:6.2f}s {flag}",
            file=sys.stderr,
            flush=True,
        )
    covered = [r for r in rows if r["covered"]]
    within = [r for r in covered if r["within_0_1pct"]]
    figures = {
        "gsm_chains_within_0_1pct": len(within),
        "gsm_chains_covered": len(covered),
        "gsm_706_seconds": round(seconds_706, 3) if seconds_706 is not None else None,
    }
    targets = {
        "gsm_chains_within_0_1pct": "equal to gsm_chains_covered",
        "gsm_706_seconds": "< 10",
    }
    proven = [r for r in covered if r["status"] == "optimal"]
    power10 = []
    for r in covered:
        ratio = r["ratio_reported_to_ours"] or 0.0
        k = round(math.log10(ratio)) if ratio > 0 else 0
        if k != 0 and abs(ratio / 10**k - 1) <= 1e-3:
            power10.append(
                {
                    "chain": r["chain"],
                    "ratio_reported_to_ours": ratio,
                    "reason": f"reported = 10^{k} x our proven CSV optimum (to 0.1%): a unit-scale "
                    "difference the data folder does not document; not counted as matching",
                }
            )
    notes = {
        "holding_rate": HOLDING_RATE,
        "covered_proven_optimal": len(proven),
        "covered_within_reported_precision": sum(r["within_reported_precision"] for r in covered),
        "power_of_ten_mismatch": power10,
        "budget_seconds_per_chain": {"covered": args.budget, "not_covered": args.budget_other},
        "total_seconds": round(time.perf_counter() - t_all, 1),
        "covered_not_within": [
            {
                **{
                    k: r[k]
                    for k in (
                        "chain",
                        "status",
                        "gap",
                        "rel_diff",
                        "ratio_reported_to_ours",
                        "within_reported_precision",
                    )
                },
                "reason": _why_not_within(r, {p["chain"] for p in power10}),
            }
            for r in covered
            if not r["within_0_1pct"]
        ],
        "not_covered": [
            {"chain": r["chain"], "reason": r["not_covered_reason"]} for r in rows if not r["covered"]
        ],
        "chains": rows,
    }
    write_result("gsm", figures, targets, notes)


if __name__ == "__main__":
    main()
