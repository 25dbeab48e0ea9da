"""Canonical events sent through the gate as a device would (the fleet's path)."""

from __future__ import annotations

from datetime import timedelta

from supplynet.events import Condition, Position, Sale
from supplynet.ingest.sink import GateSink

from .conftest import make_dev


def test_events_round_trip_through_the_gate(gate, store, clock):
    tracker = make_dev(gate, "gps-1", measures=("position", "temperature"), asset="TRUCK-1")
    t = clock.now
    evs = [Position(source="gps-1", seq=i, ts=t - timedelta(seconds=60 - i), asset_id="TRUCK-1", lat=53.4 + i * 1e-3,
                    lon=-2.9, speed_m_s=12.5) for i in range(5)]
    evs += [Condition(source="gps-1", seq=5, ts=t, asset_id="TRUCK-1", temperature_k=277.0),
            Position(source="gps-1", seq=9, ts=t, asset_id="TRUCK-1", lat=53.5, lon=-2.9)]
    sink = GateSink(gate, {"gps-1": tracker.cred})
    sink.send("gps-1", evs)
    sink.send("till-9", [Sale(source="till-9", seq=0, ts=t, site="S1", sku="A", quantity=1)])
    sink.flush()
    assert sink.outcomes == {"stored": 2} and sink.skipped == 1
    assert sorted((r.event for r in store.log.read()), key=lambda e: e.seq) == evs
