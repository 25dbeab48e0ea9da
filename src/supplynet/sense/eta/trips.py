"""Trip loaders: timestamped GPS tracks from CSV (configurable columns) and GPX (via gpxpy).

A :class:`Trip` is one vehicle's run along a lane: fixes sorted in time, timestamps as float seconds
since the epoch in UTC (naive timestamps in a file are read as UTC). Bad files raise
:class:`~supplynet.errors.DataError` naming the file, the column and the offending value.

The UK Bus Open Data extract at ``../shared/data/gps-trajectories/liverpool_bus_route14_outbound.csv``
has columns ``id, vehicle_id, trip_id, timestamp, latitude, longitude, bearing, origin, destination,
route_name, direction, operator``; the defaults below find them without configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ...errors import DataError, ParameterError

__all__ = ["Trip", "generate_trips", "load_gpx", "load_trips", "load_trips_csv"]

_TRIP = ("trip_id", "trip", "journey_id", "journey", "track_id", "track", "shipment_id", "shipment")
_TIME = ("timestamp", "time", "datetime", "date_time", "ts", "recorded_at", "t")
_LAT = ("latitude", "lat", "y")
_LON = ("longitude", "lon", "lng", "long", "x")
_VEHICLE = ("vehicle_id", "vehicle", "asset", "asset_id", "device_id")
_LANE = ("lane", "lane_id", "route_name", "route", "route_id")


@dataclass(frozen=True)
class Trip:
    """One trip: fixes ``(t, lat, lon)`` sorted in time (t in epoch seconds, UTC)."""

    trip_id: str
    t: NDArray[np.float64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    vehicle_id: str | None = None
    lane: str | None = None
    meta: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t, lat, lon = (np.asarray(a, dtype=float) for a in (self.t, self.lat, self.lon))
        if not (t.ndim == lat.ndim == lon.ndim == 1) or not (t.size == lat.size == lon.size):
            raise DataError(f"trip {self.trip_id!r}: t, lat and lon must be 1-D of one length "
                            f"({t.size}, {lat.size}, {lon.size})")
        if t.size == 0:
            raise DataError(f"trip {self.trip_id!r} has no fixes")
        if not np.all(np.isfinite(t) & np.isfinite(lat) & np.isfinite(lon)):
            raise DataError(f"trip {self.trip_id!r}: t, lat and lon must be finite")
        if np.any(np.diff(t) < 0):
            raise DataError(f"trip {self.trip_id!r}: fixes must be sorted in time")
        if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
            raise DataError(f"trip {self.trip_id!r}: lat/lon out of range")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "lon", lon)

    @property
    def n(self) -> int:
        return int(self.t.size)

    @property
    def duration_s(self) -> float:
        return float(self.t[-1] - self.t[0])

    def head(self, k: int) -> Trip:
        """The trip as seen after its first ``k`` fixes (what a live tracker has reported so far)."""
        if not 1 <= k <= self.n:
            raise ParameterError(f"k must be in [1, {self.n}], got {k}")
        return Trip(self.trip_id, self.t[:k], self.lat[:k], self.lon[:k], self.vehicle_id, self.lane,
                    dict(self.meta))


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str, path: Path,
          required: bool = True) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise DataError(f"{path}: no column {wanted!r} for the {what} (columns: {', '.join(columns)})")
        return wanted
    lower = {c.lower().strip(): c for c in columns}
    for c in candidates:
        if c in lower:
            return lower[c]
    if required:
        raise DataError(f"{path}: cannot find the {what} column (tried {', '.join(candidates)}; "
                        f"columns: {', '.join(columns)}); name it with the matching option")
    return None


def _parse_times(raw: pd.Series, path: Path, col: str, time_format: str | None) -> NDArray[np.float64]:
    if pd.api.types.is_numeric_dtype(raw):
        ts = pd.to_datetime(raw, unit="s", utc=True, errors="coerce")
    else:
        ts = pd.to_datetime(raw, utc=True, errors="coerce", format=time_format or "mixed")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}: column {col!r} has {int(bad.sum())} value(s) that are not timestamps, "
                        f"first at data row {i + 1}: {raw.iloc[i]!r}")
    return ((ts - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)


def _numeric(df: pd.DataFrame, col: str, path: Path, lo: float, hi: float) -> NDArray[np.float64]:
    v = pd.to_numeric(df[col], errors="coerce")
    bad = (v.isna() | (v < lo) | (v > hi)).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path}: column {col!r} has {int(bad.sum())} missing or invalid value(s) "
                        f"(expected numbers in [{lo}, {hi}]), first at data row {i + 1}: {df[col].iloc[i]!r}")
    return v.to_numpy(dtype=float)


def _delimiter(path: Path) -> str:
    """The file's delimiter (``,`` ``;`` tab ``|``) from its first lines."""
    import csv

    with path.open("r", encoding="utf-8", errors="replace") as fh:
        head = fh.read(65_536)
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        first = head.splitlines()[0] if head else ""
        return max(",;\t|", key=first.count) if any(d in first for d in ",;\t|") else ","


def load_trips_csv(
    path: str | Path,
    *,
    trip_col: str | None = None,
    time_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    vehicle_col: str | None = None,
    lane_col: str | None = None,
    time_format: str | None = None,
    split_gap_s: float = 1800.0,
) -> list[Trip]:
    """Trips from a CSV of timestamped fixes, one row per fix.

    The delimiter is sniffed (``,`` ``;`` tab ``|``). Columns are found by common names unless given. Without a trip column, each vehicle's track
    (or the whole file) is split into trips wherever fixes are more than ``split_gap_s`` apart.
    Fixes repeating a timestamp within a trip keep the first. Trips come back in file order.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    if split_gap_s <= 0:
        raise ParameterError(f"split_gap_s must be > 0, got {split_gap_s}")
    try:
        df = pd.read_csv(p, sep=_delimiter(p), dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not a readable CSV file ({exc})") from exc
    if df.empty:
        raise DataError(f"{p}: no rows")
    cols = [str(c) for c in df.columns]
    tcol = _pick(cols, time_col, _TIME, "timestamp", p)
    la_col = _pick(cols, lat_col, _LAT, "latitude", p)
    lo_col = _pick(cols, lon_col, _LON, "longitude", p)
    tr_col = _pick(cols, trip_col, _TRIP, "trip", p, required=False)
    v_col = _pick(cols, vehicle_col, _VEHICLE, "vehicle", p, required=False)
    ln_col = _pick(cols, lane_col, _LANE, "lane", p, required=False)
    assert tcol and la_col and lo_col
    raw_t = df[tcol]
    if raw_t.str.fullmatch(r"\s*-?\d+(\.\d+)?\s*").fillna(False).all():
        raw_t = pd.to_numeric(raw_t)
    t = _parse_times(raw_t, p, tcol, time_format)
    lat = _numeric(df, la_col, p, -90, 90)
    lon = _numeric(df, lo_col, p, -180, 180)
    work = pd.DataFrame({"t": t, "lat": lat, "lon": lon, "row": np.arange(len(df))})
    work["veh"] = df[v_col].fillna("").astype(str) if v_col else ""
    work["lane"] = df[ln_col].fillna("").astype(str) if ln_col else ""
    if tr_col:
        work["trip"] = df[tr_col].fillna("").astype(str)
    else:  # split each vehicle's track at long silences
        work = work.sort_values(["veh", "t"], kind="stable")
        gap = work.groupby("veh")["t"].diff().fillna(np.inf).to_numpy() > split_gap_s
        work["trip"] = (work["veh"] + "#" + np.cumsum(gap).astype(str)).to_numpy()
    extra = [c for c in ("origin", "destination", "direction", "mode") if c in cols]
    trips: list[Trip] = []
    order = pd.unique(work.sort_values("row")["trip"])
    groups = dict(tuple(work.groupby("trip", sort=False)))
    for tid in order:
        g = groups[tid].sort_values("t", kind="stable").drop_duplicates("t", keep="first")
        meta = {c: str(df[c].iloc[int(g["row"].iloc[-1])]) for c in extra}
        trips.append(Trip(str(tid), g["t"].to_numpy(), g["lat"].to_numpy(), g["lon"].to_numpy(),
                          str(g["veh"].iloc[0]) or None, str(g["lane"].iloc[0]) or None, meta))
    return trips


def load_gpx(path: str | Path) -> list[Trip]:
    """Trips from a GPX file: one trip per track (its segments joined), else one per route.
    Every point must carry a time."""
    import gpxpy
    import gpxpy.gpx

    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    try:
        with p.open(encoding="utf-8") as fh:
            gpx = gpxpy.parse(fh)
    except (gpxpy.gpx.GPXException, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: not a valid GPX file ({exc})") from exc
    tracks: list[tuple[str, list]] = []
    for i, trk in enumerate(gpx.tracks):
        pts = [pt for seg in trk.segments for pt in seg.points]
        tracks.append((trk.name or f"track-{i + 1}", pts))
    if not tracks:
        tracks = [(r.name or f"route-{i + 1}", list(r.points)) for i, r in enumerate(gpx.routes)]
    trips: list[Trip] = []
    for name, pts in tracks:
        if not pts:
            continue
        missing = [k for k, pt in enumerate(pts) if pt.time is None]
        if missing:
            raise DataError(f"{p}: track {name!r} has {len(missing)} point(s) without a time, first is "
                            f"point {missing[0] + 1}; a trip needs timestamps")
        t = np.array([pd.Timestamp(pt.time).tz_localize("UTC").timestamp() if pd.Timestamp(pt.time).tzinfo
                      is None else pd.Timestamp(pt.time).timestamp() for pt in pts])
        lat = np.array([pt.latitude for pt in pts], dtype=float)
        lon = np.array([pt.longitude for pt in pts], dtype=float)
        order = np.argsort(t, kind="stable")
        t, lat, lon = t[order], lat[order], lon[order]
        keep = np.concatenate([[True], np.diff(t) > 0])
        trips.append(Trip(str(name), t[keep], lat[keep], lon[keep]))
    if not trips:
        raise DataError(f"{p}: no track or route points in the GPX file")
    return trips


def load_trips(path: str | Path, fmt: str | None = None, **csv_options: object) -> list[Trip]:
    """Dispatch on ``fmt`` ("csv" or "gpx"), else on the file's suffix."""
    kind = (fmt or Path(path).suffix.lstrip(".")).lower()
    if kind == "gpx":
        return load_gpx(path)
    if kind in ("csv", "txt"):
        return load_trips_csv(path, **csv_options)  # type: ignore[arg-type]
    raise DataError(f"{path}: unknown trip file format {kind!r} (use csv or gpx)")


def generate_trips(
    route_points: list[tuple[float, float]],
    *,
    n_trips: int = 12,
    seed: int | np.random.Generator = 0,
    speeds_mps: list[tuple[float, float]] | None = None,
    stops: list[tuple[float, float]] | None = None,
    origin_dwell_s: float = 120.0,
    ping_s: float = 20.0,
    noise_m: float = 5.0,
    pace_cv: float = 0.1,
    first_departure: float = 1_767_600_000.0,
    headway_s: float = 900.0,
    silent_after_m: dict[int, float] | None = None,
    start_at_m: dict[int, float] | None = None,
) -> list[Trip]:
    """Synthetic trips along a route with known physics, for tests and demos.

    ``speeds_mps`` is a list of ``(from_m, speed)`` pieces (speed from that distance on); ``stops``
    lists ``(at_m, dwell_s)``; each trip waits ``origin_dwell_s`` at the origin, then runs the
    pieces at its own pace factor (lognormal, ``pace_cv``) with the stops' dwells scaled likewise.
    ``silent_after_m[i]`` makes trip i's tracker fall silent past that distance (no observed end);
    ``start_at_m[i]`` makes trip i first seen at that distance. Fixes get Gaussian noise of
    ``noise_m`` metres.
    """
    from .geo import EARTH_RADIUS_M, Route

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    route = Route.from_points(route_points)
    pieces = sorted(speeds_mps or [(0.0, 8.0)])
    if pieces[0][0] != 0 or any(v <= 0 for _, v in pieces):
        raise ParameterError("speeds_mps must start at 0 m and have positive speeds")
    stop_list = sorted(stops or [])
    length = route.length_m
    # time to reach each of a fine grid of distances at unit pace, stops included
    grid = np.linspace(0.0, length, 2001)
    idx = np.searchsorted([p[0] for p in pieces], grid, side="right") - 1
    v = np.array([pieces[i][1] for i in idx])
    dt = np.diff(grid) / v[:-1]
    t_move = np.concatenate([[0.0], np.cumsum(dt)])
    trips = []
    for k in range(n_trips):
        pace = float(rng.lognormal(0.0, pace_cv))
        knots_s, knots_t = [0.0], [0.0]
        t_extra = origin_dwell_s * float(rng.uniform(0.5, 1.5))
        knots_s.append(0.0)
        knots_t.append(t_extra)
        for at, dwell in stop_list:
            t_at = float(np.interp(at, grid, t_move)) * pace + t_extra
            knots_s += [at, at]
            t_extra += dwell * pace * float(rng.uniform(0.7, 1.3))
            knots_t += [t_at, float(np.interp(at, grid, t_move)) * pace + t_extra]
        knots_s.append(length)
        knots_t.append(float(t_move[-1]) * pace + t_extra)
        # between knots progress follows the unit-pace profile
        t_end = knots_t[-1] + 120.0
        tt = np.arange(0.0, t_end, ping_s) + float(rng.uniform(0, ping_s))
        s = np.empty(tt.size)
        for i, ti in enumerate(tt):
            j = int(np.searchsorted(knots_t, ti, side="right")) - 1
            j = min(max(j, 0), len(knots_t) - 2)
            if knots_s[j] == knots_s[j + 1] or ti >= knots_t[-1]:
                s[i] = knots_s[j + 1] if ti >= knots_t[-1] else knots_s[j]
            else:  # moving: invert the unit-pace time at the local offset
                base = float(np.interp(knots_s[j], grid, t_move))
                s[i] = float(np.interp(base + (ti - knots_t[j]) / pace, t_move, grid))
        keep = np.ones(tt.size, dtype=bool)
        if silent_after_m and k in silent_after_m:
            keep &= s <= silent_after_m[k]
        if start_at_m and k in start_at_m:
            keep &= s >= start_at_m[k]
        tt, s = tt[keep], s[keep]
        lat, lon = route.point_at(s)
        k_m = np.pi / 180 * EARTH_RADIUS_M
        lat = lat + rng.normal(0, noise_m, lat.size) / k_m
        lon = lon + rng.normal(0, noise_m, lon.size) / (k_m * np.cos(np.radians(lat)))
        t0 = first_departure + k * headway_s
        trips.append(Trip(f"T{k + 1:03d}", t0 + tt, lat, lon, vehicle_id=f"V{k % 4 + 1}", lane="L1"))
    return trips
