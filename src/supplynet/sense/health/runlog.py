"""A company's own run-to-failure or sensor log as the RUL model and the onset detector read it.

One table (CSV with any of the usual delimiters, or Parquet): a unit column (engine, machine,
bearing), a time column (cycles, or timestamps, which become hours since the unit's first row) and
numeric sensor columns; operating-setting columns, when named, let the model learn regimes.
Without ``sensor_cols`` every other numeric column is a sensor.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import DataError

__all__ = ["RunLog", "read_any", "read_run_log", "read_truth"]


def read_any(path: str | Path, what: str = "--data") -> pd.DataFrame:
    """A CSV (delimiter sniffed: ``,`` ``;`` tab ``|`` or spaces) or Parquet file as a frame."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} {p}: file not found")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        with p.open("r", encoding="utf-8-sig", errors="replace") as fh:
            head = fh.read(65_536)
        try:
            sep = csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
        except csv.Error:
            sep = r"\s+" if "," not in head.splitlines()[0] else ","
        return pd.read_csv(p, sep=sep, encoding="utf-8-sig", engine="c" if len(sep) == 1 else "python")
    except DataError:
        raise
    except Exception as exc:  # pandas / pyarrow raise many types
        raise DataError(f"{what} {p}: cannot read ({str(exc)[:200]})") from exc


@dataclass(frozen=True)
class RunLog:
    """The log with ``unit`` and ``time`` columns as given, and the columns the model uses."""

    frame: pd.DataFrame
    unit_col: str
    time_col: str
    sensor_cols: tuple[str, ...]
    setting_cols: tuple[str, ...]
    time_unit: str  # "cycles" (as given) or "hours" (from timestamps)


def _columns(frame: pd.DataFrame, names: Sequence[str], what: str, path: Path) -> list[str]:
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r} for {what} (columns: {', '.join(map(str, frame.columns[:30]))})")
    return list(names)


def read_run_log(path: str | Path, unit_col: str, time_col: str, sensor_cols: Sequence[str] | None = None,
                 setting_cols: Sequence[str] | None = None) -> RunLog:
    """Read and check a unit/time/sensors table; timestamps become hours since each unit's start."""
    p = Path(path)
    frame = read_any(p)
    _columns(frame, [unit_col, time_col], "--unit-col/--time-col", p)
    settings = _columns(frame, setting_cols, "--setting-cols", p) if setting_cols else []
    if sensor_cols:
        sensors = _columns(frame, sensor_cols, "--sensor-cols", p)
    else:
        sensors = [c for c in frame.columns if c not in (unit_col, time_col, *settings)
                   and pd.api.types.is_numeric_dtype(frame[c])]
    if not sensors:
        raise DataError(f"{p}: no numeric sensor column (name them with --sensor-cols)")
    for c in [*sensors, *settings]:
        vals = pd.to_numeric(frame[c], errors="coerce")
        bad = vals.isna() & frame[c].notna()
        if bad.any():
            raise DataError(f"{p}: column {c!r} row {int(np.flatnonzero(bad.to_numpy())[0]) + 2}: "
                            f"{frame[c][bad].iloc[0]!r} is not a number")
        frame[c] = vals.astype(float)
    if frame[[*sensors, *settings]].isna().any().any():
        cols = [*sensors, *settings]  # a gap holds the unit's last value (its next one at the start)
        frame[cols] = frame.groupby(unit_col)[cols].ffill()
        frame[cols] = frame.groupby(unit_col)[cols].bfill()
    time_unit = "cycles"
    if not pd.api.types.is_numeric_dtype(frame[time_col]):
        ts = pd.to_datetime(frame[time_col], errors="coerce", utc=True, format="mixed")
        if ts.isna().any():
            raise DataError(f"{p}: column {time_col!r}: {frame[time_col][ts.isna()].iloc[0]!r} is neither a number "
                            "nor a date/time")
        start = ts.groupby(frame[unit_col]).transform("min")
        frame[time_col] = (ts - start).dt.total_seconds() / 3600.0
        time_unit = "hours"
    return RunLog(frame, unit_col, time_col, tuple(sensors), tuple(settings), time_unit)


def read_truth(path: str | Path, units: Sequence[object]) -> np.ndarray:
    """True RUL per unit from a CSV ``unit,rul``, in the order of ``units`` (matched as text)."""
    p = Path(path)
    t = read_any(p, "--truth")
    if not {"unit", "rul"} <= set(t.columns):
        raise DataError(f"--truth {p}: expected columns unit,rul; found {', '.join(map(str, t.columns))}")
    truth = dict(zip(t["unit"].astype(str), pd.to_numeric(t["rul"], errors="coerce"), strict=True))
    units = [str(u) for u in units]
    missing = [u for u in units if u not in truth]
    if missing:
        raise DataError(f"--truth {p}: no true RUL for unit {missing[0]!r} ({len(missing)} units missing)")
    out = np.array([truth[u] for u in units], dtype=float)
    if not np.isfinite(out).all():
        raise DataError(f"--truth {p}: a rul value is not a number")
    return out
