"""Lead-time distributions per lane and mode, and late-delivery risk, from shipment history.

The history is the USAID SCMS Delivery History file as :func:`supplynet.datasets.scms.load_scms`
reads it (canonical columns, messy cells counted in a data-quality report rather than crashing).

Lead time is ``delivered - PO sent to vendor`` (direct drops, where the PO date exists); lateness
is ``delivered > scheduled``. Per lane (destination country) and mode, :func:`lead_time_table`
gives the empirical quantiles and lognormal moments (for ``LeadTime(dist="lognormal")`` in the
network model). :class:`LateDeliveryClassifier` is gradient boosting on features known when the
shipment is scheduled (Friedman 2001; scikit-learn's histogram variant after LightGBM, Ke et al.
2017), evaluated by ROC AUC on a time-based split (train on earlier scheduled dates, test on later).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ...datasets.scms import load_scms
from ...errors import DataError, ParameterError

__all__ = [
    "LateDeliveryClassifier",
    "LeadTimeStats",
    "evaluate_late_delivery",
    "lead_time_table",
    "leadtime_report",
    "time_split",
]

_CATEGORICAL = ("country", "mode", "inco_term", "fulfill_via", "managed_by", "product_group",
                "sub_classification", "vendor", "manufacturing_site", "first_line", "dosage_form")


# ----------------------------------------------------------------------------------- lead times
@dataclass(frozen=True)
class LeadTimeStats:
    """Lead-time distribution of one lane and mode (days), with the lognormal fit by moments of
    the log (``mu``, ``sigma``) and the share of late deliveries."""

    lane: str
    mode: str
    n: int
    mean_days: float
    std_days: float
    p10_days: float
    p50_days: float
    p90_days: float
    lognormal_mu: float
    lognormal_sigma: float
    late_rate: float

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def lead_time_table(df: pd.DataFrame, *, lane_col: str = "country", mode_col: str = "mode",
                    min_n: int = 20) -> list[LeadTimeStats]:
    """Lead-time statistics per (lane, mode) with at least ``min_n`` observed lead times, largest first."""
    if min_n < 2:
        raise ParameterError(f"min_n must be >= 2, got {min_n}")
    for c in (lane_col, mode_col, "lead_time_days", "late"):
        if c not in df.columns:
            raise DataError(f"shipment history has no column {c!r}")
    out = []
    for (lane, mode), g in df.groupby([lane_col, mode_col], sort=False):
        lt = g["lead_time_days"].dropna().to_numpy(dtype=float)
        if lt.size < min_n:
            continue
        logs = np.log(np.maximum(lt, 0.5))
        q10, q50, q90 = np.quantile(lt, (0.1, 0.5, 0.9))
        out.append(LeadTimeStats(str(lane), str(mode), int(lt.size), float(lt.mean()), float(lt.std(ddof=1)),
                                 float(q10), float(q50), float(q90), float(logs.mean()), float(logs.std(ddof=1)),
                                 float(g["late"].mean())))
    return sorted(out, key=lambda s: -s.n)


# ----------------------------------------------------------------------------------- late risk
def time_split(df: pd.DataFrame, *, date_col: str = "scheduled",
               test_fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Earlier rows (by ``date_col``) train, the last ``test_fraction`` test; rows sharing the
    cutoff date all go to the test side, so no day is split."""
    if not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction must be in (0, 1), got {test_fraction}")
    d = df.sort_values(date_col, kind="stable")
    cutoff = d[date_col].iloc[int(len(d) * (1 - test_fraction))]
    return d[d[date_col] < cutoff], d[d[date_col] >= cutoff]


@dataclass
class LateDeliveryClassifier:
    """P(late) from what is known when a shipment is scheduled: mode, destination, terms, vendor,
    product, size and the planned lead time. Categories seen fewer than ``min_category_count``
    times in training are treated as missing."""

    max_iter: int = 300
    learning_rate: float = 0.05
    min_category_count: int = 10
    seed: int = 0
    n_threads: int | None = 1  # OpenMP threads; 1 avoids oversubscription on a shared machine
    _levels: dict[str, list[str]] = field(init=False, default_factory=dict)
    _model: object = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.max_iter < 1 or not 0 < self.learning_rate <= 1 or self.min_category_count < 1:
            raise ParameterError(f"max_iter >= 1, 0 < learning_rate <= 1, min_category_count >= 1 required; got "
                                 f"{self.max_iter}, {self.learning_rate}, {self.min_category_count}")

    def _features(self, df: pd.DataFrame) -> pd.DataFrame:
        x = pd.DataFrame(index=df.index)
        for c in _CATEGORICAL:
            levels = self._levels[c]
            x[c] = pd.Categorical(df[c].astype(str) if c in df else "", categories=levels)
        for c in ("quantity", "value_usd", "pack_price", "weight_kg"):
            x[f"log_{c}"] = np.log1p(pd.to_numeric(df[c], errors="coerce").clip(lower=0)) if c in df else np.nan
        x["scheduled_lead_days"] = df["scheduled_lead_days"] if "scheduled_lead_days" in df else np.nan
        x["month"] = df["scheduled"].dt.month.astype(float)
        x["weekday"] = df["scheduled"].dt.dayofweek.astype(float)
        return x

    def fit(self, df: pd.DataFrame) -> LateDeliveryClassifier:
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = df["late"].to_numpy(dtype=bool)
        if y.all() or not y.any():
            raise DataError("late-delivery training data has a single class (all late or all on time)")
        self._levels = {}
        for c in _CATEGORICAL:
            counts = df[c].astype(str).value_counts() if c in df else pd.Series(dtype=int)
            self._levels[c] = sorted(counts[counts >= self.min_category_count].index.tolist())[:250]
        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate, categorical_features="from_dtype",
            random_state=self.seed, early_stopping=False, l2_regularization=1.0, min_samples_leaf=30,
        )
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            self._model = model.fit(self._features(df), y)
        return self

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        if self._model is None:
            raise DataError("the late-delivery classifier is not fitted")
        with threadpool_limits(limits=self.n_threads, user_api="openmp"):
            return self._model.predict_proba(self._features(df))[:, 1]  # type: ignore[attr-defined]


def evaluate_late_delivery(df: pd.DataFrame, *, test_fraction: float = 0.2, seed: int = 0) -> dict[str, object]:
    """ROC AUC of :class:`LateDeliveryClassifier` on a time-based split, next to the AUC of the
    per-(lane, mode) historical late rate as a reference."""
    from sklearn.metrics import roc_auc_score

    train, test = time_split(df, test_fraction=test_fraction)
    if test["late"].nunique() < 2:
        raise DataError("the test period has a single class; ROC AUC is undefined")
    clf = LateDeliveryClassifier(seed=seed).fit(train)
    auc = float(roc_auc_score(test["late"], clf.predict_proba(test)))
    rate = train.groupby(["country", "mode"])["late"].mean()
    prior = float(train["late"].mean())
    keys = pd.MultiIndex.from_frame(test[["country", "mode"]])
    ref = pd.Series(rate.reindex(keys).to_numpy(), index=test.index).fillna(prior)
    return {
        "roc_auc": round(auc, 4),
        "lane_rate_roc_auc": round(float(roc_auc_score(test["late"], ref)), 4),
        "n_train": len(train),
        "n_test": len(test),
        "cutoff": str(test["scheduled"].min().date()),
        "late_rate_train": round(float(train["late"].mean()), 4),
        "late_rate_test": round(float(test["late"].mean()), 4),
    }


def leadtime_report(path: str | Path, *, min_n: int = 20, test_fraction: float = 0.2, seed: int = 0,
                    top: int | None = 20) -> dict[str, object]:
    """Everything the CLI prints: data quality, lead times per lane/mode and per mode, late risk."""
    df, quality = load_scms(path)
    lanes = lead_time_table(df, min_n=min_n)
    by_mode = lead_time_table(df.assign(_all="*"), lane_col="_all", min_n=min_n)
    return {
        "data_quality": quality.to_dict(),
        "n_shipments": len(df),
        "late_rate": round(float(df["late"].mean()), 4),
        "lead_time_by_mode": [s.to_dict() for s in by_mode],
        "lead_time_by_lane": [s.to_dict() for s in (lanes[:top] if top else lanes)],
        "n_lanes": len(lanes),
        "late_delivery": evaluate_late_delivery(df, test_fraction=test_fraction, seed=seed),
    }

