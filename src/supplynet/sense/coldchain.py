"""Cold chain: reefer temperature excursions, mean kinetic temperature, products at risk.

- Excursions: maximal periods above the upper limit (or below the lower one), with the crossing
  times interpolated linearly between readings; a silence longer than ``max_gap_s`` is not counted
  as time above (or within) the limit, it is reported as a gap instead.
- Mean kinetic temperature after USP <1079> (Haynes 1971, "Worked examples of mean kinetic
  temperature calculations"), with activation energy dH = 83.144 kJ/mol, so dH/R = 10,000 K,
  weighted by the time each reading stands for (readings may be unevenly spaced)::

      MKT = (dH/R) / -ln( sum_i w_i exp(-dH / (R T_i)) / sum_i w_i )      (T in kelvin)

- A load's products are at risk when the time above the limit exceeds their allowance or the MKT
  exceeds their MKT limit (:func:`assess_load`).

>>> round(mean_kinetic_temperature_c([0, 3600, 7200], [20.0, 20.0, 20.0]), 6)
20.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import DataError, ParameterError

__all__ = [
    "ACTIVATION_ENERGY_J_MOL",
    "GAS_CONSTANT_J_MOL_K",
    "ColdChainAssessment",
    "Excursion",
    "ProductTolerance",
    "assess_load",
    "find_excursions",
    "mean_kinetic_temperature_c",
]

ACTIVATION_ENERGY_J_MOL = 83_144.0  # USP <1079> default
GAS_CONSTANT_J_MOL_K = 8.3144
KELVIN = 273.15


def _readings(t: ArrayLike, temp_c: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    ta, xa = np.asarray(t, dtype=float), np.asarray(temp_c, dtype=float)
    if ta.ndim != 1 or ta.shape != xa.shape:
        raise DataError(f"t and temp_c must be 1-D arrays of one length, got {ta.shape} and {xa.shape}")
    if ta.size == 0:
        raise DataError("no temperature readings")
    if not (np.all(np.isfinite(ta)) and np.all(np.isfinite(xa))):
        raise DataError("t and temp_c must be finite (drop missing readings first)")
    if np.any(np.diff(ta) < 0):
        raise DataError("readings must be sorted in time")
    if np.any(xa <= -KELVIN):
        raise DataError(f"temperature below absolute zero: {xa.min()} C")
    return ta, xa


def _interval_weights(t: NDArray[np.float64], max_gap_s: float) -> NDArray[np.float64]:
    """Time each reading stands for: half the interval to each neighbour, gaps beyond max_gap_s
    contribute nothing."""
    if t.size == 1:
        return np.ones(1)
    d = np.diff(t)
    d = np.where(d > max_gap_s, 0.0, d)
    w = np.zeros(t.size)
    w[:-1] += d / 2
    w[1:] += d / 2
    return w if w.sum() > 0 else np.ones(t.size)


def mean_kinetic_temperature_c(
    t: ArrayLike, temp_c: ArrayLike, *, activation_energy_j_mol: float = ACTIVATION_ENERGY_J_MOL,
    max_gap_s: float = np.inf,
) -> float:
    """Mean kinetic temperature (deg C) of time-weighted readings (USP <1079>)."""
    if activation_energy_j_mol <= 0:
        raise ParameterError(f"activation_energy_j_mol must be > 0, got {activation_energy_j_mol}")
    ta, xa = _readings(t, temp_c)
    w = _interval_weights(ta, max_gap_s)
    h = activation_energy_j_mol / GAS_CONSTANT_J_MOL_K
    kel = xa + KELVIN
    # log-sum-exp for numerical safety
    z = -h / kel
    zmax = z.max()
    mean = np.log(np.sum(w * np.exp(z - zmax)) / w.sum()) + zmax
    return float(-h / mean - KELVIN)


@dataclass(frozen=True)
class Excursion:
    """The temperature was beyond the limit from ``start`` to ``end`` (epoch seconds)."""

    kind: Literal["above", "below"]
    start: float
    end: float
    peak_c: float
    limit_c: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def find_excursions(
    t: ArrayLike, temp_c: ArrayLike, *, upper_c: float | None = None, lower_c: float | None = None,
    max_gap_s: float = 3600.0,
) -> list[Excursion]:
    """Periods above ``upper_c`` and below ``lower_c``, crossings interpolated between readings.
    An interval longer than ``max_gap_s`` ends an excursion at its last reading (no data is not
    evidence)."""
    if upper_c is None and lower_c is None:
        raise ParameterError("give upper_c, lower_c or both")
    if upper_c is not None and lower_c is not None and lower_c >= upper_c:
        raise ParameterError(f"lower_c ({lower_c}) must be below upper_c ({upper_c})")
    if max_gap_s <= 0:
        raise ParameterError(f"max_gap_s must be > 0, got {max_gap_s}")
    ta, xa = _readings(t, temp_c)
    out: list[Excursion] = []
    for kind, limit, sign in (("above", upper_c, 1.0), ("below", lower_c, -1.0)):
        if limit is None:
            continue
        y = sign * (xa - limit)  # > 0 means beyond the limit
        start: float | None = None
        peak = -np.inf
        for i in range(ta.size):
            if i > 0 and ta[i] - ta[i - 1] > max_gap_s and start is not None:
                out.append(Excursion(kind, start, float(ta[i - 1]), limit + sign * peak, limit))  # type: ignore[arg-type]
                start, peak = None, -np.inf
            beyond = y[i] > 0
            if beyond and start is None:
                if i > 0 and y[i - 1] <= 0 and ta[i] - ta[i - 1] <= max_gap_s:
                    f = -y[i - 1] / (y[i] - y[i - 1])
                    start = float(ta[i - 1] + f * (ta[i] - ta[i - 1]))
                else:
                    start = float(ta[i])
                peak = y[i]
            elif beyond:
                peak = max(peak, y[i])
            elif start is not None:  # came back within the limit between i-1 and i
                f = y[i - 1] / (y[i - 1] - y[i])
                out.append(Excursion(kind, start, float(ta[i - 1] + f * (ta[i] - ta[i - 1])),  # type: ignore[arg-type]
                                     float(limit + sign * peak), limit))
                start, peak = None, -np.inf
        if start is not None:
            out.append(Excursion(kind, start, float(ta[-1]), float(limit + sign * peak), limit))  # type: ignore[arg-type]
    return sorted(out, key=lambda e: e.start)


@dataclass(frozen=True)
class ProductTolerance:
    """How much heat a product tolerates: time above the reefer's limit (``allowance_s``) and a
    mean kinetic temperature ceiling (``max_mkt_c``, None = not checked)."""

    sku: str
    allowance_s: float = 0.0
    max_mkt_c: float | None = None

    def __post_init__(self) -> None:
        if self.allowance_s < 0:
            raise ParameterError(f"product {self.sku!r}: allowance_s must be >= 0, got {self.allowance_s}")


@dataclass(frozen=True)
class ColdChainAssessment:
    limit_c: float
    excursions: list[Excursion]
    time_above_s: float
    max_excursion_s: float
    mkt_c: float
    peak_c: float
    gaps: list[tuple[float, float]]
    at_risk: dict[str, list[str]] = field(default_factory=dict)  # sku -> reasons

    @property
    def at_risk_skus(self) -> list[str]:
        return sorted(self.at_risk)

    def to_dict(self) -> dict[str, object]:
        return {"limit_c": self.limit_c, "time_above_s": round(self.time_above_s, 1),
                "max_excursion_s": round(self.max_excursion_s, 1), "mkt_c": round(self.mkt_c, 3),
                "peak_c": self.peak_c, "n_excursions": len(self.excursions),
                "gaps": [list(g) for g in self.gaps], "at_risk": self.at_risk}


def assess_load(
    t: ArrayLike,
    temp_c: ArrayLike,
    *,
    limit_c: float,
    products: Sequence[str | ProductTolerance] | Mapping[str, ProductTolerance] = (),
    max_gap_s: float = 3600.0,
    activation_energy_j_mol: float = ACTIVATION_ENERGY_J_MOL,
) -> ColdChainAssessment:
    """Excursions above a reefer's ``limit_c`` (e.g. ``Asset.temperature_limit_c``), the MKT of the
    whole record, and the load's products at risk. A bare sku gets a zero allowance and no MKT
    ceiling: any time above the limit puts it at risk."""
    ta, xa = _readings(t, temp_c)
    exc = find_excursions(ta, xa, upper_c=limit_c, max_gap_s=max_gap_s)
    above = sum(e.duration_s for e in exc)
    longest = max((e.duration_s for e in exc), default=0.0)
    mkt = mean_kinetic_temperature_c(ta, xa, activation_energy_j_mol=activation_energy_j_mol, max_gap_s=max_gap_s)
    d = np.diff(ta)
    gaps = [(float(ta[i]), float(ta[i + 1])) for i in np.nonzero(d > max_gap_s)[0]]
    items = list(products.values()) if isinstance(products, Mapping) else list(products)
    risk: dict[str, list[str]] = {}
    for p in items:
        tol = p if isinstance(p, ProductTolerance) else ProductTolerance(str(p))
        reasons = []
        if above > tol.allowance_s:
            reasons.append(f"{above / 60:.1f} min above {limit_c} C (allowance {tol.allowance_s / 60:.1f} min)")
        if tol.max_mkt_c is not None and mkt > tol.max_mkt_c:
            reasons.append(f"mean kinetic temperature {mkt:.2f} C above {tol.max_mkt_c} C")
        if reasons:
            risk[tol.sku] = reasons
    return ColdChainAssessment(float(limit_c), exc, float(above), float(longest), mkt, float(xa.max()), gaps, risk)
