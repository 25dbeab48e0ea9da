"""The live loop, wired: log -> twin -> decide -> act, on one store.

Each call to :meth:`Loop.sync` folds what was committed since the last call into the twin and
remembers which SKU-sites the events touched (and which events, from which sources);
:meth:`Loop.decide` re-evaluates exactly those (event-driven, not a nightly batch). Every order is a
:class:`~supplynet.decide.decision.Decision` run through the autonomy policy: executed at once when
the policy allows, otherwise proposed to a person. Executed decisions write their action events to
the log; the loop hands each new action it sees there (an order created by a decision, a work
order opened) to ``release`` (the executor of the physical world: in the demo, the fleet's world),
whether the platform or a person approved it.

Other decision makers join as *watchers*: objects with ``observe(event, twin)`` (called for every
event folded) and ``decide(twin, now)`` (called after the replenishment pass), such as
:class:`~supplynet.decide.machines.MachineWatch` (work orders from RUL) and
:class:`~supplynet.decide.watch.ShipmentWatch` (delays and rerouting).
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from .decide import decision as decisions
from .decide.autonomy import AutonomyPolicy
from .decide.rebalance import Rebalancer
from .decide.replenish import Replenisher, touched_keys
from .events import EventBase
from .sense.shrinkage import ShrinkageMonitor
from .twin import Twin

__all__ = ["Loop", "touched_keys"]


class Loop:
    """Twin plus decisions over ``store``.

    ``policy``: the autonomy policy (levels and guardrails per decision kind); ``release``: called with
    every executed action (an ``OrderEvent`` created by a decision, a ``Maintenance`` work order
    opened) as it appears in the log; ``watchers``: further decision makers (see the module doc).
    """

    def __init__(self, store: Any, network: Any, policy: AutonomyPolicy, *,
                 release: Callable[[EventBase], None] | None = None, watchers: Sequence[Any] = ()):
        self.store = store
        self.network = network
        self.policy = policy
        self.twin = Twin.rebuild(store, network, use_snapshot=False)
        # with its demand sensor and lead-time learner; the policy file's budget caps what orders commit a day
        self.replenisher = Replenisher(network, budget_per_day=policy.budget_per_day)
        self.rebalancer = Rebalancer(network, self.replenisher)
        self.shrinkage = ShrinkageMonitor(network, seq_start=store.log.high_water("supplynet.shrinkage") or 0)
        self.shrinkage_alerts = 0
        self.release = release
        self.dirty: dict[tuple[str, str], deque[str]] = defaultdict(lambda: deque(maxlen=5))
        self.pending: dict[tuple[str, str], str] = {}  # SKU-site -> its proposed decision
        self.outcomes: Counter[str] = Counter()
        self.orders_decided = 0
        self.released = 0
        self.watchers = list(watchers)
        self.watched: Counter[str] = Counter()

    def sync(self) -> int:
        """Fold newly committed events into the twin; returns how many."""
        n = 0
        for rec in self.store.log.read(after_offset=self.twin.offset, order="offset"):
            e = rec.event
            self.twin.apply(e, rec.offset)
            for key in touched_keys(e):
                self.dirty[key].append(e.event_id)
            action = False
            if e.kind == "order" and e.status == "created" and e.decision_id:  # type: ignore[attr-defined]
                self.pending.pop((e.site, e.sku), None)  # type: ignore[attr-defined]
                action = True
            elif e.kind == "maintenance" and e.action == "work_order_opened":  # type: ignore[attr-defined]
                action = True
            elif e.kind == "alert" and e.code == "reroute" and e.source == decisions.DECIDE_SOURCE:  # type: ignore[attr-defined]
                action = True
            if action and self.release is not None:
                self.release(e)
                self.released += 1
            self.replenisher.observe(e, self.twin)
            self.rebalancer.observe(e, self.twin)
            self.shrinkage.observe(e, self.twin)
            for w in self.watchers:
                w.observe(e, self.twin)
            n += 1
        return n

    def _still_pending(self, key: tuple[str, str]) -> bool:
        did = self.pending.get(key)
        if did is None:
            return False
        if decisions.get(self.store, did).status == "proposed":
            return True
        del self.pending[key]  # rejected or noted: the next event may propose again
        return False

    def decide(self, now: datetime) -> list[decisions.Decision]:
        """Replenishment for the SKU-sites touched since the last call, then every watcher's turn;
        returns the decisions made."""
        out = self._replenish(now)
        for w in self.watchers:
            for res in w.decide(self.twin, now):
                d = getattr(res, "decision", res)
                self.watched[f"{d.kind} {d.status}"] += 1
                out.append(d)
        return out

    def _replenish(self, now: datetime) -> list[decisions.Decision]:
        """Transfers where they beat a new order, then orders for the SKU-sites touched since the last
        call (policies re-sized from the demand sensed and the lead times learned); a SKU-site whose
        proposal waits for a person gets no second one. Shrinkage findings become alerts."""
        alerts = self.shrinkage.decide(self.twin, now)
        if alerts:
            self.store.log.append(alerts)
            self.shrinkage_alerts += len(alerts)
        if self.policy.quiet("replenish", now) or self.policy.quiet("rebalance", now):
            return []  # the SKU-sites stay touched: decided when the quiet hours end, from the state then
        touched = {k: list(v) for k, v in self.dirty.items()}
        self.dirty.clear()
        moves = [p for p in self.rebalancer.decide(self.twin, now) if not self._still_pending((p.site, p.sku))]
        moved = {(p.site, p.sku) for p in moves}
        orders = [p for p in self.replenisher.decide(self.twin, now)
                  if (p.site, p.sku) not in moved and not self._still_pending((p.site, p.sku))]
        plans = moves + orders
        batch = [p.to_decision(now, trigger_event_ids=touched.get((p.site, p.sku), [])) for p in plans]
        out = []
        for p, res in zip(plans, decisions.submit_many(self.store, batch, self.policy, now=now), strict=True):
            self.outcomes[res.decision.status] += 1
            if res.decision.status == "proposed":
                self.pending[(p.site, p.sku)] = res.decision.id
            self.orders_decided += 1
            out.append(res.decision)
        return out

    def pending_decisions(self) -> list[str]:
        return list(self.pending.values())
