"""The live loop, wired: log -> twin -> decide -> act, on one store.

Each call to :meth:`Loop.sync` folds what was committed since the last call into the twin and
remembers which SKU-sites the events touched; :meth:`Loop.decide` re-evaluates exactly those
(event-driven, not a nightly batch) and commits the resulting orders as events, so the decisions are
in the same log as the facts that triggered them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .decide.replenish import OrderProposal, Replenisher
from .events import EventBase, Line, OrderEvent
from .fleet import Emitter
from .twin import Twin

__all__ = ["Loop", "touched_keys"]

PLATFORM_SOURCE = "supplynet"


def touched_keys(event: EventBase) -> list[tuple[str, str]]:
    """The (site, sku) pairs whose position an event can change."""
    kind = event.kind  # type: ignore[attr-defined]
    if kind in ("sale", "stock_count", "order"):
        return [(event.site, event.sku)]  # type: ignore[attr-defined]
    if kind == "production":
        return [(event.site, event.sku)] + [(event.site, ln.sku) for ln in event.consumed]  # type: ignore
    if kind == "shipment":
        lines: tuple[Line, ...] = event.lines  # type: ignore[attr-defined]
        return [(s, ln.sku) for ln in lines for s in (event.origin, event.destination)]  # type: ignore
    return []


class Loop:
    """Twin plus decisions over ``store``; ``release`` is called with every order the loop commits
    (the executor: in the demo, the fleet's world that fulfils it)."""

    def __init__(self, store: Any, network: Any, *, release: Callable[[OrderEvent], None] | None = None,
                 source: str = PLATFORM_SOURCE):
        self.store = store
        self.network = network
        self.twin = Twin.rebuild(store, network, use_snapshot=False)
        self.replenisher = Replenisher(network)
        self.release = release
        self.source = source
        self.emitter = Emitter({source: store.log.high_water(source) or 0})
        self.dirty: set[tuple[str, str]] = set()
        self.proposals: list[OrderProposal] = []
        self._order_no = self.emitter.seq[source]

    def sync(self) -> int:
        """Fold newly committed events into the twin; returns how many."""
        n = 0
        for rec in self.store.log.read(after_offset=self.twin.offset, order="offset"):
            self.twin.apply(rec.event, rec.offset)
            self.dirty.update(touched_keys(rec.event))
            n += 1
        return n

    def positions(self) -> dict[tuple[str, str], float]:
        return {k: p.position for k, p in self.twin.state.inventory.items()}

    def decide(self, now: datetime) -> list[OrderEvent]:
        """Re-evaluate the SKU-sites touched since the last call; commit and release the orders."""
        keys = [k for k in self.dirty if k in self.replenisher.policies]
        self.dirty.clear()
        if not keys:
            return []
        state = self.twin.state
        positions = {k: state.position(*k).position for k in keys}
        proposals = self.replenisher.plan(positions, sorted(keys), day=(now - self._day0(now)).days)
        orders = []
        for p in proposals:
            self._order_no += 1
            orders.append(self.emitter.emit(
                OrderEvent, self.source, ts=now, order_id=f"PO{self._order_no:07d}", order_type=p.order_type,
                status="created", site=p.site, sku=p.sku, quantity=p.quantity, origin=p.origin, lane_id=p.lane_id))
        self.emitter.drain()
        if orders:
            self.store.log.append(orders)
            self.proposals.extend(proposals)
            if self.release is not None:
                for o in orders:
                    self.release(o)  # type: ignore[arg-type]
        return orders  # type: ignore[return-value]

    def _day0(self, now: datetime) -> datetime:
        return datetime(1970, 1, 1, tzinfo=now.tzinfo)
