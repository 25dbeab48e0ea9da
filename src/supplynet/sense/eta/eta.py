"""ETA as a distribution (P10/P50/P90) from lane history plus live progress.

Model: segment travel times with a Gaussian-process correction (kriging of link travel times; the
Kalman-filter family of bus arrival predictors, Shalaby & Farhan 2004, "Prediction model of bus
arrival and departure times using AVL and APC data", generalised as in Rasmussen & Williams 2006,
"Gaussian processes for machine learning"). The route up to the destination geofence is cut into
segments of ``segment_m``; every traversal of a segment by a past trip (also by trips whose end was
not observed) gives a log travel time. Its mean per segment is the lane's baseline (the
time-to-end profile by position is the sum of the baselines downstream). The deviations
``y = log d - baseline`` are modelled as a Gaussian process with covariance

    route_sd² exp(-|dt| / route_time_s)                  traffic on the whole route now
  + segment_sd² [same segment] exp(-|dt| / segment_time_s)  this segment's recent state
  + clock_sd² [same day type] exp(-|dclock| / clock_time_s) time of day (weekday / weekend)
  + trip_sd² [same trip]                                   the vehicle's own pace
  + noise_sd² [same traversal]

whose hyperparameters are fitted by maximum marginal likelihood on the training trips (nothing is
tuned on the trips a backtest evaluates). A live trip at time ``t`` is forecast from the posterior of
its downstream segments given its own completed segments and (``realtime``) the other trips'
traversals completed before ``t`` (the vehicles ahead; causal). P50 is the sum of the segments'
posterior medians; P10 and P90 are quantiles of fixed posterior draws of the sum, optionally
calibrated by conformalized quantile regression (Romano, Patterson & Candes 2019) on
leave-one-trip-out cuts of the training trips.

The route geometry comes from the network (``Lane.route``) or is learned from past trips
(:func:`learn_route`). Trips whose end was not observed (the data stops, or the tracker falls silent
away from the destination) are detected (:func:`classify_trips`), kept out of the evaluation and
counted. :func:`~supplynet.sense.eta.eta_backtest.backtest` evaluates leave-one-trip-out, cutting
each trip at random fixes (seeded), against the stronger of two naive baselines computed on the same
cuts; its default model is the time-of-day segment model of :mod:`supplynet.sense.eta.eta_tod` (on the Liverpool route-14 file it is
the stronger of the two; the GP stays available as ``model="gp"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

from ...errors import DataError, ParameterError
from .geo import Route, haversine_m
from .trips import Trip

__all__ = [
    "EtaForecast",
    "EtaModel",
    "LaneGeometry",
    "MatchedTrip",
    "TripStatus",
    "classify_trips",
    "learn_route",
    "match_trip",
    "weighted_quantiles",
]

FloatArray = NDArray[np.float64]
DAY_S = 86_400.0


# ----------------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class LaneGeometry:
    """A route with origin and destination geofences at its two ends."""

    route: Route
    origin_radius_m: float = 300.0
    dest_radius_m: float = 150.0

    def __post_init__(self) -> None:
        if self.origin_radius_m <= 0 or self.dest_radius_m <= 0:
            raise ParameterError(f"geofence radii must be > 0, got origin_radius_m={self.origin_radius_m}, "
                                 f"dest_radius_m={self.dest_radius_m}")
        if self.origin_radius_m + self.dest_radius_m >= self.route.length_m:
            raise ParameterError(f"origin_radius_m + dest_radius_m ({self.origin_radius_m + self.dest_radius_m}) "
                                 f"must be shorter than the route ({self.route.length_m:.0f} m)")

    @property
    def arrival_s_m(self) -> float:
        """Distance along the route at which the destination geofence begins."""
        return self.route.length_m - self.dest_radius_m


def _endpoint_mode(points: FloatArray, radius_m: float) -> tuple[FloatArray, NDArray[np.bool_]]:
    d = haversine_m(points[:, None, 0], points[:, None, 1], points[None, :, 0], points[None, :, 1])
    near = d <= radius_m
    i = int(np.argmax(near.sum(axis=1)))
    return points[near[i]].mean(axis=0), near[i]


def learn_route(trips: Sequence[Trip], *, endpoint_radius_m: float = 400.0, min_spacing_m: float = 10.0) -> Route:
    """Learn a lane's route from past trips when the network has none.

    The origin and destination are the densest clusters of the trips' first and last fixes; the
    route is the densest-sampled trip that starts at the origin and ends at the destination, thinned
    so vertices are at least ``min_spacing_m`` apart (a stop's GPS jitter collapses to one vertex).
    Without such a trip, the longest track is used.
    """
    if not trips:
        raise DataError("cannot learn a route: no trips")
    first = np.array([[tr.lat[0], tr.lon[0]] for tr in trips])
    last = np.array([[tr.lat[-1], tr.lon[-1]] for tr in trips])
    _, at_origin = _endpoint_mode(first, endpoint_radius_m)
    _, at_dest = _endpoint_mode(last, endpoint_radius_m)
    both = [tr for tr, a, b in zip(trips, at_origin, at_dest, strict=True) if a and b and tr.n >= 2]
    if both:
        ref = max(both, key=lambda tr: (tr.n, -float(np.max(np.diff(tr.t), initial=0.0))))
    else:
        ref = max(trips, key=lambda tr: float(np.sum(haversine_m(tr.lat[:-1], tr.lon[:-1], tr.lat[1:], tr.lon[1:]))))
    keep = [0]
    for i in range(1, ref.n):
        if haversine_m(ref.lat[keep[-1]], ref.lon[keep[-1]], ref.lat[i], ref.lon[i]) >= min_spacing_m:
            keep.append(i)
    if len(keep) < 2:
        raise DataError(f"cannot learn a route: trip {ref.trip_id!r} does not move")
    return Route(ref.lat[keep], ref.lon[keep])


# ----------------------------------------------------------------------------------- matching
@dataclass(frozen=True)
class MatchedTrip:
    """A trip matched to a lane: progress ``s`` (monotone envelope of the map-matched distance), the
    index of the departure fix (last fix in the origin geofence; None if the trip was first seen
    outside it) and of the arrival fix (first fix in the destination geofence; None if never)."""

    trip: Trip
    s: FloatArray
    cross_track_m: FloatArray
    dep_idx: int | None
    arr_idx: int | None

    @property
    def start_idx(self) -> int:
        return 0 if self.dep_idx is None else self.dep_idx

    @property
    def arrival_t(self) -> float | None:
        return None if self.arr_idx is None else float(self.trip.t[self.arr_idx])


def match_trip(geom: LaneGeometry, trip: Trip) -> MatchedTrip:
    """Project a trip onto the lane and find its departure and arrival fixes."""
    proj = geom.route.project(trip.lat, trip.lon)
    s = np.maximum.accumulate(proj.s_m)
    olat, olon = geom.route.origin
    dlat, dlon = geom.route.destination
    d_o = haversine_m(olat, olon, trip.lat, trip.lon)
    d_d = haversine_m(dlat, dlon, trip.lat, trip.lon)
    inside_d = np.nonzero((d_d <= geom.dest_radius_m) | (s >= geom.arrival_s_m))[0]
    arr = int(inside_d[0]) if inside_d.size else None
    if arr == 0:  # first seen already at the destination: nothing to predict
        arr = None
    dep: int | None = None
    if d_o[0] <= geom.origin_radius_m:
        out = np.nonzero(d_o > geom.origin_radius_m)[0]
        dep = int(out[0]) - 1 if out.size else trip.n - 1
    return MatchedTrip(trip, s, proj.cross_track_m, dep, arr)


@dataclass(frozen=True)
class TripStatus:
    """Why a trip can or cannot be evaluated. ``status`` is "complete" (arrival observed),
    "data_stops" (no arrival and the file ends within ``data_end_tol_s`` of its last fix) or
    "tracker_silent" (no arrival and the tracker stopped reporting before the data ended)."""

    trip_id: str
    status: Literal["complete", "data_stops", "tracker_silent"]
    start_observed: bool
    last_remaining_m: float


def classify_trips(
    geom: LaneGeometry, matched: Sequence[MatchedTrip], *, data_end_t: float | None = None,
    data_end_tol_s: float = 300.0,
) -> list[TripStatus]:
    """Detect trips without an observed end (see :class:`TripStatus`)."""
    end_t = data_end_t if data_end_t is not None else max(float(m.trip.t[-1]) for m in matched)
    out = []
    for m in matched:
        rem = float(geom.route.length_m - m.s[-1])
        if m.arr_idx is not None:
            st: Literal["complete", "data_stops", "tracker_silent"] = "complete"
        elif end_t - float(m.trip.t[-1]) <= data_end_tol_s:
            st = "data_stops"
        else:
            st = "tracker_silent"
        out.append(TripStatus(m.trip.trip_id, st, m.dep_idx is not None, rem))
    return out


# ----------------------------------------------------------------------------------- model
def weighted_quantiles(values: FloatArray, weights: FloatArray, qs: Sequence[float]) -> FloatArray:
    """Quantiles of a weighted sample, interpolating between the midpoints of each value's weight
    (Hazen plotting positions; equal weights give the usual (i - 0.5) / n rule)."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if v.size == 0:
        raise DataError("weighted_quantiles of an empty sample")
    if np.any(w < 0) or w.sum() <= 0:
        raise DataError("weights must be non-negative and not all zero")
    o = np.argsort(v, kind="stable")
    v, w = v[o], w[o]
    pos = (np.cumsum(w) - w / 2) / w.sum()
    return np.interp(np.asarray(qs, dtype=float), pos, v)


def _past_trip(geometry: LaneGeometry, trip: Trip | MatchedTrip, edges: FloatArray
               ) -> tuple[MatchedTrip, FloatArray, FloatArray, FloatArray, float | None]:
    """A past trip as the models learn from it: ``(matched, t, s, te, speed)`` with its fixes up to
    the arrival, the first passage times at ``edges`` from the departure on (as for a live trip: the
    dwell at the origin is no traversal; an observed arrival is the first fix in the destination
    geofence), and its speed from departure to arrival (None without an observed arrival)."""
    m = trip if isinstance(trip, MatchedTrip) else match_trip(geometry, trip)
    end = m.trip.n if m.arr_idx is None else m.arr_idx + 1
    t, s = m.trip.t[:end], m.s[:end]
    i0 = m.start_idx
    te = _first_passage(t[i0:], s[i0:], edges)
    speed = None
    if m.arr_idx is not None:
        te[-1] = t[-1]
        if t[-1] > t[i0] and s[-1] > s[i0]:
            speed = float((min(s[-1], geometry.arrival_s_m) - s[i0]) / (t[-1] - t[i0]))
    return m, t, s, te, speed


def _first_passage(t: FloatArray, s: FloatArray, grid: FloatArray) -> FloatArray:
    """Time the (monotone) progress ``s`` first reached each grid point; NaN outside what was seen."""
    u, idx = np.unique(s, return_index=True)
    if u.size < 2:
        return np.full(grid.size, np.nan)
    return np.interp(grid, u, t[idx], left=np.nan, right=np.nan)


def _weekend(t: FloatArray) -> NDArray[np.bool_]:
    return ((np.floor(np.asarray(t, dtype=float) / DAY_S) + 3) % 7) >= 5  # 1970-01-01 was a Thursday


#: hyperparameters of the covariance of segment log-time ratios, in this order (see :class:`EtaModel`)
HYPERPARAMETERS = ("route_sd", "route_time_s", "segment_sd", "segment_time_s", "clock_sd", "clock_time_s",
                   "trip_sd", "noise_sd")
_INIT = np.array([0.1, 1800.0, 0.2, 600.0, 0.1, 3600.0, 0.1, 0.2])
_BOUNDS = np.log([(1e-3, 2.0), (60.0, 7 * DAY_S), (1e-3, 2.0), (60.0, 7 * DAY_S), (1e-3, 2.0), (60.0, DAY_S / 2),
                  (1e-3, 2.0), (1e-2, 2.0)])


@dataclass(frozen=True)
class _Obs:
    """Segment traversals: segment index, mid time, log duration, trip index, completion time."""

    k: NDArray[np.int64]
    t: FloatArray
    logd: FloatArray
    trip: NDArray[np.int64]
    done: FloatArray

    @staticmethod
    def of(te: FloatArray, trip: int, until: float = np.inf) -> _Obs:
        d = np.diff(te)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(d) & (d > 0) & (te[1:] <= until)
        k = np.nonzero(ok)[0]
        return _Obs(k, 0.5 * (te[k] + te[k + 1]), np.log(d[k]), np.full(k.size, trip), te[k + 1])

    @staticmethod
    def concat(parts: Sequence[_Obs]) -> _Obs:
        return _Obs(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("k", "t", "logd", "trip", "done")))

    def take(self, sel: NDArray[np.bool_] | NDArray[np.int64]) -> _Obs:
        return _Obs(self.k[sel], self.t[sel], self.logd[sel], self.trip[sel], self.done[sel])


def _kernel(p: FloatArray, a: _Obs, b: _Obs) -> FloatArray:
    """Covariance of segment log-time ratios: route-wide and per-segment Ornstein-Uhlenbeck processes
    in time, a time-of-day process on the clock (weekdays with weekdays, weekends with weekends) and a
    trip effect; the noise term is added on the diagonal by the callers."""
    s0, t0, sg, tg, sc, tc, sb, _ = p
    dt = np.abs(a.t[:, None] - b.t[None, :])
    dc = np.abs(np.mod(a.t, DAY_S)[:, None] - np.mod(b.t, DAY_S)[None, :])
    dc = np.minimum(dc, DAY_S - dc)
    same_type = _weekend(a.t)[:, None] == _weekend(b.t)[None, :]
    return (s0**2 * np.exp(-dt / t0) + sg**2 * (a.k[:, None] == b.k[None, :]) * np.exp(-dt / tg)
            + sc**2 * same_type * np.exp(-dc / tc) + sb**2 * (a.trip[:, None] == b.trip[None, :]))


def _neg_log_marginal(logp: FloatArray, obs: _Obs, y: FloatArray) -> tuple[float, FloatArray]:
    """Negative log marginal likelihood of ``y`` (up to a constant) and its gradient in the log
    hyperparameters (Rasmussen & Williams 2006, eq. 5.9)."""
    p = np.exp(logp)
    s0, t0, sg, tg, sc, tc, sb, se = p
    dt = np.abs(obs.t[:, None] - obs.t[None, :])
    dc = np.abs(np.mod(obs.t, DAY_S)[:, None] - np.mod(obs.t, DAY_S)[None, :])
    dc = np.minimum(dc, DAY_S - dc)
    a0 = s0**2 * np.exp(-dt / t0)
    ag = sg**2 * (obs.k[:, None] == obs.k[None, :]) * np.exp(-dt / tg)
    w = _weekend(obs.t)
    ac = sc**2 * (w[:, None] == w[None, :]) * np.exp(-dc / tc)
    ab = sb**2 * (obs.trip[:, None] == obs.trip[None, :])
    eye = np.eye(y.size)
    c = a0 + ag + ac + ab + se**2 * eye
    try:
        cf = cho_factor(c, lower=True)
    except np.linalg.LinAlgError:
        return 1e12, np.zeros(logp.size)
    alpha = cho_solve(cf, y)
    inner = cho_solve(cf, eye) - np.outer(alpha, alpha)
    derivs = (2 * a0, a0 * dt / t0, 2 * ag, ag * dt / tg, 2 * ac, ac * dc / tc, 2 * ab, 2 * se**2 * eye)
    grad = np.array([0.5 * float(np.sum(inner * d)) for d in derivs])
    return float(0.5 * y @ alpha + np.log(np.diag(cf[0])).sum()), grad


@dataclass(frozen=True)
class EtaForecast:
    """Remaining time to the destination geofence (seconds) at P10/P50/P90, at time ``t`` when the
    vehicle was ``s_m`` along the route; ``eta_*`` are the arrival times (epoch seconds)."""

    t: float
    s_m: float
    remaining_m: float
    p10_s: float
    p50_s: float
    p90_s: float
    n_analogs: int

    @property
    def eta_p10(self) -> float:
        return self.t + self.p10_s

    @property
    def eta_p50(self) -> float:
        return self.t + self.p50_s

    @property
    def eta_p90(self) -> float:
        return self.t + self.p90_s


class _FittedOnTrips:
    """What both segment ETA models report of the training trips :meth:`fit` saw."""

    _n_complete: int
    _median_speed: float

    @property
    def n_trips(self) -> int:
        """Training trips with an observed arrival."""
        return self._n_complete

    @property
    def median_speed_mps(self) -> float:
        """Median over training trips of route distance / time from departure to arrival."""
        return self._median_speed


@dataclass
class EtaModel(_FittedOnTrips):
    """Segment travel times with a Gaussian-process correction on one lane (see the module docstring).

    ``segment_m`` is the segment length (about the spacing of urban bus stops). With ``realtime``,
    traversals by the other trips that were complete before the forecast time condition it (the
    vehicles ahead); without, only the live trip's own segments do. Hyperparameters are fitted by
    maximum marginal likelihood on the training trips' traversals (at most ``max_obs`` of the most
    recent); nothing is tuned on the trips a backtest evaluates. ``n_samples`` draws of the posterior
    give P10 and P90 (fixed draws: forecasts are deterministic).

    With ``calibrate`` (and at least 3 training trips with an observed arrival), :meth:`fit`
    calibrates P10 and P90 by conformalized quantile regression (Romano, Patterson & Candes 2019)
    on leave-one-trip-out cuts of the training trips (same hyperparameters, baseline refitted without
    the trip): each end is scaled on a log scale by the trip-balanced quantile of its score.
    """

    geometry: LaneGeometry
    segment_m: float = 400.0
    realtime: bool = True
    calibrate: bool = False
    max_obs: int = 600
    n_samples: int = 400
    calibration_cuts: int = 10
    grid_m: float = 25.0
    _edges: FloatArray = field(init=False, repr=False)
    _grid: FloatArray = field(init=False, repr=False)
    _tau: FloatArray = field(init=False, repr=False)
    _obs: _Obs = field(init=False, repr=False)
    _logd: FloatArray = field(init=False, repr=False)
    _h: FloatArray = field(init=False, repr=False)
    _p: FloatArray = field(init=False, repr=False)
    _z: FloatArray = field(init=False, repr=False)
    _n_complete: int = field(init=False, default=0)
    _median_speed: float = field(init=False, default=float("nan"))
    _cal: tuple[float, float] = field(init=False, default=(0.0, 0.0))

    def __post_init__(self) -> None:
        if self.segment_m <= 0:
            raise ParameterError(f"segment_m must be > 0, got {self.segment_m}")
        if self.grid_m <= 0:
            raise ParameterError(f"grid_m must be > 0, got {self.grid_m}")
        if self.max_obs < 20:
            raise ParameterError(f"max_obs must be >= 20, got {self.max_obs}")
        if self.n_samples < 50:
            raise ParameterError(f"n_samples must be >= 50, got {self.n_samples}")
        if self.calibration_cuts < 1:
            raise ParameterError(f"calibration_cuts must be >= 1, got {self.calibration_cuts}")
        end = self.geometry.arrival_s_m
        e = np.append(np.arange(0.0, end, self.segment_m), end)
        if e.size > 2 and e[-1] - e[-2] < self.segment_m / 2:  # no stub at the end: merge it
            e = np.delete(e, -2)
        self._edges = e
        self._grid = np.arange(0.0, self.geometry.route.length_m, self.grid_m)
        self._tau = np.empty((0, self._grid.size))
        self._p = _INIT.copy()
        self._z = np.random.default_rng(0).standard_normal((self.n_samples, e.size - 1))

    # ---- fit
    def fit(self, trips: Sequence[Trip | MatchedTrip]) -> EtaModel:
        """Learn from past trips. Every trip's traversed segments count (also trips whose end was not
        observed); at least one trip must have an observed arrival."""
        taus, speeds, parts, lives = [], [], [], []
        for tr in trips:
            m, t, s, te, speed = _past_trip(self.geometry, tr, self._edges)
            obs = _Obs.of(te, len(parts))
            if obs.k.size == 0:
                continue
            parts.append(obs)
            if m.arr_idx is None:
                continue
            taus.append(_first_passage(t, s, self._grid))
            lives.append((t, s, m.start_idx, len(parts) - 1))
            if speed is not None:
                speeds.append(speed)
        if not taus:
            raise DataError("no trip with an observed arrival to learn the ETA from")
        self._tau = np.vstack(taus)
        self._n_complete = len(taus)
        self._median_speed = float(np.median(speeds)) if speeds else float("nan")
        self._obs = _Obs.concat(parts)
        self._h = self._baseline(self._obs)
        self._p = self._fit_hyper()
        self._cal = self._calibration(lives) if self.calibrate and len(lives) >= 3 else (0.0, 0.0)
        return self

    def _baseline(self, obs: _Obs) -> FloatArray:
        """Mean log traversal time of each segment; segments nobody traversed at the median pace."""
        n = self._edges.size - 1
        cnt = np.bincount(obs.k, minlength=n)
        tot = np.bincount(obs.k, weights=obs.logd, minlength=n)
        h = np.full(n, np.nan)
        h[cnt > 0] = tot[cnt > 0] / cnt[cnt > 0]
        length = np.diff(self._edges)
        if np.isnan(h).any():
            rate = float(np.median(np.exp(h[cnt > 0]) / length[cnt > 0]))
            h[cnt == 0] = np.log(length[cnt == 0] * rate)
        return h

    def _recent(self, obs: _Obs, until: float = np.inf) -> _Obs:
        """The at most ``max_obs`` most recent observations completed by ``until``."""
        idx = np.nonzero(obs.done <= until)[0]
        if idx.size > self.max_obs:
            idx = idx[np.argsort(obs.done[idx], kind="stable")[-self.max_obs:]]
        return obs.take(idx)

    def _fit_hyper(self) -> FloatArray:
        obs = self._recent(self._obs)
        y = obs.logd - self._h[obs.k]
        if y.size < 10:
            return _INIT.copy()
        res = minimize(_neg_log_marginal, np.log(_INIT), args=(obs, y), method="L-BFGS-B", jac=True,
                       bounds=[tuple(b) for b in _BOUNDS], options={"maxiter": 200})
        return np.exp(res.x)

    def _calibration(self, lives: list[tuple[FloatArray, FloatArray, int, int]]) -> tuple[float, float]:
        """CQR log-scale adjustments of (P10, P90) from leave-one-trip-out cuts of the training trips;
        every trip weighs the same however many fixes it has."""
        lo_sc, hi_sc, wts = [], [], []
        for t, s, i0, j in lives:
            others = self._obs.take(self._obs.trip != j)
            if others.k.size == 0:
                continue
            h = self._baseline(others)
            cand = np.arange(i0 + 1, t.size - 1)
            if cand.size == 0:
                continue
            cuts = np.unique(cand[np.linspace(0, cand.size - 1, min(self.calibration_cuts, cand.size)).astype(int)])
            rows = []
            for c in cuts:
                q = self._raw(t[i0: c + 1], s[i0: c + 1], h, others)
                if q is not None:
                    rows.append((float(t[-1] - t[c]), q[0], q[2]))
            if not rows:
                continue
            y, q10, q90 = (np.asarray(col) for col in zip(*rows, strict=True))
            lo_sc.append(np.log((q10 + 60.0) / (y + 60.0)))
            hi_sc.append(np.log((y + 60.0) / (q90 + 60.0)))
            wts.append(np.full(y.size, 1.0 / y.size))
        if len(wts) < 3:
            return 0.0, 0.0
        # no (n + 1) / n correction: with trips as the unit and n ~ 10 it would ask for the maximum
        w = np.concatenate(wts)
        c_lo = float(weighted_quantiles(np.concatenate(lo_sc), w, (0.9,))[0])
        c_hi = float(weighted_quantiles(np.concatenate(hi_sc), w, (0.9,))[0])
        return c_lo, c_hi

    @property
    def calibration(self) -> tuple[float, float]:
        """Log-scale adjustments applied to P10 (down) and P90 (up) after :meth:`fit`."""
        return self._cal

    @property
    def hyperparameters(self) -> dict[str, float]:
        """The covariance's hyperparameters (standard deviations of log-time ratios, time scales in
        seconds), as fitted by maximum marginal likelihood."""
        return {k: float(v) for k, v in zip(HYPERPARAMETERS, self._p, strict=True)}

    def segment_profile(self, n_segments: int = 10) -> tuple[FloatArray, FloatArray]:
        """Segment edges (m) and the median traversal time (s) of each of ``n_segments`` equal
        segments of the route, over the trips that traversed it."""
        if self.n_trips == 0:
            raise DataError("the model is not fitted")
        edges = np.linspace(0.0, self._grid[-1], n_segments + 1)
        tau_e = np.vstack([np.interp(edges, self._grid, row, left=np.nan, right=np.nan) for row in self._tau])
        d = np.diff(tau_e, axis=1)
        with np.errstate(all="ignore"):
            med = np.array([np.median(c[np.isfinite(c)]) if np.isfinite(c).any() else np.nan for c in d.T])
        return edges, med

    # ---- predict
    def _raw(self, t: FloatArray, s: FloatArray, h: FloatArray, history: _Obs) -> tuple[float, float, float] | None:
        """Uncalibrated (P10, P50, P90) of the remaining time given baseline ``h`` and the other trips'
        traversals ``history``; None at or past the arrival line."""
        t_c, s_c = float(t[-1]), float(s[-1])
        e = self._edges
        if s_c >= e[-1]:
            return None
        g = int(np.clip(np.searchsorted(e, s_c, side="right") - 1, 0, e.size - 2))
        own = _Obs.of(_first_passage(t, s, e), -1, t_c)
        other = self._recent(history, t_c) if self.realtime else history.take(np.zeros(history.k.size, bool))
        obs = _Obs.concat([other, own])
        y = obs.logd - h[obs.k]
        base = np.exp(h[g:])
        base[0] *= (e[g + 1] - s_c) / (e[g + 1] - e[g])
        k = np.arange(g, e.size - 1)
        tq = t_c + np.cumsum(base) - base / 2  # when the live trip will be half way through each segment
        q = _Obs(k, tq, np.zeros(k.size), np.full(k.size, -1), tq)
        p = self._p
        prior = _kernel(p, q, q) + np.eye(k.size) * p[7] ** 2
        if y.size:
            cf = cho_factor(_kernel(p, obs, obs) + np.eye(y.size) * p[7] ** 2, lower=True)
            ks = _kernel(p, q, obs)
            mu = ks @ cho_solve(cf, y)
            cov = prior - ks @ cho_solve(cf, ks.T)
        else:
            mu, cov = np.zeros(k.size), prior
        chol = np.linalg.cholesky(0.5 * (cov + cov.T) + 1e-9 * np.eye(k.size))
        draws = np.exp(mu + self._z[:, : k.size] @ chol.T) @ base
        p50 = float(base @ np.exp(mu))  # the path of segment medians
        p10, p90 = np.quantile(draws, (0.1, 0.9))
        return float(min(p10, p50)), p50, float(max(p90, p50))

    def predict_matched(self, t: FloatArray, s: FloatArray, start_idx: int = 0) -> EtaForecast:
        """Forecast from a live trip's fixes so far: times ``t`` and monotone progress ``s`` (m)."""
        if self.n_trips == 0:
            raise DataError("the model is not fitted")
        t, s = np.asarray(t, dtype=float), np.asarray(s, dtype=float)
        t_c, s_c = float(t[-1]), float(s[-1])
        rem_m = max(self.geometry.arrival_s_m - s_c, 0.0)
        q = self._raw(t[start_idx:], s[start_idx:], self._h, self._obs) if rem_m > 0 else None
        if q is None:
            return EtaForecast(t_c, s_c, 0.0, 0.0, 0.0, 0.0, self.n_trips)
        p10, p50, p90 = q
        c_lo, c_hi = self._cal
        p10 = min(max((p10 + 60.0) * np.exp(-c_lo) - 60.0, 0.0), p50)
        p90 = max((p90 + 60.0) * np.exp(c_hi) - 60.0, p50)
        n = int(np.unique(self._obs.trip[self._obs.done <= t_c]).size) if self.realtime else 0
        return EtaForecast(t_c, s_c, rem_m, float(p10), float(p50), float(p90), n)

    def predict(self, trip: Trip) -> EtaForecast:
        """Forecast for a live trip from all its fixes so far."""
        m = match_trip(self.geometry, trip)
        return self.predict_matched(m.trip.t, m.s, m.start_idx)
