"""Per-asset health indicator, anomaly score and onset detection, learned from the asset itself.

Each asset's first ``n_baseline`` feature vectors (its healthy run-in) fix a baseline: mean and a
Ledoit-Wolf shrunk covariance (Ledoit & Wolf 2004). The anomaly score of a new vector is its squared
Mahalanobis distance divided by the dimension (about 1 when healthy); the health indicator maps it to
(0, 1] (1 = as healthy as the baseline). Onset is detected by a one-sided CUSUM (Page 1954) on the
score with clipped increments, so one spike cannot raise an alarm but a sustained rise does.

Streaming verbs (river style): ``learn_one(x)`` during the baseline, ``score_one(x)`` after; or
``update(x)`` which does the right one and returns a :class:`HealthState`. ``reset()`` (after
maintenance) starts a new baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from ...errors import DataError, ParameterError

__all__ = ["Cusum", "HealthModel", "HealthMonitor", "HealthState", "Onset", "detect_onset"]


@dataclass
class Cusum:
    """One-sided CUSUM: S = max(0, S + min(z - reference, clip)); alarm when S >= threshold."""

    reference: float = 1.0
    threshold: float = 10.0
    clip: float = 2.0
    s: float = 0.0

    def __post_init__(self) -> None:
        if self.threshold <= 0:
            raise ParameterError(f"threshold must be > 0, got {self.threshold}")
        if self.clip <= 0:
            raise ParameterError(f"clip must be > 0, got {self.clip}")

    def update(self, z: float) -> bool:
        self.s = max(0.0, self.s + min(float(z) - self.reference, self.clip))
        return self.s >= self.threshold

    def reset(self) -> None:
        self.s = 0.0


@dataclass(frozen=True)
class HealthState:
    """Output of one :meth:`HealthModel.update`: ``learning`` while the baseline is being built."""

    learning: bool
    score: float
    health: float
    cusum: float
    onset: bool


@dataclass
class HealthModel:
    """Baseline-relative anomaly score and health indicator for one asset.

    ``n_baseline``: readings that form the healthy baseline; ``scale``: excess score at which the
    health indicator falls to 1/e; ``one_sided``: count only rises above the baseline (for features
    that grow with wear, such as vibration RMS); ``cusum_*``: the onset detector on the score
    (reference, threshold, clip).
    """

    n_baseline: int = 50
    scale: float = 10.0
    cusum_reference: float = 3.0
    cusum_threshold: float = 20.0
    cusum_clip: float = 5.0
    one_sided: bool = False
    _buf: list[np.ndarray] = field(default_factory=list, repr=False)
    mean_: np.ndarray | None = None
    precision_: np.ndarray | None = None
    onset_index: int | None = None
    n_seen: int = 0

    def __post_init__(self) -> None:
        if self.n_baseline < 3:
            raise ParameterError(f"n_baseline must be >= 3, got {self.n_baseline}")
        if self.scale <= 0:
            raise ParameterError(f"scale must be > 0, got {self.scale}")
        self._cusum = Cusum(self.cusum_reference, self.cusum_threshold, self.cusum_clip)

    @property
    def learning(self) -> bool:
        return self.mean_ is None

    def learn_one(self, x: Sequence[float] | np.ndarray) -> HealthModel:
        """Add a healthy reading to the baseline (ignored once the baseline is complete)."""
        v = np.asarray(x, dtype=float).reshape(-1)
        if not np.all(np.isfinite(v)):
            raise DataError("health reading has non-finite values")
        if self._buf and len(v) != len(self._buf[0]):
            raise DataError(f"reading has {len(v)} features, baseline has {len(self._buf[0])}")
        if self.mean_ is None:
            self._buf.append(v)
            if len(self._buf) >= self.n_baseline:
                self._freeze()
        return self

    def _freeze(self) -> None:
        from sklearn.covariance import LedoitWolf

        b = np.array(self._buf)
        self.mean_ = b.mean(axis=0)
        sd = b.std(axis=0)
        self._sd = np.where(sd > 1e-12, sd, 1.0)  # standardize first: LW shrinks towards identity
        lw = LedoitWolf().fit((b - self.mean_) / self._sd)
        self.precision_ = lw.precision_
        self._buf = []

    def score_one(self, x: Sequence[float] | np.ndarray) -> float:
        """Squared Mahalanobis distance to the baseline per dimension (about 1 when healthy)."""
        if self.mean_ is None or self.precision_ is None:
            raise ParameterError(f"baseline not complete: {len(self._buf)} of {self.n_baseline} readings learned")
        z = (np.asarray(x, dtype=float).reshape(-1) - self.mean_) / self._sd
        if self.one_sided:
            z = np.maximum(z, 0.0)
        return float(z @ self.precision_ @ z) / len(z)

    def health(self, score: float) -> float:
        """Health indicator in (0, 1]: 1 within the baseline's normal spread, falling with the score."""
        return float(np.exp(-max(score - 1.0, 0.0) / self.scale))

    def update(self, x: Sequence[float] | np.ndarray) -> HealthState:
        """Learn while the baseline is incomplete, then score and run the onset detector."""
        self.n_seen += 1
        if self.learning:
            self.learn_one(x)
            return HealthState(True, 0.0, 1.0, 0.0, False)
        s = self.score_one(x)
        alarm = self._cusum.update(s)
        fired = alarm and self.onset_index is None
        if fired:
            self.onset_index = self.n_seen - 1
        return HealthState(False, s, self.health(s), self._cusum.s, fired)

    def reset(self) -> None:
        """Forget the baseline (maintenance done): the next readings form a new one."""
        self._buf, self.mean_, self.precision_, self.onset_index, self.n_seen = [], None, None, None, 0
        self._cusum.reset()


@dataclass(frozen=True)
class Onset:
    """An anomaly onset on an asset: when, how strong, and which features drove it."""

    asset: str
    ts: datetime | float
    score: float
    health: float
    features: tuple[str, ...] = ()

    def to_alert(self, source: str, seq: int, ts: datetime) -> Any:
        """The onset as an :class:`supplynet.events.Alert` for the event log."""
        from ...events import Alert

        return Alert(
            source=source,
            seq=seq,
            ts=ts,
            code="anomaly_onset",
            subject=self.asset,
            severity="warning",
            message=f"anomaly onset on {self.asset}: score {self.score:.1f}, health {self.health:.2f}",
            data={"score": self.score, "health": self.health, "features": list(self.features)},
        )


class HealthMonitor:
    """Health models for many assets: ``update(asset, ts, x)`` returns an :class:`Onset` once per
    baseline when the onset detector fires; ``reset(asset)`` after maintenance."""

    def __init__(self, feature_names: Sequence[str] | None = None, **model_kwargs: Any):
        self.feature_names = list(feature_names) if feature_names is not None else None
        self._kwargs = model_kwargs
        HealthModel(**model_kwargs)  # validate now
        self.models: dict[str, HealthModel] = {}
        self.last: dict[str, HealthState] = {}

    def update(self, asset: str, ts: datetime | float, x: Sequence[float] | np.ndarray) -> Onset | None:
        m = self.models.get(asset)
        if m is None:  # (not setdefault: that would build and throw away a model on every reading)
            m = self.models[asset] = HealthModel(**self._kwargs)
        st = m.update(x)
        self.last[asset] = st
        if not st.onset:
            return None
        z = np.abs((np.asarray(x, dtype=float) - m.mean_) / m._sd)
        top = np.argsort(-z)[:3]
        names = tuple(self.feature_names[i] if self.feature_names else f"f{i}" for i in top)
        return Onset(asset, ts, st.score, st.health, names)

    def reset(self, asset: str) -> None:
        if asset in self.models:
            self.models[asset].reset()


def detect_onset(x: np.ndarray, **model_kwargs: Any) -> tuple[int | None, np.ndarray]:
    """Run a :class:`HealthModel` over rows of ``x``; (index of the onset or None, scores)."""
    m = HealthModel(**model_kwargs)
    scores = np.array([m.update(row).score for row in np.asarray(x, dtype=float)])
    return m.onset_index, scores
