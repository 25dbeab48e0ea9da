"""Inventory plans for a network: a sized policy per SKU-site, single-echelon or by the GSM.

:func:`plan_inventory` walks the network's stocking points (those the simulator stocks: every
SKU-site with demand and what feeds it) and sizes the policy each one runs (its ``policies`` entry's
type, else base stock) with the textbook functions of :mod:`supplynet.policy.sizing`; one period is
one day:

========== ======================================== ==============================================
type       ``service_level`` (cycle service, type 1) ``cost_model`` (holding h, shortage p, order K)
========== ======================================== ==============================================
base_stock ``base_stock_for_service`` over L+1 days  ``base_stock_cost_optimal`` (Snyder & Shen 4.4)
newsvendor the same                                  the same
RS         ``rs_order_up_to`` over R+L days          newsvendor level over R+L days
sS         ``ss_eoq_safety_stock`` (s + EOQ)         ``ss_power_approximation`` (Ehrhardt 1979)
RQ         ``rq_for_service`` (EOQ, r)               ``rq_loss_function`` (Hadley & Whitin 1963)
========== ======================================== ==============================================

The stocking points, their demand per day and what feeds them come in the simulator's array form
(an :class:`ItemNetwork`), which the caller hands in: ``SimNetwork.from_network(network)``, with
``demand_from_forecast`` for a forecast's demand (:mod:`supplynet.sim`; decide does not import the
simulator). Demand per day is flowed upstream through lanes and BOMs; ``h`` is the product's holding cost per day, ``p`` its
shortage cost, ``K`` the feeding lane's fixed cost per shipment, ``L`` the lane's (or BOM's) lead
time. Each row carries the expected fill rate (``1 - E[short per cycle] / E[demand per cycle]``,
normal demand) and the expected cost per day (holding, shortage and ordering).

``multi_echelon``: the guaranteed-service model (:mod:`supplynet.policy.gsm`, Graves & Willems
2000) places safety stock across the stocking points: customer-facing points quote service time 0,
each point's base-stock level covers its net replenishment time ``tau``
(``mu tau + z sigma sqrt(tau)``).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError, DecisionError
from ..policy import gsm
from ..policy import sizing as sz

__all__ = ["POLICY_PARAMS", "ItemNetwork", "plan_gsm", "plan_inventory", "stage_problem_from_network",
           "stocking_points"]

#: the policy parameters a plan row gives per type (as the network file names them)
POLICY_PARAMS = {"base_stock": {"S": "order_up_to"}, "newsvendor": {"q": "order_up_to"},
                 "sS": {"s": "reorder_point", "S": "order_up_to"}, "RQ": {"r": "reorder_point", "Q": "order_quantity"},
                 "RS": {"R": "review_days", "S": "order_up_to"}}


class ItemNetwork(Protocol):
    """A network's stocking points in the simulator's array form (:class:`supplynet.sim.SimNetwork` is
    one): item ``i`` is sku ``item_sku[i]`` at site ``sites[item_site[i]]``, fed by lane
    ``lanes[item_lane[i]]`` (-1: none; a BOM is ``bom:PLANT:SKU``); arcs ``arc_src -> arc_dst`` carry
    ``arc_qty`` units per unit (``arc_backup``: a backup lane); ``source`` marks unlimited suppliers,
    ``dem_kind >= 0`` external demand; ``mean_flow()`` is the mean and std of the daily demand each item
    supplies (external plus downstream)."""

    sites: list[str]
    item_site: np.ndarray
    item_sku: list[str]
    item_lane: np.ndarray
    lanes: list[str]
    source: np.ndarray
    arc_src: np.ndarray
    arc_dst: np.ndarray
    arc_qty: np.ndarray
    arc_backup: np.ndarray | None
    dem_kind: np.ndarray

    @property
    def n_items(self) -> int: ...

    def mean_flow(self) -> Any: ...  # (mean, std) per item


def stocking_points(network: Any, items: ItemNetwork) -> pd.DataFrame:
    """One row per stocking point of ``items`` (the network's array form) that orders: site, sku, demand
    mean/std per day (external plus what it feeds), lead time mean/std (days), h, p, K, policy type and
    its spec, and ``feeds`` (the points it supplies and the units per unit, for the GSM)."""
    net = items
    mu, sd = net.mean_flow()
    lanes = {ln.id: ln for ln in network.lanes}
    boms = {f"bom:{b.plant}:{b.output_sku}": b for b in network.boms}
    rows = []
    for i in range(net.n_items):
        if net.source[i]:
            continue
        site, sku = net.sites[net.item_site[i]], net.item_sku[i]
        k = int(net.item_lane[i])
        lane_id = net.lanes[k] if k >= 0 else None
        if lane_id in lanes:
            lt, lt_sd, fixed = lanes[lane_id].lead_time.mean, lanes[lane_id].lead_time.std, \
                lanes[lane_id].fixed_cost_per_shipment
        elif lane_id in boms:
            lt, lt_sd, fixed = boms[lane_id].lead_time_days, 0.0, 0.0
        else:
            lt, lt_sd, fixed = 1.0, 0.0, 0.0
        product = network.product(sku)
        spec = network.policy_for(site, sku)
        feeds = [(f"{net.sites[net.item_site[int(d)]]}/{net.item_sku[int(d)]}", float(net.arc_qty[a]))
                 for a, d in enumerate(net.arc_dst) if int(net.arc_src[a]) == i
                 and not (net.arc_backup is not None and net.arc_backup[a])]
        rows.append({"site": site, "sku": sku, "demand_mean_per_day": float(mu[i]),
                     "demand_std_per_day": float(sd[i]), "external_demand": bool(net.dem_kind[i] >= 0),
                     "lead_time_days": float(lt), "lead_time_std_days": float(lt_sd), "h": product.holding_cost_per_day,
                     "p": float(product.shortage_cost or 0.0), "K": float(fixed),
                     "type": spec.type if spec is not None else "base_stock", "spec": spec, "feeds": feeds})
    if not rows:
        raise DataError(f"network {network.name!r} has no stocking point that orders")
    return pd.DataFrame(rows)


def _ltd(mu: float, sd: float, periods: float, lt_sd: float) -> sz.LeadTimeDemand:
    return sz.lead_time_demand(mu, sd, periods, lt_sd)


def _fill(level: float, d: sz.LeadTimeDemand, per_cycle: float) -> float:
    if per_cycle <= 0:
        return 1.0
    short = float(sz.normal_loss(level, d.mean, d.std)) if d.std > 0 else max(d.mean - level, 0.0)
    return float(min(max(1.0 - short / per_cycle, 0.0), 1.0))


def _periodic(S: float, d: sz.LeadTimeDemand, h: float, p: float, mu: float, R: float, K: float) -> float:  # noqa: N803
    """Expected cost per day of an order-up-to level S reviewed every R days (R = 1: base stock,
    ``h E[(S - D)^+] + p E[(D - S)^+]`` of Snyder & Shen eq. 4.12; longer R adds the cycle stock
    ``mu R / 2``, spreads the shortage over the cycle and pays K per review)."""
    loss = float(sz.normal_loss(S, d.mean, d.std)) if d.std > 0 else max(d.mean - S, 0.0)
    if R == 1 and K == 0:
        return h * (S - d.mean) + (h + p) * loss
    return h * (S - d.mean + mu * R / 2 + loss) + p * loss / R + K / R


def _continuous(r: float, Q: float, d: sz.LeadTimeDemand, h: float, p: float, mu: float, K: float) -> float:  # noqa: N803
    """``h (r - lambda L + Q/2) + [K lambda + (h + p) n2(r)] / Q`` (Snyder & Shen eq. 5.28)."""
    n2 = float(sz.normal_second_loss(r, d.mean, d.std)) if d.std > 0 else 0.5 * max(d.mean - r, 0.0) ** 2
    return h * (r - d.mean + Q / 2) + (K * mu + (h + p) * n2) / Q


def _size(row: dict[str, Any], service_level: float | None, cost_model: bool) -> dict[str, Any]:
    kind, mu, sd = row["type"], row["demand_mean_per_day"], row["demand_std_per_day"]
    L, lt_sd, h, p, K = row["lead_time_days"], row["lead_time_std_days"], row["h"], row["p"], row["K"]  # noqa: N806
    spec = row["spec"]
    alpha = service_level or (spec.service_level if spec is not None and spec.service_level else 0.95)
    note = ""
    if kind in ("sS", "RQ") and K <= 0:
        kind, note = "base_stock", f"{row['type']} needs a fixed cost per order (the lane's fixed_cost_per_shipment)"
    if cost_model and p <= 0:
        raise DecisionError(f"{row['site']}/{row['sku']}: the cost model needs a shortage cost (the product's "
                            "shortage_cost, or a price above its unit cost)")
    out: dict[str, Any] = {"type": kind, "order_quantity": None, "review_days": None}
    if mu <= 0:
        return {**out, "reorder_point": 0.0, "order_up_to": 0.0, "safety_stock": 0.0, "expected_fill": 1.0,
                "expected_cost_per_day": 0.0, "note": "no demand"}
    if kind in ("base_stock", "newsvendor", "RS"):
        R = float(spec.params.get("R", 7.0)) if kind == "RS" and spec is not None else 1.0  # noqa: N806
        d = _ltd(mu, sd, L + R, lt_sd)
        if cost_model:
            if kind == "RS" or lt_sd > 0:
                z = stats.norm.ppf(sz.critical_ratio(h, p))
                S = d.mean + z * d.std  # noqa: N806
            else:
                S = sz.base_stock_cost_optimal(h, p, mu, sd, L).level  # noqa: N806
        elif kind == "RS":
            S = sz.rs_order_up_to(R, mu, sd, L, service_level=alpha, lead_time_sd=lt_sd)  # noqa: N806
        else:
            S = sz.base_stock_for_service(alpha, mu, sd, L + 1, lt_sd)  # noqa: N806
        out.update(reorder_point=S, order_up_to=S, safety_stock=S - d.mean, expected_fill=_fill(S, d, mu * R),
                   expected_cost_per_day=_periodic(S, d, h, p, mu, R, K if kind == "RS" else 0.0),
                   review_days=R if kind == "RS" else None)
    else:
        d = _ltd(mu, sd, L, lt_sd)
        if kind == "sS":
            res = sz.ss_power_approximation(h, p, K, mu, sd, L) if cost_model else sz.ss_eoq_safety_stock(
                K, h, mu, sd, L, service_level=alpha, lead_time_sd=lt_sd)
            r, Q = res.s, res.S - res.s  # noqa: N806
        else:
            res = sz.rq_loss_function(h, p, K, mu, sd, L) if cost_model else sz.rq_for_service(
                K, h, mu, sd, L, service_level=alpha, lead_time_sd=lt_sd)
            r, Q = res.r, res.Q  # noqa: N806
        cost = res.cost if getattr(res, "cost", None) is not None else _continuous(r, Q, d, h, p, mu, K)
        out.update(reorder_point=r, order_up_to=r + Q, order_quantity=Q, safety_stock=r - d.mean,
                   expected_fill=_fill(r, d, Q), expected_cost_per_day=float(cost))
    out["note"] = note
    return out


_COLUMNS = ["site", "sku", "type", "reorder_point", "order_up_to", "order_quantity", "review_days", "safety_stock",
            "expected_fill", "expected_cost_per_day", "demand_mean_per_day", "demand_std_per_day", "lead_time_days",
            "method", "note"]


def plan_inventory(network: Any, items: ItemNetwork, *, service_level: float | None = None,
                   cost_model: bool = False, multi_echelon: bool = False) -> pd.DataFrame:
    """A policy per stocking point of ``items`` (the network's array form, see the module docstring);
    one row each, columns ``site, sku, type, reorder_point, order_up_to, order_quantity, review_days,
    safety_stock, expected_fill, expected_cost_per_day, ...``."""
    if service_level is not None and not 0.0 < service_level < 1.0:
        raise DataError(f"--service-level must be between 0 and 1 (exclusive), got {service_level}")
    if cost_model and service_level is not None:
        raise DataError("give --service-level or --cost-model, not both")
    points = stocking_points(network, items)
    if multi_echelon:
        return _gsm_plan(points, network, service_level or 0.95)
    method = "cost_model" if cost_model else "service_level"
    rows = []
    for row in points.to_dict("records"):
        sized = _size(row, service_level, cost_model)
        rows.append({**row, **sized, "method": method})
    return pd.DataFrame(rows)[_COLUMNS]


def _gsm_problem(points: pd.DataFrame, z: float) -> gsm.GsmProblem:
    ids = [f"{s}/{k}" for s, k in zip(points["site"], points["sku"], strict=True)]
    upstream: dict[str, list[tuple[str, float]]] = {i: [] for i in ids}
    for src, feeds in zip(ids, points["feeds"], strict=True):
        for dst, qty in feeds:
            if dst in upstream:
                upstream[dst].append((src, qty))
    stages = [SimpleNamespace(id=i, lead_time=r["lead_time_days"], added_cost=r["h"],
                              max_service_time=0.0 if r["external_demand"] else None,
                              demand_mean=r["demand_mean_per_day"] if r["external_demand"] else None,
                              demand_std=r["demand_std_per_day"] if r["external_demand"] else None,
                              service_factor=z, risk_pool=None, upstream=tuple(upstream[i]))
              for i, r in zip(ids, points.to_dict("records"), strict=True)]
    return gsm.GsmProblem.from_stages(stages, holding_rate=1.0, cumulative_cost=False)


def _gsm_plan(points: pd.DataFrame, network: Any, service_level: float) -> pd.DataFrame:
    z = float(stats.norm.ppf(service_level))
    problem = _gsm_problem(points, z)
    sol = gsm.solve(problem)
    ss = sol.safety_stock(problem)
    rows = []
    for j, r in enumerate(points.to_dict("records")):
        tau = max(float(sol.nrt[j]), 0.0)
        mean = float(problem.mean[j]) if problem.mean is not None else r["demand_mean_per_day"]
        level = mean * tau + float(ss[j])
        rows.append({**r, "type": "base_stock", "reorder_point": level, "order_up_to": level, "order_quantity": None,
                     "review_days": None, "safety_stock": float(ss[j]), "expected_fill": None,
                     "expected_cost_per_day": float(problem.coef[j] * math.sqrt(tau)), "method": "gsm",
                     "note": "", "service_time_days": float(sol.service[j]),
                     "inbound_service_time_days": float(sol.inbound[j]), "nrt_days": tau})
    frame = pd.DataFrame(rows)
    frame.attrs["gsm"] = {"cost_per_day": sol.cost, "method": sol.method, "lower_bound": sol.lower_bound}
    return frame[[*_COLUMNS, "service_time_days", "inbound_service_time_days", "nrt_days"]]


def plan_gsm(problem: gsm.GsmProblem, time_limit: float = 120.0) -> dict[str, Any]:
    """Solve a GSM problem; the summary and the stage table (``stage, S, SI, nrt, safety_stock, cost``)."""
    sol = gsm.solve(problem, time_limit=time_limit)
    return {"stages": problem.n, "cost": sol.cost, "lower_bound": sol.lower_bound, "method": sol.method,
            "status": sol.info.get("status", "optimal"), "seconds": round(sol.seconds, 3),
            "table": gsm.stage_table(problem, sol)}


def stage_problem_from_network(network: Any, items: ItemNetwork, service_level: float = 0.95) -> gsm.GsmProblem:
    """The GSM problem of a network's stocking points (``items``, its array form; see
    :func:`plan_inventory`'s ``multi_echelon``)."""
    return _gsm_problem(stocking_points(network, items), float(stats.norm.ppf(service_level)))

