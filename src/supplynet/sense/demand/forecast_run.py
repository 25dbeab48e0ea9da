"""Forecasts out: the next ``h`` periods of every series in Nixtla long format.

:func:`run_forecast` fits the :class:`~supplynet.sense.demand.forecast.Forecaster` (the ``default`` model
routes intermittent series to the Croston-type methods when they win the calibration block) and
returns ``unique_id, ds, mean, lo-80, hi-80, lo-95, hi-95 ...`` -- the column names of Nixtla's
libraries (statsforecast's ``lo-80``), with the point forecast as ``mean``. The bands are ordered
per row: ``lo-95 <= lo-80 <= mean <= hi-80 <= hi-95``.

:func:`sales_history` builds the history from the log: demand per SKU-site and period is the sales
events' ``quantity + unfilled`` (what customers asked for, not only what was on the shelf), with
``unique_id = "site/sku"`` (the simulator's key) and ``group = sku`` (the forecaster pools a
product's sites); with a network, only the network's SKU-sites with demand.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ...errors import DataError
from ...events import Sale
from ._forecast_data import resolve_freq
from .forecast import Forecaster, _levels, _name

if TYPE_CHECKING:
    from ...model import Network
    from ...store import Store

__all__ = ["parse_levels", "read_frame", "run_forecast", "sales_history", "to_nixtla"]


def parse_levels(text: str | Sequence[float]) -> list[float]:
    """``"80,95"`` -> ``[80.0, 95.0]`` (each strictly between 0 and 100)."""
    if isinstance(text, str):
        try:
            vals = [float(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise DataError(f"--levels {text!r}: expected numbers such as 80,95") from None
    else:
        vals = [float(x) for x in text]
    return _levels(vals)


def read_frame(path: Any, what: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame; a missing or unreadable file is a :class:`DataError`."""
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} {p}: file not found")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        return pd.read_csv(p)
    except Exception as exc:  # pandas / pyarrow raise many types
        raise DataError(f"{what} {p}: cannot read ({str(exc)[:200]})") from exc


def to_nixtla(fc: pd.DataFrame, levels: Sequence[float]) -> pd.DataFrame:
    """A :meth:`Forecaster.predict` frame in Nixtla's names, bands ordered within each row."""
    out = pd.DataFrame({"unique_id": fc["unique_id"].astype(str), "ds": pd.to_datetime(fc["ds"]),
                        "mean": fc["y_hat"].astype(float)})
    lo_prev = hi_prev = out["mean"].to_numpy()
    for lv in sorted(levels):  # widest last: each band holds the narrower ones
        lo = np.minimum(fc[f"lo_{_name(lv)}"].to_numpy(float), lo_prev)
        hi = np.maximum(fc[f"hi_{_name(lv)}"].to_numpy(float), hi_prev)
        out[f"lo-{_name(lv)}"], out[f"hi-{_name(lv)}"] = lo, hi
        lo_prev, hi_prev = lo, hi
    return out


def run_forecast(df: pd.DataFrame, horizon: int, *, freq: str = "W", levels: Sequence[float] = (80.0, 95.0),
                 exog: pd.DataFrame | None = None, model: str = "default", season_length: int | None = None,
                 n_jobs: int = 1, seed: int = 0, progress: Any = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Forecast ``horizon`` periods past each series' end; returns the Nixtla frame and a summary
    (series, rows, intermittent series and whether they went to the intermittent models, seconds)."""
    lv = parse_levels(levels)
    start = time.perf_counter()
    fc = Forecaster(freq=freq, season_length=season_length, model=model, n_jobs=n_jobs, seed=seed).fit(df, exog)
    pred = fc.predict(horizon, lv, progress=progress)
    out = to_nixtla(pred, lv)
    info = {"series": int(out["unique_id"].nunique()), "rows": len(out), "horizon": int(horizon), "freq": freq,
            "levels": lv, "model": model, "intermittent_series": int(fc.intermittent_.sum()),
            "intermittent_routed": bool(fc.routed_), "seconds": round(time.perf_counter() - start, 2)}
    return out, info


def sales_history(store: Store, freq: str = "W", network: Network | None = None) -> pd.DataFrame:
    """Demand per ``site/sku`` and period from the log's sales events (see the module docstring)."""
    grid = resolve_freq(freq)
    rows = [(e.site, e.sku, e.ts, e.quantity + e.unfilled) for r in store.log.read(kinds=["sale"])
            for e in (r.event,) if isinstance(e, Sale)]
    if not rows:
        raise DataError("the log holds no sales events (supplynet import sales FILE)")
    df = pd.DataFrame(rows, columns=["site", "sku", "ts", "y"])
    if network is not None:
        keep = {(d.site, d.sku) for d in network.demand}
        df = df[[(s, k) in keep for s, k in zip(df["site"], df["sku"], strict=True)]]
        if df.empty:
            raise DataError(f"no sales in the log for a SKU-site with demand in network {network.name!r}")
    ts = pd.to_datetime(df["ts"], utc=True).dt.tz_localize(None)
    df = df.assign(t=grid.index(ts))
    agg = df.groupby(["site", "sku", "t"], as_index=False)["y"].sum()
    return pd.DataFrame({"unique_id": agg["site"] + "/" + agg["sku"], "ds": grid.dates(agg["t"].to_numpy()),
                         "y": agg["y"].to_numpy(float), "group": agg["sku"].to_numpy()})
