"""ETA from segment travel times by time of day with a trip random effect (the backtest's default model).

The route up to the destination geofence is cut into segments of ``segment_m``; every traversal of a
segment by a past trip (also by trips whose end was not observed) is kept with the clock time it
entered the segment. The expected traversal time of segment ``k`` entered at clock time ``c`` is the
kernel-weighted mean of the past traversals of ``k`` (Nadaraya-Watson; Gaussian kernel on the
distance in time of day, weekdays with weekdays and weekends with weekends): the historical
time-to-end profile by position and time of day (Jeong & Rilett 2004, "Bus arrival time prediction
using artificial neural network", the historical-average model; Chien, Ding & Wei 2002). A live trip
at clock time ``t`` walks the downstream segments, entering each at ``t`` plus its own expected times
of the ones before it.

Live progress enters as a trip random effect with a loading that varies along the route: the log
ratio of each traversal to its time-of-day expectation is ``x_k = lambda_k u_trip + e_k`` with
``u_trip ~ N(0, trip_sd²)`` shared by a trip's segments, ``e_k ~ N(0, segment_sd[k]²)`` (each segment
its own noise: a busy junction varies more than a quiet road) and
``lambda_k = exp(theta (m_k - 1/2))``, ``m_k`` the segment's midpoint as a fraction of the route
(a one-factor model with a log-linear loading; ``theta = 0`` is one constant effect). A trip that
runs slow through a congested town centre need not run as slow on the open road after it: on the
Liverpool route-14 file every leave-one-trip-out fold fits ``theta`` between -1.75 and -0.75, an
effect two to five times stronger in log terms at the origin than at the destination. The live trip's ``u`` is
the best linear unbiased predictor from its own completed segments,
``u = trip_sd² Σ lambda_k x_k / sd_k² / (1 + trip_sd² Σ lambda_k² / sd_k²)`` (Henderson's BLUP; the
shrinkage toward 0 grows with the segments' noise and shrinks with how many the trip has done), and
each remaining segment's expected time is scaled by ``exp(lambda_k u)``. P50 is that sum; P10 and P90
are quantiles of fixed draws of the sum (``u`` from its posterior, each segment's noise independent).

Within the segment the vehicle is in, the share of the segment's time still ahead is read from the
past traversals' own time profile on a 25 m grid (``within_profile``), not from the share of its
length: a segment holding a recurring stop (a timing point where buses wait minutes) keeps most of
its time ahead until the vehicle has left the stop, which a share of the length misses.

Everything is fitted on the training trips only: the variances by EM on the traversals' log ratios
(each ratio against the time-of-day expectation from the *other* trips, as a live trip's is), and
the kernel bandwidth and the loading slope ``theta`` jointly by the random-effects marginal
likelihood over grids fixed in advance (:data:`BANDWIDTHS_S`, :data:`LOADING_SLOPES`); the
within-segment profile from the training trips' traversals. Nothing is tuned on the trips a backtest
evaluates. On a file holding a single day, though, a left-out trip's time-of-day neighbours are trips
of that same day, also ones that run after the forecast; ``causal=True`` restricts the time-of-day
profile to traversals completed before each forecast (what a deployment without other days' history
could use; the variances, bandwidth, loading slope and within-segment profile are still fitted on all
training trips, as all-day statistics of the lane's history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ...errors import DataError, ParameterError
from .eta import (
    DAY_S,
    EtaForecast,
    EtaModel,
    LaneGeometry,
    MatchedTrip,
    _first_passage,
    _FittedOnTrips,
    _past_trip,
    _weekend,
    match_trip,
)
from .trips import Trip

__all__ = ["BANDWIDTHS_S", "ETA_MODELS", "LOADING_SLOPES", "TodEtaModel", "eta_model_class"]

FloatArray = NDArray[np.float64]

#: candidate kernel bandwidths (seconds of time of day); ``inf`` is the all-day mean. Fixed a priori.
BANDWIDTHS_S: tuple[float, ...] = (900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0, float("inf"))
#: candidate slopes ``theta`` of the trip effect's log loading along the route (0: one constant effect).
#: Fixed a priori: -3 to 3 spans a factor e^3 (about 20) between the two ends of the route, from an
#: effect felt only near the origin to one felt only near the destination; steps of 0.25 (a loading
#: ratio of 1.28 end to end), finer than ten-odd training trips resolve.
LOADING_SLOPES: tuple[float, ...] = tuple(float(v) for v in np.arange(-12, 13) / 4)
#: grid (m) of the within-segment time profile: a GPS fix every 20-30 s at bus speeds is 50-200 m apart
_WITHIN_GRID_M = 25.0


def _segment_edges(end_m: float, segment_m: float) -> FloatArray:
    e = np.append(np.arange(0.0, end_m, segment_m), end_m)
    if e.size > 2 and e[-1] - e[-2] < segment_m / 2:  # no stub at the end: merge it
        e = np.delete(e, -2)
    return e


def _clock_gap(a: FloatArray, b: float) -> FloatArray:
    d = np.abs(np.mod(a, DAY_S) - np.mod(b, DAY_S))
    return np.minimum(d, DAY_S - d)


@dataclass
class TodEtaModel(_FittedOnTrips):
    """Segment times by time of day with a trip random effect on one lane (see the module docstring).

    ``segment_m`` is the segment length (400 m, about the spacing of urban bus stops, as
    :class:`~supplynet.sense.eta.eta.EtaModel`); ``bandwidths_s`` the candidate kernel bandwidths and
    ``loading_slopes`` the candidate slopes of the trip effect's log loading along the route, one pair
    of which :meth:`fit` picks by marginal likelihood on the training trips (``loading_slopes=(0.0,)``
    is one constant trip effect); ``within_profile`` reads the share of the current segment's time
    still ahead from the past traversals' time profile (else from the share of its length);
    ``n_samples`` fixed draws give P10 and P90 (forecasts are deterministic).

    With ``causal``, a forecast at time ``t`` weighs by time of day only the traversals completed
    before ``t`` (a segment none of which has takes its all-day mean over every training trip): the
    check, on a file holding a single day, of how much the time-of-day profile draws on trips of the
    same day that run after the forecast. Fitting (variances, bandwidth) is unchanged.
    """

    geometry: LaneGeometry
    segment_m: float = 400.0
    bandwidths_s: Sequence[float] = BANDWIDTHS_S
    loading_slopes: Sequence[float] = LOADING_SLOPES
    within_profile: bool = True
    n_samples: int = 400
    em_iterations: int = 50
    causal: bool = False
    _edges: FloatArray = field(init=False, repr=False)
    _trav: FloatArray = field(init=False, repr=False)  # rows: segment, entry time, duration, trip
    _bw: float = field(init=False, default=float("nan"))
    _tau2: float = field(init=False, default=float("nan"))
    _sig2: FloatArray = field(init=False, repr=False)
    _theta: float = field(init=False, default=float("nan"))
    _lam: FloatArray = field(init=False, repr=False)
    _share: FloatArray = field(init=False, repr=False)  # rows: grid point (m), share of its segment's time ahead
    _loglik: dict[float, float] = field(init=False, default_factory=dict)
    _n_complete: int = field(init=False, default=0)
    _median_speed: float = field(init=False, default=float("nan"))
    _z: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.segment_m <= 0:
            raise ParameterError(f"segment_m must be > 0, got {self.segment_m}")
        if not self.bandwidths_s or any(not b > 0 for b in self.bandwidths_s):
            raise ParameterError(f"bandwidths_s must be a non-empty list of values > 0, got {list(self.bandwidths_s)}")
        if not self.loading_slopes or any(not np.isfinite(v) for v in self.loading_slopes):
            raise ParameterError(f"loading_slopes must be a non-empty list of finite values, got {list(self.loading_slopes)}")
        if self.n_samples < 50:
            raise ParameterError(f"n_samples must be >= 50, got {self.n_samples}")
        if self.em_iterations < 1:
            raise ParameterError(f"em_iterations must be >= 1, got {self.em_iterations}")
        self._edges = _segment_edges(self.geometry.arrival_s_m, self.segment_m)
        k = self._edges.size - 1
        self._trav = np.empty((0, 4))
        self._sig2 = np.full(k, np.nan)
        self._lam = np.ones(k)
        self._share = np.empty((0, 2))
        self._z = np.random.default_rng(0).standard_normal((self.n_samples, k + 1))

    # ---- fit
    def fit(self, trips: Sequence[Trip | MatchedTrip]) -> TodEtaModel:
        """Learn from past trips. Every trip's traversed segments count (also trips whose end was not
        observed); at least one trip must have an observed arrival."""
        e = self._edges
        rows, speeds, n_complete = [], [], 0
        grid = np.arange(0.0, e[-1], _WITHIN_GRID_M)
        seg = np.clip(np.searchsorted(e, grid, side="right") - 1, 0, e.size - 2)
        ahead, total = np.zeros(grid.size), np.zeros(grid.size)
        for j, tr in enumerate(trips):
            m, t, s, te, speed = _past_trip(self.geometry, tr, e)
            n_complete += m.arr_idx is not None
            if speed is not None:
                speeds.append(speed)
            d = np.diff(te)
            with np.errstate(invalid="ignore"):
                ok = np.nonzero(np.isfinite(d) & (d > 0))[0]
            rows.extend((float(k), float(te[k]), float(d[k]), float(j)) for k in ok)
            i0 = m.start_idx
            left, dur = te[seg + 1] - _first_passage(t[i0:], s[i0:], grid), d[seg]
            with np.errstate(invalid="ignore"):
                seen = np.isfinite(left) & np.isfinite(dur) & (dur > 0)
            ahead[seen] += np.clip(left[seen], 0.0, dur[seen])
            total[seen] += dur[seen]
        if n_complete == 0:
            raise DataError("no trip with an observed arrival to learn the ETA from")
        if not rows:
            raise DataError("no segment traversal to learn the ETA from")
        self._trav = np.asarray(rows)
        self._n_complete = n_complete
        self._median_speed = float(np.median(speeds)) if speeds else float("nan")
        lin = (e[seg + 1] - grid) / np.diff(e)[seg]  # the share of the length where no trip passed
        self._share = np.column_stack([grid, np.where(total > 0, ahead / np.maximum(total, 1e-9), lin)])
        mid = 0.5 * (e[1:] + e[:-1]) / e[-1] - 0.5
        best: tuple[float, float, float, FloatArray, float] | None = None  # (loglik, bw, theta, sig2, tau2)
        self._loglik = {}
        for bw in self.bandwidths_s:
            x = self._log_ratios(bw)
            for theta in self.loading_slopes:
                tau2, sig2, ll = self._em(x, np.exp(theta * mid))
                self._loglik[bw] = max(self._loglik.get(bw, -np.inf), ll)
                if best is None or ll > best[0]:
                    best = (ll, bw, float(theta), sig2, tau2)
        assert best is not None
        _, self._bw, self._theta, self._sig2, self._tau2 = best
        self._lam = np.exp(self._theta * mid)
        return self

    def _expected(self, bw: float, t0: float, exclude: float = -1.0, until: float = np.inf) -> FloatArray:
        """Expected traversal time of every segment entered at clock time ``t0`` (kernel-weighted mean
        of the traversals, leaving out trip ``exclude``; with a finite ``until`` only traversals
        completed by then, a segment none of which has falling back to its all-day mean); unseen
        segments at the median pace."""
        r = self._trav
        w = np.ones(len(r)) if np.isinf(bw) else np.exp(-0.5 * (_clock_gap(r[:, 1], t0) / bw) ** 2) + 1e-12
        w = w * (_weekend(r[:, 1]) == _weekend(np.array([t0]))[0]) + 1e-15  # other day type: last resort
        w[r[:, 3] == exclude] = 0.0
        n = self._edges.size - 1
        k = r[:, 0].astype(int)
        if np.isfinite(until):
            late = r[:, 1] + r[:, 2] > until
            w_all = (r[:, 3] != exclude).astype(float)
            w[late] = 0.0
            den_all = np.bincount(k, weights=w_all, minlength=n)
            num_all = np.bincount(k, weights=w_all * r[:, 2], minlength=n)
        den = np.bincount(k, weights=w, minlength=n)
        num = np.bincount(k, weights=w * r[:, 2], minlength=n)
        if np.isfinite(until):
            none = den <= 1e-9 * np.maximum(den_all, 1e-300)  # nothing (or only other-day types) done by then
            den[none], num[none] = den_all[none], num_all[none]
        seen = den > 0
        out = np.full(n, np.nan)
        out[seen] = num[seen] / den[seen]
        if not seen.all():
            length = np.diff(self._edges)
            out[~seen] = length[~seen] * float(np.median(out[seen] / length[seen]))
        return out

    def _log_ratios(self, bw: float) -> FloatArray:
        """Log ratio of every traversal to its leave-own-trip-out time-of-day expectation."""
        r = self._trav
        return np.log(r[:, 2] / np.array([self._expected(bw, t0, j)[int(k)] for k, t0, _, j in r]))

    def _em(self, x: FloatArray, lam: FloatArray) -> tuple[float, FloatArray, float]:
        """(trip variance, per-segment noise variances, marginal log likelihood) of the log ratios
        ``x`` under the one-factor model with loadings ``lam``, by EM."""
        r = self._trav
        ks, js = r[:, 0].astype(int), r[:, 3].astype(int)
        n_seg, n_trip = self._edges.size - 1, int(js.max()) + 1
        tau2, sig2 = 0.01, np.full(n_seg, max(float(np.var(x)), 1e-4))
        cnt = np.bincount(ks, minlength=n_seg)
        lk = lam[ks]
        seen = np.unique(js)
        for _ in range(self.em_iterations):
            prec = np.bincount(js, weights=lk**2 / sig2[ks], minlength=n_trip)
            post_var = 1 / (1 / tau2 + prec)
            post_mean = post_var * np.bincount(js, weights=lk * x / sig2[ks], minlength=n_trip)
            tau2 = max(float(np.mean(post_mean[seen] ** 2 + post_var[seen])), 1e-6)
            res2 = (x - lk * post_mean[js]) ** 2 + lk**2 * post_var[js]
            tot = np.bincount(ks, weights=res2, minlength=n_seg)
            pooled = float(tot.sum() / cnt.sum())
            sig2 = np.maximum((tot + 2 * pooled) / (cnt + 2), 1e-4)  # two pseudo-traversals at the pooled variance
        # x_j ~ N(0, diag(sig2) + tau2 lam lam') per trip j (determinant lemma, Sherman-Morrison)
        s2 = sig2[ks]
        a = np.bincount(js, weights=lk * x / s2, minlength=n_trip)[seen]
        b = np.bincount(js, weights=lk**2 / s2, minlength=n_trip)[seen]
        ll = -0.5 * (float(np.sum(np.log(s2)) + np.sum(x**2 / s2))
                     + float(np.sum(np.log1p(tau2 * b) - tau2 * a * a / (1 + tau2 * b))))
        return tau2, sig2, ll

    @property
    def bandwidth_s(self) -> float:
        """The time-of-day kernel bandwidth picked by :meth:`fit` (seconds)."""
        return self._bw

    @property
    def trip_sd(self) -> float:
        """Standard deviation of the trip effect (log scale, where its loading is 1: mid-route)."""
        return float(np.sqrt(self._tau2))

    @property
    def loading_slope(self) -> float:
        """The slope ``theta`` of the trip effect's log loading along the route picked by :meth:`fit`."""
        return self._theta

    @property
    def loadings(self) -> FloatArray:
        """Each segment's loading on the trip effect, ``exp(theta (m_k - 1/2))``."""
        return self._lam.copy()

    @property
    def segment_sd(self) -> FloatArray:
        """Per-segment noise standard deviations (log scale)."""
        return np.sqrt(self._sig2)

    @property
    def log_likelihoods(self) -> dict[float, float]:
        """Marginal log likelihood of the training traversals for each candidate bandwidth (at its
        best loading slope)."""
        return dict(self._loglik)

    # ---- predict
    def expected_times(self, t0: float) -> tuple[FloatArray, FloatArray]:
        """Segment edges (m) and each segment's expected traversal time (s) when entered at ``t0``."""
        if self.n_trips == 0:
            raise DataError("the model is not fitted")
        return self._edges.copy(), self._expected(self._bw, t0)

    def trip_effect(self, t: FloatArray, s: FloatArray, start_idx: int = 0) -> tuple[float, float]:
        """Posterior mean and variance of a live trip's log pace effect from its completed segments."""
        e, bw = self._edges, self._bw
        until = float(np.asarray(t, float)[-1]) if self.causal else np.inf
        te = _first_passage(np.asarray(t, float)[start_idx:], np.asarray(s, float)[start_idx:], e)
        d = np.diff(te)
        with np.errstate(invalid="ignore"):
            own = np.nonzero(np.isfinite(d) & (d > 0))[0]
        x = np.array([np.log(d[k] / self._expected(bw, te[k], until=until)[k]) for k in own])
        lam, sig2 = self._lam[own], self._sig2[own]
        var = 1 / (1 / self._tau2 + float(np.sum(lam**2 / sig2)))
        return var * float(np.sum(lam * x / sig2)) if own.size else 0.0, var

    def _share_ahead(self, s_c: float, g: int) -> float:
        """Share of segment ``g``'s time still ahead at progress ``s_c`` (see ``within_profile``)."""
        e = self._edges
        if not self.within_profile:
            return float((e[g + 1] - s_c) / (e[g + 1] - e[g]))
        grid, share = self._share[:, 0], self._share[:, 1]
        inside = (grid >= e[g]) & (grid < e[g + 1])
        return float(np.interp(s_c, np.append(grid[inside], e[g + 1]), np.append(share[inside], 0.0)))

    def predict_matched(self, t: FloatArray, s: FloatArray, start_idx: int = 0) -> EtaForecast:
        """Forecast from a live trip's fixes so far: times ``t`` and monotone progress ``s`` (m)."""
        if self.n_trips == 0:
            raise DataError("the model is not fitted")
        t, s = np.asarray(t, dtype=float), np.asarray(s, dtype=float)
        t_c, s_c = float(t[-1]), float(s[-1])
        e = self._edges
        rem_m = max(self.geometry.arrival_s_m - s_c, 0.0)
        if rem_m <= 0 or s_c >= e[-1]:
            return EtaForecast(t_c, s_c, 0.0, 0.0, 0.0, 0.0, self.n_trips)
        g = int(np.clip(np.searchsorted(e, s_c, side="right") - 1, 0, e.size - 2))
        u, var = self.trip_effect(t, s, start_idx)
        lam = self._lam[g:]
        durs, clock = [], t_c
        for k in range(g, e.size - 1):
            dk = float(self._expected(self._bw, clock, until=t_c if self.causal else np.inf)[k])
            if k == g:
                dk *= self._share_ahead(s_c, g)
            durs.append(dk)
            clock += dk * float(np.exp(lam[k - g] * u))  # the live trip enters the next at its own pace
        base = np.asarray(durs)
        p50 = float(base @ np.exp(lam * u))
        sig2 = self._sig2[g:]
        z = self._z[:, : base.size + 1]
        draws = (np.exp(lam * (u + np.sqrt(var) * z[:, :1]) + z[:, 1:] * np.sqrt(sig2) - sig2 / 2) * base).sum(axis=1)
        q10, q50, q90 = np.quantile(draws, (0.1, 0.5, 0.9))
        return EtaForecast(t_c, s_c, rem_m, float(min(p50 * q10 / q50, p50)), p50,
                           float(max(p50 * q90 / q50, p50)), self.n_trips)

    def predict(self, trip: Trip) -> EtaForecast:
        """Forecast for a live trip from all its fixes so far."""
        m = match_trip(self.geometry, trip)
        return self.predict_matched(m.trip.t, m.s, m.start_idx)


#: the segment ETA models by name (the backtest's, the CLI's and the live path's ``model``)
ETA_MODELS: dict[str, type[TodEtaModel] | type[EtaModel]] = {"tod": TodEtaModel, "gp": EtaModel}


def eta_model_class(name: str) -> type[TodEtaModel] | type[EtaModel]:
    """The segment ETA model called ``name`` (``"tod"`` or ``"gp"``); ValueError for another name."""
    cls = ETA_MODELS.get(name)
    if cls is None:
        raise ParameterError(f"model must be one of {sorted(ETA_MODELS)}, got {name!r}")
    return cls
