"""Loader for FEMTO / PRONOSTIA bearing runs (Nectoux et al., IEEE PHM 2012 data challenge).

A run folder (e.g. ``Learning_set/Bearing3_1``) holds one ``acc_NNNNN.csv`` per snapshot: 2560
samples at 25.6 kHz (0.1 s) taken every 10 s, with columns hour, minute, second, microsecond,
horizontal and vertical acceleration (g). Some runs use ``;`` as separator. The run ends when the
vibration exceeds 20 g (the bearing is considered failed). Its features per snapshot:
:func:`supplynet.sense.health.features.snapshot_features`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["FEMTO_FS_HZ", "PRONOSTIA_BEARING", "FemtoRun", "load_femto_run"]

FEMTO_FS_HZ = 25_600.0
#: PRONOSTIA test bearing (NSK 6804DD class), per the challenge description: 13 balls of 3.5 mm on a
#: 25.6 mm pitch diameter, zero contact angle.
PRONOSTIA_BEARING = {"n_elements": 13, "element_diameter": 3.5, "pitch_diameter": 25.6, "contact_angle_deg": 0.0}
_ACC = re.compile(r"^acc_(\d+)\.csv$")


@dataclass(frozen=True)
class FemtoRun:
    """One bearing run: snapshot times (s since the first snapshot) and accelerations
    ``acc`` shaped (n_snapshots, n_samples, 2) for the horizontal and vertical channels."""

    name: str
    times_s: np.ndarray
    acc: np.ndarray

    @property
    def duration_s(self) -> float:
        return float(self.times_s[-1] - self.times_s[0])


def _read_snapshot(path: Path) -> np.ndarray:
    text = path.read_text(encoding="ascii", errors="replace")
    sep = ";" if ";" in text.split("\n", 1)[0] else ","
    try:
        arr = np.loadtxt(path, delimiter=sep, ndmin=2)
    except ValueError as exc:
        raise DataError(f"{path}: non-numeric value ({exc})") from exc
    if arr.shape[1] != 6:
        raise DataError(f"{path}: {arr.shape[1]} columns, expected 6 (h, m, s, us, horizontal, vertical)")
    return arr


def load_femto_run(folder: str | Path, *, limit: int | None = None) -> FemtoRun:
    """Read every ``acc_*.csv`` of a run folder in snapshot order (``limit``: the first N only)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: FEMTO run folder not found")
    files = sorted((int(m.group(1)), p) for p in folder.iterdir() if (m := _ACC.match(p.name)))
    if not files:
        raise DataError(f"{folder}: no acc_*.csv snapshot files")
    if limit is not None:
        files = files[:limit]
    snaps = [_read_snapshot(p) for _, p in files]
    n = min(len(s) for s in snaps)
    stamp = np.array([s[0, 0] * 3600 + s[0, 1] * 60 + s[0, 2] + s[0, 3] * 1e-6 for s in snaps])
    stamp = stamp + 86400 * np.concatenate([[0], np.cumsum(np.diff(stamp) < 0)])  # runs over midnight
    acc = np.stack([s[:n, 4:6] for s in snaps])
    return FemtoRun(folder.name, stamp - stamp[0], acc)
