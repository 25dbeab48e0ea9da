"""Loader for the Walmart store-sales data (Kaggle "Walmart Recruiting: Store Sales Forecasting").

Turns ``walmart-store-sales/train.csv.zip`` into Nixtla long format (``unique_id``, ``ds``, ``y``,
``weight``, ``group``), one series per store and department (``"<store>_<dept>"``, 3,331 of them),
with ``weight`` = 5 on holiday weeks (the competition's WMAE weighting) and 1 otherwise and
``group`` = the department (the "product" whose series across stores are pooled), plus an
exogenous frame (``unique_id``, ``ds``, temperature, fuel price, markdowns 1-5 with missing values
as 0, CPI, unemployment, holiday flag, store and department numbers) on every week of every series,
including weeks beyond its last sale, so it can serve as future exogenous values.

The data folder is found from ``SUPPLYNET_DATA_DIR`` or ``../shared/data`` next to the repository.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from supplynet.errors import DataError

__all__ = ["EXOG_COLUMNS", "HOLIDAY_WEIGHT", "find_walmart_dir", "load_walmart"]

HOLIDAY_WEIGHT = 5.0
EXOG_COLUMNS = (
    "temperature",
    "fuel_price",
    "markdown1",
    "markdown2",
    "markdown3",
    "markdown4",
    "markdown5",
    "cpi",
    "unemployment",
    "is_holiday",
    "store",
    "dept",
)


def find_walmart_dir(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The ``walmart-store-sales`` folder, or None when it is not available."""
    candidates: list[Path] = []
    if data_dir is not None:
        candidates.append(Path(data_dir))
    if os.environ.get("SUPPLYNET_DATA_DIR"):
        candidates.append(Path(os.environ["SUPPLYNET_DATA_DIR"]))
    repo = Path(__file__).resolve().parents[3]
    candidates += [repo / ".." / "shared" / "data", Path.cwd() / ".." / "shared" / "data"]
    for base in candidates:
        folder = base if base.name == "walmart-store-sales" else base / "walmart-store-sales"
        if (folder / "train.csv.zip").exists() or (folder / "train.csv").exists():
            return folder.resolve()
    return None


def _read(folder: Path, name: str) -> pd.DataFrame:
    for candidate in (folder / name, folder / f"{name}.zip"):
        if candidate.exists():
            return pd.read_csv(candidate)
    raise DataError(f"{folder}: missing {name} (or {name}.zip)")


def load_walmart(
    data_dir: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(series, exog)`` for the Walmart weekly sales.

    ``series`` has columns ``unique_id``, ``ds``, ``y``, ``weight`` (5 on holiday weeks) and
    ``group`` (the department); weeks a
    department did not report are absent (the forecaster treats gaps inside a series as zero
    demand). ``exog`` has ``unique_id``, ``ds`` and :data:`EXOG_COLUMNS` for every week in
    ``features.csv`` from each series' first week on.
    """
    folder = find_walmart_dir(data_dir)
    if folder is None:
        raise DataError("walmart-store-sales not found: set SUPPLYNET_DATA_DIR or place it in ../shared/data")
    train = _read(folder, "train.csv")
    missing = {"Store", "Dept", "Date", "Weekly_Sales", "IsHoliday"} - set(train.columns)
    if missing:
        raise DataError(f"{folder}/train.csv: missing columns {sorted(missing)}")
    train["ds"] = pd.to_datetime(train["Date"])
    uid = train["Store"].astype(str) + "_" + train["Dept"].astype(str)
    holiday = train["IsHoliday"].astype(str).str.upper().eq("TRUE")
    series = pd.DataFrame(
        {
            "unique_id": uid,
            "ds": train["ds"],
            "y": train["Weekly_Sales"].astype(float),
            "weight": np.where(holiday, HOLIDAY_WEIGHT, 1.0),
            "group": "dept" + train["Dept"].astype(str),
        }
    ).sort_values(["unique_id", "ds"], ignore_index=True)

    feats = _read(folder, "features.csv")
    feats["ds"] = pd.to_datetime(feats["Date"])
    feats = feats.rename(
        columns={
            "Temperature": "temperature",
            "Fuel_Price": "fuel_price",
            "CPI": "cpi",
            "Unemployment": "unemployment",
            **{f"MarkDown{i}": f"markdown{i}" for i in range(1, 6)},
        }
    )
    feats["is_holiday"] = feats["IsHoliday"].astype(str).str.upper().eq("TRUE").astype(float)
    for i in range(1, 6):
        feats[f"markdown{i}"] = feats[f"markdown{i}"].fillna(0.0)
    feats = feats.sort_values(["Store", "ds"])
    for col in ("cpi", "unemployment", "temperature", "fuel_price"):
        feats[col] = feats.groupby("Store")[col].ffill()
    keys = train.groupby(["Store", "Dept"], as_index=False)["ds"].min().rename(columns={"ds": "first"})
    feats["store"] = feats["Store"].astype(float)
    exog = keys.merge(feats[["Store", "ds", *EXOG_COLUMNS[:-1]]], on="Store")
    exog["dept"] = exog["Dept"].astype(float)
    exog = exog[exog["ds"] >= exog["first"]]
    exog.insert(0, "unique_id", exog["Store"].astype(str) + "_" + exog["Dept"].astype(str))
    exog = exog.drop(columns=["Store", "Dept", "first"]).sort_values(["unique_id", "ds"], ignore_index=True)
    return series, exog
