"""Disruptions injected into the fleet's world: a traffic jam on a lane.

``world.jam(lane_id, at, hours)`` makes the next trip on ``lane_id`` that is on the road at or after
``at`` stand still for ``hours`` once it has covered ``at_fraction`` of its time on the road (or at
once, when it is already past that point). Its tracker keeps pinging from where it stands; the trip
(and its truck) arrive ``hours`` later. The platform is not told: it must notice from the pings.

    fleet.world.jam("L-DON-LIV", at=fleet.now, hours=18)

Hooks in :class:`~supplynet.fleet._world.World`: :func:`apply_jams` is called for every trip each hour
(before arrivals are checked) and :func:`trip_fraction` gives the share of the trip's route covered at
a ping's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import ParameterError

__all__ = ["Jam", "apply_jams", "end_jam", "jam", "trip_fraction"]


@dataclass
class Jam:
    lane_id: str
    at: datetime
    hours: float
    at_fraction: float = 0.4
    tracked: bool = False            # catch only a trip whose truck carries a GPS tracker
    shipment_id: str | None = None   # the trip it caught
    start: datetime | None = None    # when the trip stopped
    end: datetime | None = None


def jam(world: Any, lane_id: str, at: datetime, hours: float, at_fraction: float = 0.4, *,
        tracked: bool = False) -> Jam:
    """Schedule a jam (see the module docstring); returns it (``shipment_id`` is filled when it bites).

    ``tracked``: it catches the next trip whose truck carries a GPS tracker (a trip on a hired truck, with
    no tracker, passes): the demo's jam is the delay the platform has to detect from the pings."""
    world.net.lane(lane_id)  # an unknown lane raises the model's UnknownIdError
    if not hours > 0:
        raise ParameterError(f"hours must be > 0, got {hours}")
    if not 0 <= at_fraction < 1:
        raise ParameterError(f"at_fraction must be in [0, 1), got {at_fraction}")
    if at.tzinfo is None:
        raise ParameterError("at must carry a timezone")
    j = Jam(lane_id, at, float(hours), float(at_fraction), tracked=bool(tracked))
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
        span = trip.arrive - trip.depart
        start = max(trip.depart + span * j.at_fraction, j.at)
        if start >= trip.arrive:
            continue
        j.shipment_id, j.start = trip.shipment_id, start
        j.end = start + timedelta(hours=j.hours)
        trip.arrive += timedelta(hours=j.hours)
        if trip.truck is not None and trip.truck in world.truck_free:
            world.truck_free[trip.truck] = max(world.truck_free[trip.truck], trip.arrive)
        return


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
