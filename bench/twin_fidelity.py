"""Twin fidelity: does the twin predict the live world?

Run from the repo root: ``.venv/bin/python bench/twin_fidelity.py [--quick] [--seeds 0,1,2,3,4]``
(writes ``bench/results/twin_fidelity.json``).

For each seed the realistic demo world (``supplynet demo``'s network, the public data replayed when
``../shared/data`` is there, as the CLI does) runs through the whole loop for ``--days`` (21) days. At
the end of day ``--at-day`` (7) the twin predicts the days left with
:func:`supplynet.sim.forecast_live.predict_from_live`: from the live twin's state, under the live
replenisher's policies, demand and lead-time estimates at that moment and re-sized day by day as the
loop re-sizes them (its forecast refit included), ``--replications`` (200) replications. This is the
demo's own check (``run_demo(fidelity_at_day=...)``, the ``fidelity`` of ``supplynet demo
--summary-json``). The live loop then runs on, and at the end the realized KPIs are set against the
predicted P10-P90:

* ``store_fill_rate``: store sales over store demand (sales plus lost sales) between the two days, as
  the twin folded the stores' point-of-sale reports;
* ``inventory_dc`` and ``inventory_store``: units on hand at the end, summed over the DCs and over the
  stores, as the twin holds them (``inventory_plant`` and ``lost_sales_units`` are reported too).

A seed counts as inside when its realized store fill rate, DC inventory and store inventory all fall
inside their predicted P10-P90. Figure ``twin_fidelity_seeds_inside`` (target: >= 4 of 5 seeds), with
every seed's predicted quantiles and realized values under ``per_seed``. The prediction is not tuned
to these runs: see :mod:`supplynet.sim.forecast_live` for the modelling choices and which were made
after seeing results (seeds 0 and 1; seeds 5-9 check them: ``--seeds 5,6,7,8,9``). ``--quick``: seed 0,
predict at day 2 for days 2-5, 100 replications.

The prediction draws the machines' failures from the loop's RUL forecasts (``live_machines``), ends at the
last close (nothing ordered on the last day: the count is taken before the loop's next release) and keeps
the loop's review calendar; see :mod:`supplynet.sim.forecast_live` for those choices (made after comparing
predicted and realized paths day by day on seeds 0-1) and what was tried and dropped. The count is taken at
the end of the last day, after the close: a load the engine lands on the last day is still on the road then with
the probability its lane's learned lead time gives (the loop releases 7 h after the close), drawn per truck. What
it still misses: the stores' order-up-to levels after the loop's first forecast refit (day 14) come out ~15% above
the projection's (the projection's history, the observed week repeated, has none of the replayed demand's
week-to-week level changes), so the predicted stores' stock sits ~15% under the realized.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from supplynet.demo import run_demo  # noqa: E402
from supplynet.sim.forecast_live import FIDELITY_KPIS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", ROOT.parent / "shared" / "data"))
CHECKED = FIDELITY_KPIS
REPORTED = (*CHECKED, "inventory_plant", "lost_sales_units")


def one_seed(seed: int, *, days: int, at_day: int, replications: int, data_dir: Path | None, cache: Path,
             home: Path) -> dict[str, Any]:
    """One seed: the demo's own fidelity check (``run_demo(fidelity_at_day=...)``, what ``supplynet demo
    --summary-json`` reports), each predicted KPI beside its realized value and whether it fell inside."""
    t0 = time.perf_counter()
    res = run_demo(days=days, seed=seed, home=home, data_dir=data_dir, stress_replications=0, cache_dir=cache,
                   fidelity_at_day=at_day, fidelity_replications=replications)
    fid = res.extra["fidelity"]
    pred, realized = fid["predicted"], fid["realized"]
    out: dict[str, Any] = {"seed": seed, "demo_seconds": round(time.perf_counter() - t0, 1),
                           "predict_seconds": round(fid["seconds"], 2)}
    for k in REPORTED:
        q = pred[k]
        out[k] = {"p10": q["p10"], "p50": q["p50"], "p90": q["p90"], "realized": realized[k],
                  "inside": bool(q["p10"] <= realized[k] <= q["p90"])}
    out["inside"] = all(out[k]["inside"] for k in CHECKED)
    out["meta"] = {k: fid["meta"].get(k) for k in ("at", "policies", "demand_sources", "timing_shift_days",
                                                   "resized_days", "refit", "demand_level_cv", "batches",
                                                   "machines_failure_risk", "count_late_p")}
    print(f"seed {seed}: " + ", ".join(f"{k} {out[k]['p10']:.4g}..{out[k]['p90']:.4g} realized "
                                       f"{out[k]['realized']:.4g} {'in' if out[k]['inside'] else 'OUT'}"
                                       for k in CHECKED), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="seed 0, predict at day 2 for days 2-5")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--at-day", type=int, default=7)
    ap.add_argument("--replications", type=int, default=200)
    ap.add_argument("--data-dir", default=str(DATA), help="public datasets ('none': generated demand)")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.days, args.at_day, args.replications = "0", 5, 2, 100
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if not 1 <= args.at_day < args.days:
        ap.error("--at-day must be in 1..days-1")
    data_dir = None if args.data_dir == "none" or not Path(args.data_dir).is_dir() else Path(args.data_dir)
    rows = []
    with tempfile.TemporaryDirectory(prefix="twin-fidelity-") as tmp:
        cache = Path(tmp) / "rul-cache"
        for seed in seeds:
            rows.append(one_seed(seed, days=args.days, at_day=args.at_day, replications=args.replications,
                                 data_dir=data_dir, cache=cache, home=Path(tmp) / f"seed{seed}"))
    inside = sum(r["inside"] for r in rows)
    figures = {"twin_fidelity_seeds_inside": inside, "seeds": len(rows),
               **{f"{k}_inside_seeds": sum(r[k]["inside"] for r in rows) for k in REPORTED},
               "per_seed": rows}
    need = 4 if len(rows) == 5 else max(len(rows) - 1, 1)
    write_result("twin_fidelity", figures,
                 targets={"twin_fidelity_seeds_inside": f">= {need} of {len(rows)} seeds: realized store fill rate, "
                                                        "DC and store inventory inside the predicted P10-P90"},
                 notes={"quick": bool(args.quick), "days": args.days, "at_day": args.at_day,
                        "replications": args.replications, "data": str(data_dir) if data_dir else "generated",
                        "realized": "the twin's stores' sales and lost sales between the days, and its on hand "
                                    "per echelon at the end",
                        "chosen_after_seeing_results": [
                            "seeds 0-1, day 7: machine failures drawn from the loop's RUL forecasts (failures the "
                            "maintenance rule can no longer prevent stop their lines)",
                            "seeds 0-1: a failure's repair time is the network's Asset.repair_time_days (the world's "
                            "former constant: maintenance lead time + 2 days), read by the world and the twin",
                            "seeds 0-1: the horizon ends at the last close (no orders on the last day)",
                            "seeds 0-1: the engine's day-0 orders are the loop's next release (review calendar)",
                            "dropped: a timing shift from the release hour (0.79 d); weekly demand levels with the "
                            "network's cv and per-batch re-sizing",
                            "twin16b, seeds 0-1 (offline replay of the day-7 state): every batch's day-0 orders with the "
                            "live policies (a fix: later batches started from the previous batch's last-day levels)",
                            "twin16b, seeds 0-1: the count after the close - a load landing on the last day is still on "
                            "the road at the count with the probability its learned lead time gives (release 7 h after "
                            "the close, count at midnight), drawn per truck (per item the bands stayed +-1.5%)",
                            "twin16b dropped: the refit's history with each projected week's level drawn anew per key "
                            "with demand_level_cv (stores' levels 81k vs the loop's 63k, predicted store stock ~64k vs "
                            "34-42k realized)"]})


if __name__ == "__main__":
    main()
