"""Impact of a late shipment, read from the twin: which downstream sites and products stock out and
when, the revenue at risk, and which production runs starve through the bills of materials.

The affected part of the network is grown downstream from the shipment's destination: along lanes
that carry each sku of the load, and at plants from a component to every product whose BOM uses it
(:func:`affected_items`). Each stocking point gets its mean daily need: its own customer demand plus
what its downstream points draw (shared evenly among the lanes feeding a point); a plant makes each
product at its need, capped by the BOM's ``rate_per_day`` and by the stock of the affected components.

Stock is then projected as a fluid (deterministic mean flows, step ``step_days``; the fluid
approximation of a multi-echelon network, e.g. Chen & Mandelbaum 1991) twice from the twin's state
(on hand less backorders, other shipments in transit at their ETA): once with the load arriving when
promised and once at the forecast arrival, over the window in which the delay costs anything: until
the late arrival and the way from the destination to the customers it feeds (:func:`downstream_days`).
Nobody reorders in the projection, so a longer window would only move the late run's shortage in time
(both runs end up short of the same total: the same stock sold in a different order) and a delay that
empties a shelf would read as costing nothing. What differs is the impact of the delay: the stock-outs
(first time a point cannot serve its need), units short at customers and their value at the
product's price (revenue at risk) and at the network's cost model's shortage penalty (shortage cost,
in its currency), and production runs starved of a component (units of output not
made, valued at the output's price, not added to the revenue at risk: they show up there downstream).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["Impact", "ItemImpact", "Node", "StarvedRun", "affected_items", "assess_impact", "downstream_days", "project"]

Key = tuple[str, str]


@dataclass
class Node:
    """One affected stocking point: who it feeds (``lanes``: child, lag in days) and what it makes."""

    site: str
    sku: str
    ext: float = 0.0
    price: float = 0.0
    penalty: float = 0.0  # the cost model's price of one unit short here (lost sale or backorder)
    lanes: list[tuple[Key, float]] = field(default_factory=list)
    bom_children: list[tuple[Key, float]] = field(default_factory=list)  # (output item, qty per unit)
    components: list[tuple[Key, float]] = field(default_factory=list)    # affected inputs (item, qty)
    rate: float | None = None
    need: float = 0.0
    n_in: int = 1  # lanes into the point that carry the sku (each brings an equal share of its need)
    role: str = "downstream"

    @property
    def share(self) -> float:
        """What one feeding lane brings per day."""
        return self.need / self.n_in


def affected_items(network: Any, site: str, skus: list[str], depth: int = 5) -> dict[Key, Node]:
    """The stocking points downstream of ``site`` for ``skus`` (lanes and BOMs), with their needs."""
    nodes: dict[Key, Node] = {}
    queue: deque[tuple[Key, int]] = deque()

    def add(key: Key, level: int, role: str) -> Node:
        if key not in nodes:
            s, k = key
            d = network.demand_for(s, k)
            try:
                price = float(network.product(k).price)
            except KeyError:
                price = 0.0
            try:
                penalty = float(network.cost_model.shortage_rate(s, k))
            except (KeyError, AttributeError):
                penalty = 0.0
            nodes[key] = Node(s, k, ext=float(d.mean_per_day) if d else 0.0, price=price, penalty=penalty, role=role)
            queue.append((key, level))
        return nodes[key]

    for sku in skus:
        add((site, sku), 0, "destination")
    while queue:
        key, level = queue.popleft()
        if level >= depth:
            continue
        node = nodes[key]
        s, k = key
        for lane in network.lanes_from(s):
            if lane.carries(k):
                add((lane.destination, k), level + 1, "downstream")
                node.lanes.append(((lane.destination, k), float(lane.lead_time.mean)))
        for bom in network.boms_at(s):
            for c in bom.components:
                if c.sku == k:
                    child = add((s, bom.output_sku), level + 1, "production")
                    child.rate = float(bom.rate_per_day) if bom.rate_per_day else None
                    child.components.append((key, float(c.quantity)))
                    node.bom_children.append(((s, bom.output_sku), float(c.quantity)))
    order = _parents_first(nodes)
    for key, node in nodes.items():
        node.n_in = max(1, sum(1 for ln in network.lanes_to(key[0]) if ln.carries(key[1])))
    for key in reversed(order):  # children first: their needs are final when a parent reads them
        node = nodes[key]
        node.need = node.ext + sum(nodes[c].share for c, _ in node.lanes)
        node.need += sum(nodes[c].need * q for c, q in node.bom_children)
    return {k: nodes[k] for k in order}


def downstream_days(nodes: dict[Key, Node], key: Key, seen: frozenset[Key] = frozenset(), *,
                    min_lag: float = 0.0) -> float:
    """The longest way (days) from ``key`` to the customers it feeds: lanes' lags (at least ``min_lag``), a day
    per production step."""
    n = nodes.get(key)
    if n is None or key in seen:
        return 0.0
    seen = seen | {key}
    ways = [max(lag, min_lag) + downstream_days(nodes, c, seen, min_lag=min_lag) for c, lag in n.lanes]
    ways += [1.0 + downstream_days(nodes, c, seen, min_lag=min_lag) for c, _ in n.bom_children]
    return max(ways, default=0.0)


def _parents_first(nodes: dict[Key, Node]) -> list[Key]:
    indeg: dict[Key, int] = defaultdict(int)
    for n in nodes.values():
        for c, _ in [*n.lanes, *n.bom_children]:
            indeg[c] += 1
    ready = deque(k for k in nodes if indeg[k] == 0)
    out = []
    while ready:
        k = ready.popleft()
        out.append(k)
        n = nodes[k]
        for c, _ in [*n.lanes, *n.bom_children]:
            indeg[c] -= 1
            if indeg[c] == 0:
                ready.append(c)
    if len(out) != len(nodes):  # a cycle of lanes: keep discovery order
        out += [k for k in nodes if k not in out]
    return out


@dataclass
class _Run:
    stockout_step: dict[Key, int]
    short: dict[Key, float]
    starved_step: dict[Key, int]
    lost_output: dict[Key, float]
    limiting: dict[Key, set[str]]


def project(nodes: dict[Key, Node], stock: dict[Key, float], arrivals: dict[Key, list[tuple[float, float]]],
            *, horizon_days: float, step_days: float = 0.25) -> _Run:
    """Fluid projection; ``arrivals[item]`` lists (days from now, quantity)."""
    n_steps = max(1, int(math.ceil(horizon_days / step_days)))
    inflow: dict[Key, dict[int, float]] = {k: defaultdict(float) for k in nodes}
    for k, rows in arrivals.items():
        if k in inflow:
            for d, q in rows:
                inflow[k][max(0, int(math.floor(d / step_days)))] += q
    st = {k: max(float(stock.get(k, 0.0)), 0.0) for k in nodes}
    stockout: dict[Key, int] = {}
    short: dict[Key, float] = defaultdict(float)
    starved: dict[Key, int] = {}
    lost: dict[Key, float] = defaultdict(float)
    limiting: dict[Key, set[str]] = defaultdict(set)
    dt = step_days
    for step in range(n_steps):
        for k, n in nodes.items():
            st[k] += inflow[k].pop(step, 0.0)
            if n.components:  # a plant makes it from the affected components
                target = n.need * dt if n.rate is None else min(n.need, n.rate) * dt
                can = min([st[c] / q for c, q in n.components if q > 0] + [target])
                can = max(can, 0.0)
                if can < target - 1e-9:
                    starved.setdefault(k, step)
                    lost[k] += target - can
                    limiting[k].update(c[1] for c, q in n.components if st[c] / q < target)
                for c, q in n.components:
                    st[c] -= can * q
                st[k] += can
            out_need = (n.ext + sum(nodes[c].share for c, _ in n.lanes)) * dt
            if out_need <= 0:
                continue
            served = min(st[k], out_need)
            frac = served / out_need
            st[k] -= served
            if frac < 1 - 1e-9:
                stockout.setdefault(k, step)
                short[k] += n.ext * dt * (1 - frac)
            for c, lag in n.lanes:
                q = nodes[c].share * dt * frac
                inflow[c][step + max(1, int(round(lag / dt)))] += q
    return _Run(stockout, dict(short), starved, dict(lost), {k: set(v) for k, v in limiting.items()})


@dataclass(frozen=True)
class ItemImpact:
    site: str
    sku: str
    role: str
    on_hand: float
    need_per_day: float
    stockout_at: datetime | None
    stockout_at_on_time: datetime | None
    units_short: float
    units_short_on_time: float
    revenue_at_risk: float
    shortage_cost: float = 0.0  # units short because of the delay x the cost model's penalty

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "sku": self.sku, "role": self.role, "on_hand": round(self.on_hand, 3),
                "need_per_day": round(self.need_per_day, 3),
                "stockout_at": self.stockout_at.isoformat() if self.stockout_at else None,
                "stockout_at_on_time": self.stockout_at_on_time.isoformat() if self.stockout_at_on_time else None,
                "units_short": round(self.units_short, 3), "units_short_on_time": round(self.units_short_on_time, 3),
                "revenue_at_risk": round(self.revenue_at_risk, 2), "shortage_cost": round(self.shortage_cost, 2)}


@dataclass(frozen=True)
class StarvedRun:
    plant: str
    output_sku: str
    short_of: tuple[str, ...]
    starts_at: datetime
    units_lost: float
    value_lost: float

    def to_dict(self) -> dict[str, Any]:
        return {"plant": self.plant, "output_sku": self.output_sku, "short_of": list(self.short_of),
                "starts_at": self.starts_at.isoformat(), "units_lost": round(self.units_lost, 3),
                "value_lost": round(self.value_lost, 2)}


@dataclass(frozen=True)
class Impact:
    """What the delay does to the network (differences against the load arriving on time)."""

    shipment_id: str
    destination: str
    now: datetime
    arrival: datetime
    on_time_arrival: datetime
    horizon_days: float
    items: tuple[ItemImpact, ...]
    starved: tuple[StarvedRun, ...]
    currency: str = ""  # of every amount (the network's cost model)

    @property
    def shortage_cost(self) -> float:
        """What the units the delay keeps from customers cost in the network's cost model (lost-sale or
        backorder penalty: the margin unless the network's ``costs:`` says otherwise)."""
        return float(sum(i.shortage_cost for i in self.items))

    @property
    def revenue_at_risk(self) -> float:
        return float(sum(i.revenue_at_risk for i in self.items))

    @property
    def units_short(self) -> float:
        return float(sum(max(i.units_short - i.units_short_on_time, 0.0) for i in self.items))

    @property
    def stockouts(self) -> list[ItemImpact]:
        """Points that stock out because of the delay (not at all, or later, when the load is on time)."""
        return [i for i in self.items if i.stockout_at is not None
                and (i.stockout_at_on_time is None or i.stockout_at < i.stockout_at_on_time)]

    def to_dict(self) -> dict[str, Any]:
        return {"shipment_id": self.shipment_id, "destination": self.destination, "now": self.now.isoformat(),
                "arrival": self.arrival.isoformat(), "on_time_arrival": self.on_time_arrival.isoformat(),
                "horizon_days": self.horizon_days, "currency": self.currency,
                "revenue_at_risk": round(self.revenue_at_risk, 2), "shortage_cost": round(self.shortage_cost, 2),
                "units_short": round(self.units_short, 3),
                "stockouts": [i.to_dict() for i in self.stockouts],
                "starved_runs": [r.to_dict() for r in self.starved],
                "items_assessed": len(self.items)}


def _eta_of(sh: Any, network: Any) -> datetime | None:
    if sh.eta is not None:
        return sh.eta
    if sh.promised_at is not None:
        return sh.promised_at
    if sh.departed_at is not None and sh.lane_id:
        try:
            return sh.departed_at + timedelta(days=network.lane(sh.lane_id).lead_time.mean)
        except KeyError:
            return None
    return None


def twin_inputs(network: Any, state: Any, nodes: dict[Key, Node], now: datetime,
                exclude: str | None = None) -> tuple[dict[Key, float], dict[Key, list[tuple[float, float]]]]:
    """Stock (on hand less backorders) and scheduled arrivals of ``nodes`` from the twin's state,
    leaving out shipment ``exclude``."""
    stock = {k: state.position(*k).on_hand - state.position(*k).backorders for k in nodes}
    arrivals: dict[Key, list[tuple[float, float]]] = defaultdict(list)
    sites = {k[0] for k in nodes}
    for sh in state.shipments.values():
        if sh.shipment_id == exclude or sh.delivered_at is not None or sh.destination not in sites:
            continue
        if sh.departed_at is None:
            continue
        eta = _eta_of(sh, network)
        days = max((eta - now).total_seconds() / 86400.0, 0.0) if eta else 0.0
        for sku, q, _ in sh.lines:
            if (sh.destination, sku) in nodes:
                arrivals[(sh.destination, sku)].append((days, float(q)))
    return stock, arrivals


def assess_impact(network: Any, state: Any, *, shipment_id: str, destination: str,
                  lines: list[tuple[str, float, Any]] | tuple, now: datetime, arrival: datetime,
                  on_time: datetime, horizon_days: float | None = None, step_days: float = 0.25) -> Impact:
    """Impact of ``lines`` reaching ``destination`` at ``arrival`` instead of ``on_time``."""
    skus = list(dict.fromkeys(s for s, _, *_ in lines))
    nodes = affected_items(network, destination, skus)
    for k in nodes:
        if k[0] == destination and k[1] in skus:
            nodes[k].role = "destination"
    late_d = max((arrival - now).total_seconds() / 86400.0, 0.0)
    ontime_d = max((on_time - now).total_seconds() / 86400.0, 0.0)
    # the window in which the delay costs anything (module docstring): the late arrival, its way downstream
    reach = max((downstream_days(nodes, (destination, s)) for s in skus), default=0.0)
    horizon = horizon_days or min(max(late_d, ontime_d) + reach + step_days, 28.0)
    stock, arrivals = twin_inputs(network, state, nodes, now, exclude=shipment_id)

    def run(day: float) -> _Run:
        arr = {k: list(v) for k, v in arrivals.items()}
        for sku, q, *_ in lines:
            arr.setdefault((destination, sku), []).append((day, float(q)))
        return project(nodes, stock, arr, horizon_days=horizon, step_days=step_days)

    late, ok = run(late_d), run(ontime_d)

    def at(step: int | None) -> datetime | None:
        return None if step is None else now + timedelta(days=step * step_days)

    items = []
    for k, n in nodes.items():
        s_late, s_ok = late.short.get(k, 0.0), ok.short.get(k, 0.0)
        items.append(ItemImpact(
            site=k[0], sku=k[1], role=n.role, on_hand=float(stock.get(k, 0.0)), need_per_day=n.need,
            stockout_at=at(late.stockout_step.get(k)), stockout_at_on_time=at(ok.stockout_step.get(k)),
            units_short=s_late, units_short_on_time=s_ok, revenue_at_risk=max(s_late - s_ok, 0.0) * n.price,
            shortage_cost=max(s_late - s_ok, 0.0) * n.penalty))
    starved = []
    for k, step in late.starved_step.items():
        extra = late.lost_output.get(k, 0.0) - ok.lost_output.get(k, 0.0)
        if extra <= 1e-9:
            continue
        starved.append(StarvedRun(k[0], k[1], tuple(sorted(late.limiting.get(k, ()))), at(step),  # type: ignore[arg-type]
                                  extra, extra * nodes[k].price))
    return Impact(shipment_id, destination, now, arrival, on_time, horizon, tuple(items),
                  tuple(sorted(starved, key=lambda r: r.starts_at)), currency=str(getattr(network, "currency", "") or ""))
