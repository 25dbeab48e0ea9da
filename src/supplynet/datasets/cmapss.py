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

from ..errors import DataError, ParameterError

__all__ = [
    "CMAPSS_COLUMNS", "SENSOR_COLUMNS", "SETTING_COLUMNS", "CmapssSubset", "generate_wear_fleet", "load_cmapss",
    "read_table", "truncate_units", "write_cmapss_folder",
]

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


def generate_wear_fleet(n_units: int, seed: int | np.random.Generator = 0, *, regimes: int = 1,
                        life_range: tuple[int, int] = (120, 260), design_seed: int = 0) -> pd.DataFrame:
    """Run-to-failure units in C-MAPSS layout with exponential wear plus noise (for tests and demos).

    Each unit starts with its own initial wear and a random life; eight of the 21 sensors drift as
    ``exp(5 * (t / life - 1))`` towards failure (some up, some down), the others are constant or pure
    noise. With ``regimes > 1`` the settings jump between that many operating points and every
    sensor gets a regime offset, as in FD002.
    """
    if n_units < 1:
        raise ParameterError(f"n_units must be >= 1, got {n_units}")
    design = np.random.default_rng(design_seed)
    centers = design.uniform([0, 0, 60], [40, 0.8, 100], size=(regimes, 3))
    offsets = design.normal(0, 5, size=(regimes, 21))
    rng = np.random.default_rng(seed)
    gain = np.zeros(21)
    gain[[1, 2, 3, 6, 10, 11, 14, 19]] = [1.5, -2.0, 2.5, 1.0, -1.8, 2.2, 1.2, -1.4]
    noisy = np.ones(21)
    noisy[[0, 4, 9, 15, 17, 18]] = 0.0  # constant sensors, as in C-MAPSS
    frames = []
    for u in range(1, n_units + 1):
        life = int(rng.integers(*life_range))
        t = np.arange(1, life + 1)
        reg = rng.integers(0, regimes, size=life)
        settings = centers[reg] + rng.normal(0, 0.002, size=(life, 3))
        wear = np.exp(5.0 * (t / life - 1.0)) + rng.uniform(0, 0.05)
        sensors = 100.0 + offsets[reg] + np.outer(wear, gain) * 3 + noisy * rng.normal(0, 0.3, size=(life, 21))
        frames.append(np.column_stack([np.full(life, u), t, settings, sensors]))
    df = pd.DataFrame(np.vstack(frames), columns=CMAPSS_COLUMNS)
    df["unit"] = df["unit"].astype(np.int64)
    df["cycle"] = df["cycle"].astype(np.int64)
    return df


def truncate_units(frame: pd.DataFrame, seed: int | np.random.Generator = 0,
                   min_keep: int = 30) -> tuple[pd.DataFrame, np.ndarray]:
    """Cut each run-to-failure unit at a random cycle, as the C-MAPSS test set does; returns the
    truncated frame and the true RUL of each unit (in unit order)."""
    rng = np.random.default_rng(seed)
    parts, rul = [], []
    for _, g in frame.groupby("unit", sort=True):
        n = len(g)
        keep = int(rng.integers(min(min_keep, n), n + 1))
        parts.append(g.iloc[:keep])
        rul.append(n - keep)
    return pd.concat(parts, ignore_index=True), np.asarray(rul, dtype=float)


def write_cmapss_folder(folder: str | Path, subset: str, train: pd.DataFrame, test: pd.DataFrame,
                        rul: np.ndarray, *, gz: bool = False) -> Path:
    """Write a subset in the NASA folder format (optionally gzipped)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)

    def put(name: str, text: str) -> None:
        if gz:
            with gzip.open(folder / f"{name}.txt.gz", "wt", encoding="ascii") as fh:
                fh.write(text)
        else:
            (folder / f"{name}.txt").write_text(text, encoding="ascii")

    def table(df: pd.DataFrame) -> str:
        return "\n".join(" ".join(f"{v:.6g}" for v in row) for row in df[CMAPSS_COLUMNS].to_numpy()) + "\n"

    put(f"train_{subset}", table(train))
    put(f"test_{subset}", table(test))
    put(f"RUL_{subset}", "\n".join(str(int(r)) for r in rul) + "\n")
    return folder
