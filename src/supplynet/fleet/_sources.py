"""What the fleet's devices report: generated signals, or real data replayed from a folder.

- demand: :class:`GeneratedDemand` (Poisson / negative binomial from the network's demand specs) or
  :class:`WalmartDemand` (weekly store x department sales spread over the days of the week);
- machines: :class:`GeneratedWear` (exponential degradation to failure, seeded) or
  :class:`CmapssWear` (a NASA C-MAPSS engine's run to failure, cycle by cycle);
- routes: :func:`route_for` (the lane's geometry, else a straight line), or GPS trips replayed from
  a file (:func:`load_gps_routes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError

__all__ = ["CmapssWear", "GeneratedDemand", "GeneratedWear", "WalmartDemand", "fit_trace_to_lane", "interpolate_route",
           "load_gps_routes", "position_at", "route_for"]


class GeneratedDemand:
    """Daily demand per (store, sku) from the network's demand specs (Poisson, or negative binomial
    when the coefficient of variation exceeds Poisson's)."""

    def __init__(self, network: Any, rng: np.random.Generator):
        self.rng = rng
        self.keys = [(d.site, d.sku) for d in network.demand]
        self.mean = np.array([d.mean_per_day for d in network.demand], dtype=float)
        cv = np.array([_cv(d) for d in network.demand], dtype=float)
        var = np.maximum((cv * self.mean) ** 2, self.mean)
        # negative binomial with the given mean and variance (Poisson where var == mean)
        self.p = np.where(var > self.mean, self.mean / np.maximum(var, 1e-12), 1.0)
        self.n = np.where(var > self.mean, self.mean ** 2 / np.maximum(var - self.mean, 1e-12), 0.0)

    def day(self, day_index: int) -> dict[tuple[str, str], float]:
        pois = self.rng.poisson(self.mean)
        nb = self.rng.negative_binomial(np.maximum(self.n, 1e-9), np.clip(self.p, 1e-9, 1.0))
        qty = np.where(self.p < 1.0, nb, pois)
        return dict(zip(self.keys, qty.astype(float), strict=True))


def _cv(d: Any) -> float:
    std = getattr(d, "std_per_day", None)
    if std is not None and d.mean_per_day > 0:
        return float(std) / float(d.mean_per_day)
    return float(getattr(d, "cv", 0.5) or 0.0)


class WalmartDemand:
    """Walmart weekly store x department sales replayed as daily demand.

    Series are mapped onto the network's (store, sku) demand keys in a fixed order; each week's
    dollar sales become units at the SKU's price, scaled so the series' mean matches the network's
    expected demand, and are spread over the seven days (rounded with carry, so no unit is lost).
    """

    def __init__(self, network: Any, frame: Any, rng: np.random.Generator):
        import pandas as pd

        self.keys = [(d.site, d.sku) for d in network.demand]
        means = np.array([d.mean_per_day for d in network.demand], dtype=float)
        wide = frame.pivot_table(index="ds", columns="unique_id", values="y", aggfunc="sum").sort_index()
        wide = wide.loc[:, (wide > 0).mean() > 0.9].clip(lower=0).fillna(0.0)
        if wide.shape[1] == 0:
            raise DataError("no Walmart series with enough sales to replay")
        cols = [wide.columns[i % wide.shape[1]] for i in range(len(self.keys))]
        weekly = wide[cols].to_numpy(dtype=float)
        scale = means * 7.0 / np.maximum(weekly.mean(axis=0), 1e-9)
        self.weekly_units = weekly * scale
        self.weeks = len(wide)
        self.carry = np.zeros(len(self.keys))
        self.rng = rng
        self.first_week = pd.Timestamp(wide.index[0])

    def day(self, day_index: int) -> dict[tuple[str, str], float]:
        week = (day_index // 7) % self.weeks
        exact = self.weekly_units[week] / 7.0 + self.carry
        qty = np.floor(exact)
        self.carry = exact - qty
        return dict(zip(self.keys, qty, strict=True))


@dataclass
class GeneratedWear:
    """Exponential degradation (Saxena et al. 2008's damage model, simplified): sensor drift grows as
    ``exp(b * t)`` until the health index crosses zero and the machine fails."""

    rng: np.random.Generator
    life_cycles: float = 0.0
    cycle: int = 0
    sensors: tuple[str, ...] = ("temperature", "pressure", "vibration_rms", "speed")
    _base: np.ndarray = field(default_factory=lambda: np.array([600.0, 14.0, 0.8, 2388.0]))
    _gain: np.ndarray = field(default_factory=lambda: np.array([12.0, -0.6, 1.2, 6.0]))

    def __post_init__(self) -> None:
        if self.life_cycles <= 0:
            self.life_cycles = float(self.rng.uniform(150, 300))

    def reset(self) -> None:
        self.cycle = 0
        self.life_cycles = float(self.rng.uniform(150, 300))

    def next(self) -> tuple[dict[str, float], dict[str, float], bool]:
        self.cycle += 1
        wear = math.expm1(3.0 * self.cycle / self.life_cycles) / math.expm1(3.0)
        noise = self.rng.normal(0.0, [2.0, 0.05, 0.05, 1.0])
        values = self._base + self._gain * wear + noise
        settings = {"load": float(self.rng.uniform(0.6, 1.0))}
        return settings, dict(zip(self.sensors, values.round(4).tolist(), strict=True)), self.cycle >= self.life_cycles


class CmapssWear:
    """A C-MAPSS training engine replayed cycle by cycle; the last cycle of the unit is the failure.
    Engines are taken in turn (``unit_offset``), and a new one starts after maintenance or failure."""

    def __init__(self, train: Any, unit_offset: int = 0):
        self.frame = train
        self.units = sorted(train["unit"].unique())
        self.index = unit_offset % len(self.units)
        self.cycle = 0
        self._load()

    def _load(self) -> None:
        u = self.units[self.index % len(self.units)]
        rows = self.frame[self.frame["unit"] == u]
        self.settings_cols = [c for c in rows.columns if c.startswith("setting")]
        self.sensor_cols = [c for c in rows.columns if c.startswith("s_")]
        self.rows = rows[self.settings_cols + self.sensor_cols].to_numpy(dtype=float)
        self.cycle = 0

    def reset(self) -> None:
        self.index += 1
        self._load()

    def next(self) -> tuple[dict[str, float], dict[str, float], bool]:
        row = self.rows[min(self.cycle, len(self.rows) - 1)]
        self.cycle += 1
        ns = len(self.settings_cols)
        settings = dict(zip(self.settings_cols, row[:ns].tolist(), strict=True))
        sensors = dict(zip(self.sensor_cols, row[ns:].tolist(), strict=True))
        return settings, sensors, self.cycle >= len(self.rows)


def route_for(lane: Any, origin: Any, destination: Any, n: int = 24) -> np.ndarray:
    """The lane's route as an (n, 2) array of (lat, lon): its geometry, else a straight line."""
    if getattr(lane, "route", None):
        return np.asarray([tuple(p) for p in lane.route], dtype=float)
    a = np.array([origin.location.lat, origin.location.lon])
    b = np.array([destination.location.lat, destination.location.lon])
    f = np.linspace(0.0, 1.0, n)[:, None]
    return a + (b - a) * f


def interpolate_route(route: np.ndarray, fraction: float) -> tuple[float, float]:
    """The point at ``fraction`` (0..1) of the route's length (by straight segments)."""
    seg = np.hypot(*np.diff(route, axis=0).T)
    total = float(seg.sum())
    if total == 0.0:
        return float(route[0, 0]), float(route[0, 1])
    target = min(max(fraction, 0.0), 1.0) * total
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    i = int(np.searchsorted(cum, target, side="right") - 1)
    i = min(i, len(seg) - 1)
    t = (target - cum[i]) / seg[i] if seg[i] > 0 else 0.0
    p = route[i] + (route[i + 1] - route[i]) * t
    return float(p[0]), float(p[1])


def load_gps_routes(path: str | Path) -> list[np.ndarray]:
    """Trips of a timestamped GPS CSV (columns with lat, lon, a timestamp and a trip id), each as an
    (n, 3) array of (lat, lon, fraction of the trip's time elapsed)."""
    import pandas as pd

    df = pd.read_csv(path)
    cols = {c.lower(): c for c in df.columns}
    lat = next(cols[c] for c in cols if "lat" in c)
    lon = next(cols[c] for c in cols if "lon" in c or "lng" in c)
    ts = next((cols[c] for c in cols if "time" in c), None)
    trip = next((cols[c] for c in cols if "trip" in c or "journey" in c), None)
    groups: Sequence[Any] = [g for _, g in df.groupby(trip)] if trip else [df]
    out = []
    for g in groups:
        if len(g) < 5:
            continue
        if ts is not None:
            t = pd.to_datetime(g[ts], errors="coerce").astype("int64").to_numpy(dtype=float)
            order = np.argsort(t, kind="stable")
            g, t = g.iloc[order], t[order]
            span = t[-1] - t[0]
            frac = (t - t[0]) / span if span > 0 else np.linspace(0, 1, len(g))
        else:
            frac = np.linspace(0.0, 1.0, len(g))
        out.append(np.column_stack([g[lat].to_numpy(dtype=float), g[lon].to_numpy(dtype=float), frac]))
    return out


def fit_trace_to_lane(trace: np.ndarray, start: tuple[float, float], end: tuple[float, float]) -> np.ndarray:
    """Move a recorded trace onto a lane: the similarity transform (shift, rotation, scale in the
    lat/lon plane) that takes its first point to ``start`` and its last to ``end``. The wiggles, stops
    and speed changes of the real trip are kept; the time fractions (third column) are unchanged."""
    z = trace[:, 1] + 1j * trace[:, 0]
    a, b = complex(start[1], start[0]), complex(end[1], end[0])
    span = z[-1] - z[0]
    w = a + (z - z[0]) * ((b - a) / span) if abs(span) > 1e-12 else np.linspace(a, b, len(z))
    return np.column_stack([w.imag, w.real, trace[:, 2]])


def position_at(trace: np.ndarray, fraction: float) -> tuple[float, float]:
    """Where a fitted trace is when ``fraction`` of its time has elapsed."""
    f = min(max(fraction, 0.0), 1.0)
    return float(np.interp(f, trace[:, 2], trace[:, 0])), float(np.interp(f, trace[:, 2], trace[:, 1]))
