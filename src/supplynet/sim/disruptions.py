"""Disruptions: what goes wrong, where, when, for how long and how badly.

A :class:`Disruption` has a ``type`` (site outage, lane closure, capacity loss, lead-time shock,
supplier failure, demand spike, demand shift), a :class:`Target` selecting sites, lanes or skus, a
``start`` day and a ``duration`` in days (each a number or a :class:`Draw` from a distribution,
sampled per replication) and a ``severity``:

- outage, capacity loss, supplier failure: fraction of the site's shipping capacity lost (0..1);
- lane closure: fraction of the lane's capacity lost (0..1, 1 = closed);
- lead-time shock: lead times on the lane are multiplied by ``1 + severity``;
- demand spike: demand multiplied by ``1 + severity`` during the event;
- demand shift: demand ramps linearly to ``1 + severity`` over the duration and stays there.

Each object checks itself when made and names the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from supplynet.errors import SimulationError
from supplynet.sim import _kernel as K

__all__ = ["KINDS", "Disruption", "Draw", "Target"]

KINDS = {
    "site_outage": K.OUTAGE,
    "lane_closure": K.LANE_CLOSURE,
    "capacity_loss": K.CAPACITY_LOSS,
    "lead_time_shock": K.LEAD_TIME_SHOCK,
    "supplier_failure": K.SUPPLIER_FAILURE,
    "demand_spike": K.DEMAND_SPIKE,
    "demand_shift": K.DEMAND_SHIFT,
}
LANE_KINDS = {"lane_closure", "lead_time_shock"}
DISTS = ("fixed", "uniform", "normal", "lognormal", "gamma", "triangular")


@dataclass(frozen=True)
class Draw:
    """A random number of days: ``dist`` with ``value`` (fixed), ``low``/``high`` (uniform,
    triangular with ``mode``) or ``mean``/``std`` (normal, lognormal, gamma)."""

    dist: str = "fixed"
    value: float | None = None
    low: float | None = None
    high: float | None = None
    mode: float | None = None
    mean: float | None = None
    std: float | None = None
    where: str = "draw"

    def __post_init__(self) -> None:
        if self.dist not in DISTS:
            raise SimulationError(f"{self.where}.dist: unknown distribution {self.dist!r}; use one of {DISTS}")
        need = {"fixed": ("value",), "uniform": ("low", "high"), "triangular": ("low", "mode", "high"),
                "normal": ("mean", "std"), "lognormal": ("mean", "std"), "gamma": ("mean", "std")}[self.dist]
        for name in need:
            v = getattr(self, name)
            if v is None or not np.isfinite(v):
                raise SimulationError(f"{self.where}.{name}: required for dist {self.dist!r}, got {v!r}")
            if v < 0:
                raise SimulationError(f"{self.where}.{name}: must be >= 0 days, got {v!r}")
        if self.dist in ("uniform", "triangular") and not self.low <= self.high:  # type: ignore[operator]
            raise SimulationError(f"{self.where}: low must be <= high, got low={self.low}, high={self.high}")
        if self.dist == "triangular" and not self.low <= self.mode <= self.high:  # type: ignore[operator]
            raise SimulationError(f"{self.where}.mode: must lie in [low, high], got {self.mode}")
        if self.dist in ("lognormal", "gamma") and self.mean == 0:
            raise SimulationError(f"{self.where}.mean: must be > 0 for dist {self.dist!r}")

    @classmethod
    def parse(cls, value: Any, where: str) -> Draw:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls("fixed", value=float(value), where=where)
        if isinstance(value, dict):
            unknown = set(value) - {"dist", "value", "low", "high", "mode", "mean", "std"}
            if unknown:
                raise SimulationError(f"{where}: unknown key(s) {sorted(unknown)}")
            try:
                kw = {k: float(v) for k, v in value.items() if k != "dist"}
            except (TypeError, ValueError) as exc:
                raise SimulationError(f"{where}: numbers expected, got {value!r}") from exc
            return cls(str(value.get("dist", "fixed")), where=where, **kw)
        raise SimulationError(f"{where}: a number of days or a mapping with 'dist' expected, got {value!r}")

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Quantiles at uniforms ``u`` (inverse-CDF sampling keeps draws common across runs)."""
        if self.dist == "fixed":
            return np.full_like(u, float(self.value))
        if self.dist == "uniform":
            return self.low + (self.high - self.low) * u
        if self.dist == "triangular":
            span = self.high - self.low
            c = (self.mode - self.low) / span if span > 0 else 0.5
            return stats.triang.ppf(u, c, loc=self.low, scale=span) if span > 0 else np.full_like(u, self.low)
        if self.std == 0:
            return np.full_like(u, float(self.mean))
        if self.dist == "normal":
            return np.maximum(stats.norm.ppf(u, self.mean, self.std), 0.0)
        if self.dist == "lognormal":
            s2 = np.log1p((self.std / self.mean) ** 2)
            return stats.lognorm.ppf(u, np.sqrt(s2), scale=self.mean * np.exp(-s2 / 2))
        shape = (self.mean / self.std) ** 2
        return stats.gamma.ppf(u, shape, scale=self.mean / shape)

    @property
    def upper(self) -> float:
        """A bound no draw is expected to exceed (for sizing arrays)."""
        if self.dist == "fixed":
            return float(self.value)
        if self.dist in ("uniform", "triangular"):
            return float(self.high)
        return float(self.ppf(np.array([0.9999]))[0])


@dataclass(frozen=True)
class Target:
    """Which sites, lanes or skus an event hits. Empty means all; ``pick`` = "all" or "busiest"."""

    site: tuple[str, ...] = ()
    site_kind: tuple[str, ...] = ()
    lane: tuple[str, ...] = ()
    lane_mode: tuple[str, ...] = ()
    sku: tuple[str, ...] = ()
    pick: str = "all"
    where: str = "target"

    def __post_init__(self) -> None:
        if self.pick not in ("all", "busiest"):
            raise SimulationError(f'{self.where}.pick: must be "all" or "busiest", got {self.pick!r}')

    @classmethod
    def parse(cls, value: Any, where: str) -> Target:
        if value is None:
            return cls(where=where)
        if not isinstance(value, dict):
            raise SimulationError(f"{where}: a mapping expected (site, site_kind, lane, lane_mode, sku, pick)")
        keys = {"site", "site_kind", "lane", "lane_mode", "sku", "pick"}
        unknown = set(value) - keys
        if unknown:
            raise SimulationError(f"{where}: unknown key(s) {sorted(unknown)}; use {sorted(keys)}")

        def tup(v: Any) -> tuple[str, ...]:
            return tuple(str(x) for x in v) if isinstance(v, (list, tuple)) else ((str(v),) if v is not None else ())

        return cls(site=tup(value.get("site")), site_kind=tup(value.get("site_kind")), lane=tup(value.get("lane")),
                   lane_mode=tup(value.get("lane_mode")), sku=tup(value.get("sku")),
                   pick=str(value.get("pick", "all")), where=where)


@dataclass(frozen=True)
class Disruption:
    """One event of a scenario (see the module docstring for the meaning of ``severity``)."""

    type: str
    start: Draw
    duration: Draw
    severity: float = 1.0
    target: Target = field(default_factory=Target)
    where: str = "event"

    def __post_init__(self) -> None:
        if self.type not in KINDS:
            raise SimulationError(f"{self.where}.type: unknown disruption {self.type!r}; use one of {sorted(KINDS)}")
        sev = self.severity
        if not np.isfinite(sev):
            raise SimulationError(f"{self.where}.severity: must be finite, got {sev!r}")
        if self.type in ("site_outage", "lane_closure", "capacity_loss", "supplier_failure") and not 0 <= sev <= 1:
            raise SimulationError(f"{self.where}.severity: must be in [0, 1] for {self.type}, got {sev!r}")
        if self.type == "lead_time_shock" and sev < 0:
            raise SimulationError(f"{self.where}.severity: must be >= 0 for lead_time_shock, got {sev!r}")
        if self.type in ("demand_spike", "demand_shift") and sev <= -1:
            raise SimulationError(f"{self.where}.severity: must be > -1 for {self.type}, got {sev!r}")
        if self.type in LANE_KINDS and (self.target.site or self.target.site_kind):
            raise SimulationError(f"{self.where}.target: {self.type} selects lanes (lane, lane_mode), not sites")
        if self.type not in LANE_KINDS and (self.target.lane or self.target.lane_mode):
            raise SimulationError(f"{self.where}.target: {self.type} selects sites, not lanes")

    @classmethod
    def parse(cls, value: Any, where: str) -> Disruption:
        if not isinstance(value, dict):
            raise SimulationError(f"{where}: a mapping expected (type, start, duration, severity, target)")
        keys = {"type", "start", "duration", "severity", "target"}
        unknown = set(value) - keys
        if unknown:
            raise SimulationError(f"{where}: unknown key(s) {sorted(unknown)}; use {sorted(keys)}")
        if "type" not in value:
            raise SimulationError(f"{where}.type: required")
        try:
            sev = float(value.get("severity", 1.0))
        except (TypeError, ValueError) as exc:
            raise SimulationError(f"{where}.severity: a number expected, got {value.get('severity')!r}") from exc
        return cls(type=str(value["type"]), start=Draw.parse(value.get("start", 0), f"{where}.start"),
                   duration=Draw.parse(value.get("duration", 1), f"{where}.duration"), severity=sev,
                   target=Target.parse(value.get("target"), f"{where}.target"), where=where)
