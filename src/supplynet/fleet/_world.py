"""The physical world a fleet lives in: real stock, real trucks, machines that really wear.

The platform never reads this state; it sees only what the devices and site systems report. Orders
the platform releases are handed to :meth:`World.place`, and the world fulfils them: the origin
ships what it has along the lane, a truck carries it (its tracker pinging), the destination's
system reports the delivery.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ..events import (
    Condition,
    Line,
    MachineReading,
    Maintenance,
    OrderEvent,
    Position,
    Production,
    Sale,
    ShipmentStatus,
    StockCount,
)
from ._disrupt import apply_jams, end_jam, jam, trip_fraction
from ._emit import Emitter
from ._sources import (
    GeneratedDemand,
    GeneratedWear,
    fit_trace_to_lane,
    interpolate_route,
    position_at,
    route_for,
)

__all__ = ["Trip", "World"]

HOUR = timedelta(hours=1)
CLOSING_HOUR = 22  # stores close and upload the day's sales and shelf counts
ZERO_C = 273.15


@dataclass
class Trip:
    shipment_id: str
    lane: Any
    lines: list[tuple[str, float, str | None]]
    depart: datetime
    arrive: datetime
    promised: datetime
    route: np.ndarray
    truck: str | None = None
    tracker: str | None = None
    logger: str | None = None
    next_ping: datetime | None = None
    trace: np.ndarray | None = None  # a real trip fitted onto the lane: (lat, lon, time fraction)
    last_fix: tuple[float, float] | None = None


@dataclass
class _Machine:
    asset: Any
    source: Any
    sensor_device: str
    interval: timedelta
    next_reading: datetime
    down_until: datetime | None = None
    failures: int = 0
    maintenance_at: datetime | None = None  # a work order's planned start
    work_order: str | None = None
    down_reason: str = ""  # "preventive" or "failure" while down
    maintenance_hours: float = 4.0


@dataclass
class _Backlog:
    order_id: str
    origin: str
    site: str
    sku: str
    quantity: float
    lane: Any


@dataclass(frozen=True)
class _SpotLane:
    """A haul with no lane in the network (a spot carrier): just its two ends."""

    origin: str
    destination: str
    id: None = None


@dataclass
class WorldStats:
    demand: float = 0.0
    sold: float = 0.0
    unfilled: float = 0.0
    shipments: int = 0
    delivered: int = 0
    produced: float = 0.0
    failures: int = 0
    preventive: int = 0
    shrink: float = 0.0
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(min(1.0, math.sqrt(h)))


class World:
    """Ground truth of a network, advanced hour by hour (``step``), reporting through ``emitter``."""

    jam = jam  # world.jam(lane_id, at, hours): the next trip on the lane stands still (see _disrupt.py)

    def __init__(self, network: Any, rng: np.random.Generator, start: datetime, *, cover_days: float = 12.0,
                 demand: Any | None = None, machine_source: Any | None = None, shrink_rate: float = 0.002,
                 emitter: Emitter | None = None, traces: list[np.ndarray] | None = None,
                 produce_to_plan: bool = False):
        self.net = network
        #: plants make only what open orders and the plan's finished-goods level need (else at their rate;
        #: see :meth:`_produce`)
        self.produce_to_plan = produce_to_plan
        self.rng = rng
        self.t = start
        self.start = start
        self.emitter = emitter or Emitter()
        self.shrink_rate = shrink_rate
        self.traces = traces or []
        self._trace_no = 0
        # demand draws from its own stream: what the platform decides (and so the trips, pings and shrinkage
        # drawn from ``rng``) never changes the customers, so two policies on one seed meet the same demand
        self.demand = demand or GeneratedDemand(network, np.random.default_rng(rng.integers(2**63)))
        self.kind = {s.id: s.kind for s in network.sites}
        self.sites = {s.id: s for s in network.sites}
        self.stock: dict[tuple[str, str], float] = defaultdict(float)
        self.backlog: list[_Backlog] = []
        self.trips: list[Trip] = []
        self.stats = WorldStats()
        #: the loads moved sooner by an executed expedite or reroute: shipment, option, arrival before and after
        self.expedited: list[dict[str, Any]] = []
        self._ship_no = 0
        self._devices_by_asset: dict[str, list[Any]] = defaultdict(list)
        self._devices_by_site: dict[str, list[Any]] = defaultdict(list)
        for d in network.devices:
            if d.bound_to.asset:
                self._devices_by_asset[d.bound_to.asset].append(d)
            if d.bound_to.site:
                self._devices_by_site[d.bound_to.site].append(d)
        self.trucks_by_lane: dict[str, list[str]] = defaultdict(list)
        self.truck_free: dict[str, datetime] = {}
        for a in network.assets:
            if a.kind in ("truck", "reefer"):
                self.trucks_by_lane[getattr(a, "lane", None) or ""].append(a.id)
                self.truck_free[a.id] = start
        self.machines: dict[str, _Machine] = {}
        for i, a in enumerate(a for a in network.assets if a.kind == "machine"):
            dev = self._device(a.id, ("machine_sensor", "vibration_sensor"))
            src = machine_source(i) if machine_source else GeneratedWear(np.random.default_rng(rng.integers(2**32)))
            interval = timedelta(seconds=max(dev.report_interval_s if dev else 3600.0, 3600.0))
            self.machines[a.id] = _Machine(a, src, dev.id if dev else f"mc-{a.id}", interval, start)
        self._initial_stock(cover_days)
        #: open production orders per (plant, sku) (:meth:`make`); a line that has had one makes only to them
        self.make_orders: dict[tuple[str, str], list[_Backlog]] = defaultdict(list)
        self.planned: set[tuple[str, str]] = set()
        #: the production plan's finished-goods level per (plant, sku): the opening stock (see :meth:`_produce`)
        self.plan_level: dict[tuple[str, str], float] = {
            (b.plant, b.output_sku): float(self.stock.get((b.plant, b.output_sku), 0.0)) for b in network.boms}

    # -- set-up ------------------------------------------------------------------------------------
    def _device(self, asset: str, kinds: tuple[str, ...]) -> Any | None:
        return next((d for d in self._devices_by_asset.get(asset, []) if d.kind in kinds), None)

    def _site_device(self, site: str, kind: str) -> str:
        d = next((d for d in self._devices_by_site.get(site, []) if d.kind == kind), None)
        return d.id if d else f"{kind}-{site}"

    def _counter(self, site: str) -> Any | None:
        return next((d for d in self._devices_by_site.get(site, []) if d.kind in ("shelf_sensor", "rfid_reader")),
                    None)

    def _initial_stock(self, cover_days: float) -> None:
        """Stores hold ``cover_days`` of their demand; upstream sites what flows through them."""
        flow: dict[tuple[str, str], float] = defaultdict(float)
        for d in self.net.demand:
            flow[(d.site, d.sku)] += d.mean_per_day
        for _ in range(4):  # push expected demand up the lanes a few echelons
            for lane in self.net.lanes:
                if self.kind.get(lane.origin) == "supplier":
                    continue
                for (site, sku), q in list(flow.items()):
                    if site == lane.destination and (not lane.skus or sku in lane.skus):
                        n_in = max(len([ln for ln in self.net.lanes if ln.destination == site
                                        and (not ln.skus or sku in ln.skus)]), 1)
                        flow[(lane.origin, sku)] = max(flow[(lane.origin, sku)], 0.0) + q / n_in / 4
        for bom in self.net.boms:
            q = flow.get((bom.plant, bom.output_sku), 0.0)
            for c in bom.components:
                flow[(bom.plant, c.sku)] += q * c.quantity
        for (site, sku), q in flow.items():
            if self.kind.get(site) != "supplier":
                self.stock[(site, sku)] = float(math.ceil(q * cover_days))

    def initial_counts(self) -> None:
        """Report the opening stock as authoritative counts (a stock-take before go-live)."""
        for (site, sku), q in sorted(self.stock.items()):
            self._emit(StockCount, f"wms-{site}", site=site, sku=sku, quantity=q, method="manual")

    # -- orders from the platform --------------------------------------------------------------------
    def place(self, order: OrderEvent) -> None:
        """Fulfil a released order: its origin ships along its lane as stock allows."""
        lane = self.net.lane(order.lane_id) if order.lane_id else self._lane(order.origin, order.site, order.sku)
        if lane is None:
            return
        self.backlog.append(_Backlog(order.order_id, lane.origin, order.site, order.sku, order.quantity, lane))

    def make(self, order: Any) -> bool:
        """A production order (the plant's MES): at the day's close the plant makes up to ``quantity`` of
        ``sku`` (at most the line's rate, components and machines allowing) and closes the order; from the
        first one on, that line makes only what production orders ask. False: the plant has no such line."""
        key = (order.site, order.sku)
        if not any((b.plant, b.output_sku) == key for b in self.net.boms):
            return False
        self.planned.add(key)
        self.make_orders[key].append(_Backlog(order.order_id, order.site, order.site, order.sku, order.quantity, None))
        return True

    def _lane(self, origin: str | None, dest: str, sku: str) -> Any | None:
        cands = [ln for ln in self.net.lanes if ln.destination == dest and (origin is None or ln.origin == origin)
                 and (not ln.skus or sku in ln.skus)]
        return min(cands, key=lambda ln: ln.cost_per_unit) if cands else None

    def maintain(self, asset_id: str, at: datetime | None = None, work_order: str | None = None,
                 hours: float = 4.0) -> None:
        """A work order: at ``at`` (default now) the machine stops for ``hours`` of preventive
        maintenance and comes back renewed (its wear starts again)."""
        m = self.machines.get(asset_id)
        if m is not None:
            m.maintenance_at = at or self.t
            m.work_order = work_order
            m.maintenance_hours = hours

    def reroute(self, data: dict[str, Any], at: datetime | None = None) -> str | None:
        """Carry out an executed answer to a late shipment (the ``data`` of a ``reroute`` alert, see
        :class:`~supplynet.decide.decision.RerouteAction`); returns what the world did (None: nothing).

        ``expedite`` and ``reroute`` move the same load: it leaves the jam (another road, or an express
        carrier takes it over) and arrives ``arrival_days`` after ``at`` if that is sooner. ``transfer``
        and ``alt_supplier`` send ``lines`` from ``origin`` to the destination as a new shipment (stock
        allowing at a site; a supplier always ships), arriving ``arrival_days`` after ``at``; the late
        load still arrives too. ``wait`` changes nothing."""
        at = at or self.t
        option, days = data.get("option"), data.get("arrival_days")
        if option in (None, "wait") or days is None:
            return None
        arrive = at + timedelta(days=max(float(days), 0.0))
        sid = data.get("shipment_id") or data.get("subject")
        if option in ("expedite", "reroute") and data.get("moves_load") is False:
            return self._send_ahead(data, sid, option, at, arrive)
        if option in ("expedite", "reroute"):
            trip = next((t for t in self.trips if t.shipment_id == sid), None)
            if trip is None or arrive >= trip.arrive:
                return None
            before = trip.arrive
            end_jam(self, sid, at)  # the load is moving again
            trip.arrive = max(arrive, at)
            self.expedited.append({"shipment_id": sid, "option": option, "lane_id": trip.lane.id, "at": at,
                                   "arrival_waiting": before, "arrival": trip.arrive,
                                   "gain_hours": (before - trip.arrive).total_seconds() / 3600.0})
            if trip.truck is not None and trip.truck in self.truck_free:
                self.truck_free[trip.truck] = trip.arrive
            return f"{option}: {sid} now arrives {trip.arrive.isoformat()}"
        if option not in ("transfer", "alt_supplier") or (sent := self._send(data, at, arrive)) is None:
            return None
        return f"{option}: {sent[0]} from {data['origin']} for {sid}, arrives {arrive.isoformat()}"

    def _send_ahead(self, data: dict[str, Any], sid: Any, option: str, at: datetime, arrive: datetime) -> str | None:
        """An expedite or reroute that sends ``lines`` again from ``origin`` (an express truck, another path)
        while the late load comes on: stock allowing, a new shipment arriving at ``arrive``; recorded in
        :attr:`expedited` with how much sooner than the late load its goods arrive (negative: later; the late
        load already in: against the time it is carried out)."""
        if (sent := self._send(data, at, arrive)) is None:
            return None
        new_sid, lines = sent
        trip = next((t for t in self.trips if t.shipment_id == sid), None)
        before = trip.arrive if trip is not None else at
        self.expedited.append({"shipment_id": sid, "option": option, "lane_id": data.get("from_lane"), "at": at,
                               "arrival_waiting": before, "arrival": arrive, "sent": new_sid,
                               "units": float(sum(q for _, q, _ in lines)),
                               "gain_hours": (before - arrive).total_seconds() / 3600.0})
        return f"{option}: {new_sid} from {data['origin']} ahead of {sid}, arrives {arrive.isoformat()}"

    def _send(self, data: dict[str, Any], at: datetime, arrive: datetime) -> tuple[Any, list[Any]] | None:
        """Ship ``data``'s ``lines`` from its ``origin`` to its ``destination`` now, arriving at ``arrive`` (on the
        lane between them, else a spot haul), as far as the origin's stock allows: the new shipment's id and its
        lines, or None (an unknown site, nothing to send)."""
        origin, dest = data.get("origin"), data.get("destination")
        if origin not in self.sites or dest not in self.sites:
            return None
        lines = [(sku, q, None) for sku, qty in data.get("lines") or () if (q := self._take(origin, sku, float(qty))) > 0]
        if not lines:
            return None
        lane = self._lane(origin, dest, lines[0][0]) or _SpotLane(origin, dest)
        return self._depart(lane, lines, at, arrive=arrive), lines

    def _take(self, origin: str, sku: str, qty: float) -> float:
        """Take up to ``qty`` of ``sku`` from ``origin``'s stock (a supplier always has it); returns it."""
        if self.kind.get(origin) == "supplier":
            return qty
        q = min(qty, max(self.stock[(origin, sku)], 0.0))
        if q > 0:
            self.stock[(origin, sku)] -= q
        return q

    # -- the clock -----------------------------------------------------------------------------------
    def step(self) -> datetime:
        """Advance one hour; events land in ``emitter``."""
        t0, t1 = self.t, self.t + HOUR
        self._dispatch(t0)
        self._move(t0, t1)
        self._machines(t0, t1)
        if t1.hour == CLOSING_HOUR:
            self._end_of_day(t1)
        self.t = t1
        return t1

    def _emit(self, cls: Any, source: str, **kw: Any) -> None:
        kw.setdefault("ts", self.t)
        self.emitter.emit(cls, source, **kw)
        self.stats.by_kind[cls.model_fields["kind"].default] += 1

    def _dispatch(self, now: datetime) -> None:
        by_lane: dict[str, list[_Backlog]] = defaultdict(list)
        keep = []
        for b in self.backlog:
            qty = self._take(b.origin, b.sku, b.quantity)
            if qty <= 0:
                keep.append(b)
                continue
            by_lane[b.lane.id].append(_Backlog(b.order_id, b.origin, b.site, b.sku, qty, b.lane))
            if qty < b.quantity:
                keep.append(_Backlog(b.order_id, b.origin, b.site, b.sku, b.quantity - qty, b.lane))
        self.backlog = keep
        for lines in by_lane.values():
            self._depart(lines[0].lane, [(b.sku, b.quantity, b.order_id) for b in lines], now)

    def _depart(self, lane: Any, lines: list[tuple[str, float, str | None]], now: datetime,
                arrive: datetime | None = None) -> str:
        """A shipment leaves ``now``: arriving after the lane's sampled lead time, or at ``arrive``
        (promised then too: an expedited haul); returns its id."""
        self._ship_no += 1
        sid = f"SH{self._ship_no:06d}"
        if arrive is None:
            lt_days = float(np.maximum(lane.lead_time.sample(self.rng, 1)[0], 1 / 24))
            arrive = now + timedelta(days=lt_days)
            promised = now + timedelta(days=float(lane.lead_time.mean) + 0.5)
        else:
            promised = arrive
        truck = next((a for a in self.trucks_by_lane.get(lane.id, []) if self.truck_free[a] <= now), None)
        tracker = logger = None
        if truck:
            self.truck_free[truck] = arrive
            tr = self._device(truck, ("gps_tracker",))
            lg = self._device(truck, ("temperature_logger",))
            tracker, logger = (tr.id if tr else None), (lg.id if lg else None)
        route = route_for(lane, self.sites[lane.origin], self.sites[lane.destination])
        trip = Trip(sid, lane, lines, now, arrive, promised, route, truck, tracker, logger, now)
        if tracker and self.traces:  # replay a real trip's path and stop-and-go onto this lane
            trace = self.traces[self._trace_no % len(self.traces)]
            self._trace_no += 1
            trip.trace = fit_trace_to_lane(trace, tuple(route[0]), tuple(route[-1]))
        self.trips.append(trip)
        self.stats.shipments += 1
        self._emit(ShipmentStatus, f"wms-{lane.origin}", ts=now, shipment_id=sid, status="departed", lane_id=lane.id,
                   origin=lane.origin, destination=lane.destination, asset_id=truck,
                   lines=tuple(Line(sku=s, quantity=q, order_id=o) for s, q, o in lines), promised_at=promised)
        return sid

    def _move(self, t0: datetime, t1: datetime) -> None:
        still = []
        for trip in self.trips:
            apply_jams(self, trip, t1)
            if trip.tracker or trip.logger:
                self._ping(trip, t0, t1)
            if trip.arrive < t1:
                self._arrive(trip)
            else:
                still.append(trip)
        self.trips = still

    def _ping(self, trip: Trip, t0: datetime, t1: datetime) -> None:
        interval = timedelta(minutes=15)
        while trip.next_ping is not None and trip.next_ping < min(t1, trip.arrive):
            at = trip.next_ping
            frac = trip_fraction(self, trip, at)
            lat, lon = (position_at(trip.trace, frac) if trip.trace is not None
                        else interpolate_route(trip.route, frac))
            if trip.tracker:
                # speed from the distance moved since the last fix (a truck standing in a jam reads ~0)
                prev = trip.last_fix or (lat, lon)
                speed = _haversine_m(prev, (lat, lon)) / interval.total_seconds()
                trip.last_fix = (lat, lon)
                self._emit(Position, trip.tracker, ts=at, asset_id=trip.truck, shipment_id=trip.shipment_id,
                           lat=lat + float(self.rng.normal(0, 2e-5)), lon=lon + float(self.rng.normal(0, 2e-5)),
                           speed_m_s=round(speed, 2))
            if trip.logger:
                excursion = 6.0 if self.rng.random() < 0.01 else 0.0
                self._emit(Condition, trip.logger, ts=at, asset_id=trip.truck, shipment_id=trip.shipment_id,
                           temperature_k=ZERO_C + 4.0 + excursion + float(self.rng.normal(0, 0.4)),
                           humidity=float(np.clip(self.rng.normal(0.85, 0.03), 0, 1)))
            trip.next_ping = at + interval

    def _arrive(self, trip: Trip) -> None:
        dest = trip.lane.destination
        for sku, q, _ in trip.lines:
            self.stock[(dest, sku)] += q
        self.stats.delivered += 1
        self._emit(ShipmentStatus, f"wms-{dest}", ts=trip.arrive, shipment_id=trip.shipment_id, status="delivered",
                   lane_id=trip.lane.id, origin=trip.lane.origin, destination=dest, asset_id=trip.truck)

    def _machines(self, t0: datetime, t1: datetime) -> None:
        for m in self.machines.values():
            if m.down_until is None and m.maintenance_at is not None and m.maintenance_at < t1:
                self.stats.preventive += 1
                m.down_until = max(m.maintenance_at, t0) + timedelta(hours=m.maintenance_hours)
                m.down_reason = "preventive"
                self._emit(Maintenance, f"cmms-{m.asset.site}", asset_id=m.asset.id, action="started",
                           work_order_id=m.work_order, detail="preventive maintenance")
                m.maintenance_at = None
            if m.down_until is not None:
                if t1 < m.down_until:
                    continue
                m.down_until = None
                m.source.reset()
                self._emit(Maintenance, f"cmms-{m.asset.site}", asset_id=m.asset.id, action="completed",
                           work_order_id=m.work_order if m.down_reason == "preventive" else None,
                           detail="preventive maintenance done" if m.down_reason == "preventive"
                           else "repaired after failure")
                m.work_order, m.down_reason = None, ""
                m.next_reading = max(m.next_reading, t1)
            while m.next_reading < t1:
                settings, sensors, failed = m.source.next()
                self._emit(MachineReading, m.sensor_device, ts=m.next_reading, asset_id=m.asset.id,
                           cycle=int(getattr(m.source, "cycle", 0)), settings=settings, sensors=sensors)
                m.next_reading += m.interval
                if failed:
                    m.failures += 1
                    self.stats.failures += 1
                    repair = float(m.asset.repair_time_days) if hasattr(m.asset, "repair_time_days") else \
                        max(float(getattr(m.asset, "maintenance_lead_time_days", 0) or 0), 1.0) + 2.0
                    m.down_until = m.next_reading + timedelta(days=repair)
                    m.down_reason, m.maintenance_at = "failure", None
                    self._emit(Maintenance, m.sensor_device, ts=m.next_reading, asset_id=m.asset.id,
                               action="failure", detail="machine stopped")
                    break

    def _end_of_day(self, now: datetime) -> None:
        day_index = (now - self.start).days
        for (site, sku), want in self.demand.day(day_index).items():
            have = max(self.stock[(site, sku)], 0.0)
            sold = min(want, have)
            self.stock[(site, sku)] = have - sold
            self.stats.demand += want
            self.stats.sold += sold
            self.stats.unfilled += want - sold
            if want > 0:
                self._emit(Sale, self._site_device(site, "pos_terminal"), site=site, sku=sku, quantity=sold,
                           unfilled=want - sold, unit_price=self.net.product(sku).price)
            # shrinkage: a few units vanish without a sale; shelf sensors see it, the book does not
            lost = float(self.rng.binomial(int(self.stock[(site, sku)]), self.shrink_rate))
            self.stock[(site, sku)] -= lost
            self.stats.shrink += lost
            counter = self._counter(site)
            if counter is not None:
                self._emit(StockCount, counter.id, site=site, sku=sku, quantity=max(self.stock[(site, sku)], 0.0),
                           method="rfid" if counter.kind == "rfid_reader" else "shelf")
        self._produce(now)

    def _produce(self, now: datetime) -> None:
        """A day's production: each BOM makes, components and machines allowing, its rate; a line that has
        production orders (:meth:`make`) makes what they ask (up to its rate) and closes them (the MES reports
        each order received, or cancelled when nothing could be made); with :attr:`produce_to_plan`, only
        what its plant's open orders need plus what restores the planned finished-goods level
        (:attr:`plan_level`), up to its rate. Producing to plan is opt-in: on the realistic 21-day demo (seed
        7) it kept the plants' stock down (4.7x -> 2.4x) but the stores went short (fill 98.9% -> 96.8%), as
        the plan level (the opening stock) does not cover the DCs' orders."""
        open_orders: dict[tuple[str, str], float] = defaultdict(float)
        for b in self.backlog:
            open_orders[(b.origin, b.sku)] += b.quantity
        for bom in self.net.boms:
            key = (bom.plant, bom.output_sku)
            orders = self.make_orders.pop(key, [])
            qty = self._make(bom, key, open_orders, orders)
            for o in orders:  # one day's run: what was not made is not owed
                self._emit(OrderEvent, f"mes-{bom.plant}", order_id=o.order_id, order_type="production",
                           status="received" if qty > 0 else "cancelled", site=o.site, sku=o.sku,
                           quantity=o.quantity, origin=o.site)

    def _make(self, bom: Any, key: tuple[str, str], open_orders: dict[tuple[str, str], float],
              orders: list[_Backlog]) -> float:
        needed = set(getattr(bom, "machines", None) or [])
        if any(m.down_until is not None for m in self.machines.values()
               if m.asset.site == bom.plant and (not needed or m.asset.id in needed)):
            return 0.0
        rate = float(bom.rate_per_day or 0.0)
        if rate <= 0:
            return 0.0
        if key in self.planned:  # the MES makes to production orders
            want = sum(o.quantity for o in orders)
        elif self.produce_to_plan:  # what the open orders need plus what brings finished goods back to plan
            want = self.plan_level.get(key, 0.0) + open_orders.get(key, 0.0) - max(self.stock[key], 0.0)
        else:
            want = rate
        possible = min([self.stock[(bom.plant, c.sku)] / c.quantity for c in bom.components] + [rate, want])
        qty = float(math.floor(max(possible, 0.0)))
        if qty <= 0:
            return 0.0
        for c in bom.components:
            self.stock[(bom.plant, c.sku)] -= qty * c.quantity
        self.stock[key] += qty
        self.stats.produced += qty
        self._emit(Production, f"mes-{bom.plant}", site=bom.plant, sku=bom.output_sku, quantity=qty,
                   consumed=tuple(Line(sku=c.sku, quantity=qty * c.quantity) for c in bom.components),
                   order_id=orders[0].order_id if orders else None)
        return qty
