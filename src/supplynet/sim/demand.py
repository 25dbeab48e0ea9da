"""Demand for the engine from forecast distributions (``supplynet.sense.demand.forecast`` output).

The forecast module predicts, per series, a point forecast and central intervals in Nixtla long
format: ``unique_id, ds, y_hat, lo_80, hi_80`` (any levels; plain ``lo``/``hi`` columns are read at
``level``; Nixtla's ``mean, lo-80, hi-80`` of ``supplynet forecast run`` too). :func:`demand_from_forecast` turns that into the engine's per-day demand arrays of each
stocking point: mean ``y_hat / days_per_period`` and standard deviation ``sigma / sqrt(days_per_period)``
(the days of a period independent), where ``sigma`` is the interval's half-width over the normal
quantile of its level, ``(hi - lo) / (2 z_{(1 + L/100) / 2})``. A period labelled ``ds`` covers the
days ``[ds, ds + period)``; simulation day 0 is ``start`` (default: the first ``ds``). Before the
first forecast period an item keeps the network's own demand; after the last, the last period's
values repeat. Demand of an item with intervals is a rounded normal; without, Poisson at the mean.

    >>> import pandas as pd
    >>> from supplynet.sim.network import SimNetwork
    >>> net = SimNetwork.build(items=[("dc", "a")], lead_time=2, demand_mean=5.0)
    >>> fc = pd.DataFrame({"unique_id": "dc/a", "ds": pd.to_datetime(["2026-01-05", "2026-01-12"]),
    ...                    "y_hat": [70.0, 140.0], "lo_80": [50.0, 100.0], "hi_80": [90.0, 180.0]})
    >>> out = demand_from_forecast(net, fc)
    >>> out.dem_mean[[0, 6, 7, 13], 0].tolist()
    [10.0, 10.0, 20.0, 20.0]
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime

import numpy as np
import pandas as pd
from scipy import stats

from supplynet.errors import DataError
from supplynet.sim.network import DEMAND_KINDS, SimNetwork

__all__ = ["demand_from_forecast", "forecast_to_daily"]

_LEVEL = re.compile(r"^lo_(\d+(?:\.\d+)?)$")


def _interval_columns(df: pd.DataFrame, level: float | None) -> tuple[str, str, float] | None:
    if "lo" in df.columns and "hi" in df.columns:
        return "lo", "hi", float(level if level is not None else 80.0)
    levels = sorted(float(m.group(1)) for c in df.columns if (m := _LEVEL.match(str(c))))
    levels = [lv for lv in levels if f"hi_{lv:g}" in df.columns]
    if not levels:
        return None
    if level is not None:
        if float(level) not in levels:
            raise DataError(f"forecast: no lo_{level:g}/hi_{level:g} columns; levels present: {levels}")
        lv = float(level)
    else:  # the level nearest 80: wide enough to be stable, narrow enough to stay near-normal
        lv = min(levels, key=lambda x: abs(x - 80.0))
    return f"lo_{lv:g}", f"hi_{lv:g}", lv


def forecast_to_daily(forecast: pd.DataFrame, *, level: float | None = None,
                      period_days: float | None = None) -> pd.DataFrame:
    """Per-period forecast rows with per-day ``mean`` and ``std`` and the period's ``days``.

    ``period_days``: length of one forecast period in days (default: inferred per series from the
    spacing of ``ds``; a single-row series counts as one day).
    """
    need = {"unique_id", "ds", "y_hat"}
    if isinstance(forecast, pd.DataFrame) and "y_hat" not in forecast.columns and "mean" in forecast.columns:
        # Nixtla's names (``supplynet forecast run``): mean, lo-80, hi-80
        forecast = forecast.rename(columns=lambda c: "y_hat" if c == "mean" else re.sub(r"^(lo|hi)-", r"\1_", str(c)))
    if not isinstance(forecast, pd.DataFrame) or not need <= set(forecast.columns):
        have = list(forecast.columns) if isinstance(forecast, pd.DataFrame) else type(forecast).__name__
        raise DataError(f"forecast: columns {sorted(need)} (and lo_L/hi_L or lo/hi) expected, got {have}")
    df = forecast.copy()
    try:
        df["ds"] = pd.to_datetime(df["ds"], utc=True).dt.tz_localize(None)
    except (ValueError, TypeError) as exc:
        raise DataError(f"forecast.ds: not dates ({exc})") from exc
    df["unique_id"] = df["unique_id"].astype(str)
    y = pd.to_numeric(df["y_hat"], errors="coerce")
    if y.isna().any():
        bad = df.loc[y.isna()].iloc[0]
        raise DataError(f"forecast.y_hat: not a number for {bad['unique_id']} at {bad['ds']}: {forecast.loc[bad.name, 'y_hat']!r}")
    df["y_hat"] = y.clip(lower=0.0)
    df = df.sort_values(["unique_id", "ds"], ignore_index=True)
    if df.duplicated(["unique_id", "ds"]).any():
        dup = df.loc[df.duplicated(["unique_id", "ds"])].iloc[0]
        raise DataError(f"forecast: {dup['unique_id']} has two rows for {dup['ds']}")
    if period_days is None:
        gap = df.groupby("unique_id")["ds"].diff().dt.total_seconds() / 86400.0
        step = gap.groupby(df["unique_id"]).transform("median").fillna(1.0)
    else:
        if not float(period_days) > 0:
            raise DataError(f"period_days must be > 0, got {period_days!r}")
        step = pd.Series(float(period_days), index=df.index)
    days = np.maximum(step.to_numpy(dtype=float), 1.0 / 24.0)
    cols = _interval_columns(df, level)
    if cols is None:
        sigma = np.sqrt(df["y_hat"].to_numpy())  # Poisson-like spread when no interval is given
        has_interval = np.zeros(len(df), dtype=bool)
    else:
        lo, hi, lv = cols
        if not 0 < lv < 100:
            raise DataError(f"forecast interval level must be in (0, 100), got {lv}")
        z = float(stats.norm.ppf(0.5 + lv / 200.0))
        width = pd.to_numeric(df[hi], errors="coerce") - pd.to_numeric(df[lo], errors="coerce")
        if width.isna().any() or (width < -1e-9).any():
            bad = df.loc[width.isna() | (width < -1e-9)].iloc[0]
            raise DataError(f"forecast.{lo}/{hi}: bad interval for {bad['unique_id']} at {bad['ds']}: "
                            f"[{bad[lo]!r}, {bad[hi]!r}]")
        sigma = np.maximum(width.to_numpy(dtype=float), 0.0) / (2.0 * z)
        has_interval = np.ones(len(df), dtype=bool)
    out = df[["unique_id", "ds"]].copy()
    out["days"] = days
    out["mean"] = df["y_hat"].to_numpy() / days
    out["std"] = sigma / np.sqrt(days)
    out["interval"] = has_interval
    return out


def _key_map(net: SimNetwork, key: Callable[[str, str], str] | Mapping[str, tuple[str, str]] | None) -> dict[str, int]:
    pairs = [(net.sites[s], k) for s, k in zip(net.item_site, net.item_sku, strict=True)]
    if key is None:
        return {f"{s}/{k}": i for i, (s, k) in enumerate(pairs)}
    if callable(key):
        return {str(key(s, k)): i for i, (s, k) in enumerate(pairs)}
    index = {p: i for i, p in enumerate(pairs)}
    out = {}
    for uid, pair in key.items():
        if tuple(pair) not in index:
            raise DataError(f"forecast key {uid!r} -> {pair!r}: no such stocking point in network {net.name!r}")
        out[str(uid)] = index[tuple(pair)]
    return out


def demand_from_forecast(net: SimNetwork, forecast: pd.DataFrame, *, start: datetime | str | None = None,
                         key: Callable[[str, str], str] | Mapping[str, tuple[str, str]] | None = None,
                         level: float | None = None, period_days: float | None = None) -> SimNetwork:
    """A copy of ``net`` whose demand follows ``forecast`` where it names a stocking point.

    ``key`` maps stocking points to ``unique_id``: a function ``(site, sku) -> uid`` or a mapping
    ``uid -> (site, sku)``; default ``"site/sku"``. Unmatched series are listed in
    ``meta["forecast_unmatched"]``.
    """
    if not isinstance(net, SimNetwork):
        raise DataError(f"net must be a SimNetwork, got {type(net).__name__}")
    daily = forecast_to_daily(forecast, level=level, period_days=period_days)
    index = _key_map(net, key)
    matched = daily["unique_id"].isin(index)
    unmatched = sorted(set(daily.loc[~matched, "unique_id"]))
    daily = daily.loc[matched]
    if daily.empty:
        raise DataError(f"forecast: no unique_id matches a stocking point of {net.name!r} "
                        f"(expected e.g. {next(iter(index), '?')!r}; got {unmatched[:3]})")
    day0 = pd.Timestamp(start).tz_localize(None) if start is not None and pd.Timestamp(start).tzinfo is None \
        else (pd.Timestamp(start).tz_convert("UTC").tz_localize(None) if start is not None else daily["ds"].min())
    first = ((daily["ds"] - day0).dt.total_seconds() / 86400.0).to_numpy()
    last = first + daily["days"].to_numpy()
    T = int(max(1, np.ceil(last.max())))
    n = net.n_items
    base_mean = np.broadcast_to(net.dem_mean[-1], (n,))
    base_std = np.broadcast_to(net.dem_std[-1], (n,))
    mean = np.empty((T, n))
    std = np.empty((T, n))
    old_T = net.dem_mean.shape[0]
    for t in range(T):  # items without a forecast keep their own (possibly per-day) demand
        mean[t] = net.dem_mean[min(t, old_T - 1)]
        std[t] = net.dem_std[min(t, old_T - 1)]
    kinds = net.dem_kind.copy()
    centres = np.arange(T) + 0.5
    for uid, rows in daily.groupby("unique_id", sort=False):
        i = index[uid]
        lo = first[daily.index.get_indexer(rows.index)]
        hi = last[daily.index.get_indexer(rows.index)]
        m = rows["mean"].to_numpy()
        s = rows["std"].to_numpy()
        # the period covering each day's centre; days after the last period repeat it
        j = np.searchsorted(lo, centres, side="right") - 1
        covered = j >= 0
        jj = np.clip(j, 0, len(lo) - 1)
        inside = covered & (centres < hi[jj]) | (covered & (jj == len(lo) - 1))
        mean[inside, i] = m[jj[inside]]
        std[inside, i] = s[jj[inside]]
        if (~covered).all():
            mean[:, i], std[:, i] = base_mean[i], base_std[i]
        kinds[i] = DEMAND_KINDS["normal_int"] if bool(rows["interval"].any()) else DEMAND_KINDS["poisson"]
        if net.source[i]:
            kinds[i] = -1
    kinds = np.where((mean.max(axis=0) > 0) | (kinds == DEMAND_KINDS["bootstrap"]), kinds, -1)
    meta = dict(net.meta, forecast_unmatched=unmatched, forecast_day0=str(day0))
    return net.replace(dem_mean=np.ascontiguousarray(mean), dem_std=np.ascontiguousarray(std), dem_kind=kinds,
                       meta=meta)
