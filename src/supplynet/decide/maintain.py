"""Maintenance decisions from a remaining-useful-life distribution: pure functions, no I/O.

Threshold. At a maintenance opportunity we either act now (preventive cost ``Cp``) or defer to the
next opportunity. Deferring risks a failure before the work can be done, i.e. within the horizon
``lead_time + opportunity_interval``, with probability ``p``, at cost ``Cf`` (failure, including the
replacement); it saves acting now, which is worth about ``Cp`` (the life thrown away by an early
action is what a preventive action costs per renewal). Deferring is cheaper while ``p * Cf < Cp``,
so the critical probability is ``p* = Cp / Cf`` (the classic age-replacement / critical-ratio
argument, Barlow & Hunter 1960).

Significance. ``p`` is read from the RUL distribution (calibrated conformal error samples, not the
point estimate). It is itself an estimate from ``n`` calibration samples, so a work order is raised
only when the one-sided Wilson lower confidence bound of ``p`` (Wilson 1927) exceeds ``p*``:
the evidence, not a noisy point, decides.

State. :class:`MaintenanceState` is a small immutable value: open work orders per asset (at most
one) and a baseline epoch per asset, bumped when a work order is closed (maintenance done) so the
health models know to learn a new baseline. ``decide`` and ``close`` return a new state.

>>> import numpy as np
>>> policy = MaintenancePolicy(preventive_cost=1_000, failure_cost=10_000, lead_time=5, opportunity_interval=10)
>>> policy.threshold, policy.horizon
(0.1, 15)
>>> class Rul:  # any RUL forecast with samples, interval and prob_fail_before
...     point, samples = 14.0, np.linspace(4.0, 24.0, 201)
...     def interval(self, level=0.8): return (6.0, 22.0)
...     def prob_fail_before(self, h): return float(np.mean(self.samples <= h))
>>> state, wo = decide(MaintenanceState(), "M1", Rul(), now=100.0, policy=policy, driving_sensors=("s_11",))
>>> wo.id, round(wo.failure_probability, 2), wo.window[0]
('WO-M1-1', 0.55, 105.0)
>>> decide(state, "M1", Rul(), now=101.0, policy=policy)[1] is None  # one open work order per asset
True
>>> close(state, "M1").baseline_epoch("M1")
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Protocol

import numpy as np
from scipy.stats import norm

from ..errors import DecisionError

__all__ = [
    "MaintenancePolicy",
    "MaintenanceState",
    "RulForecast",
    "WorkOrder",
    "close",
    "decide",
    "significant",
    "wilson_lower",
]


class RulForecast(Protocol):
    """What the decision needs from a RUL model (e.g. :class:`supplynet.sense.health.rul.RulDistribution`)."""

    point: float
    samples: np.ndarray

    def interval(self, level: float = 0.8) -> tuple[float, float]: ...

    def prob_fail_before(self, horizon: float) -> float: ...


@dataclass(frozen=True)
class MaintenancePolicy:
    """Costs and timing of maintenance. Times are in the RUL's unit (cycles, days...).

    ``confidence``: one-sided confidence that p exceeds p*; ``level``: coverage of the RUL interval
    carried on a work order.
    """

    preventive_cost: float
    failure_cost: float
    lead_time: float = 0.0
    opportunity_interval: float = 1.0
    confidence: float = 0.9
    level: float = 0.8

    def __post_init__(self) -> None:
        if self.preventive_cost <= 0:
            raise DecisionError(f"preventive_cost must be > 0, got {self.preventive_cost}")
        if self.failure_cost <= self.preventive_cost:
            raise DecisionError(
                f"failure_cost ({self.failure_cost}) must exceed preventive_cost ({self.preventive_cost})")
        if self.lead_time < 0 or self.opportunity_interval <= 0:
            raise DecisionError(
                f"need lead_time >= 0 and opportunity_interval > 0, got {self.lead_time}, {self.opportunity_interval}")
        if not 0.5 <= self.confidence < 1:
            raise DecisionError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if not 0 < self.level < 1:
            raise DecisionError(f"level must be in (0, 1), got {self.level}")

    @classmethod
    def from_asset(cls, asset: object, *, opportunity_interval: float = 1.0, days_per_unit: float = 1.0,
                   confidence: float = 0.9, level: float = 0.8) -> MaintenancePolicy:
        """The policy of a network-file asset (``failure_cost``, ``preventive_cost``,
        ``maintenance_lead_time_days``); ``days_per_unit`` converts days into the RUL's time unit
        (e.g. days per cycle)."""
        name = getattr(asset, "id", "?")
        if days_per_unit <= 0:
            raise DecisionError(f"days_per_unit must be > 0, got {days_per_unit}")
        try:
            return cls(preventive_cost=float(asset.preventive_cost),  # type: ignore[attr-defined]
                       failure_cost=float(asset.failure_cost),  # type: ignore[attr-defined]
                       lead_time=float(getattr(asset, "maintenance_lead_time_days", 0.0)) / days_per_unit,
                       opportunity_interval=opportunity_interval, confidence=confidence, level=level)
        except DecisionError as exc:
            raise DecisionError(f"asset {name}: {exc}") from exc
        except AttributeError as exc:
            raise DecisionError(f"asset {name}: no maintenance costs ({exc})") from exc

    @property
    def threshold(self) -> float:
        """p* = preventive_cost / failure_cost."""
        return self.preventive_cost / self.failure_cost

    @property
    def horizon(self) -> float:
        """Failures within this time can no longer be prevented at the next opportunity."""
        return self.lead_time + self.opportunity_interval


def wilson_lower(p: np.ndarray | float, n: np.ndarray | int, confidence: float) -> np.ndarray:
    """One-sided Wilson score lower bound of a proportion ``p`` estimated from ``n`` samples."""
    p = np.asarray(p, dtype=float)
    n = np.maximum(np.asarray(n, dtype=float), 1.0)
    z = norm.ppf(confidence)
    den = 1 + z * z / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.maximum((centre - half) / den, 0.0)


def significant(p: np.ndarray | float, n: np.ndarray | int, policy: MaintenancePolicy) -> np.ndarray:
    """Vectorized decision rule: True where P(failure within horizon) significantly exceeds p*."""
    return wilson_lower(p, n, policy.confidence) > policy.threshold


@dataclass(frozen=True)
class WorkOrder:
    """A maintenance work order: why (probability, interval, sensors), when (window), what it saves."""

    id: str
    asset: str
    opened_at: float
    failure_probability: float
    threshold: float
    rul_point: float
    rul_interval: tuple[float, float]
    driving_sensors: tuple[str, ...]
    window: tuple[float, float]
    expected_cost_avoided: float


@dataclass(frozen=True)
class MaintenanceState:
    """Open work orders (at most one per asset), baseline epochs, and a counter for ids."""

    open: Mapping[str, WorkOrder] = field(default_factory=lambda: MappingProxyType({}))
    epochs: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    seq: int = 0

    def baseline_epoch(self, asset: str) -> int:
        return self.epochs.get(asset, 0)


def decide(
    state: MaintenanceState,
    asset: str,
    forecast: RulForecast,
    now: float,
    policy: MaintenancePolicy,
    driving_sensors: Sequence[str] = (),
) -> tuple[MaintenanceState, WorkOrder | None]:
    """Raise a work order for ``asset`` when its failure risk within the horizon is significant and
    none is open. Returns the new state and the work order (or None)."""
    if asset in state.open:
        return state, None
    samples = np.asarray(forecast.samples, dtype=float)
    if len(samples) == 0:
        raise DecisionError(f"RUL forecast for {asset} has no samples")
    p = float(forecast.prob_fail_before(policy.horizon))
    if not bool(significant(p, len(samples), policy)):
        return state, None
    # latest safe time: where the failure probability reaches p*
    latest = float(np.quantile(samples, policy.threshold))
    start = now + policy.lead_time
    end = max(start, now + latest)
    wo = WorkOrder(
        id=f"WO-{asset}-{state.seq + 1}", asset=asset, opened_at=now, failure_probability=p,
        threshold=policy.threshold, rul_point=float(forecast.point),
        rul_interval=tuple(float(v) for v in forecast.interval(policy.level)),  # type: ignore[arg-type]
        driving_sensors=tuple(driving_sensors), window=(start, end),
        expected_cost_avoided=p * policy.failure_cost - policy.preventive_cost)
    opened = MappingProxyType({**state.open, asset: wo})
    return replace(state, open=opened, seq=state.seq + 1), wo


def close(state: MaintenanceState, asset: str) -> MaintenanceState:
    """Maintenance done on ``asset``: close its work order and bump its baseline epoch (the health
    baseline is learned again). Closing an asset without an open work order is an error."""
    if asset not in state.open:
        raise DecisionError(f"no open work order for asset {asset!r}")
    opened = MappingProxyType({a: w for a, w in state.open.items() if a != asset})
    epochs = MappingProxyType({**state.epochs, asset: state.baseline_epoch(asset) + 1})
    return replace(state, open=opened, epochs=epochs)
