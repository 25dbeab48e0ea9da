"""Split-conformal intervals with normalised scores, and the backtest metrics.

Scores are absolute errors divided by a normaliser: the series' scale (in-sample seasonal-naive
MAE, else first-difference MAE, else mean |y|) times a season profile, the relative size of
seasonal-naive errors at each phase of the season pooled over series (Papadopoulos et al. 2008;
Lei et al. 2018 for normalised conformal scores). The quantile is taken per horizon step over the
series and two neighbouring steps each side, with the finite-sample rank ceil((n + 1) level) / n.
"""

from __future__ import annotations

import warnings

import numpy as np

from supplynet.sense.demand import _forecast_models as km
from supplynet.sense.demand._forecast_data import Panel

__all__ = ["conformal_quantiles", "forecast_metrics", "normaliser", "series_scale"]


def series_scale(Y: np.ndarray, m: int) -> np.ndarray:
    """Scale for normalised scores: seasonal-naive MAE, else first-difference MAE, else mean |y|."""
    s = km.scale_mae_seasonal(Y, m)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d1 = np.nanmean(np.abs(np.diff(Y, axis=1)), axis=1) if Y.shape[1] > 1 else np.full(len(Y), np.nan)
        lvl = np.nanmean(np.abs(Y), axis=1)
    for alt in (d1, lvl):
        s = np.where(np.isfinite(s) & (s > 0), s, alt)
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)


def season_profile(panel: Panel, m: int) -> np.ndarray:
    """Relative size of seasonal-naive errors at each phase of the season (mean 1), pooled over
    series and smoothed over 5 phases: holiday weeks are harder to forecast than quiet ones."""
    L = panel.Y.shape[1]
    if m <= 1 or L <= m:
        return np.ones(max(m, 1))
    scale = km.scale_mae_seasonal(panel.Y, m)
    ok = np.isfinite(scale) & (scale > 0)
    if ok.sum() < 10:
        return np.ones(m)
    d = np.abs(panel.Y[ok, m:] - panel.Y[ok, :-m]) / scale[ok, None]
    phase = np.mod(panel.t_last[ok, None] - (L - 1 - np.arange(m, L))[None, :], m)
    valid = np.isfinite(d)
    sums = np.bincount(phase[valid], weights=d[valid], minlength=m)
    counts = np.bincount(phase[valid], minlength=m)
    if (counts < 10).any():
        return np.ones(m)
    prof = np.mean([np.roll(sums / counts, k) for k in range(-2, 3)], axis=0)
    return np.clip(prof / prof.mean(), 0.25, 4.0)


def normaliser(panel: Panel, h: int, m: int) -> np.ndarray:
    """Per series and step: the series' scale times the season profile at the target period."""
    prof = season_profile(panel, m)
    phase = np.mod(panel.t_last[:, None] + 1 + np.arange(h)[None, :], len(prof))
    return series_scale(panel.Y, m)[:, None] * prof[phase]


def conformal_quantiles(scores: np.ndarray, levels: list[float], pool: int = 2) -> dict[float, np.ndarray]:
    """Per horizon step, the conformal quantile of scores pooled over series and nearby steps."""
    n, h = scores.shape
    out = {}
    for lv in levels:
        q = np.empty(h)
        for j in range(h):
            s = scores[:, max(0, j - pool) : j + pool + 1].ravel()
            s = s[np.isfinite(s)]
            if s.size == 0:
                q[j] = np.nan
                continue
            rank = min(np.ceil((s.size + 1) * lv / 100.0) / s.size, 1.0)
            q[j] = np.quantile(s, rank, method="higher")
        q = np.nan_to_num(q, nan=np.nanmax(q) if np.isfinite(q).any() else 0.0)
        out[lv] = q
    return out


def forecast_metrics(
    actual: np.ndarray,
    point: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    weight: np.ndarray,
    train: np.ndarray,
    m: int,
) -> dict[str, float]:
    """Mean MASE and RMSSE over series (Hyndman & Koehler 2006; M5), WMAE, interval coverage.

    ``actual`` may hold NaN where a series has no value; MASE is scaled by the in-sample seasonal
    naive MAE, RMSSE by its mean squared error, WMAE is ``sum(w |e|) / sum(w)`` over all points.
    """
    e = point - actual
    ok = ~np.isnan(actual)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mae = np.nanmean(np.abs(e), axis=1)
        mse = np.nanmean(e**2, axis=1)
        d = train[:, m:] - train[:, :-m]
        s1 = np.nanmean(np.abs(d), axis=1)
        s2 = np.nanmean(d**2, axis=1)
    w = np.where(ok, weight, 0.0)
    inside = (actual >= lo) & (actual <= hi)
    return {
        "mase": float(np.mean(mae / s1)),
        "rmsse": float(np.mean(np.sqrt(mse / s2))),
        "wmae": float(np.sum(w * np.nan_to_num(np.abs(e))) / np.sum(w)),
        "coverage_80": float(inside[ok].mean()),
    }
