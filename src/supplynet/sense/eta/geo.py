"""Geometry for shipment visibility: GPS fixes against a lane's route and the network's sites.

Pure kernels on numpy arrays (degrees, metres, seconds since the epoch) and two small value types,
:class:`Route` (a polyline with cumulative distance) and :class:`Geofence` (a circle around a site).

- great-circle distance by the haversine formula (Sinnott 1984, "Virtues of the haversine");
- projection of fixes onto the route polyline (map matching by nearest segment, constrained to
  move forward as in the incremental matcher of Greenfeld 2002): distance covered and remaining
  along the route, cross-track distance (route deviation);
- speed between fixes, dwell (stay-point) detection after Li et al. 2008 ("Mining user similarity
  based on location history"): a stop is a run of fixes within ``radius_m`` of its first fix that
  lasts at least ``min_duration_s``;
- geofence arrival and departure events with hysteresis (the exit circle is wider than the entry).

>>> round(float(haversine_m(53.4075, -2.9833, 53.4621, -2.8951)) / 1000, 2)
8.43
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ...errors import DataError, ParameterError

__all__ = [
    "EARTH_RADIUS_M",
    "Dwell",
    "Geofence",
    "GeofenceEvent",
    "Projection",
    "Route",
    "Deviation",
    "detect_deviations",
    "detect_dwells",
    "geofence_events",
    "haversine_m",
    "path_length_m",
    "speeds_mps",
]

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)

FloatArray = NDArray[np.float64]
_TIE_M = 30.0  # legs of a route closer than this to a fix are ambiguous; the earliest wins
_LEG_M = 200.0  # extent along the route of one leg when choosing among ambiguous legs
_CHUNK = 512  # fixes per block in Route.project (bounds memory at 512 x segments)


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> FloatArray:
    """Great-circle distance in metres between points given in degrees (broadcasts)."""
    p1, l1, p2, l2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def path_length_m(lat: ArrayLike, lon: ArrayLike) -> float:
    """Length in metres of the polyline through the points."""
    lat_a, lon_a = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    if lat_a.size < 2:
        return 0.0
    return float(haversine_m(lat_a[:-1], lon_a[:-1], lat_a[1:], lon_a[1:]).sum())


def speeds_mps(t: ArrayLike, lat: ArrayLike, lon: ArrayLike) -> FloatArray:
    """Ground speed (m/s) between consecutive fixes; element i is the speed from fix i-1 to i
    (element 0 is 0). Fixes with the same timestamp get 0, not infinity."""
    t_a, lat_a, lon_a = (np.asarray(a, dtype=float) for a in (t, lat, lon))
    out = np.zeros(t_a.size)
    if t_a.size < 2:
        return out
    d = haversine_m(lat_a[:-1], lon_a[:-1], lat_a[1:], lon_a[1:])
    dt = np.diff(t_a)
    out[1:] = np.where(dt > 0, d / np.where(dt > 0, dt, 1.0), 0.0)
    return out


def _check_fixes(t: FloatArray | None, lat: FloatArray, lon: FloatArray) -> None:
    if lat.shape != lon.shape or lat.ndim != 1:
        raise DataError(f"lat and lon must be 1-D arrays of one length, got {lat.shape} and {lon.shape}")
    if t is not None:
        if t.shape != lat.shape:
            raise DataError(f"t has shape {t.shape}, lat has {lat.shape}: one timestamp per fix")
        if t.size > 1 and np.any(np.diff(t) < 0):
            raise DataError("t must be sorted in time (non-decreasing)")
    if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
        raise DataError("lat must lie in [-90, 90] and lon in [-180, 180] degrees")


# --------------------------------------------------------------------------------------------- route
@dataclass(frozen=True)
class Projection:
    """Fixes matched to a route: ``s_m`` distance covered along the route, ``remaining_m`` to its end,
    ``cross_track_m`` distance from the route (deviation), ``segment`` index of the matched segment."""

    s_m: FloatArray
    remaining_m: FloatArray
    cross_track_m: FloatArray
    segment: NDArray[np.int64]


@dataclass(frozen=True)
class Route:
    """A lane's route as a polyline of (lat, lon) vertices in travel order.

    ``cum_m[i]`` is the distance along the route to vertex i; ``length_m`` the whole length.
    """

    lat: FloatArray
    lon: FloatArray
    cum_m: FloatArray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lat = np.asarray(self.lat, dtype=float)
        lon = np.asarray(self.lon, dtype=float)
        _check_fixes(None, lat, lon)
        if lat.size < 2:
            raise DataError(f"a route needs at least 2 vertices, got {lat.size}")
        if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
            raise DataError("route vertices must be finite numbers")
        cum = np.concatenate([[0.0], np.cumsum(haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]))])
        if cum[-1] <= 0:
            raise DataError("route has zero length (all vertices coincide)")
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "cum_m", cum)

    @classmethod
    def from_points(cls, points: list[tuple[float, float]] | ArrayLike) -> Route:
        """Route from a list of (lat, lon) pairs, e.g. ``Lane.route`` of the network model."""
        arr = np.asarray(points, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise DataError(f"route points must be (lat, lon) pairs, got an array of shape {arr.shape}")
        return cls(arr[:, 0], arr[:, 1])

    @property
    def length_m(self) -> float:
        return float(self.cum_m[-1])

    @property
    def origin(self) -> tuple[float, float]:
        return float(self.lat[0]), float(self.lon[0])

    @property
    def destination(self) -> tuple[float, float]:
        return float(self.lat[-1]), float(self.lon[-1])

    def _local_xy(self, lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Equirectangular metres around the route's mean latitude (fine over a lane's extent)."""
        lat0 = float(np.mean(self.lat))
        k = np.pi / 180 * EARTH_RADIUS_M
        return (lon - self.lon[0]) * k * np.cos(np.radians(lat0)), (lat - self.lat[0]) * k

    def point_at(self, s_m: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(lat, lon) of the points at distance ``s_m`` along the route (clipped to the route)."""
        s = np.clip(np.asarray(s_m, dtype=float), 0.0, self.length_m)
        return np.interp(s, self.cum_m, self.lat), np.interp(s, self.cum_m, self.lon)

    def project(
        self,
        lat: ArrayLike,
        lon: ArrayLike,
        *,
        monotone: bool = True,
        backtrack_m: float = 150.0,
        max_cross_track_m: float = 250.0,
    ) -> Projection:
        """Match fixes (in travel order) to the route.

        With ``monotone`` each fix is matched to the nearest point of the route at or beyond the
        previous match minus ``backtrack_m`` (GPS jitter), so a route that passes near itself (a loop,
        both sides of a road) is not matched to the wrong leg; if no such point lies within
        ``max_cross_track_m`` the fix is off-route and gets the globally nearest point instead.
        """
        la, lo = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
        _check_fixes(None, la, lo)
        if backtrack_m < 0 or max_cross_track_m <= 0:
            raise ParameterError(f"backtrack_m must be >= 0 and max_cross_track_m > 0, got {backtrack_m}, "
                                 f"{max_cross_track_m}")
        vx, vy = self._local_xy(self.lat, self.lon)
        px, py = self._local_xy(la, lo)
        ax, ay, dx, dy = vx[:-1], vy[:-1], np.diff(vx), np.diff(vy)
        seg_len2 = np.maximum(dx * dx + dy * dy, 1e-12)
        n = la.size
        seg = np.empty(n, dtype=np.int64)
        s = np.empty(n)
        xt = np.empty(n)
        prev = -np.inf
        for lo_i in range(0, n, _CHUNK):
            sl = slice(lo_i, min(n, lo_i + _CHUNK))
            # (fixes, segments) matrices: parameter along each segment and distance to it
            u = np.clip(((px[sl, None] - ax) * dx + (py[sl, None] - ay) * dy) / seg_len2, 0.0, 1.0)
            dist = np.hypot(px[sl, None] - (ax + u * dx), py[sl, None] - (ay + u * dy))
            s_cand = self.cum_m[:-1] + u * np.diff(self.cum_m)
            for r in range(dist.shape[0]):
                j = int(np.argmin(dist[r]))
                if monotone:
                    d_r = np.where(s_cand[r] >= prev - backtrack_m, dist[r], np.inf)
                    k = int(np.argmin(d_r))
                    # of near-equally close legs (a route passing near itself) take the earliest
                    if np.isfinite(d_r[k]):
                        near = d_r <= d_r[k] + _TIE_M
                        s_e = float(s_cand[r][near].min())
                        # then the nearest segment on that leg
                        k = int(np.argmin(np.where(near & (s_cand[r] <= s_e + _LEG_M), d_r, np.inf)))
                    if d_r[k] <= max_cross_track_m:
                        j = k
                        prev = max(prev, s_cand[r, j])
                    elif dist[r, j] <= max_cross_track_m:  # a genuine jump back is accepted as such
                        prev = s_cand[r, j]
                i = lo_i + r
                seg[i], s[i], xt[i] = j, s_cand[r, j], dist[r, j]
        return Projection(s_m=s, remaining_m=self.length_m - s, cross_track_m=xt, segment=seg)
# --------------------------------------------------------------------------------------------- dwells
@dataclass(frozen=True)
class Dwell:
    """A stop: fixes ``first..last`` (inclusive) stayed within the radius from ``start`` to ``end``."""

    first: int
    last: int
    start: float
    end: float
    lat: float
    lon: float

    @property
    def duration_s(self) -> float:
        return self.end - self.start


def detect_dwells(
    t: ArrayLike, lat: ArrayLike, lon: ArrayLike, *, radius_m: float = 40.0, min_duration_s: float = 60.0
) -> list[Dwell]:
    """Stay points (Li et al. 2008): maximal runs of fixes within ``radius_m`` of the run's first fix
    that last at least ``min_duration_s``. The stop's position is the mean of its fixes."""
    if radius_m <= 0 or min_duration_s < 0:
        raise ParameterError(f"radius_m must be > 0 and min_duration_s >= 0, got {radius_m}, {min_duration_s}")
    ta, la, lo = (np.asarray(a, dtype=float) for a in (t, lat, lon))
    _check_fixes(ta, la, lo)
    out: list[Dwell] = []
    n, i = ta.size, 0
    while i < n:
        d = haversine_m(la[i], lo[i], la[i:], lo[i:])
        outside = np.nonzero(d > radius_m)[0]
        j = i + (int(outside[0]) - 1 if outside.size else n - 1 - i)
        if j > i and ta[j] - ta[i] >= min_duration_s:
            out.append(Dwell(i, j, float(ta[i]), float(ta[j]), float(la[i:j + 1].mean()),
                             float(lo[i:j + 1].mean())))
            i = j + 1
        else:
            i += 1
    return out


# --------------------------------------------------------------------------------------------- geofence
@dataclass(frozen=True)
class Geofence:
    """A circle of ``radius_m`` around a site; a fix must leave ``radius_m * exit_factor`` to count
    as a departure (hysteresis against GPS jitter at the edge)."""

    site: str
    lat: float
    lon: float
    radius_m: float = 200.0
    exit_factor: float = 1.25

    def __post_init__(self) -> None:
        if not -90 <= self.lat <= 90 or not -180 <= self.lon <= 180:
            raise ParameterError(f"geofence {self.site!r}: lat/lon out of range ({self.lat}, {self.lon})")
        if self.radius_m <= 0:
            raise ParameterError(f"geofence {self.site!r}: radius_m must be > 0, got {self.radius_m}")
        if self.exit_factor < 1:
            raise ParameterError(f"geofence {self.site!r}: exit_factor must be >= 1, got {self.exit_factor}")


@dataclass(frozen=True)
class GeofenceEvent:
    site: str
    kind: Literal["arrival", "departure"]
    time: float
    index: int


def geofence_events(t: ArrayLike, lat: ArrayLike, lon: ArrayLike, fences: list[Geofence]) -> list[GeofenceEvent]:
    """Arrival (first fix inside the circle) and departure (first fix beyond the exit circle after
    an arrival) events, in time order. A track that starts inside a fence is taken as arrived there
    at its first fix."""
    ta, la, lo = (np.asarray(a, dtype=float) for a in (t, lat, lon))
    _check_fixes(ta, la, lo)
    events: list[GeofenceEvent] = []
    for f in fences:
        d = haversine_m(f.lat, f.lon, la, lo)
        inside = False
        for i in range(ta.size):
            if not inside and d[i] <= f.radius_m:
                inside = True
                events.append(GeofenceEvent(f.site, "arrival", float(ta[i]), i))
            elif inside and d[i] > f.radius_m * f.exit_factor:
                inside = False
                events.append(GeofenceEvent(f.site, "departure", float(ta[i]), i))
    events.sort(key=lambda e: (e.time, e.index, e.kind == "arrival"))
    return events


# --------------------------------------------------------------------------------------------- deviation
@dataclass(frozen=True)
class Deviation:
    """Fixes ``first..last`` were more than the threshold off the route; ``max_m`` the worst."""

    first: int
    last: int
    start: float
    end: float
    max_m: float


def detect_deviations(
    t: ArrayLike, cross_track_m: ArrayLike, *, threshold_m: float = 100.0, min_fixes: int = 2
) -> list[Deviation]:
    """Runs of at least ``min_fixes`` consecutive fixes farther than ``threshold_m`` from the route
    (one stray fix is GPS noise, not a detour)."""
    if threshold_m <= 0 or min_fixes < 1:
        raise ParameterError(f"threshold_m must be > 0 and min_fixes >= 1, got {threshold_m}, {min_fixes}")
    ta, xt = np.asarray(t, dtype=float), np.asarray(cross_track_m, dtype=float)
    if ta.shape != xt.shape:
        raise DataError(f"t has shape {ta.shape}, cross_track_m has {xt.shape}")
    off = np.concatenate([[False], xt > threshold_m, [False]])
    edges = np.diff(off.astype(np.int8))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0] - 1
    return [Deviation(int(a), int(b), float(ta[a]), float(ta[b]), float(xt[a:b + 1].max()))
            for a, b in zip(starts, ends, strict=True) if b - a + 1 >= min_fixes]
