"""An executed answer to a late shipment is carried out by the fleet's world: an expedite gets the
jammed load moving and in sooner, a transfer sends stock from another site, and the live loop hands
the executed decision's alert to the world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.decide import decision as decisions
from supplynet.decide.autonomy import AutonomyPolicy
from supplynet.decide.decision import Decision, RerouteAction
from supplynet.events import Alert, OrderEvent, ShipmentStatus
from supplynet.fleet import CallbackSink, Fleet
from supplynet.loop import Loop
from supplynet.model import example_path, load_network
from supplynet.store import open_store

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny():
    return load_network(example_path("tiny"))


def _jammed(net, jam_h: float = 30.0):
    sent: list = []
    fleet = Fleet(net, seed=4, start=START, sink=CallbackSink(lambda s, ev: sent.extend(ev)), cover_days=3)
    fleet.start()
    fleet.world.place(OrderEvent(source="t", seq=1, ts=START, order_id="PO1", order_type="transfer",
                                 status="created", site="STORE-1", sku="MILK-2L", quantity=30.0, origin="DC-1",
                                 lane_id="L-DC-STORE-1"))
    jam = fleet.world.jam("L-DC-STORE-1", at=START, hours=jam_h)
    while jam.start is None or fleet.now < jam.start + timedelta(hours=2):
        fleet.step()
    return fleet, jam, sent


def _delivered(sent, sid):
    return [e.ts for e in sent if isinstance(e, ShipmentStatus) and e.shipment_id == sid and e.status == "delivered"]


def test_expedite_gets_the_jammed_load_in_at_the_planned_time(tiny):
    fleet, jam, sent = _jammed(tiny)
    was = next(t.arrive for t in fleet.world.trips if t.shipment_id == jam.shipment_id)
    at = fleet.now
    done = fleet.world.reroute({"option": "expedite", "arrival_days": 0.25, "shipment_id": jam.shipment_id}, at=at)
    assert done and jam.shipment_id in done
    for _ in range(12):
        fleet.step()
    assert _delivered(sent, jam.shipment_id) == [at + timedelta(days=0.25)]
    assert at + timedelta(days=0.25) < was


def test_a_later_plan_or_waiting_changes_nothing(tiny):
    fleet, jam, _ = _jammed(tiny)
    trip = next(t for t in fleet.world.trips if t.shipment_id == jam.shipment_id)
    was = trip.arrive
    assert fleet.world.reroute({"option": "wait", "arrival_days": 0.1, "shipment_id": jam.shipment_id}) is None
    assert fleet.world.reroute({"option": "expedite", "arrival_days": 30, "shipment_id": jam.shipment_id}) is None
    assert fleet.world.reroute({"option": "expedite", "arrival_days": 0.1, "shipment_id": "SH-NONE"}) is None
    assert trip.arrive == was


def test_transfer_ships_from_another_site_and_takes_its_stock(tiny):
    fleet, jam, sent = _jammed(tiny)
    w = fleet.world
    before_dc = w.stock[("DC-1", "MILK-2L")]
    assert before_dc >= 4
    at = fleet.now
    done = w.reroute({"option": "transfer", "arrival_days": 0.5, "shipment_id": jam.shipment_id, "origin": "DC-1",
                      "destination": "STORE-2", "lines": [["MILK-2L", 4.0]]}, at=at)
    assert done
    assert w.stock[("DC-1", "MILK-2L")] == pytest.approx(before_dc - 4)
    fleet.step()  # the world's events reach the sink as the hour closes
    new = [e for e in sent if isinstance(e, ShipmentStatus) and e.status == "departed" and e.ts == at
           and e.destination == "STORE-2" and e.origin == "DC-1"]
    assert len(new) == 1 and [(ln.sku, ln.quantity) for ln in new[0].lines] == [("MILK-2L", 4.0)]
    assert new[0].promised_at == at + timedelta(days=0.5)
    for _ in range(13):
        fleet.step()
    assert _delivered(sent, new[0].shipment_id) == [at + timedelta(days=0.5)]


def test_the_loop_hands_an_executed_reroute_to_the_world(tiny, tmp_path):
    released: list = []
    with open_store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        loop = Loop(store, tiny, AutonomyPolicy(), release=released.append)
        action = RerouteAction(shipment_id="SH000001", to_lane="express_truck:L-DC-STORE-1", from_lane="L-DC-STORE-1",
                               option="expedite", arrival_days=0.25, origin="DC-1", destination="STORE-1",
                               lines=[("MILK-2L", 30.0)])
        d = decisions.submit(store, Decision(kind="reroute", created_at=START, chosen="expedite", why="late",
                                             action=action, cost=120.0), AutonomyPolicy(), now=START).decision
        assert d.status == "proposed"
        loop.sync()
        assert released == []  # a proposal is not carried out
        decisions.approve(store, d.id, by="planner", now=START + timedelta(hours=1))
        loop.sync()
        assert len(released) == 1 and isinstance(released[0], Alert)
        data = released[0].data
        assert data["option"] == "expedite" and data["arrival_days"] == 0.25 and released[0].subject == "SH000001"
        assert data["lines"] == [["MILK-2L", 30.0]]
