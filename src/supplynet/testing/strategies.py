"""Hypothesis strategies for canonical events, shared by the tests and by users' plug-ins.

``event_streams()`` draws plausible interleavings of orders, shipments, sales, counts, production
and telemetry over a small universe of sites and SKUs, so folds and stores meet real interactions
(an order shipped then delivered, a sale into backorder, a cancelled shipment).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from ..events import (
    Condition,
    EventBase,
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

__all__ = ["SITES", "SKUS", "event_streams", "events"]

SITES = ("SUP1", "DC1", "ST1", "ST2")
SKUS = ("A", "B", "C")
ASSETS = ("TRK1", "M1")
_T0 = datetime(2026, 1, 1, tzinfo=UTC)

_qty = st.integers(min_value=0, max_value=50).map(float)
_site = st.sampled_from(SITES)
_sku = st.sampled_from(SKUS)
_oid = st.sampled_from(("PO1", "PO2", "PO3"))
_sid = st.sampled_from(("SH1", "SH2", "SH3"))


def _fields(cls: type[EventBase], **kw: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries(kw).map(lambda d: (cls, d))


# built once: (event class, its fields other than source, seq and ts)
_PAYLOADS = st.one_of(
    _fields(Sale, site=_site, sku=_sku, quantity=_qty, unfilled=_qty),
    _fields(StockCount, site=_site, sku=_sku, quantity=_qty, method=st.sampled_from(("rfid", "manual"))),
    _fields(OrderEvent, order_id=_oid, order_type=st.just("purchase"),
            status=st.sampled_from(("proposed", "created", "released", "received", "cancelled")),
            site=_site, sku=_sku, quantity=_qty),
    _fields(ShipmentStatus, shipment_id=_sid,
            status=st.sampled_from(("planned", "departed", "in_transit", "delivered", "cancelled")),
            origin=_site, destination=_site,
            lines=st.lists(st.builds(Line, sku=_sku, quantity=_qty, order_id=st.none() | _oid),
                           max_size=2).map(tuple)),
    _fields(Production, site=_site, sku=_sku, quantity=_qty,
            consumed=st.lists(st.builds(Line, sku=_sku, quantity=_qty), max_size=2).map(tuple)),
    _fields(Position, asset_id=st.sampled_from(ASSETS), shipment_id=st.none() | _sid,
            lat=st.floats(-60, 60), lon=st.floats(-170, 170)),
    _fields(Condition, asset_id=st.sampled_from(ASSETS), temperature_k=st.floats(250, 320)),
    _fields(MachineReading, asset_id=st.just("M1"), cycle=st.integers(0, 500),
            sensors=st.dictionaries(st.sampled_from(("s1", "s2")), st.floats(-1e3, 1e3), max_size=2)),
    _fields(Maintenance, asset_id=st.sampled_from(ASSETS),
            action=st.sampled_from(("work_order_opened", "completed", "failure"))),
)


def _kinds(ts: datetime, seq: int) -> st.SearchStrategy[EventBase]:
    return _PAYLOADS.map(lambda cd: cd[0](source="gen", seq=seq, ts=ts, **cd[1]))


@st.composite
def event_streams(draw: st.DrawFn, max_size: int = 60) -> list[EventBase]:
    """A list of events with increasing ``seq`` and non-decreasing-ish timestamps (some out of order)."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    out: list[EventBase] = []
    for i in range(n):
        minutes = draw(st.integers(min_value=0, max_value=24 * 60 * 10))
        out.append(draw(_kinds(_T0 + timedelta(minutes=minutes), i)))
    return out


def events() -> st.SearchStrategy[EventBase]:
    """One arbitrary event."""
    return st.integers(0, 10_000).flatmap(lambda s: _kinds(_T0 + timedelta(seconds=s), s))
