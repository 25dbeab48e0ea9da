"""Frozen records of the twin's state and the pure functions that fold one event into them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

__all__ = ["AssetState", "InventoryPosition", "OrderState", "ShipmentState"]

@dataclass(frozen=True, slots=True)
class InventoryPosition:
    """Stock of one SKU at one site. ``position`` is what a replenishment policy reads."""

    site: str
    sku: str
    on_hand: float = 0.0
    on_order: float = 0.0
    in_transit: float = 0.0
    backorders: float = 0.0
    lost_sales: float = 0.0
    sold: float = 0.0
    last_count: float | None = None
    last_count_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def position(self) -> float:
        """Inventory position: on hand + on order + in transit - backorders."""
        return self.on_hand + self.on_order + self.in_transit - self.backorders

    def add(self, at: datetime, **deltas: float) -> InventoryPosition:
        values = {k: getattr(self, k) + v for k, v in deltas.items()}
        return replace(self, updated_at=_later(self.updated_at, at), **values)

    def receive(self, at: datetime, quantity: float) -> InventoryPosition:
        """Goods arrive: waiting backorders are served first."""
        on_hand = self.on_hand + quantity
        served = min(self.backorders, max(on_hand, 0.0))
        return replace(self, on_hand=on_hand - served, backorders=self.backorders - served,
                       updated_at=_later(self.updated_at, at))


@dataclass(frozen=True, slots=True)
class ShipmentState:
    shipment_id: str
    status: str
    origin: str
    destination: str
    lane_id: str | None = None
    asset_id: str | None = None
    lines: tuple[tuple[str, float, str | None], ...] = ()
    promised_at: datetime | None = None
    eta: datetime | None = None
    departed_at: datetime | None = None
    delivered_at: datetime | None = None
    status_at: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    position_at: datetime | None = None
    max_temperature_k: float | None = None
    eta_p10: datetime | None = None  # the platform's arrival forecast (``eta`` alerts), beside the carrier's ``eta``
    eta_p50: datetime | None = None
    eta_p90: datetime | None = None
    late: bool = False  # a delay was declared (``late_shipment`` alert)


@dataclass(frozen=True, slots=True)
class OrderState:
    order_id: str
    order_type: str
    status: str
    site: str
    sku: str
    quantity: float
    shipped: float = 0.0
    origin: str | None = None
    lane_id: str | None = None
    due: datetime | None = None
    decision_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def open_quantity(self) -> float:
        """What is still on order: ordered and neither shipped, received nor cancelled."""
        if self.status in ("created", "released", "shipped"):
            return max(self.quantity - self.shipped, 0.0)
        return 0.0


@dataclass(frozen=True, slots=True)
class AssetState:
    asset_id: str
    last_seen: datetime | None = None
    lat: float | None = None
    lon: float | None = None
    speed_m_s: float | None = None
    temperature_k: float | None = None
    humidity: float | None = None
    shock_m_s2: float | None = None
    cycle: int | None = None
    sensors: dict[str, float] = field(default_factory=dict)  # treated as read-only
    settings: dict[str, float] = field(default_factory=dict)
    readings: int = 0
    open_work_order: str | None = None
    failures: int = 0
    last_alert: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a
