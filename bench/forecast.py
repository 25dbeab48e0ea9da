"""Benchmark of demand sensing (issue 6). Run: .venv/bin/python bench/forecast.py

Walmart (``../shared/data/walmart-store-sales`` or $SUPPLYNET_DATA_DIR): the last 39 weeks held
out, holiday weeks weighted 5x in WMAE; the default model against seasonal naive and MSTL-ETS (the
seasonal ETS for season 52), all from one :func:`supplynet.sense.demand.forecast.backtest` run, with
exogenous regressors (temperature, fuel price, markdowns, CPI, unemployment, holiday flag, store and
department numbers) and the department as each series' ``group`` (the default ensemble's smoothed
seasonal naive and MSTL members see histories denoised by a rank-12 SVD within each department).
Nothing is tuned on the held-out 39 weeks at run time: the intermittent routing is decided on the
calibration refit (the 39 weeks before the cutoff).
``forecast_seconds_3331``: wall time of ``Forecaster(model="default").fit(all 3,331 series).predict(
39, levels=(80,))`` including the conformal calibration refit.

Intermittent: 300 generated series (Bernoulli occurrence p in {0.1, 0.2, 0.35}, sizes 1 + Poisson
(mu - 1), mu in {2, 5}; 104 weeks of history, 13 held out), the default model (which classifies them
by ADI/CV² and uses SBA/TSB/ADIDA) against classic Croston (alpha 0.1); MASE scaled by the
in-sample naive MAE, RMSSE likewise, and the mean absolute distance to the known mean p * mu.

Targets (issue 6): >= 15% better MASE than seasonal naive, >= 7% better than seasonal ETS, 80%
intervals covering 75-85%, 3,331 series in < 180 s.

``--quick``: the intermittent figures only (tests/test_bench_quick.py). ``--revalidate`` adds
``notes.zero_floor_revalidation``: the zero floor (adopted after seeing the hold-out) judged on the
39 weeks before the hold-out, a window it was not chosen on, with and without the floor.
Outcome when measured (2026-12-07; window 2011-05-06 to 2012-01-27, 65 weeks of history before it):
the floor lowers MASE by 0.003% (60.2948 against 60.2965) and WMAE by 0.13% (1,897.0 against
1,899.5), 80% coverage 0.905 either way: it helps on this window too, but negligibly. The same run
shows a larger caveat: on this earlier window the default model is NOT better than seasonal naive
(MASE 0.26% worse; a mean MASE of 60, not examined further, suggests a few series whose in-sample
seasonal-naive scale, from only 13 weeks of seasonal differences, is tiny), so the 15% improvement
of the headline window does not carry over to a window with about one season of history.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import write_result  # noqa: E402

from supplynet.datasets.walmart import find_walmart_dir, load_walmart  # noqa: E402
from supplynet.sense.demand import _forecast_models as km  # noqa: E402
from supplynet.sense.demand import forecast as F  # noqa: E402
from supplynet.sense.demand.forecast import Forecaster, backtest  # noqa: E402

H = 39
N_JOBS = 2


def walmart() -> tuple[dict, dict]:
    if find_walmart_dir() is None:
        return {}, {"walmart": "walmart-store-sales not found; Walmart figures not measured"}
    series, exog = load_walmart()
    t0 = time.perf_counter()
    res = backtest(series, H, freq="W", exog=exog, model="default", n_jobs=N_JOBS, progress=print)
    backtest_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    fc = Forecaster(freq="W", season_length=52, model="default", n_jobs=N_JOBS).fit(series, exog=exog)
    out = fc.predict(H, levels=(80,))
    seconds = time.perf_counter() - t0
    mase = {k: res[k]["mase"] for k in ("model", "seasonal_naive", "seasonal_ets")}
    figures = {
        "forecast_seconds_3331": round(seconds, 1),
        "mase_model": mase["model"],
        "mase_seasonal_naive": mase["seasonal_naive"],
        "mase_seasonal_ets": mase["seasonal_ets"],
        "improvement_vs_seasonal_naive": 1 - mase["model"] / mase["seasonal_naive"],
        "improvement_vs_seasonal_ets": 1 - mase["model"] / mase["seasonal_ets"],
        "coverage_80": res["model"]["coverage_80"],
    }
    notes = {
        "backtest": res,
        "backtest_seconds": round(backtest_seconds, 1),
        "series_forecast": int(out["unique_id"].nunique()),
    }
    return figures, notes


def _combine_without_floor(model, members, inter, Y=None, route=True):  # type: ignore[no-untyped-def]
    """``forecast._combine`` without the zero floor (everything else as in src/supplynet/sense/demand/forecast.py)."""
    point = np.mean([members[m] for m in F.MODELS[model]], axis=0)
    if model == "default" and route and inter.any():
        point[inter] = members["intermittent"][inter]
    if model == "default" and Y is not None:
        point[km.dead_mask(Y, F.DEAD_RUN, inter)] = 0.0
    if model == "intermittent":
        point = np.where(np.isnan(point), members.get("seasonal_naive", point), point)
    return point


def revalidate_zero_floor(series: pd.DataFrame, exog: pd.DataFrame) -> dict:
    """The zero floor was adopted after seeing the last 39 weeks. Here it is judged on the 39 weeks
    before them, a window it was not chosen on: the same backtest on the data cut 39 weeks earlier,
    with the floor and without it (``_combine`` swapped for the run)."""
    last = series["ds"].max()
    cut = last - pd.Timedelta(weeks=H)
    early = series[series["ds"] <= cut]
    out: dict = {"window": f"{(cut - pd.Timedelta(weeks=H - 1)).date()} to {cut.date()} (39 weeks before the "
                           "bench's hold-out)"}
    orig = F._combine
    for name, fn in (("with_floor", orig), ("without_floor", _combine_without_floor)):
        F._combine = fn
        try:
            res = backtest(early, H, freq="W", exog=exog, model="default", n_jobs=N_JOBS)
        finally:
            F._combine = orig
        out[name] = {k: res["model"][k] for k in ("mase", "rmsse", "wmae", "coverage_80")}
        out[name]["improvement_vs_seasonal_naive"] = 1 - res["model"]["mase"] / res["seasonal_naive"]["mase"]
    w, wo = out["with_floor"]["mase"], out["without_floor"]["mase"]
    out["mase_change_from_the_floor"] = w / wo - 1
    out["verdict"] = ("the floor helps on this window too" if w < wo else
                      "no change on this window" if w == wo else "the floor does NOT help on this window")
    return out


def intermittent(seed: int = 0) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    n, h = 104, 13
    ds = pd.date_range("2021-01-01", periods=n + h, freq="W-FRI")
    frames, truth = [], {}
    for i in range(300):
        p = (0.1, 0.2, 0.35)[i % 3]
        mu = (2.0, 5.0)[(i // 3) % 2]
        y = (rng.random(n + h) < p) * (rng.poisson(mu - 1, n + h) + 1)
        uid = f"int{i:03d}"
        truth[uid] = p * mu
        frames.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": y.astype(float)}))
    df = pd.concat(frames, ignore_index=True)
    train = df[df["ds"] <= ds[n - 1]]
    test = df[df["ds"] > ds[n - 1]].pivot(index="unique_id", columns="ds", values="y")
    fc = Forecaster(freq="W", season_length=1, model="default").fit(train).predict(h, levels=())
    model = fc.pivot(index="unique_id", columns="ds", values="y_hat").loc[test.index].to_numpy()
    hist = train.pivot(index="unique_id", columns="ds", values="y").loc[test.index].to_numpy()
    croston = np.vstack([km.croston(row, h, alpha=0.1) for row in hist])
    actual = test.to_numpy()
    d = np.diff(hist, axis=1)
    s1, s2 = np.mean(np.abs(d), axis=1), np.mean(d**2, axis=1)
    mu = np.array([truth[u] for u in test.index])

    def scores(f: np.ndarray) -> tuple[float, float, float]:
        e = f - actual
        mase = float(np.mean(np.mean(np.abs(e), axis=1) / s1))
        rmsse = float(np.mean(np.sqrt(np.mean(e**2, axis=1) / s2)))
        return mase, rmsse, float(np.mean(np.abs(f[:, 0] - mu)))

    m_mase, m_rmsse, m_bias = scores(model)
    c_mase, c_rmsse, c_bias = scores(croston)
    z_mase, z_rmsse, _ = scores(np.zeros_like(actual))
    figures = {"intermittent_mase_model": m_mase, "intermittent_mase_croston": c_mase}
    notes = {
        "intermittent": {
            "series": 300,
            "rmsse_model": m_rmsse,
            "rmsse_croston": c_rmsse,
            "abs_error_to_true_mean_model": m_bias,
            "abs_error_to_true_mean_croston": c_bias,
            "mase_zero_forecast": z_mase,
            "rmsse_zero_forecast": z_rmsse,
        }
    }
    return figures, notes


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    revalidate = "--revalidate" in sys.argv[1:]
    figures, notes = intermittent()
    notes["quick"] = quick
    if quick:
        notes["walmart"] = "not run (--quick: the intermittent figures only)"
    else:
        wf, wn = walmart()
        figures = {**wf, **figures}
        notes.update(wn)
    if revalidate and find_walmart_dir() is not None:
        notes["zero_floor_revalidation"] = revalidate_zero_floor(*load_walmart())
    elif not quick:
        notes["zero_floor_revalidation"] = "run bench/forecast.py --revalidate (two more backtests, ~4 min)"
    targets = {
        "forecast_seconds_3331": "< 180",
        "improvement_vs_seasonal_naive": ">= 0.15",
        "improvement_vs_seasonal_ets": ">= 0.07",
        "coverage_80": "0.75 - 0.85",
        "intermittent_mase_model": "<= intermittent_mase_croston",
    }
    write_result("forecast", figures, targets, notes)


if __name__ == "__main__":
    main()
