"""A traffic jam injected into the fleet's world: the truck stands still while its tracker pings, and
arrives that much later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from supplynet.events import OrderEvent, Position, ShipmentStatus
from supplynet.fleet import CallbackSink, Fleet
from supplynet.model import example_path, load_network

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny():
    return load_network(example_path("tiny"))


def _run(net, jam_h: float | None, hours: int = 60):
    sent: list = []
    fleet = Fleet(net, seed=4, start=START, sink=CallbackSink(lambda s, ev: sent.extend(ev)), cover_days=3)
    fleet.start()
    fleet.world.place(OrderEvent(source="t", seq=1, ts=START, order_id="PO1", order_type="transfer",
                                 status="created", site="STORE-1", sku="MILK-2L", quantity=30.0, origin="DC-1",
                                 lane_id="L-DC-STORE-1"))
    jam = fleet.world.jam("L-DC-STORE-1", at=START, hours=jam_h) if jam_h else None
    for _ in range(hours):
        fleet.step()
    return fleet, jam, sent


def test_jam_stands_the_next_trip_still_while_the_tracker_pings(tiny):
    fleet, jam, sent = _run(tiny, 10.0)
    assert jam.shipment_id is not None and jam.end - jam.start == timedelta(hours=10)
    fixes = [e for e in sent if isinstance(e, Position) and e.shipment_id == jam.shipment_id]
    during = [e for e in fixes if jam.start + timedelta(minutes=1) < e.ts < jam.end]
    assert len(during) >= 10 * 4 - 2  # a ping every 15 minutes all along
    lat = np.array([e.lat for e in during])
    lon = np.array([e.lon for e in during])
    assert lat.std() < 1e-4 and lon.std() < 1e-4  # only GPS noise: it does not move
    after = [e for e in fixes if e.ts > jam.end + timedelta(minutes=30)]
    assert after and abs(after[-1].lat - lat.mean()) + abs(after[-1].lon - lon.mean()) > 1e-3


def test_jammed_trip_arrives_that_much_later(tiny):
    def delivered(sent, sid):
        return next(e.ts for e in sent if isinstance(e, ShipmentStatus) and e.shipment_id == sid
                    and e.status == "delivered")

    _, jam, jammed = _run(tiny, 10.0)
    _, _, free = _run(tiny, None)
    assert delivered(jammed, jam.shipment_id) - delivered(free, jam.shipment_id) == timedelta(hours=10)


def test_jam_checks_its_arguments(tiny):
    fleet = Fleet(tiny, seed=1, start=START)
    with pytest.raises(KeyError):
        fleet.world.jam("NO-SUCH-LANE", at=START, hours=2)
    with pytest.raises(ValueError, match="hours"):
        fleet.world.jam("L-DC-STORE-1", at=START, hours=0)
