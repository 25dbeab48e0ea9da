"""Digital twin: projections over the event log (inventory positions, shipments, orders, assets).

>>> from supplynet.events import OrderEvent, ShipmentStatus, Line, Sale
>>> t = Twin()
>>> _ = t.apply(OrderEvent(source="erp", seq=1, ts="2026-01-01T00:00:00Z", order_id="PO1",
...     order_type="purchase", status="created", site="DC1", sku="A", quantity=50))
>>> t.state.position("DC1", "A").on_order
50.0
>>> _ = t.apply(ShipmentStatus(source="erp", seq=2, ts="2026-01-02T00:00:00Z", shipment_id="SH1",
...     status="delivered", origin="SUP1", destination="DC1", lines=[Line(sku="A", quantity=50, order_id="PO1")]))
>>> p = t.state.position("DC1", "A"); (p.on_hand, p.on_order, p.in_transit, p.position)
(50.0, 0.0, 0.0, 50.0)
"""

from ._follower import Follower, Observer, SnapshotEvery, Watcher, by_kind
from ._projections import RulIndex, WorkOrderIndex, fold_rul, fold_work_order
from ._records import AssetState, InventoryPosition, OrderState, ShipmentState
from ._state import TwinState, apply, fold
from ._twin import Twin

__all__ = ["AssetState", "Follower", "InventoryPosition", "Observer", "OrderState", "RulIndex", "ShipmentState",
           "SnapshotEvery", "Twin", "TwinState", "Watcher", "WorkOrderIndex", "apply", "by_kind", "fold", "fold_rul",
           "fold_work_order"]
