"""Demand sensing: probabilistic forecasts per SKU and site, and rolling-origin backtests.

Series come in Nixtla long format (``unique_id``, ``ds``, ``y``, optional ``weight``); exogenous
regressors (price and markdowns, holidays, temperature, IoT sell-through ...) in a frame keyed by
``unique_id`` and ``ds`` that may run past the history (future values; missing ones are held at the
last known value). A period missing inside a series is zero demand.

The ``default`` model is a forecast combination in the sense of Bates & Granger (1969): the mean of a
global LightGBM (mlforecast, exogenous regressors), MSTL with a level-only AutoETS on the seasonally
adjusted series and a smoothed seasonal naive, the last two on histories denoised within each
``group`` (rank-12 SVD of a product's series across sites, :func:`~._forecast_models.svd_denoise`;
without a ``group`` column they see the raw series). Two rules on top:

- dead series: a series classified smooth whose last 4 periods are all zero (it stopped selling)
  is forecast 0, and so is an intermittent one whose current gap is longer than any before;
- no negative demand: forecasts are floored at 0 unless the series' mean is negative (net sales
  with more returns than sales);
- intermittent and lumpy series (Syntetos, Boylan & Croston 2005: ADI >= 1.32, non-negative) get the
  mean of Croston-SBA, TSB and ADIDA instead, *if* that beats the ensemble on those series in the
  calibration refit (the last ``h`` periods before the forecast origin, never later data); otherwise
  they keep the ensemble (the decision is pooled over the intermittent series, not per series, and
  made on squared error, which rewards the mean demand rate rather than the median, often 0).

Single members can be chosen instead (see :data:`MODELS`).

Intervals are split-conformal (Vovk et al. 2005) with normalised scores (Papadopoulos et al. 2008;
Lei et al. 2018): the same model is refitted without the last ``h`` periods, its absolute errors on
them divided by each series' scale are pooled across series per horizon step (with neighbouring
steps), and the conformal quantile of those scores times the series' scale is the half-width. The
normaliser also carries a season profile (how large seasonal-naive errors are, relative to the
series' scale, at each phase of the season, pooled over series), so a calibration window that
contains the holidays does not widen the bands of a quiet season.

>>> import numpy as np, pandas as pd
>>> ds = pd.date_range("2020-01-03", periods=120, freq="W-FRI")
>>> y = 10 + 3 * np.sin(np.arange(120) * 2 * np.pi / 52)
>>> df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": y})
>>> fc = Forecaster(freq="W", season_length=52, model="snaive_smooth").fit(df).predict(4)
>>> list(fc.columns)
['unique_id', 'ds', 'y_hat', 'lo_80', 'hi_80']
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from supplynet.errors import DataError
from supplynet.sense.demand import _forecast_models as km
from supplynet.sense.demand._forecast_conformal import conformal_quantiles, forecast_metrics, normaliser
from supplynet.sense.demand._forecast_data import (
    Grid,
    Panel,
    build_panel,
    resolve_freq,
    validate_exog,
    validate_series,
)

__all__ = ["MODELS", "Forecaster", "backtest", "forecast_metrics"]

#: model name -> members averaged for the smooth series ("default" also routes intermittent ones)
MODELS: dict[str, tuple[str, ...]] = {
    "default": ("lgbm", "mstl_ses_svd", "snaive_svd"),
    "lgbm": ("lgbm",),
    "mstl_ets": ("mstl_ets",),
    "mstl_ses": ("mstl_ses",),
    "theta": ("theta",),
    "snaive_smooth": ("snaive_smooth",),
    "mstl_ses_svd": ("mstl_ses_svd",),
    "snaive_svd": ("snaive_svd",),
    "seasonal_naive": ("seasonal_naive",),
    "intermittent": ("intermittent",),
}

#: trailing zero periods after which a smooth series counts as dead (forecast 0)
DEAD_RUN = 4
#: rank kept by the group SVD denoising
SVD_RANK = 12


def _denoised(panel: Panel) -> Panel:
    if panel.groups is None:
        return panel
    return dataclasses.replace(panel, Y=km.svd_denoise(panel.Y, panel.groups, SVD_RANK))


_MEMBERS: dict[str, Callable[[Panel, int, km.Context], np.ndarray]] = {
    "lgbm": km.lightgbm_global,
    "mstl_ets": km.mstl_ets,
    "mstl_ses": lambda p, h, ctx: km.mstl_ets(p, h, ctx, trend_model="ZNN"),
    "theta": km.auto_theta,
    "intermittent": km.intermittent,
    "snaive_smooth": lambda p, h, ctx: km.smoothed_seasonal_naive(p.Y, h, ctx.season_length),
    "seasonal_naive": lambda p, h, ctx: km.seasonal_naive(p.Y, h, ctx.season_length),
}
#: members that are another member run on the histories denoised within each group (one SVD pass
#: serves them all: :func:`_member_forecasts` denoises a panel once)
_ON_DENOISED: dict[str, str] = {"mstl_ses_svd": "mstl_ses", "snaive_svd": "snaive_smooth"}

Progress = Callable[[str], None]


def _levels(levels: Sequence[float]) -> list[float]:
    out = []
    for lv in levels:
        if not 0 < float(lv) < 100:
            raise DataError(f"interval level {lv!r} must be between 0 and 100 (exclusive)")
        out.append(float(lv))
    return sorted(set(out))


def _name(level: float) -> str:
    return f"{level:g}"


def _intermittent_mask(Y: np.ndarray) -> np.ndarray:
    adi, _ = km.classify_demand(Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        nonneg = np.nanmin(np.where(np.isnan(Y), 0.0, Y), axis=1) >= 0
    return (adi >= km.ADI_CUTOFF) & nonneg & np.isfinite(adi)


def _member_forecasts(
    panel: Panel,
    h: int,
    ctx: km.Context,
    names: set[str],
    inter: np.ndarray,
    progress: Progress | None,
    smooth_all: bool = True,
) -> dict[str, np.ndarray]:
    """Run each needed member once: ``intermittent`` on the intermittent rows, the others on the
    rest (or on all rows when ``smooth_all``, as the single-member models and baselines need)."""
    out: dict[str, np.ndarray] = {}
    views: dict[tuple[bytes, bool], Panel] = {}

    def view(rows: np.ndarray, denoise: bool) -> Panel:
        """The panel a member sees: its rows, denoised for the ``*_svd`` members; built once."""
        key = (rows.tobytes(), denoise)
        if key not in views:
            sub = panel if rows.all() else panel.subset(rows)
            views[key] = _denoised(sub) if denoise else sub
        return views[key]

    for name in sorted(names):
        if progress:
            progress(name)
        rows = inter if name == "intermittent" else ~inter if not smooth_all else np.ones(panel.n, bool)
        arr = np.full((panel.n, h), np.nan)
        if rows.any():
            res = _MEMBERS[_ON_DENOISED.get(name, name)](view(rows, name in _ON_DENOISED), h, ctx)
            if rows.all():
                arr = res
            else:
                arr[rows] = res
        out[name] = arr
    return out


def _combine(
    model: str,
    members: dict[str, np.ndarray],
    inter: np.ndarray,
    Y: np.ndarray | None = None,
    route: bool = True,
) -> np.ndarray:
    """Mean of the model's members; for ``default`` also the dead-series and intermittent rules
    (``Y`` is the history the members saw; ``route`` whether intermittent rows get Croston-type
    forecasts)."""
    point = np.mean([members[m] for m in MODELS[model]], axis=0)
    if model == "default" and route and inter.any():
        point[inter] = members["intermittent"][inter]
    if model == "default" and Y is not None:
        point[km.dead_mask(Y, DEAD_RUN, inter)] = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            sells = np.nanmean(Y, axis=1) >= 0  # net sales: returns can make a period negative
        point[sells] = np.maximum(point[sells], 0.0)
    if model == "intermittent":
        point = np.where(np.isnan(point), members.get("seasonal_naive", point), point)
    return point


def _needed(models: Sequence[str], inter_any: bool) -> set[str]:
    names = set()
    for m in models:
        names |= set(MODELS[m])
        if m in ("default", "intermittent") and inter_any:
            names.add("intermittent")
        if m == "intermittent":
            names.add("seasonal_naive")
    return names


class Forecaster:
    """Fit on a long-format history, then ``predict(h, levels)`` point forecasts and intervals.

    Parameters name the pandas frequency (``W``, ``D``, ``M`` ...), the season length (default from
    the frequency: 52 for weekly), the model (a key of :data:`MODELS`), threads and seed.
    """

    def __init__(
        self,
        freq: str = "W",
        season_length: int | None = None,
        model: str = "default",
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.grid: Grid = resolve_freq(freq)
        self.freq = freq
        if season_length is None:
            season_length = self.grid.default_season
        if int(season_length) < 1:
            raise DataError(f"season_length must be >= 1, got {season_length}")
        if model not in MODELS:
            raise DataError(f"unknown model {model!r}: choose one of {sorted(MODELS)}")
        if int(n_jobs) < 1:
            raise DataError(f"n_jobs must be >= 1, got {n_jobs}")
        self.season_length = int(season_length)
        self.model = model
        self.n_jobs = int(n_jobs)
        self.seed = int(seed)
        self._panel: Panel | None = None
        self._ctx: km.Context | None = None

    def fit(self, df: pd.DataFrame, exog: pd.DataFrame | None = None) -> Forecaster:
        """Validate and store the history (the models are fitted at predict time, per horizon)."""
        clean = validate_series(df, self.grid, "data")
        self._panel = build_panel(clean)
        self._ctx = self._context(exog)
        return self

    def _context(self, exog: pd.DataFrame | None) -> km.Context:
        ex = validate_exog(exog, self.grid, "exog") if exog is not None else None
        return km.Context(self.grid, self.season_length, ex, self.n_jobs, self.seed)

    def predict(
        self, h: int, levels: Sequence[float] = (80,), progress: Progress | None = None
    ) -> pd.DataFrame:
        """Forecast ``h`` periods past each series' end: ``unique_id, ds, y_hat, lo_L, hi_L ...``."""
        if self._panel is None or self._ctx is None:
            raise DataError("Forecaster.predict called before fit")
        if int(h) < 1:
            raise DataError(f"horizon h must be >= 1, got {h}")
        h = int(h)
        lv = _levels(levels)
        panel, ctx = self._panel, self._ctx
        inter = _intermittent_mask(panel.Y) if self.model == "default" else np.ones(panel.n, bool)
        q, route = {}, True
        if lv or self.model == "default":
            q, route = calibrate(panel, h, ctx, [self.model], lv or [80.0], progress)
        # rows the intermittent member serves; the smooth members serve the others
        served = inter if route else np.zeros(panel.n, bool)
        #: which series are intermittent (``default`` model), and whether they went to their models
        self.intermittent_ = inter if self.model == "default" else np.zeros(panel.n, bool)
        self.routed_ = bool(self.model == "default" and served.any())
        needed = _needed([self.model], bool(served.any()))
        members = _member_forecasts(panel, h, ctx, needed, served, progress, self.model != "default")
        point = _combine(self.model, members, inter, panel.Y, route)
        out = pd.DataFrame(
            {
                "unique_id": np.repeat(panel.uids, h),
                "ds": self._future_dates(panel, h),
                "y_hat": point.ravel(),
            }
        )
        if lv:
            norm = normaliser(panel, h, self.season_length)
            for level in lv:
                half = q[self.model][level][None, :] * norm
                lo, hi = point - half, point + half
                lo = np.where(_nonneg(panel.Y)[:, None], np.maximum(lo, 0.0), lo)
                out[f"lo_{_name(level)}"] = lo.ravel()
                out[f"hi_{_name(level)}"] = hi.ravel()
        return out

    def _future_dates(self, panel: Panel, h: int) -> np.ndarray:
        last = pd.DatetimeIndex(panel.ds_last)
        if self.grid.kind in ("W", "D", "H"):
            unit = {"W": pd.Timedelta(weeks=1), "D": pd.Timedelta(days=1), "H": pd.Timedelta(hours=1)}
            steps = np.arange(1, h + 1)
            return (last.to_numpy()[:, None] + steps[None, :] * unit[self.grid.kind].to_timedelta64()).ravel()
        return np.array(
            [self.grid.shift(d, k) for d in last for k in range(1, h + 1)], dtype="datetime64[ns]"
        )


def _nonneg(Y: np.ndarray) -> np.ndarray:
    return np.nanmin(np.where(np.isnan(Y), 0.0, Y), axis=1) >= 0


def calibrate(
    panel: Panel,
    h: int,
    ctx: km.Context,
    models: Sequence[str],
    levels: list[float],
    progress: Progress | None = None,
) -> tuple[dict[str, dict[float, np.ndarray]], bool]:
    """Refit without the last ``h`` periods and score the held-out block: split-conformal
    half-widths (in units of each series' scale) per model, level and step, and whether the
    ``default`` model routes intermittent series to the Croston-type methods (they must do at
    least as well as the ensemble on the intermittent series of this block, in root mean squared
    scaled error)."""
    cal = panel.truncate(h)
    m = ctx.season_length
    usable = cal.lengths >= 1
    cal = cal.subset(usable)
    actual = panel.Y[panel.lengths > h][usable][:, -h:]
    if cal.n == 0:
        return {md: {lv: np.full(h, np.inf) for lv in levels} for md in models}, True
    inter = _intermittent_mask(cal.Y)
    members = _member_forecasts(
        cal,
        h,
        ctx,
        _needed(models, bool(inter.any())),
        inter,
        (lambda s: progress(f"calibrate {s}")) if progress else None,
    )
    norm = normaliser(cal, h, m)
    route = True
    if "default" in models and inter.any():
        # squared error (as RMSSE): it rewards the mean demand rate that Croston-type methods
        # estimate, where absolute error would reward forecasting 0 for any mostly-zero series
        errs = []
        for r in (True, False):
            e = (_combine("default", members, inter, cal.Y, r) - actual)[inter] / norm[inter]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                errs.append(np.nanmean(np.sqrt(np.nanmean(e**2, axis=1))))
        route = bool(errs[0] <= errs[1]) if np.isfinite(errs).all() else True
    out = {}
    for md in models:
        inter_md = inter if md == "default" else np.ones(cal.n, bool)
        err = np.abs(_combine(md, members, inter_md, cal.Y, route) - actual) / norm
        out[md] = conformal_quantiles(err, levels)
    return out, route


def backtest(
    df: pd.DataFrame,
    h: int,
    freq: str = "W",
    exog: pd.DataFrame | None = None,
    model: str = "default",
    n_windows: int = 1,
    season_length: int | None = None,
    n_jobs: int = 1,
    seed: int = 0,
    progress: Progress | None = None,
) -> dict:
    """Rolling-origin backtest of ``model`` against seasonal naive and the seasonal ETS (MSTL-ETS).

    The last ``n_windows`` blocks of ``h`` periods of the whole data are held out in turn; each
    series is scored on the block's periods it has, against a forecast from data up to the cutoff.
    A series is skipped (and counted in ``n_skipped``) in a window when it has no value after the
    cutoff, fewer than ``season_length + 1`` periods before it, or a zero seasonal-naive scale; it
    counts as skipped overall when no window could score it. The 80% intervals are conformal.
    """
    if int(n_windows) < 1:
        raise DataError(f"n_windows must be >= 1, got {n_windows}")
    if int(h) < 1:
        raise DataError(f"horizon h must be >= 1, got {h}")
    h, n_windows = int(h), int(n_windows)
    fc = Forecaster(freq=freq, season_length=season_length, model=model, n_jobs=n_jobs, seed=seed)
    start = time.perf_counter()
    clean = validate_series(df, fc.grid, "data")
    full = build_panel(clean)
    ctx = fc._context(exog)
    m = fc.season_length
    names = {"model": model, "seasonal_naive": "seasonal_naive", "seasonal_ets": "mstl_ets"}
    models = list(dict.fromkeys(names.values()))
    t_end = int(full.t_last.max())
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("actual", "weight", "train")}
    preds: dict[str, dict[str, list[np.ndarray]]] = {k: {"p": [], "lo": [], "hi": []} for k in names}
    scored: set[str] = set()
    for w in range(n_windows, 0, -1):
        cutoff = t_end - w * h
        train = full.cut(cutoff)
        if train.n == 0:
            continue
        inter = _intermittent_mask(train.Y)
        members = _member_forecasts(train, h, ctx, _needed(models, bool(inter.any())), inter, progress)
        q, route = calibrate(train, h, ctx, models, [80.0], progress)
        actual, weight = full.window(train.uids, cutoff + 1, h)
        scale = km.scale_mae_seasonal(train.Y, m)
        ok = (~np.isnan(actual)).any(axis=1) & np.isfinite(scale) & (scale > 0)
        ok &= train.lengths >= m + 1
        norm = normaliser(train, h, m)
        for key, md in names.items():
            point = _combine(
                md, members, inter if md == "default" else np.ones(train.n, bool), train.Y, route
            )
            half = q[md][80.0][None, :] * norm
            lo = np.where(_nonneg(train.Y)[:, None], np.maximum(point - half, 0.0), point - half)
            preds[key]["p"].append(point[ok])
            preds[key]["lo"].append(lo[ok])
            preds[key]["hi"].append((point + half)[ok])
        parts["actual"].append(actual[ok])
        parts["weight"].append(weight[ok])
        parts["train"].append(train.Y[ok])
        scored |= set(train.uids[ok])
    n_series = int(full.n)
    result: dict = {"n_series": n_series, "n_skipped": n_series - len(scored)}
    if not scored:
        raise DataError(
            f"data: no series can be scored with horizon {h} and season length {m} "
            f"(each needs more than {m} periods before the cutoff and values after it)"
        )
    width = max(a.shape[1] for a in parts["train"])

    def stack(arrs: list[np.ndarray], pad_left: bool = False) -> np.ndarray:
        if not pad_left:
            return np.concatenate(arrs)
        return np.concatenate(
            [np.pad(a, ((0, 0), (width - a.shape[1], 0)), constant_values=np.nan) for a in arrs]
        )

    actual, weight, trainY = stack(parts["actual"]), stack(parts["weight"]), stack(parts["train"], True)
    result["seconds"] = round(time.perf_counter() - start, 3)
    for key in names:
        result[key] = forecast_metrics(
            actual,
            stack(preds[key]["p"]),
            stack(preds[key]["lo"]),
            stack(preds[key]["hi"]),
            weight,
            trainY,
            m,
        )
    return result
