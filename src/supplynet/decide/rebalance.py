"""Rebalancing: a transfer between sites, chosen when it beats a new order or expediting on cost and time.

When a SKU-site is about to run short before its pipeline arrives - on hand plus in transit, less
backorders, covers fewer than ``L`` days of forecast demand, ``L`` being the learned lead time of its
regular inbound lane - three kinds of options can bridge the gap of ``q`` units (rounded up to packs):

- **order**: a new order on the regular (cheapest) lane; it arrives with the pipeline, after ``L``
  days, so it does not shorten the gap;
- **expedite**: the fastest inbound lane from the regular origin or a supplier, or the regular one at ``expedite_cost_factor`` times its
  cost and ``expedite_time_factor`` times its lead time when no faster lane exists;
- **transfer**: from another stocking site holding stock above its own order-up-to level (its
  excess), over a network lane from that site, or - with ``lateral_km`` set - over a lateral move
  costed by distance (haversine km x ``lateral_cost_per_unit_km``, ``lateral_speed_km_per_day``).

Each option costs its transport (per unit and fixed) plus the expected shortage while it is on its
way, ``shortage_cost x max(0, gap units still short)``, with demand at the forecast mean (the
lateral-transshipment trade-off of Paterson, Kiesmueller, Teunter & Glazebrook 2011, decided
reactively for one SKU-site at a time). Goods cost is left out: the units are bought either way. A
transfer is chosen when it is the cheapest option and arrives no later than the new order; an expedite
when it beats both. Otherwise nothing is proposed (the replenisher's regular order stands).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..errors import DecisionError
from .replenish import OrderProposal, Replenisher

__all__ = ["RebalanceOption", "Rebalancer", "haversine_km"]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km (mean Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class RebalanceOption:
    kind: str  # order | expedite | transfer
    origin: str
    lane_id: str
    quantity: float
    time_days: float
    transport_cost: float
    short_units: float
    shortage_cost: float

    @property
    def cost(self) -> float:
        return self.transport_cost + self.shortage_cost

    def as_dict(self) -> dict[str, Any]:
        return {"lane_id": self.lane_id, "origin": self.origin, "kind": self.kind,
                "quantity": round(self.quantity, 4), "cost": round(self.cost, 2),
                "lead_time_days": round(self.time_days, 4), "transport_cost": round(self.transport_cost, 2),
                "expected_short_units": round(self.short_units, 3), "shortage_cost": round(self.shortage_cost, 2)}


class Rebalancer:
    """Reactive transfers and expedites for SKU-sites about to run short (see the module docstring)."""

    #: the event kinds it reads (the log follower calls it for these only)
    kinds = frozenset({"sale", "stock_count"})

    def __init__(self, network: Any, replenisher: Replenisher | None = None, *, expedite_cost_factor: float = 2.5,
                 expedite_time_factor: float = 0.5, lateral_km: float | None = None,
                 lateral_cost_per_unit_km: float = 0.002, lateral_fixed_cost: float = 150.0,
                 lateral_speed_km_per_day: float = 400.0) -> None:
        for name, v in (("expedite_cost_factor", expedite_cost_factor), ("lateral_cost_per_unit_km",
                        lateral_cost_per_unit_km), ("lateral_fixed_cost", lateral_fixed_cost)):
            if not (math.isfinite(v) and v >= 0):
                raise DecisionError(f'"{name}" must be a finite number >= 0, got {v!r}')
        if not 0 < expedite_time_factor <= 1:
            raise DecisionError(f'"expedite_time_factor" must be in (0, 1], got {expedite_time_factor!r}')
        if not lateral_speed_km_per_day > 0:
            raise DecisionError(f'"lateral_speed_km_per_day" must be > 0, got {lateral_speed_km_per_day!r}')
        if lateral_km is not None and not lateral_km >= 0:
            raise DecisionError(f'"lateral_km" must be >= 0 or None, got {lateral_km!r}')
        self.net = network
        self.rep = replenisher if replenisher is not None else Replenisher(network)
        self.expedite_cost_factor = float(expedite_cost_factor)
        self.expedite_time_factor = float(expedite_time_factor)
        self.lateral_km = lateral_km
        self.lateral_cost_per_unit_km = float(lateral_cost_per_unit_km)
        self.lateral_fixed_cost = float(lateral_fixed_cost)
        self.lateral_speed = float(lateral_speed_km_per_day)
        self._dirty: set[tuple[str, str]] = set()
        self._inflight: dict[tuple[str, str], list[tuple[datetime, float]]] = defaultdict(list)
        self._site = {s.id: s for s in network.sites}

    # ------------------------------------------------------------------ event-driven verbs
    def observe(self, event: Any, twin: Any = None) -> list[tuple[str, str]]:
        """Remember the SKU-sites whose stock an event changed (sales and counts)."""
        if getattr(event, "kind", None) in ("sale", "stock_count"):
            key = (event.site, event.sku)
            if key in self.rep.policies:
                self._dirty.add(key)
                return [key]
        return []

    def decide(self, twin: Any, now: datetime) -> list[OrderProposal]:
        """Transfers (and expedites) for the SKU-sites touched since the last call, where they pay."""
        keys = sorted(self._dirty)
        self._dirty.clear()
        out = []
        for key in keys:
            p = self.evaluate(key, twin.state, now)
            if p is not None:
                out.append(p)
        return out

    # ------------------------------------------------------------------ evaluation
    def _shortage_cost(self, sku: str) -> float:
        p = self.net.product(sku)
        if p.shortage_cost is not None:
            return float(p.shortage_cost)
        return max(float(p.price) - float(p.unit_cost), 0.1 * float(p.unit_cost), 1e-6)

    def _excess(self, state: Any, site: str, sku: str) -> float:
        """Units a site can give without going below its own order-up-to level (or a week of demand)."""
        pos = state.position(site, sku)
        pol = self.rep.policies.get((site, sku))
        if pol is not None:
            kind, a, b, _, _ = pol.kernel_params()
            keep = float(b) if kind == 1 else float(a) + (float(b) if kind == 2 else 0.0)
        else:
            keep = 7.0 * self.rep.demand_estimate((site, sku)).mean
        return max(min(pos.on_hand, pos.position) - keep, 0.0)

    def _lateral(self, origin: str, dest: str) -> tuple[str, float, float, float] | None:
        """(lane_id, days, cost per unit, fixed) of a lateral move, None beyond ``lateral_km``."""
        if self.lateral_km is None:
            return None
        a, b = self._site.get(origin), self._site.get(dest)
        if a is None or b is None:
            return None
        km = haversine_km(a.location.lat, a.location.lon, b.location.lat, b.location.lon)
        if km > self.lateral_km:
            return None
        return (f"lateral:{origin}:{dest}", max(km / self.lateral_speed, 0.25), km * self.lateral_cost_per_unit_km,
                self.lateral_fixed_cost)

    @staticmethod
    def _option(kind: str, origin: str, lane_id: str, q: float, days: float, per_unit: float, fixed: float,
                mu: float, avail: float, lead: float, p: float) -> RebalanceOption:
        """Cost of bringing ``q`` units in ``days``: transport, plus the expected units short until the
        pipeline arrives at ``lead`` days (before this option lands and after it, if ``q`` is too little)."""
        if days >= lead:
            short = max(mu * lead - avail, 0.0)
        else:
            before = max(mu * days - avail, 0.0)
            after = max(mu * (lead - days) - max(avail - mu * days, 0.0) - q, 0.0)
            short = before + after
        return RebalanceOption(kind, origin, lane_id, q, days, q * per_unit + fixed, short, short * p)

    def evaluate(self, key: tuple[str, str], state: Any, now: datetime) -> OrderProposal | None:
        """The transfer or expedite for ``key`` when one beats a new order; else None."""
        if key not in self.rep.policies:
            return None
        site, sku = key
        demand = self.rep.demand_estimate(key)
        mu = demand.mean
        if mu <= 0:
            return None
        pos = state.position(site, sku)
        self._inflight[key] = [(t, q) for t, q in self._inflight[key] if t > now]
        avail = pos.on_hand + pos.in_transit - pos.backorders + sum(q for _, q in self._inflight[key])
        regular = self.rep._cheapest(key)
        lead = self.rep.lead_time_estimate(regular).mean_days
        gap = mu * lead - avail
        if gap <= 1e-9:
            return None
        product = self.net.product(sku)
        pack = float(product.pack_size)
        unit = pack if pack >= 1 else 1.0  # whole cases, else whole units: never a fractional move
        q = math.ceil(gap / unit - 1e-9) * unit
        p = self._shortage_cost(sku)
        opts = [self._option("order", regular.origin, regular.id, q, lead, regular.cost_per_unit,
                             regular.fixed_cost_per_shipment, mu, avail, lead, p)]
        inbound = self.rep.inbound.get(key, [])
        same_source = [ln for ln in inbound if ln.origin == regular.origin or self.rep._is_supplier(ln.origin)]
        fastest = min(same_source, key=lambda ln: (self.rep.lead_time_estimate(ln).mean_days, ln.cost_per_unit))
        f_lead = self.rep.lead_time_estimate(fastest).mean_days
        if f_lead < lead - 1e-9 and fastest.id != regular.id:
            opts.append(self._option("expedite", fastest.origin, fastest.id, q, f_lead, fastest.cost_per_unit,
                                     fastest.fixed_cost_per_shipment, mu, avail, lead, p))
        else:
            opts.append(self._option("expedite", regular.origin, regular.id, q, lead * self.expedite_time_factor,
                                     regular.cost_per_unit * self.expedite_cost_factor,
                                     regular.fixed_cost_per_shipment * self.expedite_cost_factor, mu, avail, lead, p))
        lanes_in = {ln.origin: ln for ln in inbound}
        for (dsite, dsku) in list(state.inventory):
            if dsku != sku or dsite == site or dsite in state.untracked_sites:
                continue
            if self._site.get(dsite) is not None and self._site[dsite].kind == "supplier":
                continue
            excess = self._excess(state, dsite, sku)
            excess = math.floor(excess / unit + 1e-9) * unit
            if excess <= 0:
                continue
            qt = min(q, excess)
            ln = lanes_in.get(dsite)
            if ln is not None and ln.id != regular.id:
                opts.append(self._option("transfer", dsite, ln.id, qt, self.rep.lead_time_estimate(ln).mean_days,
                                         ln.cost_per_unit, ln.fixed_cost_per_shipment, mu, avail, lead, p))
            elif ln is None and (lat := self._lateral(dsite, site)) is not None:
                opts.append(self._option("transfer", dsite, lat[0], qt, lat[1], lat[2], lat[3], mu, avail, lead, p))
        order = opts[0]
        best = min(opts, key=lambda o: (o.cost, o.time_days))
        if best.kind == "order" or best.cost >= order.cost - 1e-9:
            return None
        if best.kind == "transfer":
            expedite = min((o for o in opts if o.kind == "expedite"), key=lambda o: o.cost)
            if best.time_days > order.time_days or best.cost >= expedite.cost - 1e-9:
                return None
        self._inflight[key].append((now + timedelta(days=best.time_days), best.quantity))
        options = tuple(o.as_dict() for o in sorted(opts, key=lambda o: o.cost))
        for o in options:
            o["chosen"] = o["lane_id"] == best.lane_id and o["kind"] == best.kind and o["origin"] == best.origin
        is_purchase = self.rep._is_supplier(best.origin)
        why = (f"{site}/{sku}: on hand {pos.on_hand:g} + in transit {pos.in_transit:g} covers "
               f"{avail / mu:.1f} of the {lead:.1f} days until a new order on {regular.id} arrives "
               f"(forecast {mu:.2f}/day, {demand.source}); {best.kind} of {best.quantity:g} from {best.origin} via "
               f"{best.lane_id} costs {best.cost:.2f} in {best.time_days:.2f} d (transport {best.transport_cost:.2f} + "
               f"expected shortage {best.shortage_cost:.2f}) vs new order {order.cost:.2f} in {order.time_days:.2f} d")
        return OrderProposal(site=site, sku=sku, quantity=best.quantity, origin=best.origin, lane_id=best.lane_id,
                             order_type="purchase" if is_purchase else "transfer", cost=round(best.cost, 2),
                             lead_time_days=best.time_days, position=pos.position, policy=repr(self.rep.policies[key]),
                             options=options, reason=why, forecast=demand.as_dict(),
                             extra={"rebalance" if best.kind == "transfer" else "expedite": best.as_dict(),
                                    "gap_units": round(gap, 4)})
