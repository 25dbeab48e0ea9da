"""Responses to a late shipment: alternatives, costed with the what-if engine, one chosen.

Alternatives (:func:`alternatives`) for the load's at-risk lines (the skus that stock out downstream
because of the delay, in the quantity the destination needs over the delay):

- ``wait``: accept the delay (always weighed);
- ``expedite``: send the at-risk quantity again from the origin on a faster mode: another lane of a
  different mode between the same sites, else an :class:`ExpediteMode` (express truck, air) priced as a
  multiple of the lane's cost (the express truck at the network's cost model: 1 + ``costs.expedite_premium``); and the take-over: the late load itself leaves the jam (the first
  expedite mode takes it where it stands), priced as that mode's multiple of the part of the trip left,
  offered only when it arrives sooner than waiting;
- ``reroute``: from the origin over other lanes: shortest paths on time and on cost (networkx, over
  :meth:`Network.graph`, without the late lane, only lanes that carry the skus);
- ``alt_supplier``: from another supplier, by its shortest paths on time and cost;
- ``transfer``: from another site holding more than ``keep_days`` of its own need, over the network's
  lanes or, when none joins them, a spot haul priced and timed from the network's own lanes by
  distance (least squares on ``distance_km``) with a ``spot_premium``.

Each is costed for cost and service by the what-if simulation the caller hands in (a
:class:`~supplynet.decide.whatif.Simulate` function; the wiring passes :func:`supplynet.loop.sim_whatif`,
the Monte Carlo engine, so decide never imports :mod:`supplynet.sim`) on the affected part of the network,
started from the twin's state, every alternative on the same seed (common random numbers, so differences
are paired; Law 2015, s.10.2), hour by hour over the window in which the delay costs anything: for each of
the late load's forecast arrivals (P10, P50, P90, its stop's rest included when the tracker reports the
truck standing) until it would arrive and its goods reach the customers (see :func:`cost_alternatives`). An alternative's total cost is what it spends
plus the simulated holding and shortage cost over that window; its time is when the goods reach the
destination. The objective (per network in ``meta.reroute_objective``, or per decision; default
``lowest_cost``) picks one: ``lowest_cost`` (least total cost: waiting unless acting costs less), ``fastest`` (earliest arrival, then cost) or ``balanced`` (least
sum of the two, each scaled to [0, 1] over the alternatives).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from ..errors import DecisionError
from ..sense.eta.delay import DelayDeclared
from .decision import Decision, Option, OrderAction, RerouteAction
from .impact import Impact, Key, Node, affected_items, assess_impact, downstream_days, twin_inputs
from .whatif import Simulate, WhatIfNetwork, WhatIfStart

__all__ = ["OBJECTIVES", "REGULAR_CYCLE_DAYS", "Alternative", "CostedOption", "ExpediteMode", "Response",
           "alternatives", "choose", "cost_alternatives", "plan_response", "regular_deliveries"]

Objective = Literal["lowest_cost", "fastest", "balanced"]
OBJECTIVES: tuple[str, ...] = ("lowest_cost", "fastest", "balanced")
_EARTH_KM = 6371.0088


@dataclass(frozen=True)
class ExpediteMode:
    """A premium service on a lane: ``time_factor`` x the lane's mean time plus ``handling_days``, and
    ``cost_factor`` x its per-unit and fixed costs; only for lanes of ``min_km`` or more."""

    mode: str
    time_factor: float
    cost_factor: float
    handling_days: float = 0.0
    min_km: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.time_factor <= 1:
            raise DecisionError(f"expedite mode {self.mode}: time_factor must be in (0, 1], got {self.time_factor}")
        if self.cost_factor < 1:
            raise DecisionError(f"expedite mode {self.mode}: cost_factor must be >= 1, got {self.cost_factor}")


DEFAULT_EXPEDITE = (ExpediteMode("express_truck", 0.6, 2.5, 2 / 24), ExpediteMode("air", 0.2, 8.0, 0.25, 250.0))


@dataclass(frozen=True)
class Alternative:
    kind: Literal["wait", "expedite", "reroute", "alt_supplier", "transfer"]
    label: str
    origin: str
    path: tuple[str, ...]          # lane ids (or "spot:A>B", "express_truck:L-1")
    arrival_days: float            # from now until the goods reach the destination
    action_cost: float
    lines: tuple[tuple[str, float], ...]
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def quantity(self) -> float:
        return float(sum(q for _, q in self.lines))


@dataclass(frozen=True)
class CostedOption:
    alt: Alternative
    sim_cost: float            # mean holding + shortage cost over the horizon (simulated)
    shortage_cost: float
    revenue_at_risk: float
    fill_rate: float
    diff_vs_wait: float        # mean paired difference in total cost against waiting
    diff_ci: float             # half-width of its 95% interval

    @property
    def total_cost(self) -> float:
        return self.alt.action_cost + self.sim_cost

    def to_option(self) -> Option:
        a = self.alt
        return Option(label=a.label, cost=round(self.total_cost, 2), time_days=round(a.arrival_days, 4), detail={
            "kind": a.kind, "origin": a.origin, "path": list(a.path), "action_cost": round(a.action_cost, 2),
            "sim_cost": round(self.sim_cost, 2), "shortage_cost": round(self.shortage_cost, 2),
            "revenue_at_risk": round(self.revenue_at_risk, 2), "fill_rate": round(self.fill_rate, 4),
            "diff_vs_wait": round(self.diff_vs_wait, 2), "diff_ci95": round(self.diff_ci, 2),
            "lines": [[s, q] for s, q in a.lines], **a.detail})


# ------------------------------------------------------------------------------------------ alternatives
def _km(network: Any, a: str, b: str) -> float:
    la, lb = network.site(a).location, network.site(b).location
    p1, p2 = math.radians(la.lat), math.radians(lb.lat)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lb.lon - la.lon) / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(min(h, 1.0)))


def _lane_km(network: Any, lane: Any) -> float:
    return float(lane.distance_km) if lane.distance_km else 1.25 * _km(network, lane.origin, lane.destination)


def _priced_modes(network: Any, modes: tuple[ExpediteMode, ...]) -> tuple[ExpediteMode, ...]:
    """The expedite modes with the express truck priced by the network's cost model: an expedited load
    costs (1 + ``costs.expedite_premium``) x its lane's transport (the default modes only; given ones stay)."""
    costs = getattr(network, "costs", None)
    premium = getattr(costs, "expedite_premium", None)
    if modes is not DEFAULT_EXPEDITE or premium is None:
        return modes
    return tuple(ExpediteMode(m.mode, m.time_factor, 1.0 + float(premium), m.handling_days, m.min_km)
                 if m.mode == "express_truck" else m for m in modes)


def spot_rates(network: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares ``a + b * km`` for a truck lane's mean days, cost per unit and fixed cost."""
    lanes = [ln for ln in network.lanes if ln.mode == "truck"] or list(network.lanes)
    if not lanes:
        return np.array([0.5, 1 / 500]), np.array([0.05, 0.0005]), np.array([150.0, 1.5])
    km = np.array([_lane_km(network, ln) for ln in lanes])
    X = np.column_stack([np.ones_like(km), km])
    fits = []
    for y in (np.array([ln.lead_time.mean for ln in lanes]), np.array([ln.cost_per_unit for ln in lanes]),
              np.array([ln.fixed_cost_per_shipment for ln in lanes])):
        coef = np.linalg.lstsq(X, y, rcond=None)[0] if len(lanes) >= 2 else np.array([float(y.mean()), 0.0])
        fits.append(np.maximum(coef, 0.0))
    return fits[0], fits[1], fits[2]


def _path_cost(network: Any, lanes: list[Any], qty: float) -> tuple[float, float]:
    days = sum(float(ln.lead_time.mean) for ln in lanes)
    cost = sum(ln.cost_per_unit * qty + ln.fixed_cost_per_shipment for ln in lanes)
    return days, cost


def _paths(network: Any, g: Any, src: str, dst: str, skus: list[str], qty: float, avoid: str) -> list[list[Any]]:
    """Shortest paths by time and by cost from ``src`` to ``dst`` over lanes carrying ``skus``."""
    import networkx as nx

    def usable(u: str, v: str, d: dict[str, Any]) -> Any | None:
        for lid in d["lanes"]:
            ln = network.lane(lid)
            if lid != avoid and all(ln.carries(s) for s in skus):
                return ln
        return None

    def w_time(u: str, v: str, d: dict[str, Any]) -> float | None:
        ln = usable(u, v, d)
        return None if ln is None else float(ln.lead_time.mean) + 1e-6

    def w_cost(u: str, v: str, d: dict[str, Any]) -> float | None:
        ln = usable(u, v, d)
        return None if ln is None else ln.cost_per_unit * qty + ln.fixed_cost_per_shipment + 1e-6

    out: list[list[Any]] = []
    for w in (w_time, w_cost):
        try:
            nodes = nx.shortest_path(g, src, dst, weight=w)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            continue
        lanes = [usable(u, v, g.edges[u, v]) for u, v in zip(nodes[:-1], nodes[1:], strict=True)]
        if lanes and all(ln is not None for ln in lanes) and lanes not in out:
            out.append(lanes)
    return out


def at_risk_lines(delay: DelayDeclared, impact: Impact, nodes: dict[Key, Node]) -> tuple[tuple[str, float], ...]:
    """Skus of the load that stock out because of the delay, in the quantity the destination needs
    over the delay (need per day x delay days, at most the line's quantity)."""
    late_skus = {i.sku for i in impact.stockouts} | {s for r in impact.starved for s in r.short_of}
    gap_days = max((impact.arrival - max(impact.on_time_arrival, impact.now)).total_seconds() / 86400.0, 0.0)
    out: dict[str, float] = {}
    for sku, q, *_ in delay.lines:
        if sku in late_skus:
            node = nodes.get((delay.destination, sku))
            need = node.need * gap_days * 1.2 if node else float(q)
            out[sku] = out.get(sku, 0.0) + float(min(float(q), max(math.ceil(need), 1.0)))
    return tuple(out.items())


def alternatives(network: Any, state: Any, delay: DelayDeclared, impact: Impact, *, now: datetime,
                 expedite: tuple[ExpediteMode, ...] = DEFAULT_EXPEDITE, keep_days: float = 3.0,
                 allow_spot: bool = True, spot_premium: float = 1.3, risk: Impact | None = None,
                 expected_days: float | None = None) -> list[Alternative]:
    """The alternatives weighed for ``delay`` (see the module docstring); the lines at risk are read from
    ``impact`` and ``risk`` (e.g. the impact should a standing truck's stop go on); waiting has the load
    arrive ``expected_days`` from now (default: at the impact's arrival) and the take-over is offered when it
    is sooner."""
    dest = delay.destination
    expedite = _priced_modes(network, expedite)
    late_days = max((impact.arrival - now).total_seconds() / 86400.0, 0.0)
    lines_all = tuple((s, float(q)) for s, q, *_ in delay.lines)
    nodes = affected_items(network, dest, [s for s, _ in lines_all])
    risky = at_risk_lines(delay, impact, nodes)
    if risk is not None:  # at risk at either arrival, in the larger quantity
        more = dict(risky)
        for sku, q in at_risk_lines(delay, risk, nodes):
            more[sku] = max(more.get(sku, 0.0), q)
        risky = tuple(more.items())
    note = "accept the delay; the load arrives at its forecast P50"
    if expected_days is not None and expected_days > late_days:
        late_days, note = expected_days, note + " and the rest of its stop (median)"
    out = [Alternative("wait", "wait", delay.origin, (delay.lane_id,), late_days, 0.0, lines_all, {"note": note})]
    if not risky:
        return out
    skus = [s for s, _ in risky]
    qty = float(sum(q for _, q in risky))
    lane = network.lane(delay.lane_id)

    def has_stock(site: str) -> bool:
        if network.site(site).kind == "supplier":
            return True
        return all(state.position(site, s).on_hand - nodes.get((site, s), Node(site, s)).need * keep_days >= q
                   for s, q in risky)

    # expedite: another mode between the same sites, else a premium service on the lane
    if has_stock(delay.origin):
        others = [ln for ln in network.lanes_from(delay.origin) if ln.destination == dest and ln.id != lane.id
                  and ln.mode != lane.mode and all(ln.carries(s) for s in skus)]
        for ln in others:
            d, c = _path_cost(network, [ln], qty)
            out.append(Alternative("expedite", f"expedite:{ln.mode}:{ln.id}", delay.origin, (ln.id,), d, c, risky,
                                   {"mode": ln.mode}))
        km = _lane_km(network, lane)
        for m in expedite:
            if km < m.min_km or m.mode == lane.mode:
                continue
            d = float(lane.lead_time.mean) * m.time_factor + m.handling_days
            c = m.cost_factor * (lane.cost_per_unit * qty + lane.fixed_cost_per_shipment)
            out.append(Alternative("expedite", f"expedite:{m.mode}:{lane.id}", delay.origin, (f"{m.mode}:{lane.id}",),
                                   d, c, risky, {"mode": m.mode, "time_factor": m.time_factor,
                                                 "cost_factor": m.cost_factor}))
    # take-over: the late load itself leaves the jam (an express carrier or another road takes it where it
    # stands), priced on what is left of the trip; it arrives sooner than waiting or is not offered
    left = max(1.0 - float(getattr(delay, "progress", 0.0) or 0.0), 0.05)
    q_all = float(sum(q for _, q in lines_all))
    for m in expedite[:1]:
        d = float(lane.lead_time.mean) * left * m.time_factor + m.handling_days
        if d < late_days - 1.0 / 24:
            c = m.cost_factor * left * (lane.cost_per_unit * q_all + lane.fixed_cost_per_shipment)
            out.append(Alternative("expedite", f"expedite:takeover:{m.mode}:{lane.id}", delay.origin,
                                   (f"{m.mode}:{lane.id}",), d, c, lines_all,
                                   {"mode": m.mode, "moves_load": True, "left_of_trip": round(left, 4),
                                    "time_factor": m.time_factor, "cost_factor": m.cost_factor}))
    g = network.graph()
    seen: set[tuple[str, ...]] = {(lane.id,)}

    def add_paths(kind: str, src: str) -> bool:
        found = False
        for p in _paths(network, g, src, dest, skus, qty, lane.id):
            ids = tuple(ln.id for ln in p)
            if ids in seen:
                continue
            seen.add(ids)
            d, c = _path_cost(network, p, qty)
            out.append(Alternative(kind, f"{kind}:{'>'.join(ids)}", src, ids, d, c, risky,  # type: ignore[arg-type]
                                   {"hops": len(p)}))
            found = True
        return found

    if has_stock(delay.origin):
        add_paths("reroute", delay.origin)
    for s in network.sites:
        if s.id in (delay.origin, dest):
            continue
        if s.kind == "supplier":
            add_paths("alt_supplier", s.id)
        elif s.kind in ("dc", "plant") and has_stock(s.id) and not add_paths("transfer", s.id) and allow_spot:
            t_fit, c_fit, f_fit = spot_rates(network)
            km = 1.25 * _km(network, s.id, dest)
            d = float(t_fit[0] + t_fit[1] * km)
            c = spot_premium * (float(c_fit[0] + c_fit[1] * km) * qty + float(f_fit[0] + f_fit[1] * km))
            out.append(Alternative("transfer", f"transfer:spot:{s.id}>{dest}", s.id, (f"spot:{s.id}>{dest}",), d, c,
                                   risky, {"spot": True, "km": round(km, 1), "premium": spot_premium}))
    return out


# ------------------------------------------------------------------------------------------ costing
def _sub_network(network: Any, nodes: dict[Key, Node], dest_keys: set[Key], periods_per_day: int = 1) -> WhatIfNetwork:
    """The affected part of the network as the what-if simulation reads it; the destination does not
    reorder within the horizon (only what is already on its way arrives); a unit short costs the cost
    model's penalty at its site (the product's ``shortage_cost`` where the network has no cost model)."""
    keys = list(nodes)
    idx = {k: i for i, k in enumerate(keys)}
    arcs, lt, lt_std, item_lane, lanes = [], [1.0] * len(keys), [0.0] * len(keys), [-1] * len(keys), []
    for k, n in nodes.items():
        for c, lag in n.lanes:
            arcs.append((idx[k], idx[c], 1.0))
            lt[idx[c]] = max(lag, 1.0)
        for c, q in n.bom_children:
            arcs.append((idx[k], idx[c], q))
    for k in keys:
        for ln in network.lanes_to(k[0]):
            if ln.carries(k[1]) and k not in dest_keys and any(p == (ln.origin, k[1]) for p in keys):
                lt_std[idx[k]] = float(ln.lead_time.std)
                item_lane[idx[k]] = len(lanes)
                lanes.append(ln.id)
                break
    prods = {p.sku: p for p in network.products}
    dmean = np.array([n.ext for n in nodes.values()])
    dstd = np.array([(network.demand_for(*k).std if network.demand_for(*k) else 0.0) for k in keys])
    return WhatIfNetwork(
        name=f"{network.name}:impact", items=tuple(keys), arcs=tuple(arcs), site_kind={s.id: s.kind for s in network.sites},
        lead_time=np.asarray(lt, float), lead_std=np.asarray(lt_std, float),
        lead_kind=tuple("normal" if s > 0 else "fixed" for s in lt_std), demand_mean=dmean,
        demand_std=np.maximum(dstd, 1e-9), demand_kind=tuple("normal_int" if m > 0 else "none" for m in dmean),
        backorders=tuple(bool(network.site(k[0]).backorders) for k in keys),
        hold=np.array([prods[k[1]].holding_cost_per_day if k[1] in prods else 0.0 for k in keys], float),
        short_cost=np.array([nodes[k].penalty if nodes[k].penalty > 0 else
                             ((prods[k[1]].shortage_cost or 0.0) if k[1] in prods else 0.0) for k in keys], float),
        price=np.array([nodes[k].price for k in keys], float), lanes=tuple(lanes),
        item_lane=np.asarray(item_lane, np.int64), frozen=tuple(sorted(idx[k] for k in dest_keys if k in idx)),
        periods_per_day=int(periods_per_day))


#: a three-point estimate of the late load's arrival: its forecast P10, P50 and P90 weighted 0.3, 0.4 and
#: 0.3 (Swanson's rule; Hurst, Brown & Swanson 2000, "Swanson's 30-40-30 rule", AAPG Bulletin 84(12))
_ARRIVAL_POINTS: tuple[tuple[float, str], ...] = ((0.3, "eta_p10"), (0.4, "eta_p50"), (0.3, "eta_p90"))


#: the tail of a standstill's length: P(it lasts r more | it has lasted s) = (s / (s + r)) ** alpha, a Pareto
#: (Lomax) tail; alpha = 2 makes the expected rest of a stop as long as it has lasted so far
_STOP_ALPHA = 2.0


def _stop_left(standing_days: float, q: float) -> float:
    """The ``q``-quantile of how much longer a stop that has lasted ``standing_days`` goes on."""
    if standing_days <= 0:
        return 0.0
    return standing_days * ((1.0 - q) ** (-1.0 / _STOP_ALPHA) - 1.0)


def _late_arrivals(delay: DelayDeclared, impact: Impact, now: datetime,
                   standing_days: float = 0.0) -> list[tuple[float, float]]:
    """(weight, days from now) of the late load's arrival: the tracker's forecast spread (P10/P50/P90; the
    impact's arrival alone when the declaration carries no spread). The forecast has a standing truck move on
    at once; when the tracker has reported it standing for ``standing_days`` the stop's own quantiles
    (:data:`_STOP_ALPHA`) are added, level by level."""
    p50 = max((impact.arrival - now).total_seconds() / 86400.0, 0.0)
    pts = []
    for (w, name), q in zip(_ARRIVAL_POINTS, (0.1, 0.5, 0.9), strict=True):
        t = getattr(delay, name, None)
        d = max((t - now).total_seconds() / 86400.0, 0.0) if isinstance(t, datetime) else p50
        pts.append((w, (p50 if name == "eta_p50" else d) + _stop_left(standing_days, q)))
    return sorted(((w, max(d, 1e-9)) for w, d in pts), key=lambda x: x[1])


def cost_alternatives(network: Any, state: Any, delay: DelayDeclared, impact: Impact, alts: list[Alternative], *,
                      now: datetime, simulate: Simulate, horizon_days: float | None = None, replications: int = 64,
                      seed: int = 0, periods_per_day: int = 24, standing_days: float = 0.0) -> list[CostedOption]:
    """Simulate each alternative from the twin's state on common random numbers (with ``simulate``, see
    :class:`~supplynet.decide.whatif.Simulate`), in steps of a ``periods_per_day``-th of a day.

    What an option changes is what is lost downstream while the destination waits for the goods. The late
    load arrives at its forecast P10, P50 and P90 (weighted 0.3, 0.4, 0.3, ``_ARRIVAL_POINTS``), later by
    the rest of its stop when the truck has stood still ``standing_days`` (see :func:`_late_arrivals`); each
    point is one what-if of every option on the same seed (so the weighted costs stay paired per replication),
    over that point's own window: until the late load would arrive and its goods reach the customers
    downstream (``horizon_days`` overrides). From then on the destination's position is whole again and its
    own replenishment serves it alike under every option; a longer window with the destination frozen would
    let every option sell the same stock out by its end (an earlier arrival would look worth nothing) and
    would credit an option that sends goods on top of the late load with stock the next regular delivery
    brings anyway. An option that moves the late load itself (the take-over) has it arrive when the option
    says under every point, and is judged over the same windows (sooner than the P10 it helps little, later
    it costs)."""
    skus = list(dict.fromkeys(s for a in alts for s, _ in a.lines))
    nodes = affected_items(network, delay.destination, skus)
    dest_keys = {(delay.destination, s) for s in skus}
    base = _sub_network(network, nodes, dest_keys, periods_per_day)
    idx = base.index()
    stock, arrivals = twin_inputs(network, state, nodes, now, exclude=delay.shipment_id)
    points = _late_arrivals(delay, impact, now, standing_days)
    # the way to the customers as the what-if runs it (its lanes take a day at least, _sub_network)
    reach = max((downstream_days(nodes, k, min_lag=1.0) for k in dest_keys if k in nodes), default=0.0)
    step = 1.0 / max(periods_per_day, 1)
    on_hand = {k: max(float(v), 0.0) for k, v in stock.items()}
    pipeline = [(k, q, max(d, 1e-9)) for k, rows in arrivals.items() for d, q in rows]
    load_lines = [((delay.destination, s), float(q)) for s, q, *_ in delay.lines if (delay.destination, s) in idx]
    regular = regular_deliveries(network, nodes, dest_keys, max(d for _, d in points) + reach + step)
    pipeline += [row for row in regular if row[0] in idx]
    per_point = []
    for _, d in points:
        starts = []
        for a in alts:
            extra = [] if a.kind == "wait" else [((delay.destination, s), q, max(a.arrival_days, 1e-9))
                                                 for s, q in a.lines if (delay.destination, s) in idx]
            load = [] if a.detail.get("moves_load") else [(k, q, d) for k, q in load_lines]
            starts.append(WhatIfStart(on_hand=on_hand, in_transit=pipeline + load + extra))
        horizon = float(horizon_days) if horizon_days else max(d + reach + step, step)
        got = simulate(base, starts, horizon=horizon, replications=replications, seed=seed)
        if len(got) != len(starts):
            raise DecisionError(f"the what-if simulation returned {len(got)} outcomes for {len(starts)} starts")
        per_point.append(got)

    def mix(i: int, field_: str) -> np.ndarray:
        return np.asarray(sum(w * np.asarray(getattr(per_point[p][i], field_), float)
                              for p, (w, _) in enumerate(points)), float)

    mixed = [{f: mix(i, f) for f in ("holding_cost", "shortage_cost", "revenue_at_risk", "fill_rate")}
             for i in range(len(alts))]
    wait_cost = mixed[0]["holding_cost"] + mixed[0]["shortage_cost"]
    out = []
    for a, res in zip(alts, mixed, strict=True):
        cost = res["holding_cost"] + res["shortage_cost"]
        diff = cost - wait_cost + a.action_cost
        half = float(1.96 * diff.std(ddof=1) / math.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        fill = res["fill_rate"]
        out.append(CostedOption(a, float(cost.mean()), float(res["shortage_cost"].mean()),
                                float(res["revenue_at_risk"].mean()),
                                float(np.nanmean(fill)) if np.isfinite(fill).any() else float("nan"),
                                float(diff.mean()), half))
    return out


#: the destination's regular replenishment in the what-if: a delivery every this many days, the first half a
#: cycle plus its inbound lane's mean lead time from now (a release due on average half a cycle away)
REGULAR_CYCLE_DAYS = 1.0


def regular_deliveries(network: Any, nodes: dict[Key, Node], dest_keys: set[Key], horizon: float,
                       cycle_days: float = REGULAR_CYCLE_DAYS) -> list[tuple[Key, float, float]]:
    """(item, quantity, days from now) of the destination's own replenishment within ``horizon`` days: the
    destination stays frozen in the what-if (it places no order the simulation would have to invent), but its
    regular orders go on as they would live - a replenisher counting the late load in its position orders what
    was sold, so each delivery brings a cycle's mean need, for every option alike. The late load's absence
    still leaves the shelf one load lower until it arrives; what the next regular delivery brings anyway is
    no longer credited to the options that send goods early (e.g. a shelf kept bare for two days at a
    waiting load's forecast P90)."""
    out: list[tuple[Key, float, float]] = []
    for key in sorted(dest_keys):
        node = nodes.get(key)
        if node is None or node.need <= 0:
            continue
        lanes = [ln for ln in network.lanes_to(key[0]) if ln.carries(key[1])]
        if not lanes:
            continue
        lead = min(float(ln.lead_time.mean) for ln in lanes)
        t = lead + cycle_days / 2.0
        while t < horizon:
            out.append((key, node.need * cycle_days, t))
            t += cycle_days
    return out


def choose(options: list[CostedOption], objective: str) -> tuple[CostedOption, str]:
    """The option the objective prefers, and why."""
    if objective not in OBJECTIVES:
        raise DecisionError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    if not options:
        raise DecisionError("no option to choose from")
    if objective == "lowest_cost":
        best = min(options, key=lambda o: (round(o.total_cost, 6), o.alt.arrival_days))
        rule = "least total cost (action + simulated holding and shortage)"
    elif objective == "fastest":
        best = min(options, key=lambda o: (round(o.alt.arrival_days, 6), o.total_cost))
        rule = "earliest arrival at the destination, then cost"
    else:
        c = np.array([o.total_cost for o in options])
        t = np.array([o.alt.arrival_days for o in options])

        def scale(x: np.ndarray) -> np.ndarray:
            span = x.max() - x.min()
            return (x - x.min()) / span if span > 0 else np.zeros_like(x)

        score = 0.5 * scale(c) + 0.5 * scale(t)
        best = options[int(np.argmin(score))]
        rule = "least of cost and time, each scaled to [0, 1] over the options, weighted equally"
    wait = options[0]
    why = (f"{best.alt.label} under objective {objective} ({rule}): total cost {best.total_cost:,.2f} "
           f"(action {best.alt.action_cost:,.2f} + simulated {best.sim_cost:,.2f}), goods at the destination in "
           f"{best.alt.arrival_days:.2f} days, fill rate {best.fill_rate:.3f}; waiting: {wait.total_cost:,.2f}, "
           f"{wait.alt.arrival_days:.2f} days, fill rate {wait.fill_rate:.3f}; {len(options)} options weighed")
    return best, why


# ------------------------------------------------------------------------------------------ response
@dataclass
class Response:
    """Everything one response weighed: the delay, its impact, the options and the choice."""

    delay: DelayDeclared
    impact: Impact
    options: list[CostedOption]
    chosen: CostedOption
    why: str
    objective: str
    sim: dict[str, Any]

    def action(self) -> OrderAction | RerouteAction:
        a = self.chosen.alt
        if a.kind in ("alt_supplier", "transfer") and len(a.lines) == 1 and not a.detail.get("spot"):
            sku, q = a.lines[0]
            return OrderAction(site=self.delay.destination, sku=sku, quantity=q, origin=a.origin,
                               lane_id=a.path[0] if len(a.path) == 1 else None,
                               order_type="purchase" if a.kind == "alt_supplier" else "transfer")
        return RerouteAction(shipment_id=self.delay.shipment_id, to_lane=">".join(a.path) if a.kind != "wait"
                             else self.delay.lane_id, from_lane=self.delay.lane_id, option=a.kind,
                             arrival_days=round(float(a.arrival_days), 6), origin=a.origin,
                             destination=self.delay.destination, lines=[(s, float(q)) for s, q in a.lines],
                             moves_load=bool(a.detail.get("moves_load")) if a.kind in ("expedite", "reroute") else None)

    def counterfactual(self, now: datetime) -> dict[str, Any]:
        """Waiting against the chosen answer: expected total cost (action + simulated, on common random
        numbers) and arrival of each, and what acting saves or costs over waiting."""
        def side(o: CostedOption) -> dict[str, Any]:
            return {"option": o.alt.label, "total_cost": round(o.total_cost, 2), "action_cost": round(o.alt.action_cost, 2),
                    "arrival_days": round(o.alt.arrival_days, 4),
                    "arrival_at": (now + timedelta(days=o.alt.arrival_days)).isoformat(),
                    "fill_rate": round(o.fill_rate, 4) if math.isfinite(o.fill_rate) else None}
        wait, act = self.options[0], self.chosen
        return {"wait": side(wait), "act": side(act), "cost_saved": round(wait.total_cost - act.total_cost, 2),
                "hours_sooner": round((wait.alt.arrival_days - act.alt.arrival_days) * 24.0, 2),
                "diff_ci95": round(act.diff_ci, 2) if math.isfinite(act.diff_ci) else None}

    def to_decision(self, now: datetime) -> Decision:
        return Decision(kind="reroute", created_at=now, trigger_event_ids=list(self.delay.trigger_event_ids),
                        model_output={"delay": self.delay.to_dict(), "impact": self.impact.to_dict(),
                                      "objective": self.objective, "sim": self.sim,
                                      "counterfactual": self.counterfactual(now)},
                        options=[o.to_option() for o in self.options], chosen=self.chosen.alt.label, why=self.why,
                        cost=round(self.chosen.alt.action_cost, 2), action=self.action(),
                        idempotency_key=f"delay:{self.delay.shipment_id}:{self.delay.declaration}")


def plan_response(network: Any, state: Any, delay: DelayDeclared, impact: Impact, *, now: datetime,
                  simulate: Simulate, objective: str | None = None, replications: int = 64, seed: int = 0,
                  horizon_days: float | None = None, standing_days: float = 0.0, **alt_options: Any) -> Response:
    """Alternatives for ``delay``, costed on common random numbers, and the one ``objective`` prefers
    (default: the network's ``meta.reroute_objective``, else ``lowest_cost``: act only when acting's expected
    total cost beats waiting's - a planner does not sign an expedite that costs ten times the delay). ``simulate``
    runs the what-if (:class:`~supplynet.decide.whatif.Simulate`); ``standing_days``: how long the tracker has
    reported the truck standing still (the stop goes on, see :func:`cost_alternatives`; the lines at risk are
    those short should it go on to its P90)."""
    objective = objective or str((getattr(network, "meta", None) or {}).get("reroute_objective") or "lowest_cost")
    if objective not in OBJECTIVES:
        raise DecisionError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    risk, expected = None, None
    if standing_days > 0:  # the stop goes on: the lines at risk should it last to its P90
        points = _late_arrivals(delay, impact, now, standing_days)
        expected = points[1][1]
        risk = assess_impact(network, state, shipment_id=delay.shipment_id, destination=delay.destination,
                             lines=list(delay.lines), now=now, arrival=now + timedelta(days=points[-1][1]),
                             on_time=delay.promised_at)
    alts = alternatives(network, state, delay, impact, now=now, risk=risk, expected_days=expected, **alt_options)
    costed = cost_alternatives(network, state, delay, impact, alts, now=now, simulate=simulate, horizon_days=horizon_days,
                               replications=replications, seed=seed, standing_days=standing_days)
    best, why = choose(costed, objective)
    return Response(delay, impact, costed, best, why, objective,
                    {"replications": replications, "seed": seed, "common_random_numbers": True,
                     "standing_hours": round(24.0 * standing_days, 2),
                     "late_arrival_days": [[w, round(d, 4)] for w, d in _late_arrivals(delay, impact, now, standing_days)],
                     "horizon_days": horizon_days or "auto", "at": (now + timedelta(0)).isoformat()})
