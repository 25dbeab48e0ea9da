"""Turn a :class:`supplynet.model.Network` into a :class:`SimNetwork` (stocking points and arcs).

Stocking points are grown upstream from the demand entries: a (site, sku) is fed by the cheapest lane
into the site that carries the sku (ties: shortest mean lead time); the other lanes into the site that
carry the sku become its backup lanes (used while its own lane is closed) when their origin is a
supplier or already stocks the sku, and using them makes no cycle; by the site's BOM for that sku
(a plant: one arc per component, production capacity ``rate_per_day`` as a virtual lane), or, at a
supplier, by nothing (unlimited source). A point with none of these is replenished from an unnamed
external supplier after one day (listed in ``meta["warnings"]``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supplynet.errors import SimulationError
from supplynet.policy.policies import BaseStock, policy_from_spec

_DIST = {"auto": None, "poisson": "poisson", "normal": "normal_int", "negbin": "normal_int", "gamma": "normal_int"}


def network_to_arrays(cls: Any, network: Any, *, service_level: float = 0.95) -> Any:
    items: list[tuple[str, str]] = []
    index: dict[tuple[str, str], int] = {}
    arcs: list[tuple[int, int, float]] = []
    feed: dict[int, tuple[str, Any]] = {}   # item -> ("lane", Lane) | ("bom", Bom) | ("source", None) | ("ext", None)
    warnings: list[str] = []
    boms = {(b.plant, b.output_sku): b for b in network.boms}

    def add(site: str, sku: str) -> int:
        key = (site, sku)
        if key in index:
            return index[key]
        i = index[key] = len(items)
        items.append(key)
        todo.append(i)
        return i

    todo: list[int] = []
    for d in network.demand:
        add(d.site, d.sku)
    while todo:
        i = todo.pop(0)
        site, sku = items[i]
        kind = network.site(site).kind
        if kind == "supplier":
            feed[i] = ("source", None)
            continue
        if (site, sku) in boms:
            b = boms[(site, sku)]
            feed[i] = ("bom", b)
            for c in b.components:
                arcs.append((add(site, c.sku), i, float(c.quantity)))
            continue
        lanes = [ln for ln in network.lanes_to(site) if ln.carries(sku)]
        if lanes:
            lane = min(lanes, key=lambda ln: (ln.cost_per_unit, ln.lead_time.mean))
            feed[i] = ("lane", lane)
            arcs.append((add(lane.origin, sku), i, 1.0))
            continue
        feed[i] = ("ext", None)
        warnings.append(f"{site}/{sku}: no lane, BOM or supplier feeds it; assumed an external supplier, 1 day")
    if not items:
        raise SimulationError(f"network {network.name!r} has no demand entries: nothing to simulate")

    n = len(items)
    lane_ids = [ln.id for ln in network.lanes]
    lane_modes = [ln.mode for ln in network.lanes]
    lane_cap = [np.inf if ln.capacity_per_day is None else ln.capacity_per_day for ln in network.lanes]
    lane_cost = [ln.cost_per_unit for ln in network.lanes]
    lane_fixed = [ln.fixed_cost_per_shipment for ln in network.lanes]
    lt_kind, lt_mean, lt_std, lt_lo, lt_hi, item_lane = [], [], [], [], [], []
    for i in range(n):
        how, what = feed[i]
        if how == "lane":
            lt = what.lead_time
            lt_kind.append(lt.dist)
            lt_mean.append(max(lt.mean, 1.0))
            lt_std.append(lt.std)
            lt_lo.append(lt.min_days if lt.min_days is not None else max(lt.mean - 3 * lt.std, 0.0))
            lt_hi.append(lt.max_days if lt.max_days is not None else lt.mean + 3 * lt.std)
            item_lane.append(lane_ids.index(what.id))
        elif how == "bom":
            lt_kind.append("fixed")
            lt_mean.append(max(round(what.lead_time_days), 1.0))
            lt_std.append(0.0)
            lt_lo.append(0.0)
            lt_hi.append(0.0)
            item_lane.append(len(lane_ids))
            lane_ids.append(f"bom:{what.plant}:{what.output_sku}")
            lane_modes.append("production")
            lane_cap.append(np.inf if what.rate_per_day is None else what.rate_per_day)
            lane_cost.append(0.0)
            lane_fixed.append(0.0)
        else:
            lt_kind.append("fixed")
            lt_mean.append(1.0)
            lt_std.append(0.0)
            lt_lo.append(0.0)
            lt_hi.append(0.0)
            item_lane.append(-1)
    products = {p.sku: p for p in network.products}
    for _, sku in items:
        if sku not in products:
            raise SimulationError(f"network {network.name!r}: sku {sku!r} is used but not listed under products")
    prod = [products[sku] for _, sku in items]
    cm = network.cost_model  # the one cost model prices every item
    hold = np.array([cm.holding_per_day(sku) for _, sku in items])
    dem_mean = np.zeros(n)
    dem_std = np.zeros(n)
    kinds = ["none"] * n
    for d in network.demand:
        i = index[(d.site, d.sku)]
        dem_mean[i], dem_std[i] = d.mean_per_day, d.std
        kind = _DIST[d.dist]
        if kind is None:  # auto: Poisson when the spread is Poisson-like, else a rounded normal
            kind = "poisson" if d.std <= 1.2 * np.sqrt(max(d.mean_per_day, 1e-9)) else "normal_int"
        kinds[i] = kind if d.mean_per_day > 0 else "none"
    sites = [s.id for s in network.sites]
    net = cls.build(
        items=items, arcs=arcs, site_kind={s.id: s.kind for s in network.sites},
        source=[feed[i][0] == "source" for i in range(n)], lead_time=lt_mean, lead_std=lt_std, lead_kind=lt_kind,
        demand_mean=dem_mean, demand_std=dem_std, demand=kinds,
        backorders=[network.site(s).backorders for s, _ in items], hold=hold,
        short_cost=[cm.shortage_rate(s, k) for s, k in items],
        backlog_cost=[cm.backorder_rate_per_day(s, k) for s, k in items],
        order_cost=[0.0 if feed[i][0] == "source" else cm.ordering(1) for i in range(n)],
        price=[p.price for p in prod], policy=BaseStock(np.zeros(n)),
        site_capacity={s.id: s.capacity_per_day for s in network.sites}, lanes=lane_ids, item_lane=item_lane,
        lane_capacity=lane_cap, lane_cost=lane_cost, lane_fixed_cost=lane_fixed, name=network.name)
    # sites listed in the network but holding nothing still appear, so scenarios can name them
    missing = [s for s in sites if s not in net.sites]
    if missing:
        net = net.replace(sites=net.sites + missing,
                          site_kind=net.site_kind + [network.site(s).kind for s in missing],
                          site_capacity=np.concatenate([net.site_capacity, [
                              np.inf if network.site(s).capacity_per_day is None
                              else float(network.site(s).capacity_per_day) for s in missing]]))
    th = np.zeros(n)
    np.add.at(th, net.arc_dst, net.arc_qty * hold[net.arc_src])
    net = net.replace(lt_min=np.asarray(lt_lo, float), lt_max=np.asarray(lt_hi, float), transit_hold=th,
                      lane_mode=lane_modes, meta={"warnings": warnings, "source": "model"},
                      site_down=np.array([24.0 * cm.site_downtime_rate(s) for s in net.sites]),
                      currency=cm.currency)
    mu, sd = net.mean_flow()
    sd = np.maximum(sd, np.sqrt(mu))
    default = net.default_policy(service_level)
    for i, (site, sku) in enumerate(items):
        if net.source[i]:
            continue
        spec = network.policy_for(site, sku)
        p = prod[i]
        if spec is None:
            pol = BaseStock(default.S[i], pack_size=p.pack_size, moq=p.moq)
        else:
            pol = policy_from_spec(spec, demand_mean=mu[i], demand_std=sd[i], lead_time=net.lt_mean[i],
                                   pack_size=p.pack_size, moq=p.moq, underage=max(p.price - p.unit_cost, 1e-9),
                                   overage=max(p.unit_cost, 1e-9))
        net = net.with_policy(pol, [i])
    net = net.replace(init_on_hand=np.where(net.source, 0.0, net.policy_level()))
    return _add_backups(net, network, feed, index)


def _add_backups(net: Any, network: Any, feed: dict[int, tuple[str, Any]], index: dict[tuple[str, str], int]) -> Any:
    """Backup lanes for lane-fed items (see the module docstring); suppliers get a source item."""
    n0 = net.n_items
    for i in range(n0):
        how, own = feed[i]
        if how != "lane":
            continue
        site, sku = net.sites[net.item_site[i]], net.item_sku[i]
        others = sorted((ln for ln in network.lanes_to(site) if ln.carries(sku) and ln.id != own.id),
                        key=lambda ln: (ln.cost_per_unit, ln.lead_time.mean))
        for ln in others:
            src = index.get((ln.origin, sku))
            if src is None:
                if network.site(ln.origin).kind != "supplier":
                    continue
                net = _with_source_item(net, ln.origin, sku, network)
                src = index[(ln.origin, sku)] = net.n_items - 1
            if _reaches(net, i, src):
                continue  # the origin is supplied through this item: a backup would make a cycle
            lt = ln.lead_time
            net = net.with_backup(src, i, ln.id, lead_time=max(lt.mean, 1.0), lead_std=lt.std, lead_kind=lt.dist,
                                  lead_min=lt.min_days if lt.min_days is not None else max(lt.mean - 3 * lt.std, 0.0),
                                  lead_max=lt.max_days if lt.max_days is not None else lt.mean + 3 * lt.std)
    return net


def _reaches(net: Any, start: int, target: int) -> bool:
    """Whether ``target`` is downstream of (supplied through) ``start``."""
    seen, todo = {start}, [start]
    while todo:
        j = todo.pop()
        if j == target:
            return True
        for a in np.nonzero(net.arc_src == j)[0]:
            d = int(net.arc_dst[a])
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return False


def _with_source_item(net: Any, site: str, sku: str, network: Any) -> Any:
    """``net`` with one more item: an unlimited source of ``sku`` at supplier ``site``."""
    sites = list(net.sites)
    kinds = list(net.site_kind)
    cap = net.site_capacity
    if site not in sites:
        sites.append(site)
        kinds.append(network.site(site).kind)
        cap = np.append(cap, np.inf)
    price = next((p.price for p in network.products if p.sku == sku), 0.0)

    def ext(name: str, value: Any) -> np.ndarray:
        arr = getattr(net, name)
        return np.concatenate([arr, np.asarray([value], dtype=arr.dtype)])

    zeros = {k: ext(k, 0.0) for k in ("lt_std", "lt_min", "lt_max", "hold", "transit_hold", "short_cost",
                                      "backlog_cost", "order_cost", "pol_a", "pol_b", "pol_offset", "moq",
                                      "init_on_hand", "init_open", "init_backlog")}
    return net.replace(
        sites=sites, site_kind=kinds, site_capacity=cap, item_site=ext("item_site", sites.index(site)),
        item_sku=[*net.item_sku, sku], source=ext("source", True), lt_kind=ext("lt_kind", 0),
        lt_mean=ext("lt_mean", 1.0), item_lane=ext("item_lane", -1), dem_kind=ext("dem_kind", -1),
        dem_mean=np.hstack([net.dem_mean, np.zeros((net.dem_mean.shape[0], 1))]),
        dem_std=np.hstack([net.dem_std, np.zeros((net.dem_std.shape[0], 1))]),
        hist=np.vstack([net.hist, np.zeros((1, net.hist.shape[1]))]), hist_len=ext("hist_len", 0),
        backorders=ext("backorders", True), price=ext("price", price), pol_kind=ext("pol_kind", -1),
        pol_review=ext("pol_review", 1.0), pack=ext("pack", 1.0),
        init_transit=np.vstack([net.init_transit, np.zeros((1, net.init_transit.shape[1]))]), **zeros)
