"""Replenishment: policies sized from demand forecasts and learned lead times, orders under constraints.

Pure decisions, no I/O. For each SKU-site with a policy in the network:

1. **Sizing** (:func:`size_policy`, with :mod:`supplynet.policy.sizing`): the demand distribution per
   day (a forecast from :class:`~supplynet.sense.demand.demand_live.DemandSensor`, else the network's declared
   demand) and the inbound lane's lead-time distribution (learned from shipments by
   :class:`~supplynet.sense.leadtime.leadtimes_live.LeadTimeLearner`, else declared) give the demand over the
   protection interval, ``E[L] sigma^2 + mu^2 Var[L]`` (Silver, Pyke & Peterson 1998 sec. 7.11), and the
   policy's levels for its target: a cycle service level (``service_level``) or a fill rate
   (``params.fill_rate``). Base-stock protects ``L + 1`` days, (R,S) ``L + R``, (s,S) and (r,Q) ``L``
   with ``Q`` the EOQ of the lane's fixed cost (Harris 1913) or a week of demand; a newsvendor
   (perishables) uses the product's critical ratio (Arrow, Harris & Marschak 1951). Levels written in
   the network (``params: {S: 180}``) are kept as they are.
2. **Ordering** (:meth:`Replenisher.plan`): the runtime policy (the same compiled rule the simulator
   runs, MOQ and pack size applied) gives the quantity; every inbound lane is costed (goods, transport,
   fixed cost, holding in transit) with its remaining lane capacity and supplier capacity today; the
   cheapest lane that can carry an order of at least the MOQ is chosen; the quantity is cut to the
   capacities and to the budget left today (down to whole packs; nothing below the MOQ). Keys are
   served most urgent first (fewest days of cover), so a tight budget goes where stock runs out first.
3. **Reason**: each :class:`OrderProposal` carries the forecast, the position, the policy and its
   sizing, the options weighed with their cost and time, and the constraints that bound it.

Event-driven use: ``observe(event, twin)`` for every event folded into the twin, then
``decide(twin, now)`` re-sizes and re-evaluates exactly the SKU-sites those events touched.

4. **Release schedule** (``release_hour``; the live loop's default): joint replenishment. The orders of a lane
   leave together at ``release_hour`` every ``R`` days - one shipment per lane and release - with ``R`` the joint
   EOQ cycle ``sqrt(2K / sum h_i mu_i)`` over the lane's SKU-sites (Silver, Pyke & Peterson 1998 sec. 10.4), at
   most ``max_review_days`` and half the shortest shelf life on the lane. Policies are sized for the review they
   get (protection interval ``L + R`` in whole days: a day's demand comes at its close). A release plans
   downstream first, each echelon on its position net of what the one below just ordered on it. Between
   releases a touched SKU-site is ordered out of cycle only when the expected stock-out an order now prevents
   before the next release lands, priced at the cost model's shortage rate, costs more than a whole extra
   shipment. Each proposal says which release it belongs to (``extra["release"]``) and why.
5. **Production planning** (``plan_production``): a plant's finished goods get a base-stock level (the network's
   policy for that SKU, else base-stock at the plant's service level) from the network's downstream demand, made
   on a :class:`ProductionLine` (the BOM: its rate a day, its lead time) - proposals with ``order_type``
   ``production``, which the loop records as ``production_order`` actions for the plant's MES.
6. **Echelon demand** (``echelon_demand``; the live loop's default on a release schedule): a DC is sized from its
   stores' demand - the sum of their sensed estimates (means and variances, each store's share split over its
   suppliers) - not from the transfer orders they place on it, which come in lumps of the stores' review cycles
   and would size the DC's safety stock for the lumps (chosen after seeing seeds 0-2 of the realistic demo, as was
   the live loop's 2-day cap on release cycles). ``store_fill_rate`` sizes every store for a fill-rate target
   instead of its policy's cycle service level (opt-in: on the realistic demo, seeds 0-1, a 99% store fill target
   lowered the fill, 97.3% -> 96.6% and 96.9% -> 96.4%: the stores drew the DCs' bread down faster).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

from ..errors import DecisionError
from ..policy import sizing
from ..policy.policies import BaseStock, Newsvendor, RQPolicy, RSPolicy, SsPolicy
from ..sense.demand.demand_live import DemandEstimate, DemandSensor
from ..sense.leadtime.leadtimes_live import LeadTimeEstimate, LeadTimeLearner

__all__ = ["OrderProposal", "ProductionLine", "Replenisher", "downstream_demand", "fill_rate_factor", "newsvendor_ratio",
           "production_lines", "size_levels", "size_policy", "touched_keys"]

_DAYS_PER_YEAR = 365.0
DEFAULT_SERVICE_LEVEL = 0.95
_EPOCH = date(1970, 1, 1)


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
    forecast: dict[str, Any] = field(default_factory=dict)
    constraints: tuple[str, ...] = ()
    trigger_event_ids: tuple[str, ...] = ()

    def to_decision(self, now: datetime, *, kind: str | None = None, trigger_event_ids: list[str] | None = None,
                    sources: list[str] | None = None) -> Any:
        """The :class:`supplynet.decide.decision.Decision` for this proposal (forecast, sizing and
        constraints kept in ``model_output``)."""
        from .decision import from_order_proposal

        kind = kind or ("rebalance" if self.extra.get("rebalance") else "replenish")
        out = {"forecast": self.forecast, "constraints": list(self.constraints),
               **{k: v for k, v in self.extra.items() if k in ("sizing", "rebalance", "expedite", "release")}}
        return from_order_proposal(self, now=now, kind=kind,
                                   trigger_event_ids=list(trigger_event_ids or self.trigger_event_ids),
                                   sources=sources, model_output=out)


# ----------------------------------------------------------------------------- demand from the model
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


# ----------------------------------------------------------------------------- sizing
def fill_rate_factor(ratio: Any) -> np.ndarray:
    """Safety factor ``k`` with ``G(k) = ratio`` for the standard normal loss ``G(k) = phi(k) - k
    (1 - Phi(k))`` (vectorized bisection; Silver, Pyke & Peterson 1998 eq. 7.19)."""
    r = np.asarray(ratio, dtype=float)
    lo, hi = np.full(r.shape, -8.0), np.full(r.shape, 8.0)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        g = stats.norm.pdf(mid) - mid * stats.norm.sf(mid)
        above = g > r
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def size_levels(kind: str, ltd_mean: Any, ltd_std: Any, cycle: Any, *, service_level: float | None = None,
                fill_rate: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized levels ``(a, b)`` of the policy kernel from demand over the protection interval.

    ``ltd_mean``/``ltd_std``: normal demand over the protection interval; ``cycle``: demand per order
    cycle (``Q`` for (s,S) and (r,Q), ``R mu`` for base-stock and (R,S)). The protection level is the
    ``service_level`` quantile, or the level whose expected shortage per cycle is ``(1 - fill_rate)
    cycle`` - the formulas of :func:`sizing.base_stock_for_service` and
    :func:`sizing.base_stock_for_fill_rate`, on arrays. Returns (S, 0) for base_stock/RS/newsvendor,
    (s, S = s + cycle) for sS, (r, Q = cycle) for RQ.
    """
    if (service_level is None) == (fill_rate is None):
        raise DecisionError("give exactly one of service_level or fill_rate")
    m = np.asarray(ltd_mean, float)
    sd = np.maximum(np.asarray(ltd_std, float), 0.0)
    cyc = np.maximum(np.asarray(cycle, float), 0.0)
    if service_level is not None:
        if not 0.0 < service_level < 1.0:
            raise DecisionError(f'"service_level" must be in (0, 1), got {service_level!r}')
        level = m + float(stats.norm.ppf(service_level)) * sd
    else:
        if not 0.0 < fill_rate < 1.0:  # type: ignore[operator]
            raise DecisionError(f'"fill_rate" must be in (0, 1), got {fill_rate!r}')
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(sd > 0, (1.0 - fill_rate) * cyc / np.where(sd > 0, sd, 1.0), 0.0)  # type: ignore
        level = np.where(sd > 0, m + fill_rate_factor(ratio) * sd, m)
    level = np.maximum(level, 0.0)
    if kind in ("base_stock", "RS", "newsvendor"):
        return level, np.zeros_like(level)
    if kind == "sS":
        return level, level + cyc
    if kind == "RQ":
        return level, np.maximum(cyc, 1e-9)
    raise DecisionError(f"unknown policy type {kind!r}; use base_stock, sS, RQ, RS or newsvendor")


def _target(spec: Any, product: Any, default: float, fill_rate: float | None) -> tuple[str, float]:
    params = dict(getattr(spec, "params", None) or {})
    if fill_rate is not None or "fill_rate" in params:
        fr = float(fill_rate if fill_rate is not None else params["fill_rate"])
        if not 0.0 < fr < 1.0:
            raise DecisionError(f"policy at {spec.site}/{spec.sku}: params.fill_rate must be in (0, 1), got {fr!r}")
        return "fill_rate", fr
    sl = getattr(spec, "service_level", None)
    if sl is not None:
        return "service_level", float(sl)
    if spec.type == "newsvendor":
        return "service_level", newsvendor_ratio(product)
    return "service_level", default


def size_policy(spec: Any, demand: DemandEstimate | tuple[float, float], lead_time: LeadTimeEstimate | tuple[float, float],
                product: Any, *, fixed_cost: float = 0.0, fill_rate: float | None = None,
                default_service_level: float = DEFAULT_SERVICE_LEVEL, max_cycle_days: float | None = None,
                review_days: float | None = None) -> tuple[Any, dict[str, Any]]:
    """The runtime policy for ``spec`` sized with :mod:`supplynet.policy.sizing`, and how it was sized.

    ``demand``: per day (estimate or ``(mean, std)``); ``lead_time``: days (estimate or ``(mean, std)``).
    The target is ``fill_rate`` when given (or ``params["fill_rate"]`` of a dict-like spec), else the
    spec's ``service_level``, else the newsvendor critical ratio, else ``default_service_level``.
    Levels given in ``spec.params`` win over sized ones. ``max_cycle_days`` caps an (s,S) or (r,Q) order
    quantity at that many days of demand (and a perishable's at half its shelf life): the EOQ of a cheap
    SKU on a costly lane can be months of stock, which a warehouse neither has room for nor sells before
    it spoils (``spec.params["max_cycle_days"]`` sets it per policy; None: the textbook EOQ).
    ``review_days``: the policy is looked at only every that many days (a lane's release schedule), so its
    protection interval is ``L + review_days`` whatever the type (base-stock, newsvendor and (R,S) with
    ``R = review_days``; (s,S) and (r,Q) with the reorder point over ``L + review_days``); None: the type's
    own review (daily for base-stock and newsvendor, ``R`` for (R,S), continuous for (s,S) and (r,Q)).
    """
    mu, sd = (demand.mean, demand.std) if isinstance(demand, DemandEstimate) else (float(demand[0]), float(demand[1]))
    lt, lsd = ((lead_time.mean_days, lead_time.std_days) if isinstance(lead_time, LeadTimeEstimate)
               else (float(lead_time[0]), float(lead_time[1])))
    mu, sd, lt, lsd = max(mu, 0.0), max(sd, 0.0), max(lt, 0.0), max(lsd, 0.0)
    review = None if review_days is None else max(float(review_days), 0.0)
    params = dict(spec.params or {})
    params.pop("fill_rate", None)
    max_cycle_days = float(params.pop("max_cycle_days", max_cycle_days) or 0) or None
    kind = spec.type
    what, target = _target(spec, product, default_service_level, fill_rate)
    sl, fr = (target, None) if what == "service_level" else (None, target)
    h = product.unit_cost * product.holding_cost_rate / _DAYS_PER_YEAR
    common = {"pack_size": float(product.pack_size), "moq": float(product.moq)}
    info: dict[str, Any] = {"type": kind, "target": {what: target}, "demand_per_day": [round(mu, 4), round(sd, 4)],
                            "lead_time_days": [round(lt, 4), round(lsd, 4)]}
    # the protection interval: the lead time plus the time until the next look (daily for a base-stock level). On
    # a release schedule it is counted in whole days: demand comes in daily lumps (a day's sales at the close), and
    # an interval that crosses part of a day crosses that day's close (an order released at dawn over a 0.7-day
    # lane lands after the close: it protects two closes, not 1.7)
    once = 1.0 if review is None else review
    if review is not None:
        once = math.ceil(lt + review - 1e-9) - lt
        info["review_days"] = review
        info["protection_days"] = round(lt + once, 4)
    static = {"base_stock": ("S",), "RS": ("S",), "newsvendor": ("q",), "sS": ("s", "S"), "RQ": ("r", "Q")}[kind]
    if all(p in params for p in static):
        info["static"] = True
    elif mu <= 0:
        params = {**{p: 0.0 for p in static}, **params, **({"Q": 1.0} if kind == "RQ" else {})}
        info["note"] = "no demand: levels 0"
    else:
        sd_eff = sd if sd > 0 else math.sqrt(mu)  # Poisson-like floor when the spread is unknown
        # without a fixed cost to spread, an order on a release schedule brings one review cycle's demand
        q_default = float(params.get("Q", (review if review else 7.0) * mu))
        if kind == "base_stock":
            S = (sizing.base_stock_for_service(sl, mu, sd_eff, lt + once, lsd) if sl is not None
                 else sizing.base_stock_for_fill_rate(fr, mu, sd_eff, lt + once, lsd))
            params = {"S": S, **params}
        elif kind == "RS":
            R = float(params.get("R", 1.0))
            R_protect = max(R, once) if review is not None else R
            params = {"R": R, "S": sizing.rs_order_up_to(R_protect, mu, sd_eff, lt, sl, fr, lsd), **params}
        elif kind == "newsvendor":
            q = (sizing.base_stock_for_service(sl, mu, sd_eff, lt + once, lsd) if sl is not None
                 else sizing.base_stock_for_fill_rate(fr, mu, sd_eff, lt + once, lsd))
            params = {"q": q, **params}
        else:
            cap = _cycle_cap(mu, product, max_cycle_days)
            lp = lt if review is None else lt + once  # a reorder point looked at every R days protects L + R
            res = (sizing.ss_eoq_safety_stock(fixed_cost, h, mu, sd_eff, max(lp, 1e-9), sl, fr, lsd)
                   if fixed_cost > 0 and h > 0 and "Q" not in params else None)
            if res is not None and res.S - res.s <= cap:
                s, Q = res.s, res.S - res.s
                info["Q_rule"] = "EOQ"
            elif res is not None:  # EOQ beyond the cap: the cap, with the reorder point for that cycle
                Q = cap
                s = (sizing.base_stock_for_service(sl, mu, sd_eff, lp, lsd) if sl is not None
                     else sizing.base_stock_for_fill_rate(fr, mu, sd_eff, lp, lsd, demand_per_cycle=Q))
                info["Q_rule"] = f"EOQ {res.S - res.s:,.0f} capped at {cap / mu:.1f} days of demand"
            else:
                Q = min(q_default, cap) if "Q" not in params else q_default
                s = (sizing.base_stock_for_service(sl, mu, sd_eff, lp, lsd) if sl is not None
                     else sizing.base_stock_for_fill_rate(fr, mu, sd_eff, lp, lsd, demand_per_cycle=Q))
                info["Q_rule"] = "given" if "Q" in params else "7 days of demand"
            Q = max(Q, float(product.moq), float(product.pack_size), 1e-9)
            params = {**({"s": s, "S": s + Q} if kind == "sS" else {"r": s, "Q": Q}), **params}
    if kind == "base_stock":
        pol: Any = BaseStock(params["S"], **common)
    elif kind == "RS":
        pol = RSPolicy(params.get("R", 1.0), params["S"], offset=params.get("offset", 0), **common)
    elif kind == "newsvendor":
        pol = Newsvendor(params["q"], **common)
    elif kind == "sS":
        pol = SsPolicy(params["s"], max(params["S"], params["s"]), **common)
    else:
        pol = RQPolicy(params["r"], max(params["Q"], 1e-9), **common)
    info["levels"] = {k: round(float(v), 4) for k, v in params.items() if k in ("S", "s", "q", "r", "Q", "R")}
    return pol, info


def _cycle_cap(mu: float, product: Any, max_cycle_days: float | None) -> float:
    """The largest order quantity worth holding: ``max_cycle_days`` of demand, half a perishable's shelf life."""
    days = [d for d in (max_cycle_days, (product.shelf_life_days / 2) if product.shelf_life_days else None)
            if d is not None and d > 0]
    return max(mu * min(days), 1e-9) if days and max_cycle_days is not None else math.inf


# ----------------------------------------------------------------------------- production lines
@dataclass(frozen=True)
class _Days:
    mean: float
    std: float = 0.0


@dataclass(frozen=True)
class _ProductionSpec:
    """The policy of a plant's finished good when the network names none: base-stock at the plant's service level."""

    site: str
    sku: str
    type: str
    params: dict[str, Any]
    service_level: float


@dataclass(frozen=True)
class ProductionLine:
    """A plant's line making ``sku``, weighed as the plant's inbound 'lane' (the plant to itself): it brings at
    most ``capacity_per_day`` (the BOM's rate) after the BOM's lead time, at the goods' unit cost."""

    id: str
    origin: str
    destination: str
    sku: str
    capacity_per_day: float | None
    lead_time: _Days
    mode: str = "production"
    cost_per_unit: float = 0.0
    fixed_cost_per_shipment: float = 0.0

    @property
    def skus(self) -> list[str]:
        return [self.sku]


def production_lines(network: Any) -> list[ProductionLine]:
    """One :class:`ProductionLine` per bill of materials of ``network``."""
    return [ProductionLine(f"make:{b.plant}:{b.output_sku}", b.plant, b.plant, b.output_sku,
                           float(b.rate_per_day) if b.rate_per_day else None,
                           _Days(float(getattr(b, "lead_time_days", None) or 1.0)))
            for b in getattr(network, "boms", None) or ()]


# ----------------------------------------------------------------------------- the replenisher
#: what :func:`touched_keys`, the demand sensor and the lead-time learner read
_REPLENISH_KINDS = frozenset({"sale", "stock_count", "order", "production", "shipment"})


def touched_keys(event: Any) -> list[tuple[str, str]]:
    """The (site, sku) pairs whose position an event can change."""
    kind = getattr(event, "kind", None)
    if kind in ("sale", "stock_count", "order"):
        return [(event.site, event.sku)]
    if kind == "production":
        return [(event.site, event.sku)] + [(event.site, ln.sku) for ln in event.consumed]
    if kind == "shipment":
        return [(s, ln.sku) for ln in event.lines for s in (event.origin, event.destination)]
    return []


class Replenisher:
    """Sizes each (site, sku) policy from forecasts and lead times, then proposes orders from positions.

    ``demand``/``lead_times``: the live sensors (created when None; pass ``False`` to size from the
    network's declared values only). ``budget_per_day``: money that orders may commit per day (None:
    unlimited). ``supplier_capacity``: units per day a site can ship, overriding its
    ``capacity_per_day``. ``fill_rates``: fill-rate targets by ``(site, sku)`` or by site, used
    instead of the policies' cycle service levels (the network model has no field for them).
    ``max_cycle_days``: the most days of demand one (s,S) or (r,Q) order may bring (see :func:`size_policy`);
    ``upstream_cycle_days``: the same for DCs and plants (None, the default: ``max_cycle_days``; no cap
    at all when ``max_cycle_days`` is None). A week was tried as the default: on the realistic 21-day demo
    (seed 7) it cut the DCs' growth but starved the stores (fill 98.9% -> 97.7% with plants at their rate,
    94.8% with plants producing to plan), so it is opt-in. ``store_fill_rate``: the fill-rate target of every
    store's SKU-sites without one in ``fill_rates`` (None: their policies' targets). ``echelon_demand``: a DC is
    sized from its stores' demand estimates rather than from the orders they place on it.
    """

    def __init__(self, network: Any, *, demand: DemandSensor | None | bool = None,
                 lead_times: LeadTimeLearner | None | bool = None, budget_per_day: float | None = None,
                 supplier_capacity: Mapping[str, float] | None = None,
                 fill_rates: Mapping[Any, float] | None = None,
                 default_service_level: float = DEFAULT_SERVICE_LEVEL, max_cycle_days: float | None = 14.0,
                 upstream_cycle_days: float | None = None, release_hour: int | None = None,
                 max_review_days: int = 3, plan_production: bool = False, store_fill_rate: float | None = None,
                 echelon_demand: bool = False):
        if store_fill_rate is not None and not 0.0 < store_fill_rate < 1.0:
            raise DecisionError(f'"store_fill_rate" must be in (0, 1) or None, got {store_fill_rate!r}')
        if budget_per_day is not None and not (budget_per_day >= 0 and math.isfinite(budget_per_day)):
            raise DecisionError(f'"budget_per_day" must be a finite number >= 0, got {budget_per_day!r}')
        if not 0.0 < default_service_level < 1.0:
            raise DecisionError(f'"default_service_level" must be in (0, 1), got {default_service_level!r}')
        if release_hour is not None and not (isinstance(release_hour, int) and 0 <= release_hour <= 23):
            raise DecisionError(f'"release_hour" must be a whole hour in 0..23 or None, got {release_hour!r}')
        if not (isinstance(max_review_days, int) and max_review_days >= 1):
            raise DecisionError(f'"max_review_days" must be a whole number of days >= 1, got {max_review_days!r}')
        self.net = network
        self.demand = downstream_demand(network)
        self.sensor = DemandSensor(self.demand) if demand is None or demand is True else (demand or None)
        self.lead_times = LeadTimeLearner(network) if lead_times is None or lead_times is True else (lead_times or None)
        self.budget_per_day = budget_per_day
        self.default_service_level = default_service_level
        self.max_cycle_days = max_cycle_days
        # network-wide: a DC or plant that orders two weeks at a time holds a week of its stores' demand on
        # average on top of its safety stock - stock the stores need, piled where they cannot sell it. Upstream
        # echelons may cycle shorter (``upstream_cycle_days``, e.g. a week: a weekly truck per SKU); stores keep
        # ``max_cycle_days``.
        self.upstream_cycle_days = upstream_cycle_days
        self._kind = {x.id: x.kind for x in network.sites}
        self.supplier_capacity = dict(supplier_capacity or {})
        self.fill_rates = dict(fill_rates or {})
        #: the stores' fill-rate target (the network's policies give cycle service levels, which at a store on a
        #: review cycle lose more than the fill the network promises); ``fill_rates`` entries win over it
        self.store_fill_rate = store_fill_rate
        #: a DC's demand is its stores' demand (their sensed estimates, split over each store's suppliers), not the
        #: orders they place: those come in lumps of the stores' review cycles and would size the DC for the lumps
        self.echelon_demand = echelon_demand
        self._children: dict[tuple[str, str], list[tuple[tuple[str, str], float]]] = defaultdict(list)
        self.policies: dict[tuple[str, str], Any] = {}
        self.specs: dict[tuple[str, str], Any] = {}
        self.sizing: dict[tuple[str, str], dict[str, Any]] = {}
        self.inbound: dict[tuple[str, str], list[Any]] = defaultdict(list)
        self.blocked: deque[dict[str, Any]] = deque(maxlen=1000)  # orders no option could carry
        self._dirty: set[tuple[str, str]] = set()
        self._triggers: dict[tuple[str, str], list[str]] = defaultdict(list)
        self._used: dict[Any, dict[str, float]] = {}
        for ln in network.lanes:
            for sku in (ln.skus or [p.sku for p in network.products]):
                self.inbound[(ln.destination, sku)].append(ln)
        for (dest, sku), lns in self.inbound.items():
            for ln in lns:
                if self._kind.get(ln.origin) == "dc":
                    self._children[(ln.origin, sku)].append(((dest, sku), 1.0 / len(lns)))
        #: production planning: a plant's finished goods get a base-stock level over the BOM's lead time plus
        #: a day (from the network's downstream demand) and are made to production orders on the plant's lines
        self.plan_production = plan_production
        self.lines = {ln.id: ln for ln in production_lines(network)} if plan_production else {}
        made = set()
        for pl in self.lines.values():
            self.inbound[(pl.origin, pl.sku)] = [pl]
            made.add((pl.origin, pl.sku))
        for spec in network.policies:
            skus = [p.sku for p in network.products] if spec.sku == "*" else [spec.sku]
            for sku in skus:
                key = (spec.site, sku)
                if key not in self.demand or not self.inbound.get(key):
                    continue
                if spec.sku == "*" and self.specs.get(key) is not None and self.specs[key].sku != "*":
                    continue  # a policy naming the sku wins over the site's wildcard
                if spec.sku == "*" and key in made:
                    continue  # a plant's wildcard is for what it buys; what it makes is planned below
                self.specs[key] = spec
        for key in made:
            if key not in self.specs and key in self.demand:
                site_spec = next((p for p in network.policies if p.site == key[0] and p.sku == "*"), None)
                sl = getattr(site_spec, "service_level", None) or 0.98
                self.specs[key] = _ProductionSpec(key[0], key[1], "base_stock", {}, sl)
        # a lane's trip carries every SKU ordered over it that day: its fixed cost is shared among them
        self.lane_skus: Counter[str] = Counter(ln.id for key in self.specs for ln in self.inbound[key])
        #: the release schedule (joint replenishment): with ``release_hour``, the orders of a lane are released
        #: together at that hour (UTC) every ``review_days[lane]`` days, one shipment per lane and release
        self.release_hour = release_hour
        self.max_review_days = max_review_days
        self.lane_keys: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key in self.specs:
            self.lane_keys[self._cheapest(key).id].append(key)
        self.review_days: dict[str, int] = {}
        self.review_why: dict[str, str] = {}
        if release_hour is not None:
            for lane_id, keys in self.lane_keys.items():
                self.review_days[lane_id], self.review_why[lane_id] = self._review_cycle(self.lane_of(lane_id), keys)
        self._next_release: dict[str, datetime] = {}
        self._releases: Counter[str] = Counter()
        self._promised: dict[tuple[str, str], float] = {}
        for key in self.specs:
            self.resize(key)

    # ------------------------------------------------------------------ inputs
    def lane_of(self, lane_id: str) -> Any:
        """The network's lane ``lane_id``, or a plant's :class:`ProductionLine`."""
        return self.lines[lane_id] if lane_id in self.lines else self.net.lane(lane_id)

    def _cheapest(self, key: tuple[str, str]) -> Any:
        return min(self.inbound[key], key=lambda ln: (ln.cost_per_unit, ln.lead_time.mean))

    def demand_estimate(self, key: tuple[str, str]) -> DemandEstimate:
        # a plant's finished good is planned from the network's downstream demand (the stores' demand pushed up
        # the lanes), not from the DCs' orders: those come in lumps of the DCs' review cycles
        planned = self.plan_production and isinstance((self.inbound.get(key) or [None])[0], ProductionLine)
        if self.echelon_demand and not planned and self._kind.get(key[0]) == "dc" and self._children.get(key):
            return self._echelon_estimate(key)
        est = self.sensor.estimate(key) if self.sensor is not None and not planned else None
        if est is None:
            m, s = self.demand.get(key, (0.0, 0.0))
            est = DemandEstimate(m, s, "network")
        return est

    def _echelon_estimate(self, key: tuple[str, str]) -> DemandEstimate:
        """A DC's demand from its stores' demand estimates: means and variances summed (each store's share split
        evenly over its suppliers of the SKU, as :func:`downstream_demand` does)."""
        m = v = 0.0
        for child, share in self._children[key]:
            d = self.demand_estimate(child) if child in self.specs or child in self.demand else None
            if d is None:
                continue
            m += share * d.mean
            v += share * d.std**2
        return DemandEstimate(m, math.sqrt(v), "echelon")

    def fixed_cost(self, lane: Any) -> float:
        """An order's share of ``lane``'s fixed cost per shipment: the trip carries every SKU-site it serves
        (joint replenishment), so each pays ``fixed / n``, not the whole truck."""
        return float(lane.fixed_cost_per_shipment) / max(self.lane_skus.get(lane.id, 1), 1)

    def lead_time_estimate(self, lane: Any) -> LeadTimeEstimate:
        est = self.lead_times.estimate(lane.id) if self.lead_times is not None else None
        return est or LeadTimeEstimate(lane.id, float(lane.lead_time.mean), float(lane.lead_time.std), 0)

    def cycle_cap(self, site: str) -> float | None:
        """The most days of demand one (s,S)/(r,Q) order may bring at ``site`` (see ``upstream_cycle_days``)."""
        if self.max_cycle_days is not None and self.upstream_cycle_days is not None \
                and self._kind.get(site) in ("dc", "plant"):
            return min(self.upstream_cycle_days, self.max_cycle_days)
        return self.max_cycle_days

    def resize(self, key: tuple[str, str]) -> Any:
        """Re-size the policy of ``key`` from the current demand and lead-time estimates."""
        spec = self.specs[key]
        lane = self._cheapest(key)
        product = self.net.product(key[1])
        demand, lead = self.demand_estimate(key), self.lead_time_estimate(lane)
        fr = self.fill_rates.get(key, self.fill_rates.get(key[0]))
        if fr is None and self._kind.get(key[0]) == "store":
            fr = self.store_fill_rate
        review = self.review_days.get(lane.id) if self.release_hour is not None else None
        pol, info = size_policy(spec, demand, lead, product, fixed_cost=self.fixed_cost(lane), fill_rate=fr,
                                default_service_level=self.default_service_level, max_cycle_days=self.cycle_cap(key[0]),
                                review_days=review)
        info["demand_source"] = demand.source
        info["lead_time_source"] = "learned" if lead.n else "declared"
        info["lane_id"] = lane.id
        self.policies[key] = pol
        self.sizing[key] = info
        return pol

    # ------------------------------------------------------------------ event-driven verbs
    @property
    def kinds(self) -> frozenset[str] | None:
        """The event kinds it reads (positions: :func:`touched_keys`; the stock sensors: sales, orders,
        shipments); None (every kind) when given sensors of other types."""
        stock = (self.sensor is None or type(self.sensor) is DemandSensor) and (
            self.lead_times is None or type(self.lead_times) is LeadTimeLearner)
        return _REPLENISH_KINDS if stock else None

    def observe(self, event: Any, twin: Any = None) -> list[tuple[str, str]]:
        """Feed one event (already folded into ``twin``) to the sensors; remember what it touched."""
        keys = set(touched_keys(event))
        if self.sensor is not None:
            keys.update(self.sensor.observe(event, twin))
        if self.lead_times is not None:
            est = self.lead_times.observe(event, twin)
            if est is not None:
                keys.update(k for k, lns in self.inbound.items() if any(ln.id == est.lane_id for ln in lns))
        keys &= set(self.policies)
        eid = getattr(event, "event_id", None)
        for k in keys:
            self._dirty.add(k)
            if eid:
                self._triggers[k] = (self._triggers[k] + [eid])[-20:]
        return sorted(keys)

    def decide(self, twin: Any, now: datetime) -> list[OrderProposal]:
        """Re-size and re-evaluate the SKU-sites touched since the last call; on a release schedule
        (``release_hour``), every SKU-site of each lane whose release is due, and out of cycle only the
        touched ones whose expected stock-out before the next release costs more than an extra shipment.
        Days before ``now``'s date are closed into the demand sensor first (:meth:`DemandSensor.advance`)."""
        if self.sensor is not None and hasattr(self.sensor, "advance"):
            self.sensor.advance(now)
        if self.release_hour is not None:
            return self._decide_scheduled(twin, now)
        keys = sorted(self._dirty)
        self._dirty.clear()
        if not keys:
            return []
        for k in keys:
            self.resize(k)
        state = twin.state
        positions = {k: state.position(*k).position for k in keys}
        out = self.plan(positions, keys, day=(now.date() - _EPOCH).days, now=now)
        trig = {k: tuple(self._triggers.pop(k, ())) for k in keys}
        return [OrderProposal(**{**p.__dict__, "trigger_event_ids": trig.get((p.site, p.sku), ())}) for p in out]

    # ------------------------------------------------------------------ the release schedule
    def _review_cycle(self, lane: Any, keys: list[tuple[str, str]]) -> tuple[int, str]:
        """Days between a lane's releases: the joint EOQ cycle ``sqrt(2 K / sum(h_i mu_i))`` over the lane's
        SKU-sites (Silver, Pyke & Peterson 1998 sec. 10.4), at least a day, at most ``max_review_days``
        (an echelon holding more cycle stock than that starves the one below it) and half the shortest
        shelf life on the lane (what a longer cycle brings spoils)."""
        K = float(lane.fixed_cost_per_shipment)
        hm = sum(self.net.product(k[1]).unit_cost * self.net.product(k[1]).holding_cost_rate / _DAYS_PER_YEAR
                 * self.demand.get(k, (0.0, 0.0))[0] for k in keys)
        eoq = math.sqrt(2.0 * K / hm) if hm > 0 and K > 0 else 1.0
        lives = [float(self.net.product(k[1]).shelf_life_days) for k in keys if self.net.product(k[1]).shelf_life_days]
        life_cap = max(math.floor(min(lives) / 2.0), 1) if lives else self.max_review_days
        R = int(max(min(math.floor(eoq), self.max_review_days, life_cap), 1))
        bound = ("the joint EOQ" if R == math.floor(eoq) else f"capped at {self.max_review_days} d" if R == self.max_review_days
                 else "half the shortest shelf life" if R == life_cap else "at least daily")
        return R, (f"every {R} d: joint EOQ cycle {eoq:.1f} d over {len(keys)} SKU-site(s) (fixed {K:g} per "
                   f"shipment, holding {hm:.2f}/day), {bound}")

    def release_plan(self) -> dict[str, tuple[int, datetime | None]]:
        """Each scheduled lane's review cycle in days and its next release (None: not yet due once), read
        only (the twin's prediction runs the same schedule); empty without a release schedule."""
        if self.release_hour is None:
            return {}
        return {ln: (int(self.review_days.get(ln, 1)), self._next_release.get(ln)) for ln in self.lane_keys}

    def next_release(self, lane_id: str, now: datetime) -> datetime:
        """When ``lane_id``'s next release is due (its first: today at ``release_hour``)."""
        due = self._next_release.get(lane_id)
        if due is None:
            due = now.replace(hour=self.release_hour or 0, minute=0, second=0, microsecond=0)
            self._next_release[lane_id] = due
        return due

    def _expected_short(self, key: tuple[str, str], pos: float, days: float, lead: LeadTimeEstimate) -> float:
        """Expected units short over ``days`` from position ``pos`` (normal demand, the lead time's spread)."""
        d = self.demand_estimate(key)
        m = d.mean * days
        var = days * d.std**2 + (d.mean * lead.std_days) ** 2
        sd = math.sqrt(var) if var > 0 else 0.0
        if sd <= 0:
            return max(m - pos, 0.0)
        z = (pos - m) / sd
        return float(sd * (stats.norm.pdf(z) - z * stats.norm.sf(z)))

    def _penalty(self, key: tuple[str, str]) -> float:
        cm = getattr(self.net, "cost_model", None)
        if cm is not None:
            try:
                return float(cm.shortage_rate(key[0], key[1]))
            except Exception:  # noqa: BLE001 - a network without the site or cost model: the margin
                pass
        p = self.net.product(key[1])
        return float(p.shortage_cost if getattr(p, "shortage_cost", None) is not None
                     else max(float(p.price) - float(p.unit_cost), 0.0))

    def emergency(self, key: tuple[str, str], pos: float, now: datetime) -> dict[str, Any] | None:
        """The case for an out-of-cycle order of ``key`` now: the expected stock-out that an order now prevents
        before the next release's order lands (short over ``gap + L`` minus short over ``L``, priced at the
        cost model's shortage rate) against a whole extra shipment on the lane; None when it does not pay."""
        lane = self._cheapest(key)
        gap = max((self.next_release(lane.id, now) - now).total_seconds() / 86400.0, 0.0)
        lead = self.lead_time_estimate(lane)
        avoided = self._expected_short(key, pos, gap + lead.mean_days, lead) - self._expected_short(
            key, pos, lead.mean_days, lead)
        cost = avoided * self._penalty(key)
        unit = max(float(self.net.product(key[1]).pack_size), 1.0)
        if avoided < unit or cost <= float(lane.fixed_cost_per_shipment):
            return None  # less than a case short, or cheaper to wait for the release than to send a truck
        return {"expected_short_avoided": round(avoided, 3), "shortage_cost": round(cost, 2),
                "extra_shipment_cost": float(lane.fixed_cost_per_shipment), "next_release_in_days": round(gap, 3)}

    def _decide_scheduled(self, twin: Any, now: datetime) -> list[OrderProposal]:
        state = twin.state
        day = (now.date() - _EPOCH).days
        due = [ln for ln in sorted(self.lane_keys) if now >= self.next_release(ln, now)]
        keys: list[tuple[str, str]] = []
        why: dict[tuple[str, str], dict[str, Any]] = {}
        for ln in due:
            n = self._releases[ln] + 1
            self._releases[ln] = n
            at = self._next_release[ln]
            self._next_release[ln] = max(at, now.replace(hour=self.release_hour or 0, minute=0, second=0, microsecond=0)) \
                + timedelta(days=self.review_days.get(ln, 1))
            for k in self.lane_keys[ln]:
                keys.append(k)
                why[k] = {"release": f"{ln}#{n}", "lane_id": ln, "due": at.isoformat(), "out_of_cycle": False,
                          "review_days": self.review_days.get(ln, 1), "cycle": self.review_why.get(ln, "")}
        for k in sorted(self._dirty):
            if k in why or k not in self.policies:
                continue
            self.resize(k)
            pos = state.position(*k).position
            if float(self.policies[k].order_quantity(pos, day=day)) <= 0:
                continue  # nothing wanted (the policy's own rule) - no case for an extra trip
            case = self.emergency(k, pos, now)
            if case is None:
                continue
            ln = self._cheapest(k).id
            keys.append(k)
            why[k] = {"release": f"{ln}#{self._releases[ln]}+out-of-cycle", "lane_id": ln, "out_of_cycle": True,
                      "next_release": self._next_release[ln].isoformat(), "review_days": self.review_days.get(ln, 1),
                      **case}
        self._dirty.clear()  # the rest wait for their lane's release (which looks at every SKU-site of the lane)
        if not keys:
            return []
        for k in keys:
            self.resize(k)
        # downstream first: what a store orders today is stock its DC has promised away before the truck leaves
        # (the twin sees it leave only then), so each echelon plans on its position net of the orders the echelon
        # below placed on it in this release (Clark & Scarf's echelon view, one release at a time)
        rank = {"store": 0, "dc": 1, "plant": 2}
        positions = {k: state.position(*k).position for k in keys}
        out: list[OrderProposal] = []
        for tier in sorted({rank.get(self._kind.get(k[0], ""), 3) for k in keys}):
            tier_keys = [k for k in keys if rank.get(self._kind.get(k[0], ""), 3) == tier]
            for k in tier_keys:
                positions[k] = positions[k] - self._promised.get(k, 0.0)
            made = self.plan(positions, tier_keys, day=day, now=now)
            for p in made:
                if p.order_type == "transfer" and p.origin:
                    self._promised[(p.origin, p.sku)] = self._promised.get((p.origin, p.sku), 0.0) + p.quantity
            out += made
        self._promised.clear()
        res = []
        for p in out:
            k = (p.site, p.sku)
            rel = why[k]
            note = (f"; released with {rel['release']} ({rel['cycle']})" if not rel["out_of_cycle"] else
                    f"; out of cycle ({rel['release']}): {rel['expected_short_avoided']:g} units expected short before "
                    f"the next release lands cost {rel['shortage_cost']:.2f} > an extra shipment {rel['extra_shipment_cost']:g}")
            res.append(OrderProposal(**{**p.__dict__, "reason": p.reason + note, "extra": {**p.extra, "release": rel},
                                        "trigger_event_ids": tuple(self._triggers.pop(k, ()))}))
        return res

    # ------------------------------------------------------------------ options and plan
    def _bucket(self, day: int | None, now: datetime | None) -> Any:
        return day if day is not None else (now.date() if now is not None else object())

    def _left(self, bucket: Any, what: str, cap: float | None) -> float:
        if cap is None:
            return math.inf
        return max(float(cap) - self._used.get(bucket, {}).get(what, 0.0), 0.0)

    def _supplier_cap(self, origin: str) -> float | None:
        if origin in self.supplier_capacity:
            return float(self.supplier_capacity[origin])
        site = self.net.site(origin)
        return getattr(site, "capacity_per_day", None) if self._is_supplier(origin) else None

    def options(self, key: tuple[str, str], quantity: float, *, bucket: Any = None) -> list[dict[str, Any]]:
        """Every inbound lane that can bring the SKU, costed for ``quantity``: goods (purchases),
        transport, fixed cost and holding in transit; with the capacity left today."""
        product = self.net.product(key[1])
        h = product.unit_cost * product.holding_cost_rate / _DAYS_PER_YEAR
        out = []
        for ln in self.inbound.get(key, []):
            lead = self.lead_time_estimate(ln)
            purchase = self._is_supplier(ln.origin)
            making = isinstance(ln, ProductionLine)
            goods = product.unit_cost if purchase or making else 0.0
            fixed = self.fixed_cost(ln)
            cost = quantity * (goods + ln.cost_per_unit + h * lead.mean_days) + fixed
            lane_left = self._left(bucket, f"lane:{ln.id}", getattr(ln, "capacity_per_day", None))
            sup_left = self._left(bucket, f"site:{ln.origin}", self._supplier_cap(ln.origin))
            out.append({"lane_id": ln.id, "origin": ln.origin, "mode": ln.mode, "cost": round(cost, 2),
                        "lead_time_days": round(lead.mean_days, 4), "lead_time_std_days": round(lead.std_days, 4),
                        "kind": "production" if making else "purchase" if purchase else "transfer",
                        "unit_cost": round(goods + ln.cost_per_unit + h * lead.mean_days, 6),
                        "fixed_cost": round(fixed, 4), "fixed_cost_per_shipment": ln.fixed_cost_per_shipment,
                        "shipment_shared_by": self.lane_skus.get(ln.id, 1),
                        "capacity_per_day": getattr(ln, "capacity_per_day", None),
                        "lane_capacity_left": None if math.isinf(lane_left) else round(lane_left, 4),
                        "supplier_capacity_left": None if math.isinf(sup_left) else round(sup_left, 4)})
        return sorted(out, key=lambda o: (o["cost"], o["lead_time_days"]))

    def _urgency(self, key: tuple[str, str], pos: float) -> float:
        mu = self.demand_estimate(key).mean
        return pos / mu if mu > 0 else math.inf

    def plan(self, positions: Mapping[tuple[str, str], float], keys: Iterable[tuple[str, str]] | None = None,
             day: int | None = None, *, now: datetime | None = None) -> list[OrderProposal]:
        """Order proposals for ``keys`` (default: every SKU-site with a policy), most urgent first.

        ``day`` is the review day of periodic policies and, with ``now``, the window in which lane,
        supplier capacity and budget are counted (a new day frees them again).
        """
        bucket = self._bucket(day, now)
        if bucket not in self._used:  # a new day: yesterday's capacity and budget no longer count
            self._used = {bucket: {}}
        cand = [k for k in (keys if keys is not None else self.policies) if k in self.policies]
        cand.sort(key=lambda k: (self._urgency(k, float(positions.get(k, 0.0))), k))
        out = []
        for key in cand:
            p = self._plan_one(key, float(positions.get(key, 0.0)), day, bucket)
            if p is not None:
                out.append(p)
        return out

    def _plan_one(self, key: tuple[str, str], pos: float, day: int | None, bucket: Any) -> OrderProposal | None:
        policy = self.policies[key]
        want = float(policy.order_quantity(pos, day=day))
        if want <= 0:
            return None
        product = self.net.product(key[1])
        pack, moq = float(product.pack_size), float(product.moq)
        unit = pack if pack >= 1 else 1.0  # whole cases (pack size), else whole units: never a fractional order
        want = math.ceil(want / unit - 1e-9) * unit
        floor = max(moq, unit)
        options = self.options(key, want, bucket=bucket)
        used: dict[str, float] = self._used.setdefault(bucket, {})
        budget_left = math.inf if self.budget_per_day is None else max(self.budget_per_day - used.get("budget", 0.0), 0)
        chosen, q, notes = None, 0.0, []
        for o in options:
            cap = min(o["lane_capacity_left"] if o["lane_capacity_left"] is not None else math.inf,
                      o["supplier_capacity_left"] if o["supplier_capacity_left"] is not None else math.inf)
            qq = min(want, cap)
            if budget_left < math.inf:
                qq = min(qq, max(budget_left - o["fixed_cost"], 0.0) / max(o["unit_cost"], 1e-12))
            qq = math.floor(qq / unit + 1e-9) * unit
            why = None
            if qq < want - 1e-9:
                why = ("lane capacity" if o["lane_capacity_left"] is not None and o["lane_capacity_left"] < want
                       else "supplier capacity" if o["supplier_capacity_left"] is not None
                       and o["supplier_capacity_left"] < want else "budget")
            if qq < floor or qq <= 0:
                o["feasible"] = False
                o["why_not"] = f"{why or 'capacity'} leaves {qq:g} < MOQ/pack {floor:g}"
                continue
            o["feasible"] = True
            chosen, q = o, qq
            if why:
                notes.append(f"cut from {want:g} to {qq:g} by {why}")
            break
        demand = self.demand_estimate(key)
        info = self.sizing.get(key, {})
        if chosen is None:
            self.blocked.append({"site": key[0], "sku": key[1], "wanted": want, "position": pos,
                                 "options": options, "bucket": str(bucket)})
            return None
        chosen["chosen"] = True
        cost = round(q * chosen["unit_cost"] + chosen["fixed_cost"], 2)
        used["budget"] = used.get("budget", 0.0) + cost
        used[f"lane:{chosen['lane_id']}"] = used.get(f"lane:{chosen['lane_id']}", 0.0) + q
        used[f"site:{chosen['origin']}"] = used.get(f"site:{chosen['origin']}", 0.0) + q
        if moq > 0:
            notes.append(f"MOQ {moq:g}")
        if pack > 1:
            notes.append(f"pack {pack:g}")
        if self.budget_per_day is not None:
            notes.append(f"budget left {budget_left - cost:.2f} of {self.budget_per_day:g}/day")
        forecast = demand.as_dict()
        target = ", ".join(f"{k} {v:g}" for k, v in info.get("target", {}).items())
        levels = ", ".join(f"{k}={v:g}" for k, v in info.get("levels", {}).items())
        reason = (f"{key[0]}/{key[1]}: position {pos:.1f} calls for {want:g} under {info.get('type', '?')} "
                  f"({levels}; sized for {target} from {demand.source} demand {demand.mean:.2f}±{demand.std:.2f}/day "
                  f"and lead time {info.get('lead_time_days', ['?'])[0]} d); ordered {q:g} via {chosen['lane_id']} "
                  f"({chosen['kind']}, cost {cost:.2f}, {chosen['lead_time_days']:g} d), the cheapest feasible of "
                  f"{len(options)} option(s)" + (f"; {'; '.join(notes)}" if notes else ""))
        for o in options:  # costs of the options as weighed, for the chosen quantity
            o["cost"] = round(q * o["unit_cost"] + o["fixed_cost"], 2)
        return OrderProposal(site=key[0], sku=key[1], quantity=q, origin=chosen["origin"], lane_id=chosen["lane_id"],
                             order_type=chosen["kind"], cost=cost, lead_time_days=chosen["lead_time_days"],
                             position=pos, policy=repr(policy), options=tuple(options), reason=reason,
                             extra={"sizing": info, "wanted": want}, forecast=forecast, constraints=tuple(notes))

    def _is_supplier(self, site: str) -> bool:
        try:
            s = self.net.site(site)
        except Exception:  # noqa: BLE001 - unknown site: not a supplier
            return False
        return s is not None and s.kind == "supplier"
