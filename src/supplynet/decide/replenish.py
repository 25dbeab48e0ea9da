"""Replenishment: from inventory positions and the network's policies to costed order proposals.

Pure functions: no I/O. The live loop calls :func:`plan_orders` for the SKU-sites that events just
touched (event-driven, not a nightly batch); the simulator uses the same policy classes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .policies import policy_from_spec

__all__ = ["OrderProposal", "Replenisher", "downstream_demand", "newsvendor_ratio"]


@dataclass(frozen=True)
class OrderProposal:
    """An order the platform wants to place, with what it weighed."""

    site: str
    sku: str
    quantity: float
    origin: str
    lane_id: str
    order_type: str
    cost: float
    lead_time_days: float
    position: float
    policy: str
    options: tuple[dict[str, Any], ...] = ()
    reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def downstream_demand(network: Any) -> dict[tuple[str, str], tuple[float, float]]:
    """Mean and std of daily demand seen at each (site, sku): stores' own demand, pushed up the lanes
    (split evenly over a site's suppliers of that SKU) and through bills of materials."""
    mean: dict[tuple[str, str], float] = defaultdict(float)
    var: dict[tuple[str, str], float] = defaultdict(float)
    for d in network.demand:
        cv = getattr(d, "cv", 0.5) or 0.0
        std = getattr(d, "std_per_day", None)
        s = float(std) if std is not None else cv * d.mean_per_day
        mean[(d.site, d.sku)] += d.mean_per_day
        var[(d.site, d.sku)] += max(s * s, d.mean_per_day)
    kind = {s.id: s.kind for s in network.sites}
    frontier = dict(mean)
    for _ in range(8):
        nxt: dict[tuple[str, str], float] = defaultdict(float)
        nvar: dict[tuple[str, str], float] = defaultdict(float)
        for (site, sku), m in frontier.items():
            ins = [ln for ln in network.lanes if ln.destination == site and (not ln.skus or sku in ln.skus)]
            for ln in ins:
                if kind.get(ln.origin) == "supplier":
                    continue
                nxt[(ln.origin, sku)] += m / len(ins)
                nvar[(ln.origin, sku)] += var.get((site, sku), m) / len(ins)
            for bom in network.boms:
                if bom.plant == site and bom.output_sku == sku:
                    for c in bom.components:
                        nxt[(site, c.sku)] += m * c.quantity
                        nvar[(site, c.sku)] += var.get((site, sku), m) * c.quantity**2
        if not nxt:
            break
        for k, m in nxt.items():
            mean[k] += m
            var[k] += nvar[k]
        frontier = dict(nxt)
    return {k: (m, float(np.sqrt(var[k]))) for k, m in mean.items()}


def newsvendor_ratio(product: Any) -> float:
    """Critical ratio cu / (cu + co) of a perishable with no salvage value: underage is the lost
    margin (price - cost), overage the cost of a unit thrown away (Arrow, Harris & Marschak 1951)."""
    cu = max(product.price - product.unit_cost, 0.0)
    co = max(product.unit_cost, 1e-9)
    return float(min(max(cu / (cu + co), 0.5), 0.995))


class Replenisher:
    """Sizes each (site, sku) policy once from the network, then proposes orders from positions."""

    def __init__(self, network: Any):
        self.net = network
        self.demand = downstream_demand(network)
        self.policies: dict[tuple[str, str], Any] = {}
        self.specs: dict[tuple[str, str], Any] = {}
        self.inbound: dict[tuple[str, str], list[Any]] = defaultdict(list)
        for ln in network.lanes:
            for sku in (ln.skus or [p.sku for p in network.products]):
                self.inbound[(ln.destination, sku)].append(ln)
        for spec in network.policies:
            skus = [p.sku for p in network.products] if spec.sku == "*" else [spec.sku]
            for sku in skus:
                key = (spec.site, sku)
                if key not in self.demand or not self.inbound.get(key):
                    continue
                lane = self._cheapest(key)
                mu, sd = self.demand[key]
                product = network.product(sku)
                params_spec = spec
                sl = getattr(spec, "service_level", None)
                if spec.type == "newsvendor" and sl is None and "q" not in (spec.params or {}):
                    sl = newsvendor_ratio(product)
                if sl is not None and "service_level" not in (spec.params or {}):
                    params_spec = {"type": spec.type, "params": {**(spec.params or {}), "service_level": sl}}
                self.policies[key] = policy_from_spec(params_spec, demand_mean=mu, demand_std=sd,
                                                      lead_time=lane.lead_time.mean,
                                                      pack_size=product.pack_size, moq=product.moq)
                self.specs[key] = spec

    def _cheapest(self, key: tuple[str, str]) -> Any:
        return min(self.inbound[key], key=lambda ln: (ln.cost_per_unit, ln.lead_time.mean))

    def options(self, key: tuple[str, str], quantity: float) -> list[dict[str, Any]]:
        """Every inbound lane that can bring the SKU, costed: transport + holding while in transit."""
        product = self.net.product(key[1])
        out = []
        for ln in self.inbound.get(key, []):
            cost = quantity * (ln.cost_per_unit + product.unit_cost) + getattr(ln, "fixed_cost_per_shipment", 0.0)
            out.append({"lane_id": ln.id, "origin": ln.origin, "mode": ln.mode, "cost": round(cost, 2),
                        "lead_time_days": ln.lead_time.mean,
                        "capacity_per_day": getattr(ln, "capacity_per_day", None)})
        return sorted(out, key=lambda o: (o["cost"], o["lead_time_days"]))

    def plan(self, positions: Mapping[tuple[str, str], float], keys: Iterable[tuple[str, str]] | None = None,
             day: int | None = None) -> list[OrderProposal]:
        """Order proposals for ``keys`` (default: every SKU-site with a policy)."""
        out = []
        for key in (keys if keys is not None else self.policies):
            policy = self.policies.get(key)
            if policy is None:
                continue
            pos = float(positions.get(key, 0.0))
            q = float(policy.order_quantity(pos, day=day))
            if q <= 0:
                continue
            options = self.options(key, q)
            cap = options[0].get("capacity_per_day")
            if cap:
                q = min(q, float(cap))
            best = options[0]
            kind = "purchase" if self._is_supplier(best["origin"]) else "transfer"
            mu, _ = self.demand.get(key, (0.0, 0.0))
            reason = (f"position {pos:.0f} below the {type(policy).__name__} level at {key[0]}/{key[1]} "
                      f"(mean demand {mu:.1f}/day); cheapest of {len(options)} option(s): {best['lane_id']}")
            out.append(OrderProposal(site=key[0], sku=key[1], quantity=q, origin=best["origin"],
                                     lane_id=best["lane_id"], order_type=kind, cost=best["cost"],
                                     lead_time_days=best["lead_time_days"], position=pos, policy=repr(policy),
                                     options=tuple(options), reason=reason))
        return out

    def _is_supplier(self, site: str) -> bool:
        s = self.net.site(site)
        return s is not None and s.kind == "supplier"
