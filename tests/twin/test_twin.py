"""The twin is a fold: incremental updates, rebuilds and snapshots agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings

from supplynet.events import Line, OrderEvent, Production, Sale, ShipmentStatus, StockCount
from supplynet.testing.strategies import event_streams
from supplynet.twin import Twin, TwinState, fold

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_order_ship_deliver_moves_stock_through_position():
    t = Twin(state=TwinState(untracked_sites=frozenset({"SUP"})))
    t.apply(OrderEvent(source="erp", seq=1, ts=at(0), order_id="PO1", order_type="purchase", status="created",
                       site="DC", sku="A", quantity=100))
    assert t.state.position("DC", "A").on_order == 100
    t.apply(ShipmentStatus(source="erp", seq=2, ts=at(1), shipment_id="S1", status="departed", origin="SUP",
                           destination="DC", lines=(Line(sku="A", quantity=60, order_id="PO1"),)))
    p = t.state.position("DC", "A")
    assert (p.on_order, p.in_transit, p.on_hand) == (40, 60, 0)
    assert ("SUP", "A") not in t.state.inventory  # suppliers are not counted
    t.apply(ShipmentStatus(source="trk", seq=3, ts=at(30), shipment_id="S1", status="delivered", origin="SUP",
                           destination="DC"))
    p = t.state.position("DC", "A")
    assert (p.on_order, p.in_transit, p.on_hand, p.position) == (40, 0, 60, 100)
    # a repeated delivery status does not add the goods twice
    t.apply(ShipmentStatus(source="trk", seq=4, ts=at(31), shipment_id="S1", status="delivered", origin="SUP",
                           destination="DC"))
    assert t.state.position("DC", "A").on_hand == 60


def test_backorders_are_served_first_and_lost_sales_sites_lose_demand():
    t = Twin(state=TwinState(lost_sales_sites=frozenset({"ST2"})))
    t.apply(Sale(source="pos", seq=1, ts=at(0), site="ST1", sku="A", quantity=0, unfilled=5))
    t.apply(Sale(source="pos", seq=2, ts=at(0), site="ST2", sku="A", quantity=0, unfilled=5))
    assert t.state.position("ST1", "A").backorders == 5
    assert t.state.position("ST2", "A").lost_sales == 5 and t.state.position("ST2", "A").backorders == 0
    t.apply(ShipmentStatus(source="x", seq=3, ts=at(1), shipment_id="S", status="delivered", origin="DC",
                           destination="ST1", lines=(Line(sku="A", quantity=8),)))
    p = t.state.position("ST1", "A")
    assert (p.on_hand, p.backorders) == (3, 0)


def test_manual_count_sets_book_but_sensor_count_only_records():
    t = Twin()
    t.apply(StockCount(source="c", seq=1, ts=at(0), site="ST1", sku="A", quantity=20, method="manual"))
    t.apply(StockCount(source="c", seq=2, ts=at(1), site="ST1", sku="A", quantity=17, method="rfid"))
    p = t.state.position("ST1", "A")
    assert (p.on_hand, p.last_count) == (20, 17)


def test_production_consumes_components():
    t = Twin()
    t.apply(Production(source="p", seq=1, ts=at(0), site="PL", sku="FG", quantity=10,
                       consumed=(Line(sku="RM", quantity=30),)))
    assert t.state.position("PL", "FG").on_hand == 10
    assert t.state.position("PL", "RM").on_hand == -30


def test_cancelled_order_leaves_on_order():
    t = Twin()
    kw = dict(order_id="PO9", order_type="purchase", site="DC", sku="B", quantity=12)
    t.apply(OrderEvent(source="e", seq=1, ts=at(0), status="created", **kw))
    t.apply(OrderEvent(source="e", seq=2, ts=at(1), status="cancelled", **kw))
    t.apply(OrderEvent(source="e", seq=3, ts=at(2), status="created", **kw))  # terminal: ignored
    assert t.state.position("DC", "B").on_order == 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_streams())
def test_rebuild_equals_incremental_and_snapshot_roundtrip(events):
    live = Twin()
    for e in events:
        live.apply(e)
    rebuilt = fold(events)
    assert rebuilt.inventory == live.state.inventory
    assert rebuilt.shipments == live.state.shipments
    assert rebuilt.orders == live.state.orders
    assert rebuilt.assets == live.state.assets
    # snapshot half-way, restore, continue: the same state
    half = len(events) // 2
    first = Twin().apply_many(events[:half])
    resumed = Twin.from_snapshot(first.to_snapshot()).apply_many(events[half:])
    assert resumed.state.inventory == live.state.inventory
    assert resumed.state.shipments == live.state.shipments
    assert resumed.state.assets == live.state.assets
    # position identity holds for every record
    for p in live.state.inventory.values():
        assert p.position == p.on_hand + p.on_order + p.in_transit - p.backorders


def test_frames_have_the_documented_columns():
    t = Twin()
    t.apply(Sale(source="pos", seq=1, ts=at(0), site="ST1", sku="A", quantity=2))
    f = t.inventory_frame()
    assert list(f.columns[:7]) == ["site", "sku", "on_hand", "on_order", "in_transit", "backorders", "position"]
    assert f.loc[0, "on_hand"] == -2 and f.loc[0, "sold"] == 2
