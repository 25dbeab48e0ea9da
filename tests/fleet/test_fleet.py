"""The fleet's world and what its devices report agree: the twin's book equals the world's stock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supplynet.decide.replenish import Replenisher
from supplynet.events import OrderEvent, dumps
from supplynet.fleet import CallbackSink, Fleet
from supplynet.loop import touched_keys
from supplynet.model import example_path, load_network
from supplynet.twin import Twin

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def tiny():
    return load_network(example_path("tiny"))


def _run(net, *, seed=3, days=10, shrink=0.0):
    twin = Twin(net)
    sent: list = []
    dirty: set = set()

    def recv(source, events):
        assert all(e.source == source for e in events)
        sent.extend(events)
        for e in events:
            twin.apply(e)
            dirty.update(touched_keys(e))

    fleet = Fleet(net, seed=seed, start=START, sink=CallbackSink(recv), shrink_rate=shrink, cover_days=3)
    rep = Replenisher(net)
    fleet.start()
    n = 0
    for _ in range(days * 24):
        fleet.step()
        keys = sorted(k for k in dirty if k in rep.policies)
        dirty.clear()
        for p in rep.plan({k: twin.state.position(*k).position for k in keys}, keys):
            n += 1
            o = OrderEvent(source="supplynet", seq=n, ts=fleet.now, order_id=f"PO{n}", order_type=p.order_type,
                           status="created", site=p.site, sku=p.sku, quantity=p.quantity, origin=p.origin,
                           lane_id=p.lane_id)
            twin.apply(o)
            fleet.world.place(o)
    return fleet, twin, sent


def test_book_equals_physical_stock_without_shrinkage(tiny):
    fleet, twin, sent = _run(tiny, shrink=0.0)
    world = fleet.world
    assert world.stats.shipments > 5 and world.stats.delivered > 3
    for (site, sku), qty in world.stock.items():
        book = twin.state.position(site, sku)
        in_flight = sum(q for t in world.trips if t.lane.destination == site for s, q, _ in t.lines if s == sku)
        assert book.on_hand == pytest.approx(qty), (site, sku)
        assert book.in_transit == pytest.approx(in_flight), (site, sku)


def test_shrinkage_shows_in_sensor_counts_not_in_the_book(tiny):
    fleet, twin, _ = _run(tiny, shrink=0.05, days=6)
    assert fleet.world.stats.shrink > 0
    # stores without shelf sensors report no counts; the book stays above what is physically there
    gap = sum(twin.state.position(s, k).on_hand - q for (s, k), q in fleet.world.stock.items())
    assert gap == pytest.approx(fleet.world.stats.shrink)


def test_same_seed_same_telemetry(tiny):
    _, _, a = _run(tiny, seed=11, days=3)
    _, _, b = _run(tiny, seed=11, days=3)
    _, _, c = _run(tiny, seed=12, days=3)
    assert [dumps(e) for e in a] == [dumps(e) for e in b]
    assert [dumps(e) for e in a] != [dumps(e) for e in c]


def test_sequences_increase_per_device_and_sources_are_declared_or_site_systems(tiny):
    _, _, events = _run(tiny, days=4)
    last: dict[str, int] = {}
    declared = {d.id for d in tiny.devices}
    for e in events:
        assert e.seq > last.get(e.source, 0)
        last[e.source] = e.seq
        assert e.source in declared or e.source.split("-", 1)[0] in {"wms", "mes", "cmms"}, e.source
    kinds = {e.kind for e in events}
    assert {"sale", "shipment", "position", "condition", "machine_reading", "stock_count"} <= kinds


def test_trucks_report_positions_along_their_lane(tiny):
    _, twin, events = _run(tiny, days=5)
    pos = [e for e in events if e.kind == "position"]
    assert pos, "the tracked truck made no trip"
    dc, st = tiny.site("DC-1").location, tiny.site("STORE-1").location
    lo_lat, hi_lat = sorted((dc.lat, st.lat))
    assert all(lo_lat - 0.01 <= p.lat <= hi_lat + 0.01 for p in pos)
    assert all(p.shipment_id in twin.state.shipments for p in pos)


def test_a_real_trace_is_fitted_onto_the_lane_keeping_its_stops():
    import numpy as np

    from supplynet.fleet._sources import fit_trace_to_lane, position_at

    # a trace that waits (same point) for the middle half of its time
    trace = np.array([[53.0, -3.0, 0.0], [53.1, -2.9, 0.25], [53.1, -2.9, 0.75], [53.2, -2.8, 1.0]])
    fitted = fit_trace_to_lane(trace, (52.0, -1.0), (51.0, 0.0))
    assert fitted[0, :2] == pytest.approx([52.0, -1.0]) and fitted[-1, :2] == pytest.approx([51.0, 0.0])
    assert position_at(fitted, 0.3) == pytest.approx(position_at(fitted, 0.7))  # still standing
    assert position_at(fitted, 0.5)[0] == pytest.approx(51.5)


def test_gps_file_loader_on_a_generated_csv(tmp_path):
    from supplynet.fleet._sources import load_gps_routes

    rows = ["trip_id,timestamp,latitude,longitude"]
    for trip in (1, 2):
        for i in range(6):
            rows.append(f"{trip},2026-01-01 10:{i:02d}:00,{53 + i * 0.01},{-3 + i * 0.01}")
    (tmp_path / "t.csv").write_text("\n".join(rows))
    routes = load_gps_routes(tmp_path / "t.csv")
    assert len(routes) == 2 and routes[0].shape == (6, 3)
    assert routes[0][0, 2] == 0.0 and routes[0][-1, 2] == 1.0
