"""Where the trucks are, in the live loop: geofence arrivals and departures, long dwells, detours.

:class:`GeoWatch` follows every GPS fix (``Position`` events) per asset, streaming the primitives of
:mod:`supplynet.sense.eta.geo`:

- **geofences**: a circle of ``radius_m`` around every site of the network; the first fix inside is
  a ``geofence_arrival``, the first fix beyond ``radius_m * exit_factor`` after it a
  ``geofence_departure`` (hysteresis against jitter at the edge);
- **dwell**: fixes staying within ``dwell_radius_m`` of where a stop began for longer than
  ``dwell_s``, away from any site, raise one ``long_dwell`` alert per stop (a truck standing at a
  depot is not dwelling, it is home);
- **route deviation**: a shipment's fixes more than ``deviation_m`` off its lane's declared route
  (``Lane.route`` in the network file) for ``deviation_fixes`` fixes in a row raise one
  ``route_deviation`` alert per detour. A lane without a declared route is not checked: the straight
  line between two sites is no road, and leaving it is no detour.

Arrivals and departures are info, dwells and detours warnings. Every alert has a stable sequence
number (:mod:`._alerts`): a loop folding the log again writes none twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParameterError
from ..events import EventBase, Position
from ..sense.eta.geo import EARTH_RADIUS_M, Route, haversine_m
from ._alerts import AlertOutbox

if TYPE_CHECKING:
    from ..model import Network
    from ..store import Store

__all__ = ["GEO_SOURCE", "GeoWatch"]

GEO_SOURCE = "supplynet.geo"


@dataclass
class _Track:
    site: str | None = None  # inside this site's fence
    anchor: tuple[float, float, float] | None = None  # (lat, lon, t) where the current stop began
    anchor_event: str = ""
    dwell_reported: bool = False
    off_route: int = 0  # consecutive fixes off the route
    detour_reported: bool = False
    last_t: float = -np.inf


def _hav(p1: float, l1: float, c1: float, p2: float, l2: float, c2: float) -> float:
    """:func:`~supplynet.sense.eta.geo.haversine_m` on one pair of points in radians (with their latitudes'
    cosines), in plain floats."""
    a = math.sin((p2 - p1) / 2) ** 2 + c1 * c2 * math.sin((l2 - l1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    return _hav(p1, math.radians(lon1), math.cos(p1), p2, math.radians(lon2), math.cos(p2))


class GeoWatch:
    """Geofence, dwell and route-deviation alerts from GPS fixes."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"position"})
    #: the sites as (lat, lon, cos lat) in radians when there are few (a state saved before has none: numpy)
    _few: list[tuple[float, float, float]] | None = None

    def __init__(self, network: Network, *, store: Store | None = None, radius_m: float = 300.0,
                 exit_factor: float = 1.25, dwell_s: float = 3 * 3600.0, dwell_radius_m: float = 150.0,
                 deviation_m: float = 5_000.0, deviation_fixes: int = 3):
        if radius_m <= 0 or exit_factor < 1 or dwell_s <= 0 or dwell_radius_m <= 0 or deviation_m <= 0 \
                or deviation_fixes < 1:
            raise ParameterError("GeoWatch: radius_m, dwell_s, dwell_radius_m, deviation_m must be > 0, "
                                 "exit_factor >= 1 and deviation_fixes >= 1")
        self.network = network
        self.store = store
        self.radius_m, self.exit_m = float(radius_m), float(radius_m * exit_factor)
        self.dwell_s, self.dwell_radius_m = float(dwell_s), float(dwell_radius_m)
        self.deviation_m, self.deviation_fixes = float(deviation_m), int(deviation_fixes)
        sites = list(network.sites)
        self._site_ids = [s.id for s in sites]
        self._lat = np.array([s.location.lat for s in sites], dtype=float)
        self._lon = np.array([s.location.lon for s in sites], dtype=float)
        # a few sites: plain floats beat numpy's per-call overhead on every fix (same formula as haversine_m)
        self._few = [(math.radians(la), math.radians(lo), math.cos(math.radians(la)))
                     for la, lo in zip(self._lat.tolist(), self._lon.tolist(), strict=True)] if len(sites) <= 64 else None
        self._routes: dict[str, Route | None] = {}
        self.tracks: dict[str, _Track] = {}
        self.alerts = AlertOutbox(GEO_SOURCE)

    def _route(self, twin: Any, shipment_id: str | None) -> Route | None:
        sh = twin.state.shipments.get(shipment_id) if shipment_id else None
        if sh is None or sh.lane_id is None or sh.delivered_at is not None:
            return None
        if sh.lane_id not in self._routes:
            try:
                declared = self.network.lane(sh.lane_id).route
            except Exception:  # noqa: BLE001 - a lane the network does not know: no route to deviate from
                declared = None
            self._routes[sh.lane_id] = Route.from_points([tuple(p) for p in declared]) if declared else None
        return self._routes[sh.lane_id]

    def observe(self, event: EventBase, twin: Any) -> None:
        if not isinstance(event, Position):
            return
        tr = self.tracks.setdefault(event.asset_id, _Track())
        t = event.ts.timestamp()
        if t < tr.last_t:  # a late fix says nothing about where the asset is now
            return
        tr.last_t = t
        subject = event.asset_id
        data = {"asset_id": event.asset_id, "shipment_id": event.shipment_id, "lat": event.lat, "lon": event.lon}
        # geofences
        if self._few is not None:
            p1, l1 = math.radians(event.lat), math.radians(event.lon)
            c1 = math.cos(p1)
            if tr.site is not None:
                k = self._site_ids.index(tr.site)
                if _hav(p1, l1, c1, *self._few[k]) > self.exit_m:
                    self.alerts.add(code="geofence_departure", subject=subject, ts=event.ts, key=event.event_id,
                                    severity="info", message=f"{subject} left {tr.site}",
                                    data={**data, "site": tr.site})
                    tr.site = None
            if tr.site is None:
                # a great-circle distance is at least R * |difference of latitudes|: only the sites that pass
                # this bound can be within the fence, and the nearest of them is the nearest site then
                near_lat = self.radius_m / EARTH_RADIUS_M * (1 + 1e-9)
                best, nearest = math.inf, -1
                for i, (p2, l2, c2) in enumerate(self._few):
                    if abs(p2 - p1) <= near_lat:
                        dist = _hav(p1, l1, c1, p2, l2, c2)
                        if dist < best:
                            best, nearest = dist, i
                if nearest >= 0 and best <= self.radius_m:
                    tr.site = self._site_ids[nearest]
                    self.alerts.add(code="geofence_arrival", subject=subject, ts=event.ts, key=event.event_id,
                                    severity="info", message=f"{subject} arrived at {tr.site}",
                                    data={**data, "site": tr.site})
        else:
            self._fences(event, tr, subject, data)
        self._dwell_and_route(event, tr, t, subject, data, twin)

    def _fences(self, event: Position, tr: _Track, subject: str, data: dict[str, Any]) -> None:
        """Geofence arrival and departure against many sites at once (numpy)."""
        d = haversine_m(event.lat, event.lon, self._lat, self._lon)
        nearest = int(np.argmin(d)) if d.size else -1
        if tr.site is not None:
            k = self._site_ids.index(tr.site)
            if d[k] > self.exit_m:
                self.alerts.add(code="geofence_departure", subject=subject, ts=event.ts, key=event.event_id,
                                severity="info", message=f"{subject} left {tr.site}", data={**data, "site": tr.site})
                tr.site = None
        if tr.site is None and nearest >= 0 and d[nearest] <= self.radius_m:
            tr.site = self._site_ids[nearest]
            self.alerts.add(code="geofence_arrival", subject=subject, ts=event.ts, key=event.event_id,
                            severity="info", message=f"{subject} arrived at {tr.site}", data={**data, "site": tr.site})

    def _dwell_and_route(self, event: Position, tr: _Track, t: float, subject: str, data: dict[str, Any],
                         twin: Any) -> None:
        # dwell away from any site
        if tr.anchor is None or _distance_m(tr.anchor[0], tr.anchor[1], event.lat, event.lon) > self.dwell_radius_m:
            tr.anchor, tr.anchor_event, tr.dwell_reported = (event.lat, event.lon, t), event.event_id, False
        elif tr.site is None and not tr.dwell_reported and t - tr.anchor[2] >= self.dwell_s:
            tr.dwell_reported = True
            hours = (t - tr.anchor[2]) / 3600
            self.alerts.add(code="long_dwell", subject=subject, ts=event.ts, key=tr.anchor_event, severity="warning",
                            message=f"{subject} has stood {hours:.1f} h away from any site",
                            data={**data, "since": datetime.fromtimestamp(tr.anchor[2], event.ts.tzinfo).isoformat(),
                                  "hours": round(hours, 2)})
        # route deviation
        route = self._route(twin, event.shipment_id)
        if route is None:
            tr.off_route, tr.detour_reported = 0, False
            return
        off = float(route.project([event.lat], [event.lon], monotone=False).cross_track_m[0])
        if off <= self.deviation_m:
            tr.off_route, tr.detour_reported = 0, False
            return
        tr.off_route += 1
        if tr.off_route >= self.deviation_fixes and not tr.detour_reported:
            tr.detour_reported = True
            self.alerts.add(code="route_deviation", subject=event.shipment_id or subject, ts=event.ts,
                            key=event.event_id, severity="warning",
                            message=f"{subject} is {off / 1000:.1f} km off its lane's route",
                            data={**data, "off_route_m": round(off, 1)})

    def decide(self, twin: Any, now: datetime) -> list[Any]:
        """Write the alerts found since the last call; geofence findings make no decision by themselves."""
        self.alerts.flush(self.store)
        return []

    def propose(self, twin: Any, now: datetime) -> tuple[list[Any], list[Any]]:
        """No decisions; the alerts found since the last call, for the caller to record."""
        return [], self.alerts.drain()
