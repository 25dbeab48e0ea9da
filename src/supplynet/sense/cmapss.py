"""Loader for the NASA C-MAPSS turbofan folder (Saxena et al., PHM08).

The standard folder holds, per subset ``FD00x``: ``train_FD00x.txt`` (run-to-failure units),
``test_FD00x.txt`` (units cut some time before failure) and ``RUL_FD00x.txt`` (true remaining
cycles after each test unit's last row). Each may be gzipped (``.txt.gz``). Rows have 26
space-separated numbers: unit, cycle, three operating settings and 21 sensors.

Frames come back in long format with columns ``unit``, ``cycle``, ``setting_1..3``, ``s_1..s_21``.
"""

from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["CMAPSS_COLUMNS", "SENSOR_COLUMNS", "SETTING_COLUMNS", "CmapssSubset", "load_cmapss", "read_table"]

SETTING_COLUMNS = [f"setting_{i}" for i in range(1, 4)]
SENSOR_COLUMNS = [f"s_{i}" for i in range(1, 22)]
CMAPSS_COLUMNS = ["unit", "cycle", *SETTING_COLUMNS, *SENSOR_COLUMNS]
_SUBSET = re.compile(r"^FD\d{3}$")


@dataclass(frozen=True)
class CmapssSubset:
    """One C-MAPSS subset: training units, test units and the test units' true RUL (by unit order)."""

    name: str
    train: pd.DataFrame
    test: pd.DataFrame
    rul: np.ndarray

    @property
    def test_units(self) -> np.ndarray:
        return np.unique(self.test["unit"].to_numpy())


def _find(folder: Path, stem: str) -> Path:
    for name in (f"{stem}.txt", f"{stem}.txt.gz"):
        p = folder / name
        if p.is_file():
            return p
    raise DataError(f"{folder}/{stem}.txt (or .txt.gz): file not found")


def _read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="ascii", errors="replace") as fh:
                return fh.read()
        return path.read_text(encoding="ascii", errors="replace")
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def read_table(path: str | Path, n_columns: int) -> np.ndarray:
    """Read a whitespace-separated numeric table and check every row has ``n_columns`` values."""
    path = Path(path)
    text = _read_text(path)
    rows = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not rows:
        raise DataError(f"{path}: file is empty")
    for i, r in enumerate(rows, start=1):
        if len(r) != n_columns:
            raise DataError(f"{path}: line {i} has {len(r)} columns, expected {n_columns}")
    try:
        return np.loadtxt(io.StringIO("\n".join(" ".join(r) for r in rows)), dtype=float, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path}: non-numeric value ({exc})") from exc


def _frame(path: Path) -> pd.DataFrame:
    arr = read_table(path, len(CMAPSS_COLUMNS))
    df = pd.DataFrame(arr, columns=CMAPSS_COLUMNS)
    df["unit"] = df["unit"].astype(np.int64)
    df["cycle"] = df["cycle"].astype(np.int64)
    return df.sort_values(["unit", "cycle"], kind="stable").reset_index(drop=True)


def load_cmapss(folder: str | Path, subset: str, *, test: bool = True) -> CmapssSubset:
    """Load ``subset`` (e.g. ``"FD001"``) from a C-MAPSS folder; raises :class:`DataError` when a
    file is missing, a row has the wrong number of columns, or RUL does not match the test units.
    ``test=False`` loads the training file only (the test frame is then empty)."""
    folder = Path(folder)
    if not _SUBSET.match(subset):
        raise DataError(f"subset {subset!r}: expected a name like 'FD001'")
    if not folder.is_dir():
        raise DataError(f"{folder}: C-MAPSS folder not found")
    train = _frame(_find(folder, f"train_{subset}"))
    if not test:
        return CmapssSubset(subset, train, train.iloc[:0].copy(), np.zeros(0))
    test_df = _frame(_find(folder, f"test_{subset}"))
    rul_path = _find(folder, f"RUL_{subset}")
    rul = read_table(rul_path, 1)[:, 0]
    n_units = test_df["unit"].nunique()
    if len(rul) != n_units:
        raise DataError(f"{rul_path}: {len(rul)} RUL values for {n_units} test units")
    return CmapssSubset(subset, train, test_df, rul)
