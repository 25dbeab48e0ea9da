"""Lane-level ETA learned across trips that are not repeats of one route.

When a company's GPS trips go between many places, there is no route to learn segment times on.
:class:`LaneEtaModel` predicts the remaining time from the remaining great-circle distance ``d`` to
the destination: ``T = d x pace``, where the pace (seconds per metre) is the median of the
training trips' ``remaining time / remaining distance`` (each trip weighing the same, however often
it reports) in the cell of ``d``'s distance band, the hour of day and the road/sea context (long
remaining distances run faster, on main roads; rush hours are slower; a ship keeps its pace), blended
with the trip's own pace so far and the median trip's pace (the weights that fit the training trips
best, so the model is never worse than those naive rules on them). P10/P90 come from the
training residuals ``log(T_true / T)``. It is stored as JSON (no pickle) per lane, and bound to a
lane's route it serves the live delay detector like the segment models (``predict_matched``).

:func:`repeated_route` tells the two situations apart; :func:`lane_backtest` is the
leave-one-trip-out backtest of this model against the naive baselines (straight-line remaining
distance over the speed since departure, and over the training trips' median speed).

The context of a fix (:func:`contexts`) is what the vehicle has been doing over the last
:data:`CONTEXT_WINDOW_S` (no land mask or coastline is needed, so it works offline on any file):

- ``sea`` when the trip or its lane is declared so (a ``mode`` column of ``sea``/``ship``/``vessel``/
  ``ferry``, or a network lane of mode ``sea``), or when the fixes keep a vessel's regime: a steady
  3-13 m/s (6-25 knots, speed varying less than 15% between fixes) on a near-straight track
  (displacement over path length >= 0.97) for at least 20 minutes;
- ``urban`` road: slow (under 6 m/s over the window: stop-and-go, junctions, stops) or winding
  (straightness under 0.7);
- ``open`` road otherwise (fast and straight: main roads and motorways).

A cell seen on too few trips falls back to the same band and hour without the context, then to the band,
then to the overall pace, so the context only refines where the training trips support it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from .eta import EtaForecast
from .geo import haversine_m
from .trips import Trip

__all__ = ["CONTEXTS", "LaneEtaModel", "contexts", "declared_sea", "lane_backtest", "load_eta_models",
           "repeated_route"]

BANDS_M = (0.0, 1_000.0, 5_000.0, 20_000.0, 80_000.0, 300_000.0, math.inf)
TOD_H = (0, 6, 10, 15, 19, 24)
#: the road/sea contexts (see the module docstring), in the order of the model's table
CONTEXTS = ("urban", "open", "sea")
#: seconds of fixes behind a fix that tell its context
CONTEXT_WINDOW_S = 600.0
_SEA_WORDS = frozenset({"sea", "ship", "vessel", "ferry", "water", "maritime", "ocean", "boat"})
#: blends (table, the trip's own pace, the median trip's pace) tried on the training trips
_WEIGHTS = tuple((a / 4, b / 4, (4 - a - b) / 4) for a in range(5) for b in range(5 - a))


def repeated_route(trips: Sequence[Trip], radius_m: float = 2_000.0, share: float = 0.5) -> bool:
    """Whether most trips start near one place and end near one place (repeats of one route)."""
    if len(trips) < 2:
        return True
    first = np.array([[tr.lat[0], tr.lon[0]] for tr in trips])
    last = np.array([[tr.lat[-1], tr.lon[-1]] for tr in trips])

    def near_mode(p: np.ndarray) -> np.ndarray:
        d = haversine_m(p[:, None, 0], p[:, None, 1], p[None, :, 0], p[None, :, 1]) <= radius_m
        return d[int(np.argmax(d.sum(axis=1)))]

    return float(np.mean(near_mode(first) & near_mode(last))) >= share


def declared_sea(mode: str | None) -> bool:
    """Whether a declared mode (a trip's ``mode`` column, a lane's mode) is a sea/water one."""
    return bool(mode) and str(mode).strip().lower() in _SEA_WORDS


def contexts(t: np.ndarray, lat: np.ndarray, lon: np.ndarray, sea: bool = False) -> np.ndarray:
    """The context index (into :data:`CONTEXTS`) of each fix, from the fixes up to it (causal):
    speed regime and straightness over the trailing :data:`CONTEXT_WINDOW_S`; ``sea`` declared wins."""
    t, lat, lon = (np.asarray(a, float) for a in (t, lat, lon))
    n = len(t)
    if sea:
        return np.full(n, 2, np.int64)
    if n < 2:
        return np.zeros(n, np.int64)
    step = np.concatenate([[0.0], haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])])
    path = np.cumsum(step)
    start = np.searchsorted(t, t - CONTEXT_WINDOW_S, side="left")  # first fix of each window
    span_t = t - t[start]
    span_path = path - path[start]
    disp = haversine_m(lat[start], lon[start], lat, lon)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.where(span_t > 0, span_path / span_t, np.nan)
        straight = np.where(span_path > 50.0, disp / span_path, 1.0)
        dt = np.diff(t, prepend=t[0])
        inst = np.where(dt > 0, step / dt, np.nan)  # speed between consecutive fixes
    out = np.where((speed < 6.0) | (straight < 0.7) | ~np.isfinite(speed), 0, 1).astype(np.int64)
    # a vessel's regime: steady 3-13 m/s on a near-straight track, for 20 minutes and more
    long_start = np.searchsorted(t, t - 2 * CONTEXT_WINDOW_S, side="left")
    steady = np.zeros(n, bool)
    for k in np.flatnonzero((speed >= 3.0) & (speed <= 13.0) & (straight >= 0.97)
                            & (t - t[long_start] >= 0.95 * 2 * CONTEXT_WINDOW_S)):
        v = inst[long_start[k] + 1: k + 1]
        v = v[np.isfinite(v)]
        long_path = path[k] - path[long_start[k]]
        long_disp = float(haversine_m(lat[long_start[k]], lon[long_start[k]], lat[k], lon[k]))
        steady[k] = (len(v) >= 5 and float(np.std(v)) <= 0.15 * float(np.mean(v)) and long_path > 0
                     and long_disp / long_path >= 0.97)
    out[steady] = 2
    return out


def _trip_sea(tr: Trip) -> bool:
    return declared_sea(tr.meta.get("mode")) if tr.meta else False


def _wmedian(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted median (the lower one at a tie)."""
    order = np.argsort(x, kind="stable")
    cw = np.cumsum(w[order])
    return float(x[order][np.searchsorted(cw, 0.5 * cw[-1])])


def _trip_median(values: np.ndarray, trip: np.ndarray, min_trips: int) -> float:
    """Median of ``values`` with each trip weighing the same (nan when fewer than ``min_trips`` trips)."""
    if len(values) == 0:
        return math.nan
    ids, inv, counts = np.unique(trip, return_inverse=True, return_counts=True)
    if len(ids) < min_trips:
        return math.nan
    return _wmedian(values, 1.0 / counts[inv])


def _cells(d: np.ndarray, t: np.ndarray) -> np.ndarray:
    band = np.clip(np.searchsorted(BANDS_M, d, side="right") - 1, 0, len(BANDS_M) - 2)
    hour = (np.asarray(t, float) % 86_400.0) / 3600.0
    tod = np.clip(np.searchsorted(TOD_H, hour, side="right") - 1, 0, len(TOD_H) - 2)
    return band * (len(TOD_H) - 1) + tod


def _points(tr: Trip, min_m: float = 50.0) -> tuple[np.ndarray, ...]:
    """Per fix before the end: time, remaining distance, remaining time, own pace so far (nan if
    none), context."""
    d = haversine_m(tr.lat, tr.lon, tr.lat[-1], tr.lon[-1])
    rem_t = tr.t[-1] - tr.t
    done = d[0] - d
    el = tr.t - tr.t[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        own = np.where(done > 200.0, el / done, np.nan)
    keep = (d > min_m) & (rem_t > 0)
    ctx = contexts(tr.t, tr.lat, tr.lon, _trip_sea(tr))
    return tr.t[keep], d[keep], rem_t[keep], own[keep], ctx[keep]


@dataclass
class LaneEtaModel:
    """Remaining time from remaining distance, distance band and hour of day (see the module docstring)."""

    pace_: np.ndarray | None = None          # seconds per metre per cell (nan: no data)
    ctx_pace_: np.ndarray | None = None      # per context and cell (nan: too few trips; the cell's then)
    ctx_band_pace_: np.ndarray | None = None  # per context and distance band
    band_pace_: np.ndarray | None = None     # per distance band
    global_pace_: float = math.nan
    weight_: tuple[float, float, float] = (1.0, 0.0, 0.0)  # of the table's, the own and the median pace
    q10_: float = 0.0                        # log-ratio quantiles of the training residuals
    q90_: float = 0.0
    n_trips: int = 0
    median_speed_mps: float = math.nan
    route: Any = field(default=None, repr=False)  # a lane's route when bound (live use)
    sea: bool = False                         # the bound lane is declared a sea lane
    method: str = "lane_pace"

    def fit(self, trips: Sequence[Trip]) -> LaneEtaModel:
        pts = [_points(tr) for tr in trips if tr.n >= 2 and tr.t[-1] > tr.t[0]]
        pts = [p for p in pts if len(p[0])]
        if not pts:
            raise DataError("no trip moves towards its end: nothing to learn an ETA from")
        t, d, rem, own, ctx = (np.concatenate([p[k] for p in pts]) for k in range(5))
        trip = np.concatenate([np.full(len(p[0]), k) for k, p in enumerate(pts)])
        speeds = [haversine_m(tr.lat[0], tr.lon[0], tr.lat[-1], tr.lon[-1]) / (tr.t[-1] - tr.t[0])
                  for tr in trips if tr.n >= 2 and tr.t[-1] > tr.t[0]]
        self.median_speed_mps = float(np.median(speeds))
        # the blend is chosen on tables fitted without the trips they predict (5 folds of trips)
        table = np.empty(len(d))
        folds = np.arange(len(pts)) % 5
        for f in range(min(5, len(pts))):
            held = folds[trip] == f
            keep = ~held if not held.all() else held
            self._fit_table(t[keep], d[keep], rem[keep] / d[keep], trip[keep], ctx[keep])
            table[held] = self._table(d[held], t[held], ctx[held])
        best: tuple[float, tuple[float, float, float]] = (math.inf, (1.0, 0.0, 0.0))
        per_trip = 1.0 / np.bincount(trip)[trip]  # each trip weighs the same, however often it reports
        for w in _WEIGHTS:  # the blend with the least absolute error on held-out trips
            self.weight_ = w
            best = min(best, (float(np.sum(per_trip * np.abs(self._blend(table, own) * d - rem))), w))
        self.weight_ = best[1]
        ratio = np.log(np.maximum(rem, 1.0) / np.maximum(self._blend(table, own) * d, 1.0))
        self.q10_, self.q90_ = (float(x) for x in np.quantile(ratio, [0.1, 0.9]))
        self._fit_table(t, d, rem / d, trip, ctx)
        self.n_trips = len(pts)
        return self

    def _fit_table(self, t: np.ndarray, d: np.ndarray, pace: np.ndarray, trip: np.ndarray, ctx: np.ndarray) -> None:
        """Median pace (each trip weighing the same) per context and cell seen on at least 3 trips,
        else per context and band seen on 2, else per cell seen on 3, else its band's seen on 2, else
        overall."""
        cells = _cells(d, t)
        n_cells = (len(BANDS_M) - 1) * (len(TOD_H) - 1)
        self.pace_ = np.array([_trip_median(pace[cells == c], trip[cells == c], 3) for c in range(n_cells)])
        self.ctx_pace_ = np.array([[_trip_median(pace[m], trip[m], 3) for c in range(n_cells)
                                    for m in ((cells == c) & (ctx == k),)] for k in range(len(CONTEXTS))])
        band = cells // (len(TOD_H) - 1)
        self.ctx_band_pace_ = np.array([[_trip_median(pace[m], trip[m], 2) for b in range(len(BANDS_M) - 1)
                                         for m in ((band == b) & (ctx == k),)] for k in range(len(CONTEXTS))])
        self.band_pace_ = np.array([_trip_median(pace[band == b], trip[band == b], 2)
                                    for b in range(len(BANDS_M) - 1)])
        self.global_pace_ = _trip_median(pace, trip, 1)

    def _table(self, d: np.ndarray, t: np.ndarray, ctx: np.ndarray | None = None) -> np.ndarray:
        assert self.pace_ is not None and self.band_pace_ is not None
        cells = _cells(d, t)
        p = self.pace_[cells]
        if ctx is not None and self.ctx_pace_ is not None and self.ctx_band_pace_ is not None:
            k = np.asarray(ctx, np.int64)
            pc = self.ctx_pace_[k, cells]
            pc = np.where(np.isfinite(pc), pc, self.ctx_band_pace_[k, cells // (len(TOD_H) - 1)])
            p = np.where(np.isfinite(pc), pc, p)
        p = np.where(np.isfinite(p), p, self.band_pace_[cells // (len(TOD_H) - 1)])
        return np.where(np.isfinite(p), p, self.global_pace_)

    def _blend(self, table: np.ndarray, own: np.ndarray) -> np.ndarray:
        a, b, c = self.weight_
        own = np.where(np.isfinite(own), own, table)  # no progress yet: the table stands in
        return a * table + b * own + c / self.median_speed_mps

    def predict_remaining(self, t_now: float, remaining_m: float, elapsed_s: float = 0.0,
                          progress_m: float = 0.0, context: int | str | None = None) -> tuple[float, float, float]:
        """P10, P50, P90 of the remaining time (s) at ``t_now`` with ``remaining_m`` to go, after
        ``elapsed_s`` and ``progress_m`` (straight-line progress) since departure, in ``context``
        (a name of :data:`CONTEXTS` or its index, from :func:`contexts`; None: not known)."""
        if self.pace_ is None:
            raise DataError("LaneEtaModel.predict called before fit")
        if isinstance(context, str):
            if context not in CONTEXTS:
                raise DataError(f"unknown ETA context {context!r}; use one of {', '.join(CONTEXTS)}")
            context = CONTEXTS.index(context)
        d = np.array([max(float(remaining_m), 0.0)])
        own = np.array([elapsed_s / progress_m if progress_m > 200.0 else math.nan])
        ctx = None if context is None else np.array([int(context)])
        p50 = float((self._blend(self._table(d, np.array([t_now]), ctx), own) * d)[0])
        return p50 * math.exp(self.q10_), p50, p50 * math.exp(self.q90_)

    # -- the live path: a lane's route, progress along it -------------------------------------
    def bind(self, route: Any, mode: str | None = None) -> LaneEtaModel:
        """This model on a lane's route (a :class:`~supplynet.sense.eta.geo.Route`) of ``mode`` (the
        lane's declared mode: ``sea`` sets the context), for the delay detector."""
        out = LaneEtaModel(**{k: getattr(self, k) for k in ("pace_", "ctx_pace_", "ctx_band_pace_", "band_pace_", "global_pace_",
                                                            "weight_", "q10_", "q90_", "n_trips", "median_speed_mps")})
        out.route = route
        out.sea = declared_sea(mode)
        return out

    @property
    def geometry(self) -> Any:
        from types import SimpleNamespace

        if self.route is None:
            raise DataError("LaneEtaModel is not bound to a lane's route (LaneEtaModel.bind)")
        return SimpleNamespace(route=self.route)

    def predict_matched(self, t: np.ndarray, s: np.ndarray, start_idx: int = 0) -> EtaForecast:
        """Forecast from fixes matched to the bound route (``s``: metres along it)."""
        length = float(self.geometry.route.length_m)
        t, s = np.asarray(t, float), np.asarray(s, float)
        rem = max(length - float(s[-1]), 0.0)
        p10, p50, p90 = self.predict_remaining(float(t[-1]), rem, float(t[-1] - t[start_idx]),
                                               float(s[-1] - s[start_idx]), _route_context(t, s, self.sea))
        return EtaForecast(float(t[-1]), float(s[-1]), rem, p10, p50, p90, self.n_trips)

    # -- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        def arr(a: np.ndarray | None) -> list[float | None]:
            return [None if not np.isfinite(x) else float(x) for x in (a if a is not None else [])]

        return {"pace": arr(self.pace_), "contexts": list(CONTEXTS),
                "context_pace": [arr(row) for row in (self.ctx_pace_ if self.ctx_pace_ is not None else [])],
                "context_band_pace": [arr(row) for row in (self.ctx_band_pace_ if self.ctx_band_pace_ is not None
                                                           else [])],
                "band_pace": arr(self.band_pace_), "global_pace": self.global_pace_,
                "weight": list(self.weight_), "q10": self.q10_, "q90": self.q90_, "n_trips": self.n_trips,
                "median_speed_mps": self.median_speed_mps}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LaneEtaModel:
        def arr(v: list[float | None]) -> np.ndarray:
            return np.array([math.nan if x is None else float(x) for x in v])

        try:
            pace = arr(d["pace"])
            ctx = d.get("context_pace")  # absent from files written before the context
            ctx_pace = ctx_band = None
            if ctx:
                if list(d.get("contexts", [])) != list(CONTEXTS):
                    raise DataError(f"contexts {d.get('contexts')!r} are not {list(CONTEXTS)!r}")
                ctx_pace = np.array([arr(row) for row in ctx])
                if ctx_pace.shape != (len(CONTEXTS), len(pace)):
                    raise DataError(f"context_pace has shape {ctx_pace.shape}, not {(len(CONTEXTS), len(pace))}")
                ctx_band = np.array([arr(row) for row in d["context_band_pace"]])
                if ctx_band.shape != (len(CONTEXTS), len(BANDS_M) - 1):
                    raise DataError(f"context_band_pace has shape {ctx_band.shape}")
            if len(pace) != (len(BANDS_M) - 1) * (len(TOD_H) - 1):
                raise DataError(f"pace has {len(pace)} cells, not {(len(BANDS_M) - 1) * (len(TOD_H) - 1)}")
            return cls(pace_=pace, ctx_pace_=ctx_pace, ctx_band_pace_=ctx_band, band_pace_=arr(d["band_pace"]),
                       global_pace_=float(d["global_pace"]),
                       weight_=tuple(float(x) for x in d["weight"]),  # type: ignore[arg-type]
                       q10_=float(d["q10"]), q90_=float(d["q90"]), n_trips=int(d["n_trips"]),
                       median_speed_mps=float(d["median_speed_mps"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"not a lane ETA model ({exc})") from exc


def _route_context(t: np.ndarray, s: np.ndarray, sea: bool) -> int:
    """The context of the last fix matched to a route: ``sea`` if the lane is; else by the speed along
    the route over the trailing window (a route's track is as straight as the route: speed alone)."""
    if sea:
        return 2
    k = int(np.searchsorted(t, t[-1] - CONTEXT_WINDOW_S, side="left"))
    span = float(t[-1] - t[k])
    if span <= 0:
        return 0
    return 0 if float(s[-1] - s[k]) / span < 6.0 else 1


def fit_lanes(trips: Sequence[Trip], min_trips: int = 3) -> dict[str, LaneEtaModel]:
    """A model per lane with at least ``min_trips`` trips (the trips' ``lane``), and ``"*"`` on all."""
    out = {"*": LaneEtaModel().fit(trips)}
    lanes: dict[str, list[Trip]] = {}
    for tr in trips:
        if tr.lane:
            lanes.setdefault(tr.lane, []).append(tr)
    for lane, group in lanes.items():
        if len(group) >= min_trips:
            out[lane] = LaneEtaModel().fit(group)
    return out


def save_models(models: dict[str, LaneEtaModel], path: str | Path) -> Path:
    p = Path(path)
    p.write_text(json.dumps({"kind": "supplynet.lane_eta", "version": 1, "bands_m": list(BANDS_M[:-1]),
                             "tod_hours": list(TOD_H), "lanes": {k: m.to_dict() for k, m in models.items()}},
                            indent=1) + "\n")
    return p


def load_eta_models(path: str | Path, network: Any = None) -> dict[str, LaneEtaModel]:
    """Models of :func:`save_models` by lane; with a network, every lane of it gets its own model (or
    the ``"*"`` one) bound to its route, ready for :class:`~supplynet.sense.eta.delay.DelayDetector`."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{p}: not a readable ETA model file ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("kind") != "supplynet.lane_eta":
        raise DataError(f"{p}: not an ETA model file of supplynet eta fit")
    models = {k: LaneEtaModel.from_dict(v) for k, v in doc.get("lanes", {}).items()}
    if network is None:
        return models
    from .delay import lane_route

    return {ln.id: models.get(ln.id, models["*"]).bind(lane_route(network, ln.id), ln.mode) for ln in network.lanes
            if ln.id in models or "*" in models}


def lane_backtest(trips: Sequence[Trip], *, seed: int = 0, cuts_per_trip: int = 20) -> dict[str, Any]:
    """Leave-one-trip-out: each trip's end is its destination; cuts at random fixes; the model
    fitted on the other trips against the naive straight-line baselines. Same JSON as the route backtest."""
    trips = [tr for tr in trips if tr.n >= 3 and tr.t[-1] > tr.t[0]]
    if len(trips) < 3:
        raise DataError(f"the lane backtest needs at least 3 trips that move, got {len(trips)}")
    rng = np.random.default_rng(seed)
    rows = []
    for i, tr in enumerate(trips):
        model = LaneEtaModel().fit([x for j, x in enumerate(trips) if j != i])
        d = haversine_m(tr.lat, tr.lon, tr.lat[-1], tr.lon[-1])
        ctx = contexts(tr.t, tr.lat, tr.lon, _trip_sea(tr))  # causal: from the fixes up to each one
        cand = np.flatnonzero((d > 50.0) & (tr.t < tr.t[-1]))[1:]
        if cand.size == 0:
            continue
        for c in np.sort(rng.choice(cand, size=min(cuts_per_trip, cand.size), replace=False)):
            el, prog = float(tr.t[c] - tr.t[0]), float(d[0] - d[c])
            p10, p50, p90 = model.predict_remaining(float(tr.t[c]), float(d[c]), el, prog, int(ctx[c]))
            truth = float(tr.t[-1] - tr.t[c])
            naive_med = d[c] / model.median_speed_mps
            naive_dep = d[c] / (prog / el) if el > 0 and prog / el >= 0.5 else naive_med
            rows.append((truth, p10, p50, p90, naive_dep, naive_med, int(ctx[c])))
    if not rows:
        raise DataError("no cut could be evaluated (no fix before the end of a trip)")
    a = np.asarray(rows)
    err = [float(np.mean(np.abs(a[:, k] - a[:, 0])) / 60.0) for k in range(6)]
    ctx_counts = {name: int(np.sum(a[:, 6] == k)) for k, name in enumerate(CONTEXTS)}
    naive = min(err[4], err[5])
    return {"n_trips": len(trips), "n_cuts": len(a),
            "model": {"mae_min": round(err[2], 4), "p90_coverage": round(float(np.mean(a[:, 0] <= a[:, 3])), 4),
                      "p10_coverage": round(float(np.mean(a[:, 0] <= a[:, 1])), 4)},
            "naive": {"mae_min": round(naive, 4), "which": "since_departure" if err[4] <= err[5] else "median_speed",
                      "since_departure_mae_min": round(err[4], 4), "median_speed_mae_min": round(err[5], 4)},
            "mae_reduction_vs_naive": round(1 - err[2] / naive, 4) if naive > 0 else None,
            "contexts": ctx_counts}
