"""ETA as a distribution (P10/P50/P90) from lane history plus live progress, and its backtest.

Model: historical analogs by position (the "historical average" bus-arrival predictor with a live
correction, as in Jeong & Rilett 2004, "Bus arrival time prediction using artificial neural network
model", and Chien, Ding & Wei 2002). Every past trip k on the lane gives a first-passage time
``tau_k(s)`` on a grid along the route (segments of ``grid_m``) and an arrival time ``A_k`` at the
destination geofence. A live trip at position ``s`` (map matched, :mod:`.geo`) at time ``t`` gets one
candidate remaining time per analog,

    r_k = max(0, (A_k - tau_k(s)) * rho ** pace_exponent - dwell_factor * w),

where ``rho`` is the live trip's time from departure (or over the last ``pace_window_m``) to ``s``
divided by the analogs' median time over the same stretch (live progress), and ``w`` the time already
spent at the current position. Candidates are weighted by time of day (Gaussian kernel on the clock
time the analog passed ``s``), day of week and recency: analogs that had already arrived by ``t``
weigh more the more recently they passed ``s`` (the real-time correction of the latest vehicles on
the link, as in Shalaby & Farhan 2004, "Prediction model of bus arrival and departure times using AVL
and APC data"; causal, since only trips seen in full before ``t`` count). P10/P50/P90 are weighted
quantiles, the ends calibrated by conformalized quantile regression (Romano, Patterson & Candes 2019)
on leave-one-trip-out cuts of the training trips.

The route geometry comes from the network (``Lane.route``) or is learned from past trips
(:func:`learn_route`). Trips whose end was not observed (the data stops, or the tracker falls silent
away from the destination) are detected (:func:`classify_trips`), kept out of the evaluation and
counted. :func:`backtest` evaluates leave-one-trip-out, cutting each trip at random fixes (seeded),
against the stronger of two naive baselines computed on the same cuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from ..errors import DataError
from .geo import Route, haversine_m
from .trips import Trip

__all__ = [
    "BacktestResult",
    "EtaForecast",
    "EtaModel",
    "LaneGeometry",
    "MatchedTrip",
    "TripStatus",
    "backtest",
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
            raise ValueError(f"geofence radii must be > 0, got origin_radius_m={self.origin_radius_m}, "
                             f"dest_radius_m={self.dest_radius_m}")
        if self.origin_radius_m + self.dest_radius_m >= self.route.length_m:
            raise ValueError(f"origin_radius_m + dest_radius_m ({self.origin_radius_m + self.dest_radius_m}) "
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
        raise ValueError("weighted_quantiles of an empty sample")
    if np.any(w < 0) or w.sum() <= 0:
        raise ValueError("weights must be non-negative and not all zero")
    o = np.argsort(v, kind="stable")
    v, w = v[o], w[o]
    pos = (np.cumsum(w) - w / 2) / w.sum()
    return np.interp(np.asarray(qs, dtype=float), pos, v)


def _first_passage(t: FloatArray, s: FloatArray, grid: FloatArray) -> FloatArray:
    """Time the (monotone) progress ``s`` first reached each grid point; NaN outside what was seen."""
    u, idx = np.unique(s, return_index=True)
    if u.size < 2:
        return np.full(grid.size, np.nan)
    return np.interp(grid, u, t[idx], left=np.nan, right=np.nan)


def _clock_h(t: FloatArray | float) -> FloatArray:
    return np.mod(np.asarray(t, dtype=float), DAY_S) / 3600.0


def _dow(t: float) -> int:
    return int((np.floor(t / DAY_S) + 3) % 7)  # 1970-01-01 was a Thursday; Monday = 0


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


@dataclass
class EtaModel:
    """Historical-analog ETA on one lane (see the module docstring for the method).

    ``recency_bandwidth_h`` (None = off) weights analogs that had already arrived at the forecast
    time by how recently they passed the live trip's position (Gaussian kernel on that age, in
    hours); analogs not yet arrived, or long ago, keep the floor weight ``recency_floor``. Only
    trips observed in full before the forecast count as recent, so the weighting is causal.

    With ``calibrate`` (and at least 3 training trips with an observed arrival), :meth:`fit`
    calibrates P10 and P90 by conformalized quantile regression (Romano, Patterson & Candes 2019)
    on leave-one-trip-out cuts of the training trips: each end is scaled on a log scale by the
    trip-balanced quantile of its score, so the calibration cuts reach the nominal 10% / 90%.
    """

    geometry: LaneGeometry
    grid_m: float = 25.0
    pace_window_m: float | None = None
    pace_exponent: float = 0.3
    dwell_factor: float = 0.0
    tod_bandwidth_h: float | None = 2.0
    other_day_weight: float = 0.5
    pace_clip: tuple[float, float] = (0.5, 2.0)
    recency_bandwidth_h: float | None = 0.5
    recency_floor: float = 0.05
    calibrate: bool = True
    _grid: FloatArray = field(init=False, repr=False)
    _tau: FloatArray = field(init=False, repr=False)
    _arrival: FloatArray = field(init=False, repr=False)
    _dow: NDArray[np.int64] = field(init=False, repr=False)
    _median_speed: float = field(init=False, default=float("nan"))
    _cal: tuple[float, float] = field(init=False, default=(0.0, 0.0))

    def __post_init__(self) -> None:
        if self.grid_m <= 0:
            raise ValueError(f"grid_m must be > 0, got {self.grid_m}")
        if self.pace_window_m is not None and self.pace_window_m <= 0:
            raise ValueError(f"pace_window_m must be > 0 or None, got {self.pace_window_m}")
        if not 0 <= self.pace_exponent <= 1:
            raise ValueError(f"pace_exponent must be in [0, 1], got {self.pace_exponent}")
        if not 0 <= self.dwell_factor <= 1:
            raise ValueError(f"dwell_factor must be in [0, 1], got {self.dwell_factor}")
        if self.tod_bandwidth_h is not None and self.tod_bandwidth_h <= 0:
            raise ValueError(f"tod_bandwidth_h must be > 0 or None, got {self.tod_bandwidth_h}")
        if not 0 < self.other_day_weight <= 1:
            raise ValueError(f"other_day_weight must be in (0, 1], got {self.other_day_weight}")
        lo, hi = self.pace_clip
        if not 0 < lo <= 1 <= hi:
            raise ValueError(f"pace_clip must satisfy 0 < low <= 1 <= high, got {self.pace_clip}")
        if self.recency_bandwidth_h is not None and self.recency_bandwidth_h <= 0:
            raise ValueError(f"recency_bandwidth_h must be > 0 or None, got {self.recency_bandwidth_h}")
        if not 0 < self.recency_floor <= 1:
            raise ValueError(f"recency_floor must be in (0, 1], got {self.recency_floor}")
        self._grid = np.arange(0.0, self.geometry.route.length_m, self.grid_m)
        self._tau = np.empty((0, self._grid.size))

    # ---- fit
    def fit(self, trips: Sequence[Trip | MatchedTrip]) -> EtaModel:
        """Learn from past trips; only those with an observed arrival are used."""
        taus, arrs, dows, speeds, lives = [], [], [], [], []
        for tr in trips:
            m = tr if isinstance(tr, MatchedTrip) else match_trip(self.geometry, tr)
            if m.arr_idx is None:
                continue
            a = m.arr_idx
            t, s = m.trip.t[: a + 1], m.s[: a + 1]
            tau = _first_passage(t, s, self._grid)
            if np.isfinite(tau).sum() < 2:
                continue
            taus.append(tau)
            arrs.append(float(t[-1]))
            dows.append(_dow(float(t[0])))
            lives.append((t, s, m.start_idx))
            i0 = m.start_idx
            if t[-1] > t[i0] and s[-1] > s[i0]:
                speeds.append((min(s[-1], self.geometry.arrival_s_m) - s[i0]) / (t[-1] - t[i0]))
        if not taus:
            raise DataError("no trip with an observed arrival to learn the ETA from")
        self._tau = np.vstack(taus)
        self._arrival = np.asarray(arrs)
        self._dow = np.asarray(dows, dtype=np.int64)
        self._median_speed = float(np.median(speeds)) if speeds else float("nan")
        self._cal = self._calibration(lives) if self.calibrate and len(lives) >= 3 else (0.0, 0.0)
        return self

    def _calibration(self, lives: list[tuple[FloatArray, FloatArray, int]]) -> tuple[float, float]:
        """CQR log-scale adjustments of (P10, P90) from leave-one-trip-out cuts of the training trips;
        every trip weighs the same however many fixes it has."""
        lo_sc, hi_sc, wts = [], [], []
        for k, (t, s, i0) in enumerate(lives):
            keep = np.ones(self.n_trips, dtype=bool)
            keep[k] = False
            rows = []
            for c in range(i0 + 1, t.size - 1):
                q = self._quantiles(t[: c + 1], s[: c + 1], i0, keep)
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
    def n_trips(self) -> int:
        return int(self._tau.shape[0])

    @property
    def median_speed_mps(self) -> float:
        """Median over training trips of route distance / time from departure to arrival."""
        return self._median_speed

    @property
    def calibration(self) -> tuple[float, float]:
        """Log-scale adjustments applied to P10 (down) and P90 (up) after :meth:`fit`."""
        return self._cal

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
    def _tau_at(self, s: float) -> FloatArray:
        g = s / self.grid_m
        i = int(np.clip(np.floor(g), 0, self._grid.size - 2))
        f = min(max(g - i, 0.0), 1.0)
        return self._tau[:, i] * (1 - f) + self._tau[:, i + 1] * f

    def _quantiles(self, t: FloatArray, s: FloatArray, start_idx: int,
                   keep: NDArray[np.bool_] | None = None) -> tuple[float, float, float] | None:
        """Uncalibrated (P10, P50, P90) of the remaining time from the analogs in ``keep``
        (all when None); None when no analog covers the current position."""
        t_c, s_c = float(t[-1]), float(s[-1])
        j = int(np.searchsorted(s, s_c, side="left"))  # first fix at the current position
        w = t_c - float(t[j])
        s0 = float(s[start_idx])
        s_ref = s0 if self.pace_window_m is None else max(s0, s_c - self.pace_window_m)
        k = int(np.searchsorted(s, s_ref, side="left"))
        if k > 0 and s[k] > s[k - 1]:  # interpolate the live trip's passage at s_ref
            t_ref = t[k - 1] + (s_ref - s[k - 1]) / (s[k] - s[k - 1]) * (t[k] - t[k - 1])
        else:
            t_ref = float(t[k])
        el_live = float(t[j]) - float(t_ref)
        a, b = self._tau_at(s_c), self._tau_at(s_ref)
        ok = np.isfinite(a) if keep is None else np.isfinite(a) & keep
        if not ok.any():
            return None
        a, b, arr = a[ok], b[ok], self._arrival[ok]
        el_hist = a - b
        usable = np.isfinite(el_hist)
        rho = 1.0
        if usable.any() and el_live > 60:  # live time over the median analog time on the same stretch
            med = float(np.median(el_hist[usable]))
            rho = float(np.clip(el_live / med, *self.pace_clip)) if med > 60 else 1.0
        cand = np.maximum((arr - a) * rho**self.pace_exponent - self.dwell_factor * w, 0.0)
        wts = np.ones(cand.size)
        if self.tod_bandwidth_h is not None:
            dh = np.abs(_clock_h(a) - _clock_h(t_c))
            dh = np.minimum(dh, 24 - dh)
            wts *= np.exp(-0.5 * (dh / self.tod_bandwidth_h) ** 2) + 1e-6
        wts *= np.where(self._dow[ok] == _dow(t_c), 1.0, self.other_day_weight)
        if self.recency_bandwidth_h is not None:  # analogs that arrived recently (causal: arr <= now)
            age_h = (t_c - a) / 3600.0
            recent = np.where(arr <= t_c, np.exp(-0.5 * (age_h / self.recency_bandwidth_h) ** 2), 0.0)
            wts *= self.recency_floor + recent
        p10, p50, p90 = weighted_quantiles(cand, wts, (0.1, 0.5, 0.9))
        return float(p10), float(p50), float(p90)

    def predict_matched(self, t: FloatArray, s: FloatArray, start_idx: int = 0) -> EtaForecast:
        """Forecast from a live trip's fixes so far: times ``t`` and monotone progress ``s`` (m)."""
        if self.n_trips == 0:
            raise DataError("the model is not fitted")
        t_c, s_c = float(t[-1]), float(s[-1])
        rem_m = max(self.geometry.arrival_s_m - s_c, 0.0)
        if rem_m <= 0:
            return EtaForecast(t_c, s_c, 0.0, 0.0, 0.0, 0.0, self.n_trips)
        q = self._quantiles(t, s, start_idx)
        if q is None:  # no analog covers this position: fall back to the median speed
            v = self._median_speed if np.isfinite(self._median_speed) and self._median_speed > 0 else 5.0
            r = rem_m / v
            return EtaForecast(t_c, s_c, rem_m, 0.8 * r, r, 1.25 * r, 0)
        p10, p50, p90 = q
        c_lo, c_hi = self._cal
        p10 = min(max((p10 + 60.0) * np.exp(-c_lo) - 60.0, 0.0), p50)
        p90 = max((p90 + 60.0) * np.exp(c_hi) - 60.0, p50)
        n = int(np.isfinite(self._tau_at(s_c)).sum())
        return EtaForecast(t_c, s_c, rem_m, float(p10), float(p50), float(p90), n)

    def predict(self, trip: Trip) -> EtaForecast:
        """Forecast for a live trip from all its fixes so far."""
        m = match_trip(self.geometry, trip)
        return self.predict_matched(m.trip.t, m.s, m.start_idx)


# ----------------------------------------------------------------------------------- backtest
@dataclass(frozen=True)
class BacktestResult:
    n_trips: int
    n_cuts: int
    n_excluded_trips: int
    excluded: dict[str, str]
    model_mae_min: float
    p90_coverage: float
    p10_coverage: float
    naive_mae_min: float
    naive_name: str
    naive_since_departure_mae_min: float
    naive_median_speed_mae_min: float
    n_start_unobserved: int
    cuts: FloatArray = field(repr=False)  # columns: truth, p10, p50, p90, naive_departure, naive_median

    @property
    def mae_reduction(self) -> float:
        return 1.0 - self.model_mae_min / self.naive_mae_min if self.naive_mae_min > 0 else float("nan")

    def to_dict(self) -> dict[str, object]:
        return {
            "n_trips": self.n_trips,
            "n_cuts": self.n_cuts,
            "model": {"mae_min": round(self.model_mae_min, 4), "p90_coverage": round(self.p90_coverage, 4),
                      "p10_coverage": round(self.p10_coverage, 4)},
            "naive": {"mae_min": round(self.naive_mae_min, 4), "which": self.naive_name,
                      "since_departure_mae_min": round(self.naive_since_departure_mae_min, 4),
                      "median_speed_mae_min": round(self.naive_median_speed_mae_min, 4)},
            "mae_reduction_vs_naive": round(self.mae_reduction, 4),
            "n_excluded_trips": self.n_excluded_trips,
            "excluded": self.excluded,
            "n_start_unobserved": self.n_start_unobserved,
        }


def backtest(
    trips: Sequence[Trip],
    *,
    seed: int | np.random.Generator = 0,
    cuts_per_trip: int = 20,
    route: Route | None = None,
    origin_radius_m: float = 300.0,
    dest_radius_m: float = 150.0,
    min_speed_mps: float = 0.5,
    **model_options: object,
) -> BacktestResult:
    """Leave-one-trip-out backtest: each complete trip is cut at ``cuts_per_trip`` random fixes
    between its departure and its arrival (fewer if it has fewer), and the model fitted on every
    other trip forecasts the remaining time. Without ``route`` the geometry is learned from the
    training trips of each fold.

    Naive baselines on the same cuts: remaining distance over the average speed since departure
    (from the last fix in the origin geofence, so the dwell there does not count; from the first
    fix if the start was not observed; below ``min_speed_mps`` the median-speed baseline is used),
    and remaining distance over the median speed of the training trips. The stronger is reported.
    """
    if cuts_per_trip < 1:
        raise ValueError(f"cuts_per_trip must be >= 1, got {cuts_per_trip}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    trips = list(trips)
    if len(trips) < 2:
        raise DataError(f"the backtest needs at least 2 trips with an observed end, got {len(trips)} trip(s)")
    data_end = max(float(tr.t[-1]) for tr in trips)
    geom_all = LaneGeometry(route if route is not None else learn_route(trips), origin_radius_m, dest_radius_m)
    status = classify_trips(geom_all, [match_trip(geom_all, tr) for tr in trips], data_end_t=data_end)
    complete = [i for i, st in enumerate(status) if st.status == "complete"]
    excluded = {st.trip_id: st.status for st in status if st.status != "complete"}
    if len(complete) < 2:
        raise DataError(f"the backtest needs at least 2 trips with an observed end, found {len(complete)} "
                        f"(excluded: {excluded or 'none'})")
    rows: list[tuple[float, ...]] = []
    n_start_unobs = 0
    for i in complete:
        train = [tr for j, tr in enumerate(trips) if j != i]
        geom = geom_all if route is not None else LaneGeometry(learn_route(train), origin_radius_m, dest_radius_m)
        model = EtaModel(geom, **model_options).fit(train)  # type: ignore[arg-type]
        m = match_trip(geom, trips[i])
        if m.arr_idx is None:  # the fold's geometry does not see this trip arrive
            continue
        n_start_unobs += m.dep_idx is None
        lo = m.start_idx + 1
        cand = np.arange(lo, m.arr_idx)
        if cand.size == 0:
            continue
        cuts = rng.choice(cand, size=min(cuts_per_trip, cand.size), replace=False)
        t, s = m.trip.t, m.s
        arr_t = float(t[m.arr_idx])
        v_med = model.median_speed_mps
        for c in np.sort(cuts):
            fc = model.predict_matched(t[: c + 1], s[: c + 1], m.start_idx)
            truth = arr_t - float(t[c])
            rem = fc.remaining_m
            i0 = m.start_idx
            v_dep = (s[c] - s[i0]) / (t[c] - t[i0]) if t[c] > t[i0] else 0.0
            naive_med = rem / v_med
            naive_dep = rem / v_dep if v_dep >= min_speed_mps else naive_med
            rows.append((truth, fc.p10_s, fc.p50_s, fc.p90_s, naive_dep, naive_med))
    if not rows:
        raise DataError("no cut could be evaluated (no fix between departure and arrival)")
    arr = np.asarray(rows)
    err = lambda col: float(np.mean(np.abs(arr[:, col] - arr[:, 0])) / 60.0)  # noqa: E731
    mae_dep, mae_med = err(4), err(5)
    naive_name = "since_departure" if mae_dep <= mae_med else "median_speed"
    return BacktestResult(
        n_trips=len(complete), n_cuts=len(rows), n_excluded_trips=len(excluded), excluded=excluded,
        model_mae_min=err(2), p90_coverage=float(np.mean(arr[:, 0] <= arr[:, 3])),
        p10_coverage=float(np.mean(arr[:, 0] <= arr[:, 1])), naive_mae_min=min(mae_dep, mae_med),
        naive_name=naive_name, naive_since_departure_mae_min=mae_dep, naive_median_speed_mae_min=mae_med,
        n_start_unobserved=int(n_start_unobs), cuts=arr,
    )
