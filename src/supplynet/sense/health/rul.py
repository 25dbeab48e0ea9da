"""Remaining useful life with calibrated uncertainty.

A gradient-boosted tree model (LightGBM, Ke et al. 2017) on window features of regime-normalized
sensors (:mod:`supplynet.sense.health.features`), trained on a capped ("piece-wise linear") RUL target
(Heimes, PHM08: RUL is flat at ``cap`` while the engine is healthy). Uncertainty comes from
cross-conformal prediction (Vovk 2015; Barber et al. 2021, "jackknife+/CV+"): units are split into
folds, each fold's units are cut at random points (mimicking the truncation of test units, which
stops engines in the second part of their life: only cuts with a true RUL up to twice the cap) and
predicted by a model trained on the other folds; the point prediction is the mean of the fold
models. The signed out-of-fold residuals, grouped by the
size of the prediction (Mondrian conformal, Vovk et al. 2005: errors grow with the RUL), give a
predictive distribution for every new prediction: calibrated intervals and a probability of failure
within any horizon.

Frames are in long format: one row per unit and cycle, with unit, time, setting and sensor columns
(C-MAPSS names by default, see :class:`RulModel`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...datasets.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from ...errors import DataError, ModelError, ParameterError
from .features import (
    ConditionNormalizer,
    OperatingConditions,
    WindowFeatures,
    WindowSpec,
    window_feature_names,
    window_features,
)

__all__ = ["RulDistribution", "RulModel", "RulTracker", "evaluate_last_cycle", "phm08_score", "rul_targets"]

_FORMAT = "supplynet.rul/2"  # JSON metadata + LightGBM's own text model format; never pickle


def _few_rows(x: np.ndarray) -> dict[str, Any]:
    """LightGBM predicts on one thread for a handful of rows: the live loop predicts one asset's window at
    a time, and OpenMP's thread team costs tens of milliseconds per call on a busy machine (a few
    microseconds of work)."""
    return {"num_threads": 1} if len(x) <= 64 else {}


def phm08_score(pred: np.ndarray, truth: np.ndarray) -> float:
    """PHM08 challenge score (Saxena et al. 2008): sum of exp(-d/13)-1 for early and exp(d/10)-1
    for late predictions, d = pred - truth. Lower is better; late predictions cost more.

    >>> round(phm08_score(np.array([20.0, 0.0]), np.array([10.0, 13.0])), 3)  # 10 late, 13 early
    3.437
    """
    d = np.asarray(pred, dtype=float) - np.asarray(truth, dtype=float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def rul_targets(units: np.ndarray, cycles: np.ndarray, cap: float | None) -> np.ndarray:
    """Remaining cycles to each unit's last row (run-to-failure data), capped at ``cap``."""
    s = pd.Series(cycles)
    life = s.groupby(np.asarray(units)).transform("max").to_numpy()
    y = (life - np.asarray(cycles)).astype(float)
    return np.minimum(y, cap) if cap is not None else y


@dataclass(frozen=True)
class RulDistribution:
    """Predictive distribution of one unit's RUL: ``point`` plus calibrated error samples."""

    point: float
    samples: np.ndarray  # sorted possible RUL values (>= 0)

    def quantile(self, q: float | np.ndarray) -> np.ndarray | float:
        return np.quantile(self.samples, q)

    def interval(self, level: float = 0.8) -> tuple[float, float]:
        """Equal-tailed interval covering ``level`` of the distribution."""
        if not 0 < level < 1:
            raise ParameterError(f"level must be in (0, 1), got {level}")
        a = (1 - level) / 2
        n = len(self.samples)
        lo_i = max(int(np.floor(a * (n + 1))) - 1, 0)
        hi_i = min(int(np.ceil((1 - a) * (n + 1))) - 1, n - 1)
        return float(self.samples[lo_i]), float(self.samples[hi_i])

    def prob_fail_before(self, horizon: float) -> float:
        """P(RUL <= horizon)."""
        return float(np.searchsorted(self.samples, horizon, side="right") / len(self.samples))


@dataclass
class RulModel:
    """LightGBM RUL regressor with cross-conformal predictive distributions.

    ``fit(frame)`` learns operating regimes, the normalization, the features and the model from
    run-to-failure units; ``predict_last`` gives each unit's point RUL and interval at its last row.
    """

    cap: float = 125.0
    spec: WindowSpec = field(default_factory=WindowSpec)
    unit_col: str = "unit"
    time_col: str = "cycle"
    setting_cols: Sequence[str] = tuple(SETTING_COLUMNS)
    sensor_cols: Sequence[str] = tuple(SENSOR_COLUMNS)
    n_estimators: int = 400
    learning_rate: float = 0.04
    num_leaves: int = 31
    min_child_samples: int = 100
    colsample: float = 0.3
    reg_lambda: float = 5.0
    max_rows: int = 12000
    n_folds: int = 5
    cuts_per_unit: int = 20
    min_history: int = 20
    calib_rul_factor: float | None = 2.0
    n_bins: int = 6
    n_jobs: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.cap is not None and self.cap <= 0:
            raise ParameterError(f"cap must be > 0 or None, got {self.cap}")
        if self.n_folds < 2:
            raise ParameterError(f"n_folds must be >= 2, got {self.n_folds}")
        if self.n_bins < 1:
            raise ParameterError(f"n_bins must be >= 1, got {self.n_bins}")
        if self.calib_rul_factor is not None and self.calib_rul_factor <= 0:
            raise ParameterError(f"calib_rul_factor must be > 0 or None, got {self.calib_rul_factor}")
        if not 0 < self.colsample <= 1:
            raise ParameterError(f"colsample must be in (0, 1], got {self.colsample}")
        self._fitted = False

    # ---------------------------------------------------------------- features
    def _check(self, frame: pd.DataFrame) -> pd.DataFrame:
        need = [self.unit_col, self.time_col, *self.setting_cols, *self.sensor_cols]
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise DataError(f"RUL frame is missing columns {missing}")
        if len(frame) == 0:
            raise DataError("RUL frame has no rows")
        return frame.sort_values([self.unit_col, self.time_col], kind="stable").reset_index(drop=True)

    def features(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window features of every row, with the rows' units and times (sorted by unit, time)."""
        if not self._fitted and not hasattr(self, "normalizer_"):
            raise ModelError("RulModel.features called before fit")
        f = self._check(frame)
        s = f[list(self.setting_cols)].to_numpy(float)
        z = self.normalizer_.transform(s, f[list(self.sensor_cols)].to_numpy(float))
        units = f[self.unit_col].to_numpy()
        return window_features(z, units, self.spec), units, f[self.time_col].to_numpy()

    def _lgbm(self, seed: int) -> Any:
        import lightgbm as lgb

        return lgb.LGBMRegressor(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples, subsample=0.8, subsample_freq=1,
            colsample_bytree=self.colsample, reg_lambda=self.reg_lambda, max_bin=63, random_state=seed,
            n_jobs=self.n_jobs, verbose=-1)

    # ---------------------------------------------------------------- fit
    def fit(self, frame: pd.DataFrame, progress: Any = None) -> RulModel:
        """Fit on run-to-failure units (each unit's last row is its failure)."""
        f = self._check(frame)
        units_all = f[self.unit_col].to_numpy()
        uniq = np.unique(units_all)
        if len(uniq) < self.n_folds:
            raise DataError(f"need at least n_folds={self.n_folds} units to train, got {len(uniq)}")
        self.normalizer_ = ConditionNormalizer(OperatingConditions(seed=self.seed)).fit(
            f[list(self.setting_cols)].to_numpy(float), f[list(self.sensor_cols)].to_numpy(float),
            list(self.sensor_cols))
        if not self.normalizer_.kept:
            raise DataError("no informative sensor: every sensor is constant within every regime")
        self.feature_names_ = window_feature_names(self.normalizer_.kept, self.spec)
        x, units, times = self.features(f)
        y = rul_targets(units, times, self.cap)
        y_raw = rul_targets(units, times, None)
        # calibrate where decisions happen: cuts whose true RUL is at most calib_rul_factor * cap
        max_rul = np.inf if self.calib_rul_factor is None or self.cap is None else self.calib_rul_factor * self.cap
        rng = np.random.default_rng(self.seed)
        fold_of = dict(zip(uniq, rng.permutation(len(uniq)) % self.n_folds, strict=True))
        fold = np.array([fold_of[u] for u in units])
        pos = np.arange(len(units)) - np.searchsorted(units, units)  # units are sorted
        # consecutive cycles are nearly duplicates: keep every stride-th row to bound training time
        stride = max(1, int(np.ceil(len(units) / self.max_rows)))
        keep = (np.arange(len(units)) % stride) == 0
        oof_pred, oof_true, self.models_ = [], [], []
        for k in range(self.n_folds):
            test = fold == k
            train = ~test & keep
            model = self._lgbm(self.seed + 1 + k).fit(x[train], y[train])
            self.models_.append(model)
            # cut every held-out unit at random points: its rows with enough history, sampled
            rows = []
            for u in np.unique(units[test]):
                mine = units == u
                ok = mine & (pos + 1 >= min(self.min_history, mine.sum())) & (y_raw <= max_rul)
                idx = np.flatnonzero(ok if ok.any() else mine)
                rows.append(rng.choice(idx, size=min(self.cuts_per_unit, len(idx)), replace=False))
            r = np.concatenate(rows)
            oof_pred.append(model.predict(x[r]))
            oof_true.append(y[r])
            if progress is not None:
                progress(k + 1, self.n_folds)
        p, t = np.concatenate(oof_pred), np.concatenate(oof_true)
        edges = np.unique(np.quantile(p, np.linspace(0, 1, self.n_bins + 1)[1:-1]))
        self.bin_edges_ = edges
        b = np.searchsorted(edges, p, side="right")
        self.residuals_ = [np.sort(t[b == i] - p[b == i]) for i in range(len(edges) + 1)]
        self._fitted = True
        return self

    # ---------------------------------------------------------------- predict
    def _need_fit(self) -> None:
        if not self._fitted:
            raise ModelError("RulModel is not fitted: call fit() or load a saved model")

    def predict_features(self, x: np.ndarray) -> np.ndarray:
        self._need_fit()
        x = np.atleast_2d(x)
        kw = _few_rows(x)
        p = np.mean([m.predict(x, **kw) for m in self.models_], axis=0)
        return np.clip(p, 0.0, self.cap if self.cap is not None else None)

    def _bins(self, point: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.bin_edges_, point, side="right")

    def distribution(self, point: float) -> RulDistribution:
        """Predictive distribution around a point prediction."""
        self._need_fit()
        r = self.residuals_[int(self._bins(np.array([point]))[0])]
        return RulDistribution(float(point), np.sort(np.maximum(point + r, 0.0)))

    def prob_fail_before(self, point: np.ndarray, horizon: float | np.ndarray) -> np.ndarray:
        """Vectorized P(RUL <= horizon) for many point predictions."""
        self._need_fit()
        point = np.asarray(point, dtype=float)
        h = np.broadcast_to(np.asarray(horizon, dtype=float), point.shape)
        out = np.empty(point.shape)
        b = self._bins(point)
        for i, r in enumerate(self.residuals_):
            sel = b == i
            if sel.any():
                out[sel] = np.searchsorted(r, h[sel] - point[sel], side="right") / max(len(r), 1)
        return out

    def intervals(self, point: np.ndarray, level: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """Vectorized conformal intervals (lo, hi) for many point predictions."""
        point = np.asarray(point, dtype=float)
        lo, hi = np.empty(point.shape), np.empty(point.shape)
        for i, p in enumerate(point):
            lo[i], hi[i] = self.distribution(p).interval(level)
        return lo, hi

    def predict_last(self, frame: pd.DataFrame, level: float = 0.8) -> pd.DataFrame:
        """Per unit, at its last row: ``rul`` (point), ``lo``/``hi`` (interval at ``level``)."""
        self._need_fit()
        x, units, times = self.features(frame)
        last = np.r_[np.flatnonzero(units[1:] != units[:-1]), len(units) - 1]
        p = self.predict_features(x[last])
        lo, hi = self.intervals(p, level)
        return pd.DataFrame({self.unit_col: units[last], self.time_col: times[last], "rul": p, "lo": lo, "hi": hi})

    def driving_sensors(self, x_row: np.ndarray, top: int = 3) -> list[tuple[str, float]]:
        """Sensors whose features pushed this prediction's RUL down most (LightGBM SHAP values,
        Lundberg et al. 2020, summed per sensor), as (sensor, contribution in cycles)."""
        self._need_fit()
        x = np.atleast_2d(x_row)
        contrib = np.mean([m.predict(x, pred_contrib=True, **_few_rows(x))[0][:-1] for m in self.models_], axis=0)
        per: dict[str, float] = {}
        for name, c in zip(self.feature_names_, contrib, strict=True):
            sensor = name.split("__")[0]
            per[sensor] = per.get(sensor, 0.0) + float(c)
        ranked = sorted(((s, c) for s, c in per.items() if c < 0 and s != "age"), key=lambda kv: kv[1])
        return ranked[:top]

    # ---------------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model as one JSON file: its parameters, the learned normalization and
        calibration as plain numbers, and each fold's trees in LightGBM's own text format. Loading it
        runs no code (no pickle)."""
        self._need_fit()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        params = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        params["spec"] = dataclasses.asdict(self.spec)
        params["setting_cols"], params["sensor_cols"] = list(self.setting_cols), list(self.sensor_cols)
        nz, oc = self.normalizer_, self.normalizer_.conditions
        body = {
            "format": _FORMAT, "params": params,
            "conditions": {"k_max": oc.k_max, "min_silhouette": oc.min_silhouette, "sample_size": oc.sample_size,
                           "seed": oc.seed, "k": oc.k, "silhouettes": {str(k): v for k, v in oc.silhouettes.items()},
                           "centers": _lists(oc.centers_), "scale": _lists(oc._scale), "center": _lists(oc._center)},
            "normalizer": {"rel_tol": nz.rel_tol, "names": nz.names, "kept": nz.kept, "mean": _lists(nz.mean_),
                           "std": _lists(nz.std_), "keep": [bool(b) for b in nz._keep]},
            "feature_names": list(self.feature_names_), "bin_edges": _lists(self.bin_edges_),
            "residuals": [_lists(r) for r in self.residuals_],
            "lightgbm_models": [getattr(m, "booster_", m).model_to_string() for m in self.models_],
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(body, separators=(",", ":")))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> RulModel:
        """A model written by :meth:`save`. Anything else -- a pickle from an earlier version included --
        is refused with :class:`ModelError` without being interpreted."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: model file not found")
        raw = path.read_bytes()
        if raw[:1] == b"\x80":
            raise ModelError(f"{path}: a pickled model (an earlier format) is refused: pickles can run code; "
                             f"train it again (supplynet maintenance train)")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or body.get("format") != _FORMAT:
            raise ModelError(f"{path}: not a supplynet RUL model (format {_FORMAT} expected)")
        try:
            return cls._from_body(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path}: a damaged supplynet RUL model ({exc})") from exc

    @classmethod
    def _from_body(cls, body: dict[str, Any]) -> RulModel:
        import lightgbm as lgb

        p = dict(body["params"])
        p["spec"] = WindowSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in p["spec"].items()})
        p["setting_cols"], p["sensor_cols"] = tuple(p["setting_cols"]), tuple(p["sensor_cols"])
        model = cls(**p)
        c, n = body["conditions"], body["normalizer"]
        oc = OperatingConditions(k_max=c["k_max"], min_silhouette=c["min_silhouette"], sample_size=c["sample_size"],
                                 seed=c["seed"], k=c["k"], silhouettes={int(k): v for k, v in c["silhouettes"].items()},
                                 centers_=np.asarray(c["centers"], dtype=float))
        oc._scale, oc._center = np.asarray(c["scale"], dtype=float), np.asarray(c["center"], dtype=float)
        nz = ConditionNormalizer(conditions=oc, rel_tol=n["rel_tol"], names=list(n["names"]), kept=list(n["kept"]),
                                 mean_=np.asarray(n["mean"], dtype=float), std_=np.asarray(n["std"], dtype=float))
        nz._keep = np.asarray(n["keep"], dtype=bool)
        model.normalizer_ = nz
        model.feature_names_ = list(body["feature_names"])
        model.bin_edges_ = np.asarray(body["bin_edges"], dtype=float)
        model.residuals_ = [np.asarray(r, dtype=float) for r in body["residuals"]]
        model.models_ = [lgb.Booster(model_str=str(s)) for s in body["lightgbm_models"]]
        if len(model.residuals_) != len(model.bin_edges_) + 1 or not model.models_:
            raise DataError("its calibration or its models are incomplete")
        model._fitted = True
        return model


def _lists(a: np.ndarray | None) -> Any:
    return None if a is None else np.asarray(a, dtype=float).tolist()


class RulTracker:
    """Live RUL for one asset: ``update(settings, sensors)`` per reading (one cycle) returns the
    current :class:`RulDistribution`; equal to the batch :meth:`RulModel.predict_last` on the same
    history. ``reset()`` after maintenance starts a new history (a renewed asset)."""

    def __init__(self, model: RulModel):
        model._need_fit()
        self.model = model
        self._wf = WindowFeatures(len(model.normalizer_.kept), model.spec)
        self.last_features: np.ndarray | None = None
        self._stale = False

    def update(self, settings: Sequence[float] | np.ndarray, sensors: Sequence[float] | np.ndarray) -> RulDistribution:
        self.observe(settings, sensors)
        return self.current()

    def current(self) -> RulDistribution:
        """The RUL distribution after the last reading (the model's prediction, made now)."""
        if self._stale:
            self.last_features = self._wf.get()
            self._stale = False
        if self.last_features is None:
            raise DataError("no reading since the tracker started or was reset")
        m = self.model
        return m.distribution(float(m.predict_features(self.last_features)[0]))

    def observe(self, settings: Sequence[float] | np.ndarray, sensors: Sequence[float] | np.ndarray) -> None:
        """One reading into the window features, without a prediction (:meth:`current` makes it when the
        estimate is needed: a loop deciding once per tick pays one prediction, not one per reading)."""
        m = self.model
        s = np.asarray(settings, dtype=float).reshape(1, -1)
        x = np.asarray(sensors, dtype=float).reshape(1, -1)
        if s.shape[1] != len(m.setting_cols) or x.shape[1] != len(m.sensor_cols):
            raise DataError(f"reading has {s.shape[1]} settings and {x.shape[1]} sensors, expected "
                            f"{len(m.setting_cols)} and {len(m.sensor_cols)}")
        self.observe_normalized(m.normalizer_.transform(s, x)[0])

    def observe_normalized(self, z: np.ndarray) -> None:
        """One reading already standardized by the model's normalizer (``model.normalizer_.transform``):
        for a caller that needs the standardized reading too (the loop's health model) and pays for it once."""
        self._wf.update(z)
        self._stale = True  # the window's features are computed when asked for (current, driving_sensors)

    def driving_sensors(self, top: int = 3) -> list[tuple[str, float]]:
        if self._stale:
            self.last_features = self._wf.get()
            self._stale = False
        if self.last_features is None:
            return []
        return self.model.driving_sensors(self.last_features, top)

    def reset(self) -> None:
        self._wf.reset()
        self.last_features = None
        self._stale = False


def evaluate_last_cycle(model: RulModel, test: pd.DataFrame, rul: np.ndarray, level: float = 0.8) -> dict[str, float]:
    """Score on the test units' last rows against the true RUL (in unit order).

    ``rmse`` against the raw truth, ``rmse_capped`` against the truth capped at the model's cap (the
    convention of most C-MAPSS papers), ``phm08_score`` on the capped truth (``phm08_score_raw`` on
    the raw one), ``interval_coverage`` the share of capped truths inside the ``level`` interval.
    """
    pred = model.predict_last(test, level)
    truth = np.asarray(rul, dtype=float)
    if len(truth) != len(pred):
        raise DataError(f"{len(truth)} true RUL values for {len(pred)} test units")
    capped = np.minimum(truth, model.cap) if model.cap is not None else truth
    p = pred["rul"].to_numpy()
    inside = (capped >= pred["lo"].to_numpy()) & (capped <= pred["hi"].to_numpy())
    return {
        "rmse": float(np.sqrt(np.mean((p - truth) ** 2))),
        "rmse_capped": float(np.sqrt(np.mean((p - capped) ** 2))),
        "phm08_score": phm08_score(p, capped),
        "phm08_score_raw": phm08_score(p, truth),
        "interval_coverage": float(inside.mean()),
        "interval_width": float((pred["hi"] - pred["lo"]).mean()),
        "n_units": int(len(pred)),
    }
