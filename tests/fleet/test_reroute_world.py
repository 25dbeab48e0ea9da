"""An executed answer to a late shipment is carried out by the fleet's world: an expedite gets the
jammed load moving and in sooner, a transfer sends stock from another site, and an approved answer
reaches the world through the outbox and a file sink."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.decide import decision as decisions
from supplynet.decide.autonomy import AutonomyPolicy
from supplynet.decide.decision import Decision, RerouteAction
from supplynet.events import OrderEvent, ShipmentStatus
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


def test_an_express_truck_sent_ahead_ships_from_the_origin_and_records_how_much_sooner(tiny):
    """An expedite that does not move the late load (``moves_load`` False: the at-risk lines again from the
    origin by express truck) is a new shipment; the jammed load still comes, and the world records how much
    sooner the goods arrive than it (negative when later)."""
    fleet, jam, sent = _jammed(tiny)
    w = fleet.world
    trip = next(t for t in w.trips if t.shipment_id == jam.shipment_id)
    was, before_dc, at = trip.arrive, w.stock[("DC-1", "MILK-2L")], fleet.now
    data = {"option": "expedite", "arrival_days": 0.25, "shipment_id": jam.shipment_id, "origin": "DC-1",
            "destination": "STORE-1", "from_lane": "L-DC-STORE-1", "lines": [["MILK-2L", 5.0]], "moves_load": False}
    done = w.reroute(data, at=at)
    assert done and "ahead of" in done
    assert trip.arrive == was  # the late load is left where it is
    assert w.stock[("DC-1", "MILK-2L")] == pytest.approx(before_dc - 5)
    rec = w.expedited[-1]
    assert rec["arrival"] == at + timedelta(days=0.25) and rec["arrival_waiting"] == was
    assert rec["gain_hours"] == pytest.approx((was - at - timedelta(days=0.25)).total_seconds() / 3600)
    assert rec["gain_hours"] > 0
    late = w.reroute({**data, "arrival_days": 5.0}, at=at)  # sent all the same; it comes after the late load
    assert late and w.expedited[-1]["gain_hours"] < 0
    fleet.step()
    new = [e for e in sent if isinstance(e, ShipmentStatus) and e.status == "departed" and e.ts == at
           and e.destination == "STORE-1" and e.shipment_id != jam.shipment_id]
    assert len(new) == 2 and new[0].promised_at == at + timedelta(days=0.25)


def test_an_approved_reroute_reaches_the_world_through_the_outbox_and_a_file_sink(tiny, tmp_path):
    """No callback from the loop into the world: the loop folds a person's approval, writes its outbox row,
    the dispatcher appends it to a file sink's JSONL, and the world reads it there and gets the load in
    ``arrival_days`` after the approval (not after the proposal)."""
    from supplynet.decide.outbox import Dispatcher
    from supplynet.decide.sinks import parse_sinks
    from supplynet.fleet._actions import ActionCarrier, ActionFeed
    from supplynet.store.outbox import OutboxTable

    fleet, jam, sent = _jammed(tiny)
    folder = tmp_path / "actions"
    sinks = parse_sinks(f"sinks:\n  - {{name: world, kind: file, folder: '{folder}', rotate: none, "
                        f"actions: [order, reroute, expedite]}}\n")

    def outbox(tx, **row):
        OutboxTable.enqueue_tx(tx, sinks=sinks.names_for(row["action"]), **row)

    proposed_at = fleet.now - timedelta(hours=1)
    with open_store(f"sqlite:///{tmp_path / 'r.db'}") as store:
        loop = Loop(store, tiny, AutonomyPolicy())
        loop.collect_actions = True
        action = RerouteAction(shipment_id=jam.shipment_id, to_lane="express_truck:L-DC-STORE-1",
                               from_lane="L-DC-STORE-1", option="expedite", arrival_days=0.25, origin="DC-1",
                               destination="STORE-1", lines=[("MILK-2L", 30.0)])
        d = decisions.submit(store, Decision(kind="reroute", created_at=proposed_at, chosen="expedite", why="late",
                                             action=action, cost=120.0), AutonomyPolicy(),
                             now=proposed_at).decision
        assert d.status == "proposed"
        loop.sync()
        loop.commit(outbox=outbox)
        assert store.outbox.list() == []  # a proposal is not carried out
        at = fleet.now
        decisions.approve(store, d.id, by="planner", now=at)
        loop.sync()
        loop.commit(outbox=outbox)
        with Dispatcher(store, sinks) as dispatcher:
            assert dispatcher.run_once()["delivered"] == 1
    carrier = ActionCarrier(fleet.world, tiny)
    for doc in ActionFeed(folder).poll():
        carrier.carry_out(doc)
    assert carrier.carried == {"expedite": 1} and len(carrier.answers) == 1 and jam.shipment_id in carrier.answers[0]
    for _ in range(12):
        fleet.step()
    assert _delivered(sent, jam.shipment_id) == [at + timedelta(days=0.25)]  # from the approval's time


def test_a_tracked_jam_lets_a_trip_without_a_tracker_pass_and_catches_the_next_tracked_one(tiny):
    """The demo's jam is a delay the platform must detect: a load on a hired truck (no tracker) passes, the
    next load on a tracked truck stands still."""
    fleet = Fleet(tiny, seed=4, start=START, sink=CallbackSink(lambda s, ev: None), cover_days=3)
    fleet.start()
    world = fleet.world
    trucks = world.trucks_by_lane["L-DC-STORE-1"]
    assert trucks and any(world._device(t, ("gps_tracker",)) for t in trucks)
    busy = START + timedelta(days=30)
    for t in trucks:  # every own truck away: the next load goes on a hired truck without a tracker
        world.truck_free[t] = busy
    jam = world.jam("L-DC-STORE-1", at=START, hours=30.0, tracked=True)

    def order(n: int) -> None:
        world.place(OrderEvent(source="t", seq=n, ts=fleet.now, order_id=f"PO{n}", order_type="transfer",
                               status="created", site="STORE-1", sku="MILK-2L", quantity=10.0, origin="DC-1",
                               lane_id="L-DC-STORE-1"))

    order(1)
    fleet.step()
    hired = [t for t in world.trips if t.lane.id == "L-DC-STORE-1"]
    assert hired and all(t.tracker is None for t in hired)
    for _ in range(6):
        fleet.step()
    assert jam.shipment_id is None  # the untracked trip passed
    for t in trucks:
        world.truck_free[t] = fleet.now
    order(2)
    for _ in range(6):
        fleet.step()
    caught = next(t for t in world.trips if t.shipment_id == jam.shipment_id)
    assert caught.tracker is not None and jam.start is not None
