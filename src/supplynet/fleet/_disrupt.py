"""Disruptions injected into the fleet's world: a traffic jam on a lane.

``world.jam(lane_id, at, hours)`` makes the next trip on ``lane_id`` that is on the road at or after
``at`` stand still for ``hours`` once it has covered ``at_fraction`` of its time on the road (or at
once, when it is already past that point). Its tracker keeps pinging from where it stands; the trip
(and its truck) arrive ``hours`` later. The platform is not told: it must notice from the pings.

    fleet.world.jam("L-DON-LIV", at=fleet.now, hours=18)

``needed_share`` > 0 makes it catch only a load the destination needs (the demo's jam is the delay the
platform is there to answer): a trip is judged once, when first seen on the road, and caught when the
units its destination would go short of *because of the jam* (per carried SKU, its mean demand over the
jam less its stock now net of its mean demand until the trip's own arrival) are at least ``needed_share``
of all it sells over the jam (:func:`shortfall_share`); a top-up the destination does not need yet, or a
few cases of one SKU, passes. After ``patience_days`` without such a trip the next one is caught all the same (the scenario
always has its jam).

Hooks in :class:`~supplynet.fleet._world.World`: :func:`apply_jams` is called for every trip each hour
(before arrivals are checked) and :func:`trip_fraction` gives the share of the trip's route covered at
a ping's time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..errors import ParameterError

__all__ = ["Jam", "apply_jams", "end_jam", "jam", "shortfall_share", "trip_fraction"]


@dataclass
class Jam:
    lane_id: str
    at: datetime
    hours: float
    at_fraction: float = 0.4
    tracked: bool = False            # catch only a trip whose truck carries a GPS tracker
    needed_share: float = 0.0       # > 0: catch only a load the destination needs (module docstring)
    patience_days: float = 2.0      # ... for this long after ``at``; then the next trip all the same
    shipment_id: str | None = None   # the trip it caught
    start: datetime | None = None    # when the trip stopped
    end: datetime | None = None
    judged: set[str] = field(default_factory=set)  # trips seen and let pass (not needed)
    short_share: float | None = None  # of the trip it caught: the destination's shortfall share (needed_share > 0)


def jam(world: Any, lane_id: str, at: datetime, hours: float, at_fraction: float = 0.4, *,
        tracked: bool = False, needed_share: float = 0.0, patience_days: float = 2.0) -> Jam:
    """Schedule a jam (see the module docstring); returns it (``shipment_id`` is filled when it bites).

    ``tracked``: it catches the next trip whose truck carries a GPS tracker (a trip on a hired truck, with
    no tracker, passes): the demo's jam is the delay the platform has to detect from the pings.
    ``needed_share``, ``patience_days``: catch a load its destination needs (see the module docstring)."""
    world.net.lane(lane_id)  # an unknown lane raises the model's UnknownIdError
    if not hours > 0:
        raise ParameterError(f"hours must be > 0, got {hours}")
    if not 0 <= at_fraction < 1:
        raise ParameterError(f"at_fraction must be in [0, 1), got {at_fraction}")
    if at.tzinfo is None:
        raise ParameterError("at must carry a timezone")
    if not 0 <= needed_share <= 1:
        raise ParameterError(f"needed_share must be in [0, 1], got {needed_share}")
    if patience_days < 0:
        raise ParameterError(f"patience_days must be >= 0, got {patience_days}")
    j = Jam(lane_id, at, float(hours), float(at_fraction), tracked=bool(tracked), needed_share=float(needed_share),
            patience_days=float(patience_days))
    world.__dict__.setdefault("jams", []).append(j)
    return j


def apply_jams(world: Any, trip: Any, until: datetime) -> None:
    """Let a pending jam catch ``trip`` if it is the next trip on the jammed lane on the road."""
    for j in world.__dict__.get("jams", ()):
        if j.shipment_id is not None or j.lane_id != trip.lane.id or trip.arrive < j.at:
            continue
        if j.tracked and getattr(trip, "tracker", None) is None:
            continue
        if any(o.shipment_id == trip.shipment_id for o in world.jams):
            return
        share = None
        if j.needed_share > 0:
            if trip.shipment_id in j.judged:
                continue
            share = shortfall_share(world, trip, j.hours)  # recorded for the trip caught, patience or not
            if share < j.needed_share and trip.depart < j.at + timedelta(days=j.patience_days):
                j.judged.add(trip.shipment_id)
                continue
        span = trip.arrive - trip.depart
        start = max(trip.depart + span * j.at_fraction, j.at)
        if start >= trip.arrive:
            continue
        j.shipment_id, j.start, j.short_share = trip.shipment_id, start, share
        j.end = start + timedelta(hours=j.hours)
        trip.arrive += timedelta(hours=j.hours)
        if trip.truck is not None and trip.truck in world.truck_free:
            world.truck_free[trip.truck] = max(world.truck_free[trip.truck], trip.arrive)
        return


def shortfall_share(world: Any, trip: Any, hours: float) -> float:
    """What the destination cannot sell over ``hours`` after the trip's arrival without the load, as a share
    of all it sells over those hours (every SKU it sells, carried or not): per carried SKU, its mean demand
    over the hours less its stock (now, less its mean demand until the arrival). 0 when the load is not needed
    by then; 1 when it carries everything the site sells and the shelves are bare from its arrival on. A site
    without customer demand reads 0."""
    dest = trip.lane.destination
    wait = max((trip.arrive - world.t).total_seconds() / 86400.0, 0.0)
    sells = sum(float(d.mean_per_day) for d in world.net.demand if d.site == dest) * hours / 24.0
    short = 0.0
    for sku in dict.fromkeys(s for s, *_ in trip.lines):
        d = world.net.demand_for(dest, sku)
        rate = float(d.mean_per_day) if d else 0.0
        if rate > 0:
            left = max(float(world.stock.get((dest, sku), 0.0)) - rate * wait, 0.0)
            short += max(rate * hours / 24.0 - left, 0.0)
    return short / sells if sells > 0 else 0.0


def end_jam(world: Any, shipment_id: str, at: datetime) -> None:
    """The jam holding ``shipment_id`` ends at ``at`` (the load took another road or carrier)."""
    for j in world.__dict__.get("jams", ()):
        if j.shipment_id == shipment_id and j.start is not None and j.end is not None and j.end > at:
            j.end = max(j.start, at)


def trip_fraction(world: Any, trip: Any, at: datetime) -> float:
    """Share (0..1) of the trip's time on the move at ``at``, the jam's standstill left out."""
    moving = (trip.arrive - trip.depart).total_seconds()
    elapsed = (at - trip.depart).total_seconds()
    for j in world.__dict__.get("jams", ()):
        if j.shipment_id == trip.shipment_id and j.start is not None and j.end is not None:
            moving -= (j.end - j.start).total_seconds()
            elapsed -= max(0.0, (min(at, j.end) - j.start).total_seconds())
    return min(max(elapsed / moving, 0.0), 1.0) if moving > 0 else 1.0
