"""A refitted forecast's daily spread stays within reach of what the series has done: on short histories a
conformal interval calibrated on one or two windows can come out many times wider than the demand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from supplynet.sense.demand.demand_live import CAP_SPREAD, forecast_estimates


def _weekly_steps(weeks: int, seed: int) -> pd.DataFrame:
    """A weekly series replayed daily (each week flat, as a weekly data set replayed day by day)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(40):
        levels = rng.uniform(50, 150, weeks)
        for d in range(7 * weeks):
            rows.append((f"ST-{i}|SKU", pd.Timestamp("2026-01-05") + pd.Timedelta(days=d), round(levels[d // 7])))
    return pd.DataFrame(rows, columns=["unique_id", "ds", "y"])


def test_the_daily_spread_is_capped_at_a_multiple_of_the_series_own():
    hist = _weekly_steps(3, seed=0)
    est = forecast_estimates(hist, 7, min_history=14)
    own = hist.groupby("unique_id")["y"].agg(["std", "mean"])
    capped = 0
    for (site, sku), e in est.items():
        o = own.loc[f"{site}|{sku}"]
        cap = CAP_SPREAD * max(float(o["std"]), math.sqrt(max(float(o["mean"]), e.mean)), 1.0)
        assert 0 <= e.std <= cap + 1e-9
        capped += math.isclose(e.std, cap)
        assert e.mean > 0
    assert capped > 0  # the interval of some series was wider than three times anything it did


def test_a_steady_series_keeps_its_forecast_spread():
    """The cap leaves a forecast alone when its spread is in range (noisy daily demand)."""
    rng = np.random.default_rng(3)
    rows = [(f"ST-{i}|SKU", pd.Timestamp("2026-01-05") + pd.Timedelta(days=d), float(rng.poisson(40)))
            for i in range(20) for d in range(35)]
    est = forecast_estimates(pd.DataFrame(rows, columns=["unique_id", "ds", "y"]), 7, min_history=21)
    sds = np.array([e.std for e in est.values()])
    assert (sds > 2).all() and (sds < 3 * CAP_SPREAD * math.sqrt(40)).all()
