"""Benchmark of guaranteed-service safety-stock placement (issue 6). Run: .venv/bin/python bench/gsm.py

The 38 real chains of Willems (2008) (``../shared/data/willems2008``, or $SUPPLYNET_DATA_DIR):
each chain is solved by :func:`supplynet.decide.gsm.solve` (Graves-Willems tree DP when the chain
is a spanning tree, else the iterative piecewise-linear MILP with HiGHS) and its cost compared with
``reported_optimal_cost.txt`` (Humair & Willems 2011, three significant figures).

Cost convention: holding cost = 35% x cumulative unit cost. The rate is not stated in the data
folder; it is the one constant that reproduces the published costs of the chains with
deterministic lead times (reported / our rate-1 optimum = 0.3498-0.3506 on chains 2, 4, 13, 17,
the same ratio the SNC notes in the folder found).

Coverage: a chain is covered when all its lead times are deterministic in the source. The CSVs
keep only the mean where the source had a stochastic (or piecewise) lead time and the published
optimum accounts for it, so those chains cannot be reproduced from the CSV (the count of such
stages per chain is read from the folder's ``snc_summary_notes.txt``, topology section).

Figures: gsm_chains_within_0_1pct (covered chains whose cost is within 0.1% of the reported
optimum), gsm_chains_covered, gsm_706_seconds (willems_31.csv, 706 stages: read + build + solve).
The per-chain table is in ``notes.chains``. Each chain gets a time budget (``--budget``: 15 s for
covered chains, ``--budget-other``: 3 s for the others; the 706-stage chain 30 s) so the run stays
under 5 minutes; a chain stopped by it reports its lower bound and gap.
"""

from __future__ import annotations

import argparse
import ast
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


def solve_chain(path: Path, budget: float) -> tuple[gsm.GsmProblem, gsm.GsmSolution, float]:
    t0 = time.perf_counter()
    pr = gsm.GsmProblem.from_stages(read_willems_csv(path), holding_rate=HOLDING_RATE)
    sol = gsm.solve(pr, time_limit=budget)
    return pr, sol, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=15.0, help="seconds per covered chain")
    ap.add_argument("--budget-other", type=float, default=3.0, help="seconds per chain not covered")
    ap.add_argument("--chains", type=str, default="", help="comma-separated chain numbers (default all)")
    args = ap.parse_args()
    folder = data_dir()
    if not folder.exists():
        sys.exit(f"data folder not found: {folder} (set SUPPLYNET_DATA_DIR)")
    reported = read_reported_costs(folder / "reported_optimal_cost.txt")
    stoch = stochastic_stages(folder)
    chains = [int(c) for c in args.chains.split(",") if c] or sorted(reported)
    rows = []
    seconds_706 = None
    t_all = time.perf_counter()
    for c in chains:
        path = folder / f"willems_{c:02d}.csv"
        budget = args.budget if stoch.get(c) == 0 else args.budget_other
        pr, sol, secs = solve_chain(path, budget if c != 31 else max(budget, 30.0))
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
    notes = {
        "holding_rate": HOLDING_RATE,
        "budget_seconds_per_chain": {"covered": args.budget, "not_covered": args.budget_other},
        "total_seconds": round(time.perf_counter() - t_all, 1),
        "covered_not_within": [
            {k: r[k] for k in ("chain", "status", "gap", "rel_diff", "ratio_reported_to_ours")}
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
