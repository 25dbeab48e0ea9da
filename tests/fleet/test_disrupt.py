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


def _order(fleet, n: int, qty: float, sku: str = "MILK-2L") -> None:
    fleet.world.place(OrderEvent(source="t", seq=n, ts=fleet.now, order_id=f"PO{n}", order_type="transfer",
                                 status="created", site="STORE-1", sku=sku, quantity=qty, origin="DC-1",
                                 lane_id="L-DC-STORE-1"))


def test_a_needed_jam_lets_a_load_the_store_does_not_need_pass_and_catches_the_one_it_does(tiny):
    """The demo's jam catches a load that matters: with the shelves full the first load passes; with them
    bare the next is caught, and the jam records the share of the store's sales it leaves unserved."""
    fleet = Fleet(tiny, seed=4, start=START, sink=CallbackSink(lambda s, ev: None), cover_days=3)
    fleet.start()
    world = fleet.world
    jam = world.jam("L-DC-STORE-1", at=START, hours=20.0, needed_share=0.25)
    _order(fleet, 1, 30.0)
    for _ in range(3):
        fleet.step()
    first = next(t for t in world.trips if t.lane.id == "L-DC-STORE-1")
    assert jam.shipment_id is None and first.shipment_id in jam.judged  # 3 days of cover: not needed
    for sku in ("MILK-2L", "BREAD-800G"):  # the shelves empty out
        world.stock[("STORE-1", sku)] = 0.0
    _order(fleet, 2, 100.0)
    _order(fleet, 3, 100.0, "BREAD-800G")
    for _ in range(3):
        fleet.step()
    caught = next(t for t in world.trips if t.shipment_id == jam.shipment_id)
    assert caught.shipment_id != first.shipment_id and jam.start is not None
    assert jam.short_share == pytest.approx(1.0)  # it carries all the store sells, and the shelves are bare


def test_shortfall_share_weighs_the_load_against_all_the_store_sells(tiny):
    from types import SimpleNamespace

    from supplynet.fleet._disrupt import shortfall_share

    fleet = Fleet(tiny, seed=4, start=START, sink=CallbackSink(lambda s, ev: None), cover_days=3)
    world = fleet.world
    lane = tiny.lane("L-DC-STORE-1")
    world.stock[("STORE-1", "MILK-2L")] = 0.0
    world.stock[("STORE-1", "BREAD-800G")] = 500.0
    milk = SimpleNamespace(lane=lane, lines=[("MILK-2L", 10.0, None)], arrive=world.t)
    # 45 milk a day lost for a day, out of 105 a day the store sells
    assert shortfall_share(world, milk, 24.0) == pytest.approx(45 / 105)
    bread = SimpleNamespace(lane=lane, lines=[("BREAD-800G", 10.0, None)], arrive=world.t)
    assert shortfall_share(world, bread, 24.0) == 0.0  # 500 loaves on the shelf: not needed
    # the stock it holds until the load's arrival is sold first: 60 a day for 8 days leaves 20 for the jam
    later = SimpleNamespace(lane=lane, lines=[("BREAD-800G", 10.0, None)], arrive=world.t + timedelta(days=8))
    assert shortfall_share(world, later, 24.0) == pytest.approx((60 - 20) / 105)


def test_a_needed_jam_still_happens_after_its_patience(tiny):
    fleet = Fleet(tiny, seed=4, start=START, sink=CallbackSink(lambda s, ev: None), cover_days=30)
    fleet.start()
    jam = fleet.world.jam("L-DC-STORE-1", at=START, hours=10.0, needed_share=0.5, patience_days=1.0)
    _order(fleet, 1, 30.0)
    for _ in range(3):
        fleet.step()
    assert jam.shipment_id is None  # a month of cover: the load is not needed
    while fleet.now < START + timedelta(days=1, hours=1):
        fleet.step()
    _order(fleet, 2, 30.0)
    for _ in range(3):
        fleet.step()
    assert jam.shipment_id is not None  # caught all the same; the record says it was not needed
    assert jam.short_share is not None and jam.short_share < 0.5


def test_needed_jam_checks_its_arguments(tiny):
    fleet = Fleet(tiny, seed=1, start=START)
    with pytest.raises(ValueError, match="needed_share"):
        fleet.world.jam("L-DC-STORE-1", at=START, hours=2, needed_share=1.5)
    with pytest.raises(ValueError, match="patience_days"):
        fleet.world.jam("L-DC-STORE-1", at=START, hours=2, needed_share=0.2, patience_days=-1)
