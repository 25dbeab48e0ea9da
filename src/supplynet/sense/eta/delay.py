"""Delay detection: a shipment is declared late when its predicted arrival passes the promised time
with significance, never on one late ping.

For every GPS fix of a shipment in transit the detector matches the fix to the lane's route
(:class:`~supplynet.sense.eta.geo.Route`: the lane's geometry, else the straight line between its sites),
keeps the progress monotone, and forecasts the arrival as a distribution:

- with a fitted segment model for the lane (:class:`~supplynet.sense.eta.eta_tod.TodEtaModel`, the
  backtest's default: segment times by time of day with a trip random effect, see
  :mod:`supplynet.sense.eta.eta_tod`; or :class:`~supplynet.sense.eta.eta.EtaModel`, segment times with a
  Gaussian-process correction; :func:`fit_lane_eta_model` fits one on a lane's past GPS trips), its
  P10/P50/P90 from the shipment's fixes so far (the first passage of each segment, so the live pace
  is learned segment by segment), read as a split normal (two half-normals joined at the median;
  Wallis 2014, "The two-piece normal, binormal, or double Gaussian distribution");
- otherwise the lane-history model :class:`LaneEta`: the remaining time at progress ``f`` is the share
  of the lane's trip time ``T`` past-trips still needed from there, ``(1 - tau_k(f)) * T`` (the
  historical time-to-end by position; a spread of profiles ``f ** g`` until the lane has trips), with
  ``T`` from the lane's lead-time distribution in the network updated by the trip durations seen since
  (the prior counting as ``prior_trips`` trips), scaled by the live pace so far (``rho ** 0.5``, clipped).
  A truck standing still keeps ``f`` while the clock runs, so its predicted arrival slips hour by hour.

A delay is declared when ``P(arrival > promised + tolerance) >= confidence`` (the P-level, set per
network or per detector) on ``min_pings`` consecutive fixes spanning ``min_span_s`` or more; one late
ping (a stop at a light, a GPS glitch) declares nothing. A declared delay is declared again (escalated)
only when its P50 slips a further ``reassess_s``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray

from ...errors import DataError, ParameterError
from .eta import EtaModel, LaneGeometry, weighted_quantiles
from .eta_tod import TodEtaModel, eta_model_class
from .geo import Route
from .trips import Trip

if TYPE_CHECKING:
    from ...model import Network

__all__ = ["ArrivalForecast", "DelayDeclared", "DelayDetector", "DelayPolicy", "LaneEta", "SegmentEtaModel",
           "fit_lane_eta_model", "lane_route", "split_normal_sf"]

FloatArray = NDArray[np.float64]
DAY_S = 86_400.0
_Z90 = 1.2815515655446004
_LEVELS = np.linspace(0.01, 0.99, 99)
_F = np.linspace(0.0, 1.0, 41)
#: before a lane has completed trips: trips that are slow early (tau = f ** 0.6) to slow late (f ** 1.6)
_PRIOR_PROFILES = [_F ** g for g in (0.6, 0.75, 0.9, 1.0, 1.1, 1.3, 1.6)]
#: a fitted segment ETA model of one lane (both take a trip's fixes and give P10/P50/P90)
SegmentEtaModel = TodEtaModel | EtaModel


def split_normal_sf(x: float, p10: float, p50: float, p90: float) -> float:
    """P(X > x) for a split normal through the given P10, P50 and P90 (degenerate sides are steps)."""
    lo, hi = max(p50 - p10, 0.0) / _Z90, max(p90 - p50, 0.0) / _Z90
    if x >= p50:
        return 0.0 if hi == 0 else 0.5 * math.erfc((x - p50) / (hi * math.sqrt(2)))
    return 1.0 if lo == 0 else 1.0 - 0.5 * math.erfc((p50 - x) / (lo * math.sqrt(2)))


@dataclass(frozen=True)
class ArrivalForecast:
    """Arrival time distribution (epoch seconds) made at ``t`` with ``progress`` of the route covered.

    ``levels``/``arrivals`` (optional) are a full quantile function; without them the split normal
    through P10/P50/P90 is used for probabilities."""

    t: float
    progress: float
    p10: float
    p50: float
    p90: float
    method: str
    levels: FloatArray | None = field(default=None, repr=False)
    arrivals: FloatArray | None = field(default=None, repr=False)

    def prob_after(self, deadline: float) -> float:
        """P(arrival > deadline)."""
        if self.levels is not None and self.arrivals is not None:
            a = self.arrivals
            top = a[-1] + (a[-1] - self.t)  # the upper tail reaches zero at twice the P99 remaining time
            xs = np.concatenate([[min(self.t, a[0])], a, [max(top, a[-1] + 1.0)]])
            return float(1.0 - np.interp(deadline, xs, np.concatenate([[0.0], self.levels, [1.0]])))
        return split_normal_sf(deadline, self.p10, self.p50, self.p90)

    def quantile(self, q: float) -> float:
        if self.levels is not None and self.arrivals is not None:
            return float(np.interp(q, self.levels, self.arrivals))
        z = _norm_ppf(q)
        return self.p50 + z * ((self.p90 - self.p50) if z >= 0 else (self.p50 - self.p10)) / _Z90


def _norm_ppf(q: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(min(max(q, 1e-9), 1 - 1e-9))


def lane_route(network: Network, lane_id: str, n: int = 24) -> Route:
    """The lane's route: its geometry in the network, else the straight line between its sites."""
    lane = network.lane(lane_id)
    if lane.route:
        return Route.from_points([tuple(p) for p in lane.route])
    a, b = network.site(lane.origin).location, network.site(lane.destination).location
    f = np.linspace(0.0, 1.0, n)
    return Route(a.lat + (b.lat - a.lat) * f, a.lon + (b.lon - a.lon) * f)


def fit_lane_eta_model(network: Network, lane_id: str, trips: list[Trip], *, model: Literal["tod", "gp"] = "tod",
                       route: Route | None = None, **options: Any) -> SegmentEtaModel:
    """A segment ETA model for a lane fitted on its past GPS trips: ``"tod"`` (default, as the
    backtest's) or ``"gp"``, on the lane's route (``route``, else :func:`lane_route`); ``options`` go
    to the model (e.g. the geofence radii through ``origin_radius_m`` / ``dest_radius_m``). Raises
    :class:`DataError` when no trip was seen to arrive."""
    cls = eta_model_class(model)
    radii = {k: options.pop(k) for k in ("origin_radius_m", "dest_radius_m") if k in options}
    geom = LaneGeometry(route if route is not None else lane_route(network, lane_id), **radii)
    return cls(geom, **options).fit(trips)


class LaneEta:
    """Lane-history ETA: the trip time ``T`` learned per lane, and how time is spent along the route.

    The prior for ``T`` is the lane's lead-time distribution from the network (``prior_trips``
    pseudo-trips drawn with ``seed``); every completed trip seen later (:meth:`learn`) is one more
    sample. With the completed trips' tracks, each gives a time profile ``tau_k(f)`` (share of its time
    spent to cover share ``f`` of the route: the historical time-to-end by position of the analog
    methods); the remaining time at progress ``f`` is then ``(1 - tau_k(f)) * T`` over the trips k and
    the quantiles of ``T``. Until ``min_profiles`` trips are known, ``tau(f) = f ** g`` for a spread of
    ``g`` (trips slow early to slow late) stands in."""

    def __init__(self, lead_time: Any, *, prior_trips: int = 5, seed: int = 0, pace_exponent: float = 0.5,
                 pace_clip: tuple[float, float] = (0.67, 1.5), max_profiles: int = 30, min_profiles: int = 3):
        if prior_trips < 1:
            raise ParameterError(f"prior_trips must be >= 1, got {prior_trips}")
        if not 0 <= pace_exponent <= 1:
            raise ParameterError(f"pace_exponent must be in [0, 1], got {pace_exponent}")
        draws = np.maximum(np.asarray(lead_time.sample(np.random.default_rng(seed), 2000), dtype=float), 1 / 24)
        self._prior = draws * DAY_S
        self.prior_trips = prior_trips
        self.pace_exponent = pace_exponent
        self.pace_clip = pace_clip
        self.max_profiles = max_profiles
        self.min_profiles = min_profiles
        self.observed: list[float] = []
        self.profiles: list[FloatArray] = []
        self._q = np.quantile(self._prior, _LEVELS)

    def learn(self, duration_s: float, t: FloatArray | None = None, progress: FloatArray | None = None) -> None:
        """A completed trip on the lane took ``duration_s`` seconds (departure to delivery); ``t``
        (seconds since departure) and ``progress`` (0..1) are its fixes, if tracked."""
        if not (duration_s > 0 and math.isfinite(duration_s)):
            return
        self.observed.append(float(duration_s))
        obs = np.asarray(self.observed)
        vals = np.concatenate([self._prior, obs])
        w = np.concatenate([np.full(self._prior.size, self.prior_trips / self._prior.size), np.ones(obs.size)])
        self._q = weighted_quantiles(vals, w, _LEVELS)
        if t is not None and progress is not None and len(t) >= 5:
            f = np.concatenate([[0.0], np.maximum.accumulate(np.clip(progress, 0, 1)), [1.0]])
            tt = np.concatenate([[0.0], np.clip(np.asarray(t, dtype=float) / duration_s, 0, 1), [1.0]])
            u, i = np.unique(f, return_index=True)
            if u.size >= 3:
                self.profiles = [*self.profiles, np.interp(_F, u, tt[i])][-self.max_profiles:]

    @property
    def trip_time_quantiles(self) -> FloatArray:
        return self._q

    def forecast(self, t: float, depart: float, progress: float, moving_until: float) -> ArrivalForecast:
        """Arrival distribution at ``t`` for a trip that left at ``depart``, has covered ``progress``
        (0..1) and last made headway at ``moving_until`` (the start of a stop in progress)."""
        f = min(max(progress, 0.0), 1.0)
        q = self._q
        profiles = self.profiles if len(self.profiles) >= self.min_profiles else _PRIOR_PROFILES
        tau = np.array([np.interp(f, _F, p) for p in profiles])
        pace = 1.0
        if float(tau.mean()) >= 0.05:
            med = float(np.interp(0.5, _LEVELS, q))
            pace = float(np.clip((moving_until - depart) / max(float(tau.mean()) * med, 1.0), *self.pace_clip))
            pace **= self.pace_exponent
        rem = np.sort(np.outer(1.0 - tau, q).ravel()) * pace
        arr = t + np.quantile(rem, _LEVELS)
        p10, p50, p90 = np.interp([0.1, 0.5, 0.9], _LEVELS, arr)
        return ArrivalForecast(t, f, float(p10), float(p50), float(p90), "lane_history", _LEVELS, arr)


@dataclass(frozen=True)
class DelayPolicy:
    """When a delay is declared: ``P(arrival > promised + tolerance_s) >= confidence`` on
    ``min_pings`` consecutive fixes that span ``min_span_s`` seconds or more."""

    confidence: float = 0.9
    tolerance_s: float = 1800.0
    min_pings: int = 3
    min_span_s: float = 600.0
    reassess_s: float = 6 * 3600.0  # a declared delay is declared again when its P50 slips this much more

    def __post_init__(self) -> None:
        if not 0.5 <= self.confidence < 1:
            raise ParameterError(f"confidence must be in [0.5, 1), got {self.confidence}")
        if self.tolerance_s < 0:
            raise ParameterError(f"tolerance_s must be >= 0, got {self.tolerance_s}")
        if self.min_pings < 2:
            raise ParameterError(f"min_pings must be >= 2 (one late ping is not a delay), got {self.min_pings}")
        if self.min_span_s < 0:
            raise ParameterError(f"min_span_s must be >= 0, got {self.min_span_s}")
        if self.reassess_s <= 0:
            raise ParameterError(f"reassess_s must be > 0, got {self.reassess_s}")

    @classmethod
    def for_network(cls, network: Network, **overrides: Any) -> DelayPolicy:
        """Defaults overridden by the network's ``meta`` (``delay_confidence``, ``delay_tolerance_s``,
        ``delay_min_pings``, ``delay_min_span_s``) and then by ``overrides``."""
        meta = dict(getattr(network, "meta", None) or {})
        kw: dict[str, Any] = {}
        for key, name, cast in (("delay_confidence", "confidence", float), ("delay_tolerance_s", "tolerance_s", float),
                                ("delay_min_pings", "min_pings", int), ("delay_min_span_s", "min_span_s", float)):
            if meta.get(key) is not None:
                try:
                    kw[name] = cast(meta[key])
                except (TypeError, ValueError) as exc:
                    raise DataError(f"network meta {key}: a number expected, got {meta[key]!r}") from exc
        kw.update(overrides)
        return cls(**kw)


@dataclass(frozen=True)
class DelayDeclared:
    """A declared delay with the evidence behind it."""

    shipment_id: str
    lane_id: str
    origin: str
    destination: str
    declared_at: datetime
    promised_at: datetime
    probability_late: float
    confidence: float
    eta_p10: datetime
    eta_p50: datetime
    eta_p90: datetime
    progress: float
    method: str
    trigger_event_ids: tuple[str, ...]
    evidence: tuple[tuple[str, float], ...]  # (event id, P(late)) of the consecutive late fixes
    lines: tuple[tuple[str, float, str | None], ...] = ()
    declaration: int = 1  # 2, 3 ...: the forecast slipped by ``reassess_s`` again since the last one
    forecast: ArrivalForecast | None = field(default=None, repr=False, compare=False)

    @property
    def expected_delay_h(self) -> float:
        return (self.eta_p50 - self.promised_at).total_seconds() / 3600.0

    def to_dict(self) -> dict[str, Any]:
        return {"shipment_id": self.shipment_id, "lane_id": self.lane_id, "origin": self.origin,
                "destination": self.destination, "declared_at": self.declared_at.isoformat(),
                "promised_at": self.promised_at.isoformat(), "probability_late": round(self.probability_late, 4),
                "confidence": self.confidence, "eta_p10": self.eta_p10.isoformat(),
                "eta_p50": self.eta_p50.isoformat(), "eta_p90": self.eta_p90.isoformat(),
                "expected_delay_h": round(self.expected_delay_h, 3), "progress": round(self.progress, 4),
                "method": self.method, "declaration": self.declaration, "evidence": [[e, round(p, 4)] for e, p in self.evidence]}


@dataclass
class _Track:
    shipment_id: str
    lane_id: str
    depart: float
    s_m: float = 0.0
    moving_since: float = 0.0  # time the current position was first reached (stop start)
    last_t: float = -math.inf
    late: list[tuple[str, float, float]] = field(default_factory=list)  # (event id, t, p) consecutive
    declared: bool = False
    declared_p50: float = math.inf
    declarations: int = 0
    status_event: str | None = None
    forecast: ArrivalForecast | None = None
    fix_t: list[float] = field(default_factory=list)
    fix_f: list[float] = field(default_factory=list)


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=UTC)


class DelayDetector:
    """Per-shipment progress, ETA and delay declaration over a network's lanes.

    Feed it shipment statuses and positions (:meth:`observe_status`, :meth:`observe_position`);
    ``eta_models`` maps lane ids to fitted segment models (:class:`~supplynet.sense.eta.eta_tod.TodEtaModel`
    or :class:`~supplynet.sense.eta.eta.EtaModel`, see :func:`fit_lane_eta_model`); other lanes use
    :class:`LaneEta`."""

    def __init__(self, network: Network, *, policy: DelayPolicy | None = None,
                 eta_models: Mapping[str, SegmentEtaModel] | None = None, stop_m: float = 50.0, seed: int = 0):
        self.network = network
        self.policy = policy or DelayPolicy.for_network(network)
        self.eta_models = dict(eta_models or {})
        self.stop_m = stop_m
        self.seed = seed
        self._routes: dict[str, Route] = {}
        self._lane_eta: dict[str, LaneEta] = {}
        self.tracks: dict[str, _Track] = {}

    def route(self, lane_id: str) -> Route:
        r = self._routes.get(lane_id)
        if r is None:
            m = self.eta_models.get(lane_id)
            r = self._routes[lane_id] = m.geometry.route if m is not None else lane_route(self.network, lane_id)
        return r

    def lane_eta(self, lane_id: str) -> LaneEta:
        le = self._lane_eta.get(lane_id)
        if le is None:
            le = self._lane_eta[lane_id] = LaneEta(self.network.lane(lane_id).lead_time, seed=self.seed)
        return le

    # ---- events
    def observe_status(self, shipment_id: str, status: str, lane_id: str | None, at: datetime,
                       departed_at: datetime | None = None, event_id: str | None = None) -> None:
        """A shipment status: a departure opens its track, a delivery closes it and teaches the lane."""
        if lane_id is None:
            return
        tr = self.tracks.get(shipment_id)
        if status in ("departed", "in_transit", "delayed", "arrived") and tr is None:
            dep = _ts(departed_at or at)
            self.tracks[shipment_id] = _Track(shipment_id, lane_id, dep, moving_since=dep, status_event=event_id)
        elif status in ("delivered", "cancelled") and tr is not None:
            if status == "delivered":
                self.lane_eta(lane_id).learn(_ts(at) - tr.depart, np.asarray(tr.fix_t) - tr.depart,
                                             np.asarray(tr.fix_f))
            del self.tracks[shipment_id]

    def observe_position(self, shipment_id: str, lane_id: str | None, lat: float, lon: float, at: datetime,
                         promised_at: datetime | None, departed_at: datetime | None = None,
                         event_id: str = "") -> tuple[ArrivalForecast | None, bool]:
        """Update the shipment's progress and ETA; returns ``(forecast, newly_late)`` where
        ``newly_late`` is True exactly once, on the fix that completes the evidence for a delay."""
        if lane_id is None:
            return None, False
        tr = self.tracks.get(shipment_id)
        if tr is None:
            dep = _ts(departed_at or at)
            tr = self.tracks[shipment_id] = _Track(shipment_id, lane_id, dep, moving_since=dep)
        t = _ts(at)
        if t < tr.last_t:  # an out-of-order fix: progress is monotone, ignore it
            return tr.forecast, False
        route = self.route(lane_id)
        s = float(route.project(np.array([lat]), np.array([lon]), monotone=False).s_m[0])
        if s > tr.s_m + self.stop_m:
            tr.s_m, tr.moving_since = s, t
        tr.last_t = t
        tr.fix_t.append(t)
        tr.fix_f.append(tr.s_m / route.length_m)
        fc = self._forecast(tr, route, t)
        tr.forecast = fc
        if promised_at is None:
            return fc, False
        if tr.declared:  # escalate when the forecast slips a good deal further
            if fc.p50 >= tr.declared_p50 + self.policy.reassess_s:
                tr.declared_p50 = fc.p50
                tr.declarations += 1
                tr.late = [(event_id, t, fc.prob_after(_ts(promised_at) + self.policy.tolerance_s))]
                return fc, True
            return fc, False
        p = fc.prob_after(_ts(promised_at) + self.policy.tolerance_s)
        if p >= self.policy.confidence:
            tr.late.append((event_id, t, p))
        else:
            tr.late.clear()
        pol = self.policy
        if len(tr.late) >= pol.min_pings and tr.late[-1][1] - tr.late[0][1] >= pol.min_span_s:
            tr.declared, tr.declared_p50, tr.declarations = True, fc.p50, 1
            return fc, True
        return fc, False

    def _forecast(self, tr: _Track, route: Route, t: float) -> ArrivalForecast:
        model = self.eta_models.get(tr.lane_id)
        f = tr.s_m / route.length_m
        if model is not None and model.n_trips > 0:
            # the fixes so far (progress held through stops): as in the backtest, the first passage of
            # each segment boundary after the first fix gives the live pace segment by segment
            tt = np.asarray(tr.fix_t)
            ss = np.asarray(tr.fix_f) * route.length_m
            e = model.predict_matched(tt, ss, 0)
            method = getattr(model, "method", None) or ("segment_tod" if isinstance(model, TodEtaModel)
                                                       else "segment_gp")
            return ArrivalForecast(t, f, e.eta_p10, e.eta_p50, e.eta_p90, method)
        return self.lane_eta(tr.lane_id).forecast(t, tr.depart, f, tr.moving_since)

    def declared(self, shipment_id: str, shipment: Any, at: datetime, event_id: str) -> DelayDeclared:
        """The :class:`DelayDeclared` for a shipment whose evidence just completed (``shipment`` is the
        twin's record: origin, destination, promised time, lines)."""
        tr = self.tracks[shipment_id]
        fc = tr.forecast
        assert fc is not None
        triggers = tuple(dict.fromkeys([*(e for e, _, _ in tr.late if e), *([tr.status_event] if tr.status_event else [])]))
        return DelayDeclared(
            shipment_id=shipment_id, lane_id=tr.lane_id, origin=shipment.origin, destination=shipment.destination,
            declared_at=at, promised_at=shipment.promised_at, probability_late=tr.late[-1][2],
            confidence=self.policy.confidence, eta_p10=_dt(fc.p10), eta_p50=_dt(fc.p50), eta_p90=_dt(fc.p90),
            progress=fc.progress, method=fc.method, trigger_event_ids=triggers,
            evidence=tuple((e, p) for e, _, p in tr.late), lines=tuple(shipment.lines), declaration=tr.declarations,
            forecast=fc)
