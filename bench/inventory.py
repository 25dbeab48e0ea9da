"""Closed-loop inventory benchmark: forecast-driven orchestration vs a static (s,S) on Walmart demand.

Replays the last 52 weeks of the Walmart store-department weekly sales (3,331 series, one stocking
point each; negative sales - returns - count as zero demand) through the what-if engine
(:class:`supplynet.sim.engine.Simulation`, one tick = one week, one replication, demand replayed
exactly, lost sales, fixed 2-week lead time) under two policies with the **same target: a 99% fill
rate**, both sized by the same function (:func:`supplynet.decide.replenish.size_levels`, the
loss-function level of :func:`supplynet.policy.sizing.base_stock_for_fill_rate`):

- ``static``: an (s,S) sized once from the history before the replay year: weekly mean and standard
  deviation per series, protection over the lead time, ``S = s + one week of mean demand``.
- ``platform``: every week, after that week's sales, the forecasting module
  (:class:`supplynet.sense.demand.forecast.Forecaster`, its smoothed seasonal naive member - the default
  ensemble's LightGBM and MSTL members take minutes per fit, too slow to refit 52 times here) forecasts
  the next two weeks with conformal intervals; :func:`supplynet.sense.demand.demand_live.protection_demand`
  turns them into demand over the lead time, and the (s,S) levels are re-sized from it
  (``S = s + next week's forecast``) before the engine advances a week.

Figures: fill rate (units served / demanded) of both, and the reduction of average on-hand inventory
(units x weeks / 52) of the platform against the static policy. The GSM and forecasting figures are
read from ``bench/results/gsm.json`` and ``forecast.json`` when present (``notes.sources`` says which);
without them the GSM figures are measured here at a short time limit and the forecast one is left out.

``--quick``: every 10th series (about 330) and no GSM figures, for tests/test_bench_quick.py.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "src"))

from _common import results_dir, write_result  # noqa: E402

from supplynet.datasets.walmart import find_walmart_dir, load_walmart  # noqa: E402
from supplynet.decide.replenish import size_levels  # noqa: E402
from supplynet.policy.policies import SsPolicy  # noqa: E402
from supplynet.sense.demand.demand_live import protection_demand  # noqa: E402
from supplynet.sense.demand.forecast import Forecaster  # noqa: E402
from supplynet.sim import _kernel as K  # noqa: E402
from supplynet.sim.engine import Simulation  # noqa: E402
from supplynet.sim.network import SimNetwork  # noqa: E402

WEEKS = 52
LEAD_WEEKS = 2
FILL_RATE = 0.99
MODEL = "snaive_smooth"


def demand_matrix(series: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weeks, unique_ids, Y[weeks, series]) with missing weeks and returns as zero demand."""
    weeks = np.sort(series["ds"].unique())
    uids = np.sort(series["unique_id"].unique())
    y = series.pivot_table(index="ds", columns="unique_id", values="y", aggfunc="sum")
    y = y.reindex(index=weeks, columns=uids).to_numpy(float)
    return weeks, uids, np.maximum(np.nan_to_num(y, nan=0.0), 0.0)


def history_stats(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weekly mean and std per series from its first sale on (the static policy's inputs)."""
    first = np.argmax(hist > 0, axis=0)
    mask = np.arange(hist.shape[0])[:, None] >= first[None, :]
    n = np.maximum(mask.sum(0), 1)
    mu = np.where(mask, hist, 0.0).sum(0) / n
    var = np.where(mask, (hist - mu) ** 2, 0.0).sum(0) / np.maximum(n - 1, 1)
    return mu, np.sqrt(var)


def simulate(items: list[tuple[str, str]], demand: np.ndarray, levels: list[tuple[np.ndarray, np.ndarray]]
             ) -> dict[str, float]:
    """Replay ``demand[week, item]`` with (s, S) = ``levels[week]`` set before each week."""
    n = demand.shape[1]
    net = SimNetwork.build(items=items, demand="normal", demand_mean=demand, demand_std=0.0, lead_time=LEAD_WEEKS,
                           backorders=False, hold=1.0, policy=SsPolicy(np.zeros(n), np.zeros(n)), name="walmart")
    s0, S0 = levels[0]
    net = net.with_policy(SsPolicy(s0, S0)).replace(init_on_hand=S0.copy())
    sim = Simulation(net, horizon=len(levels), replications=1, seed=0)
    for s, S in levels:
        sim.network.pol_a[:] = s
        sim.network.pol_b[:] = S
        sim.step()
    acc = sim.result().acc[0]
    return {"fill_rate": float(acc[:, K.A_SERVED_NOW].sum() / acc[:, K.A_DEMAND].sum()),
            "avg_inventory": float(acc[:, K.A_ONHAND_DAYS].sum() / len(levels)),
            "orders": float(acc[:, K.A_NORDERS].sum()), "lost": float(acc[:, K.A_LOST].sum())}


def platform_levels(series: pd.DataFrame, weeks: np.ndarray, uids: np.ndarray, t0: int, mu: np.ndarray,
                    sd: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], dict[str, float]]:
    """Each week: forecast the next LEAD_WEEKS weeks from the sales so far and re-size (s, S)."""
    levels, covered, secs = [], [], 0.0
    base = series[["unique_id", "ds", "y"]]
    for t in range(WEEKS):
        cut = weeks[t0 + t]
        t1 = time.perf_counter()
        fc = Forecaster(freq="W", model=MODEL).fit(base[base["ds"] <= cut]).predict(LEAD_WEEKS, levels=(80,))
        secs += time.perf_counter() - t1
        pdm = protection_demand(fc, LEAD_WEEKS, 80).set_index("unique_id").reindex(uids)
        ok = pdm["mean"].notna().to_numpy()
        m = np.where(ok, pdm["mean"].to_numpy(), mu * LEAD_WEEKS)
        s = np.where(ok, pdm["std"].to_numpy(), sd * np.sqrt(LEAD_WEEKS))
        q = np.maximum(np.where(ok, pdm["first"].to_numpy(), mu), 1.0)
        levels.append(size_levels("sS", m, s, q, fill_rate=FILL_RATE))
        covered.append(ok.mean())
    return levels, {"forecast_seconds_total": round(secs, 2), "forecast_share_of_series": float(np.mean(covered))}


def _read(name: str) -> dict | None:
    path = results_dir() / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def gsm_figures(sources: dict[str, str]) -> dict[str, float | int | None]:
    doc = _read("gsm")
    keys = ("gsm_chains_within_0_1pct", "gsm_chains_covered", "gsm_706_seconds")
    if doc and all(k in doc.get("figures", {}) for k in keys):
        for k in keys:
            sources[k] = f"read from bench/results/gsm.json ({doc.get('when')})"
        return {k: doc["figures"][k] for k in keys}
    import os

    import gsm as gsm_bench  # bench/gsm.py: measured here at a short time limit

    from supplynet.model.willems import read_reported_costs, willems_dir

    folder = willems_dir(os.environ.get("SUPPLYNET_DATA_DIR") or ROOT.parent / "shared" / "data").resolve()
    out: dict[str, float | int | None] = {k: None for k in keys}
    if not folder.exists():
        for k in keys:
            sources[k] = "not available: no bench/results/gsm.json and no willems2008 data"
        return out
    reported = read_reported_costs(folder / "reported_optimal_cost.txt")
    stoch = gsm_bench.stochastic_stages(folder)
    within = covered = 0
    for c in sorted(reported):
        if stoch.get(c) != 0 and c != 31:
            continue
        pr, sol, secs = gsm_bench.solve_chain(folder / f"willems_{c:02d}.csv", 3.0)
        if pr.n == 706:
            out["gsm_706_seconds"] = round(secs, 3)
        if stoch.get(c) == 0:
            covered += 1
            within += int(abs(sol.cost - reported[c]) / reported[c] <= 1e-3)
    out.update(gsm_chains_within_0_1pct=within, gsm_chains_covered=covered)
    for k in keys:
        sources[k] = "measured here (bench/gsm.py functions, 3 s MILP limit per chain)"
    return out


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    t_start = time.perf_counter()
    sources: dict[str, str] = {}
    figures: dict[str, float | int | None] = {}
    notes: dict[str, object] = {}
    if find_walmart_dir() is None:
        notes["walmart"] = "walmart-store-sales not found (SUPPLYNET_DATA_DIR or ../shared/data): no closed loop"
        figures.update(fill_rate_platform=None, fill_rate_static=None, avg_inventory_reduction=None)
    else:
        series, _ = load_walmart()
        if quick:  # every 10th series (by sorted id): about 330
            keep = np.sort(series["unique_id"].unique())[::10]
            series = series[series["unique_id"].isin(keep)]
        weeks, uids, Y = demand_matrix(series)
        t0 = len(weeks) - WEEKS
        mu, sd = history_stats(Y[:t0])
        items = [tuple(u.split("_", 1)) for u in uids]
        static = simulate(items, Y[t0:], [size_levels("sS", mu * LEAD_WEEKS, sd * np.sqrt(LEAD_WEEKS),
                                                      np.maximum(mu, 1.0), fill_rate=FILL_RATE)] * WEEKS)
        levels, fnotes = platform_levels(series, weeks, uids, t0, mu, sd)
        plat = simulate(items, Y[t0:], levels)
        figures.update(fill_rate_platform=round(plat["fill_rate"], 5), fill_rate_static=round(static["fill_rate"], 5),
                       avg_inventory_reduction=round(1.0 - plat["avg_inventory"] / static["avg_inventory"], 4))
        for k in ("fill_rate_platform", "fill_rate_static", "avg_inventory_reduction"):
            sources[k] = "measured here"
        notes["closed_loop"] = {
            "series": int(len(uids)), "replay_weeks": WEEKS, "replay_from": str(pd.Timestamp(weeks[t0]).date()),
            "history_weeks": int(t0), "lead_time_weeks": LEAD_WEEKS, "target_fill_rate": FILL_RATE,
            "forecast_model": MODEL, "static": static, "platform": plat, **fnotes}
    if quick:
        sources["gsm"] = "not measured (--quick)"
    else:
        figures.update(gsm_figures(sources))
    fdoc = _read("forecast")
    if fdoc and "forecast_seconds_3331" in fdoc.get("figures", {}):
        figures["forecast_seconds_3331"] = fdoc["figures"]["forecast_seconds_3331"]
        sources["forecast_seconds_3331"] = f"read from bench/results/forecast.json ({fdoc.get('when')})"
    else:
        figures["forecast_seconds_3331"] = None
        sources["forecast_seconds_3331"] = "not available: run bench/forecast.py first"
    notes["sources"] = sources
    notes["quick"] = quick
    notes["seconds"] = round(time.perf_counter() - t_start, 1)
    write_result("inventory", figures, targets={
        "fill_rate_platform": ">= fill_rate_static", "avg_inventory_reduction": ">= 0.15",
        "gsm_chains_within_0_1pct": "equal to gsm_chains_covered", "gsm_706_seconds": "< 10",
        "forecast_seconds_3331": "< 180"}, notes=notes)


if __name__ == "__main__":
    main()
