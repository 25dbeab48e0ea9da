"""The twin: a fold of the event log into the live state of the network.

``apply(state, event)`` is the one reducer: rebuilding from the log and updating live are the same
function (STYLE.md, "the twin is a fold"). Records are frozen; the state container maps keys to
records and swaps one record per event, so applying an event is O(1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..events import (
    Alert,
    Condition,
    EventBase,
    MachineReading,
    Maintenance,
    OrderEvent,
    Position,
    Production,
    Sale,
    ShipmentStatus,
    StockCount,
)
from ._projections import fold_rul, fold_work_order
from ._records import AssetState, InventoryPosition, OrderState, ShipmentState

if TYPE_CHECKING:
    from ..model import Network

__all__ = ["TwinState", "apply", "fold"]

_IN_TRANSIT = ("departed", "in_transit", "delayed", "arrived")


@dataclass
class TwinState:
    """Live state. ``lost_sales_sites`` are sites that lose unfilled demand instead of backordering;
    ``untracked_sites`` (suppliers) have no stock of their own to count."""

    inventory: dict[tuple[str, str], InventoryPosition] = field(default_factory=dict)
    shipments: dict[str, ShipmentState] = field(default_factory=dict)
    orders: dict[str, OrderState] = field(default_factory=dict)
    assets: dict[str, AssetState] = field(default_factory=dict)
    lost_sales_sites: frozenset[str] = frozenset()
    untracked_sites: frozenset[str] = frozenset()
    events_applied: int = 0
    last_event_at: datetime | None = None
    #: work orders by id and the latest RUL estimate per asset (:mod:`._projections`)
    work_orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    rul: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def for_network(cls, network: Network | None) -> TwinState:
        if network is None:
            return cls()
        state = cls(
            lost_sales_sites=frozenset(s.id for s in network.sites if not s.backorders),
            untracked_sites=frozenset(s.id for s in network.sites if s.kind == "supplier"),
        )
        for a in network.assets:
            state.assets[a.id] = AssetState(asset_id=a.id)
        return state

    def copy(self) -> TwinState:
        """An independent copy (records are immutable, so the dicts are all that is copied)."""
        return TwinState(
            inventory=dict(self.inventory), shipments=dict(self.shipments), orders=dict(self.orders),
            assets=dict(self.assets), lost_sales_sites=self.lost_sales_sites,
            untracked_sites=self.untracked_sites, events_applied=self.events_applied,
            last_event_at=self.last_event_at, work_orders=dict(self.work_orders), rul=dict(self.rul),
        )

    def position(self, site: str, sku: str) -> InventoryPosition:
        return self.inventory.get((site, sku)) or InventoryPosition(site=site, sku=sku)

    def _bump(self, site: str, sku: str, at: datetime, **deltas: float) -> None:
        if site in self.untracked_sites:
            return
        self.inventory[(site, sku)] = self.position(site, sku).add(at, **deltas)

    def _asset(self, asset_id: str) -> AssetState:
        return self.assets.get(asset_id) or AssetState(asset_id=asset_id)


def _sale(s: TwinState, e: Sale) -> None:
    unfilled = e.unfilled
    if e.site in s.lost_sales_sites:
        s._bump(e.site, e.sku, e.ts, on_hand=-e.quantity, sold=e.quantity, lost_sales=unfilled)
    else:
        s._bump(e.site, e.sku, e.ts, on_hand=-e.quantity, sold=e.quantity, backorders=unfilled)


def _count(s: TwinState, e: StockCount) -> None:
    if e.site in s.untracked_sites:
        return
    p = s.position(e.site, e.sku)
    upd = {"last_count": e.quantity, "last_count_at": e.ts, "updated_at": max(p.updated_at or e.ts, e.ts)}
    if e.method in ("manual", "cycle_count"):  # an authoritative physical count sets the book
        upd["on_hand"] = e.quantity
    s.inventory[(e.site, e.sku)] = replace(p, **upd)


def _order(s: TwinState, e: OrderEvent) -> None:
    old = s.orders.get(e.order_id)
    before = old.open_quantity if old else 0.0
    if old is None:
        new = OrderState(order_id=e.order_id, order_type=e.order_type, status=e.status, site=e.site, sku=e.sku,
                         quantity=e.quantity, origin=e.origin, lane_id=e.lane_id, due=e.due,
                         decision_id=e.decision_id, created_at=e.ts, updated_at=e.ts)
    else:
        if old.status in ("received", "cancelled"):
            return  # terminal
        new = replace(old, status=e.status, quantity=e.quantity or old.quantity, due=e.due or old.due,
                      updated_at=e.ts)
    s.orders[e.order_id] = new
    delta = new.open_quantity - before
    if delta:
        s._bump(e.site, e.sku, e.ts, on_order=delta)


def _ship_lines(s: TwinState, sh: ShipmentState, at: datetime, departing: bool) -> None:
    for sku, qty, order_id in sh.lines:
        if departing:
            s._bump(sh.origin, sku, at, on_hand=-qty)
            s._bump(sh.destination, sku, at, in_transit=qty)
            order = s.orders.get(order_id) if order_id else None
            if order is not None:
                before = order.open_quantity
                s.orders[order_id] = order = replace(order, shipped=order.shipped + qty, updated_at=at)
                if order.open_quantity != before:
                    s._bump(order.site, order.sku, at, on_order=order.open_quantity - before)
        else:
            s._bump(sh.destination, sku, at, in_transit=-qty)
            if sh.destination not in s.untracked_sites:
                s.inventory[(sh.destination, sku)] = s.position(sh.destination, sku).receive(at, qty)


def _shipment(s: TwinState, e: ShipmentStatus) -> None:
    old = s.shipments.get(e.shipment_id)
    lines = tuple((ln.sku, ln.quantity, ln.order_id) for ln in e.lines)
    if old is None:
        sh = ShipmentState(shipment_id=e.shipment_id, status=e.status, origin=e.origin, destination=e.destination,
                           lane_id=e.lane_id, asset_id=e.asset_id, lines=lines, promised_at=e.promised_at,
                           eta=e.eta, status_at=e.ts)
    else:
        newer = old.status_at is None or e.ts >= old.status_at
        sh = replace(old, lines=old.lines or lines, promised_at=e.promised_at or old.promised_at,
                     eta=e.eta or old.eta, asset_id=e.asset_id or old.asset_id,
                     status=e.status if newer else old.status, status_at=e.ts if newer else old.status_at)
    if sh.departed_at is None and (e.status in _IN_TRANSIT or e.status == "delivered"):
        sh = replace(sh, departed_at=e.ts)
        _ship_lines(s, sh, e.ts, departing=True)
    if e.status == "delivered" and sh.delivered_at is None:
        sh = replace(sh, delivered_at=e.ts)
        _ship_lines(s, sh, e.ts, departing=False)
    if e.status == "cancelled" and sh.departed_at is not None and sh.delivered_at is None:
        for sku, qty, _ in sh.lines:  # the load goes back where it came from
            s._bump(sh.destination, sku, e.ts, in_transit=-qty)
            s._bump(sh.origin, sku, e.ts, on_hand=qty)
        sh = replace(sh, delivered_at=e.ts)
    s.shipments[e.shipment_id] = sh


def _position(s: TwinState, e: Position) -> None:
    a = s._asset(e.asset_id)
    if a.last_seen is None or e.ts >= a.last_seen:
        s.assets[e.asset_id] = replace(a, last_seen=e.ts, lat=e.lat, lon=e.lon, speed_m_s=e.speed_m_s,
                                       readings=a.readings + 1)
    else:
        s.assets[e.asset_id] = replace(a, readings=a.readings + 1)
    if e.shipment_id and e.shipment_id in s.shipments:
        sh = s.shipments[e.shipment_id]
        if sh.position_at is None or e.ts >= sh.position_at:
            s.shipments[e.shipment_id] = replace(sh, lat=e.lat, lon=e.lon, position_at=e.ts)


def _condition(s: TwinState, e: Condition) -> None:
    a = s._asset(e.asset_id)
    if a.last_seen is None or e.ts >= a.last_seen:
        s.assets[e.asset_id] = replace(
            a, last_seen=e.ts, temperature_k=e.temperature_k if e.temperature_k is not None else a.temperature_k,
            humidity=e.humidity if e.humidity is not None else a.humidity,
            shock_m_s2=e.shock_m_s2 if e.shock_m_s2 is not None else a.shock_m_s2, readings=a.readings + 1)
    else:
        s.assets[e.asset_id] = replace(a, readings=a.readings + 1)
    if e.shipment_id and e.shipment_id in s.shipments and e.temperature_k is not None:
        sh = s.shipments[e.shipment_id]
        if sh.max_temperature_k is None or e.temperature_k > sh.max_temperature_k:
            s.shipments[e.shipment_id] = replace(sh, max_temperature_k=e.temperature_k)


def _machine(s: TwinState, e: MachineReading) -> None:
    a = s._asset(e.asset_id)
    if a.last_seen is None or e.ts >= a.last_seen:
        s.assets[e.asset_id] = replace(a, last_seen=e.ts, cycle=e.cycle if e.cycle is not None else a.cycle,
                                       sensors=dict(e.sensors) if e.sensors else a.sensors,
                                       settings=dict(e.settings) if e.settings else a.settings,
                                       readings=a.readings + 1)
    else:
        s.assets[e.asset_id] = replace(a, readings=a.readings + 1)


def _production(s: TwinState, e: Production) -> None:
    s._bump(e.site, e.sku, e.ts, on_hand=e.quantity)
    for ln in e.consumed:
        s._bump(e.site, ln.sku, e.ts, on_hand=-ln.quantity)


def _maintenance(s: TwinState, e: Maintenance) -> None:
    fold_work_order(s.work_orders, e)
    a = s._asset(e.asset_id)
    if e.action == "work_order_opened":
        a = replace(a, open_work_order=e.work_order_id or e.event_id)
    elif e.action in ("completed", "cancelled"):
        a = replace(a, open_work_order=None)
    elif e.action == "failure":
        a = replace(a, failures=a.failures + 1)
    s.assets[e.asset_id] = a


def _alert(s: TwinState, e: Alert) -> None:
    fold_rul(s.rul, e)
    if e.subject in s.assets:
        s.assets[e.subject] = replace(s.assets[e.subject], last_alert=e.code)
    sh = s.shipments.get(e.subject)
    if sh is None:
        return
    if e.code == "eta":
        try:
            q = {k: datetime.fromisoformat(e.data[k]) for k in ("p10", "p50", "p90")}
        except (KeyError, TypeError, ValueError):
            return  # not a forecast this fold understands
        s.shipments[e.subject] = replace(sh, eta_p10=q["p10"], eta_p50=q["p50"], eta_p90=q["p90"])
    elif e.code == "late_shipment":
        s.shipments[e.subject] = replace(sh, late=True)


_HANDLERS = {
    "sale": _sale, "stock_count": _count, "order": _order, "shipment": _shipment, "position": _position,
    "condition": _condition, "machine_reading": _machine, "production": _production,
    "maintenance": _maintenance, "alert": _alert,
}


def apply(state: TwinState, event: EventBase) -> TwinState:
    """Fold one event into ``state`` (updated in place and returned, so ``fold`` is a reduce)."""
    _HANDLERS[event.kind](state, event)  # type: ignore[attr-defined]
    state.events_applied += 1
    if state.last_event_at is None or event.ts > state.last_event_at:
        state.last_event_at = event.ts
    return state


def fold(events: Iterable[EventBase], state: TwinState | None = None) -> TwinState:
    """Apply ``events`` in order to ``state`` (a new empty state if None)."""
    state = state if state is not None else TwinState()
    for e in events:
        apply(state, e)
    return state
