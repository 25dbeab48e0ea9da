"""The compiled daily kernel of the Monte Carlo engine (numba; one replication per parallel lane).

Random numbers are drawn inside the kernel from a counter-based generator: every uniform is a
SplitMix64 hash (Steele, Lea & Flood 2014) of the replication's key, the day, the item and a stream
number. So a replication's numbers do not depend on the chunk it runs in (local and Dask runs are
identical), and two runs with the same seed see the same demand on the same day at the same item
whatever their policies do (common random numbers).

Order of events in one day, per replication:
1. shipments due today arrive (on hand += pipeline slot);
2. disruptions active today set site, lane and demand factors;
3. items in downstream-first order: draw external demand, serve backorders, then new demand, then
   downstream requests (pro rata) within the site's throughput capacity; the policy (the compiled
   :func:`supplynet.policy.policies.order_qty_scalar`) sees the inventory position and orders:
   requests on each input arc (BOM quantity), or straight to the external supplier;
4. items whose inputs arrived release min over inputs of staged/quantity (an assembly) on their lane,
   within its capacity, arriving after a sampled lead time (at least one day);
5. end-of-day costs: holding on hand and in transit; shortage per unit short (backordered or lost)
   plus, for backorders, a cost per unit-day waiting.

A lane's fixed cost is paid once per day it carries anything (one truck takes every sku of the day),
not once per sku. A site whose capacity a disruption takes costs its machines' downtime per day
(``site_down``, scaled by the share lost, spread over the site's items); demand a disruption takes
away (a negative shift or spike) costs the lost-sale penalty per expected unit (``A_DEMAND_LOSS``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from supplynet.policy.policies import order_qty_scalar

# event kinds
OUTAGE, LANE_CLOSURE, CAPACITY_LOSS, LEAD_TIME_SHOCK, SUPPLIER_FAILURE, DEMAND_SPIKE, DEMAND_SHIFT = range(7)

# accumulator columns (per replication x item)
A_DEMAND, A_SERVED_NOW, A_LOST, A_BACKLOG_DAYS, A_HOLD, A_TRANSIT, A_ORDER, A_TRANSPORT, A_SHORT, \
    A_NORDERS, A_REVENUE, A_SHIPPED_EXT, A_SHORT_DAYS, A_ONHAND_DAYS, A_OWED_DAYS, A_LOST_COST, A_BACKORDER_COST, \
    A_DOWNTIME, A_DEMAND_LOSS, A_DEMAND_LOSS_COST = range(20)
N_ACC = 20
# daily totals columns (per replication x day)
D_DEMAND, D_SERVED_NOW, D_BACKLOG, D_ON_HAND, D_COST, D_LOST = range(6)
N_DAILY = 6

_GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_M3 = np.uint64(0xD1B54A32D192ED03)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0
_INV32 = 1.0 / 4294967296.0
_S32 = np.uint64(32)
_LO32 = np.uint64(0xFFFFFFFF)
# no inf/nan assumptions: capacities are inf when unlimited
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@numba.njit(inline="always", cache=True)
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@numba.njit(inline="always", cache=True)
def uniform(key: np.uint64, t: int, i: int, stream: int) -> float:
    """A uniform in (0, 1) for (replication key, day, item, stream)."""
    x = _mix(key + np.uint64(t + 1) * _GOLD)
    x = _mix(x ^ (np.uint64(i) * _M3 + np.uint64(stream)))
    return (float(x >> _S11) + 0.5) * _INV53


@numba.njit(inline="always", cache=True)
def _normal(key: np.uint64, t: int, i: int, stream: int) -> float:
    """A standard normal from one hash (two 32-bit uniforms, Box & Muller 1958)."""
    x = _mix(key + np.uint64(t + 1) * _GOLD)
    x = _mix(x ^ (np.uint64(i) * _M3 + np.uint64(stream)))
    u1 = (float(x >> _S32) + 0.5) * _INV32
    u2 = (float(x & _LO32) + 0.5) * _INV32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def uniform_np(keys: np.ndarray, t: int, i: int, stream: int) -> np.ndarray:
    """numpy twin of :func:`uniform` (vectorized over replication keys), for scenario draws."""
    with np.errstate(over="ignore"):
        k = keys.astype(np.uint64)

        def mix(z: np.ndarray) -> np.ndarray:
            z = (z ^ (z >> _S30)) * _M1
            z = (z ^ (z >> _S27)) * _M2
            return z ^ (z >> _S31)

        x = mix(k + np.uint64(t + 1) * _GOLD)
        x = mix(x ^ (np.uint64(i) * _M3 + np.uint64(stream)))
    return ((x >> _S11).astype(np.float64) + 0.5) * _INV53


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _demand(kind: int, mean: float, std: float, key: np.uint64, t: int, i: int, hist: np.ndarray,
            hlen: int) -> float:
    if kind == 0:  # Poisson: inversion below 30, normal approximation above
        if mean <= 0.0:
            return 0.0
        if mean < 30.0:
            u = uniform(key, t, i, 0)
            p = math.exp(-mean)
            f = p
            k = 0
            while u > f and k < 1000:
                k += 1
                p *= mean / k
                f += p
            return float(k)
        z = _normal(key, t, i, 1)
        return max(0.0, math.floor(mean + math.sqrt(mean) * z + 0.5))
    if kind == 1 or kind == 2:
        z = _normal(key, t, i, 1)
        x = max(0.0, mean + std * z)
        return math.floor(x + 0.5) if kind == 2 else x
    if kind == 3 and hlen > 0:
        j = min(int(uniform(key, t, i, 0) * hlen), hlen - 1)
        return hist[j] * (mean if mean > 0.0 else 1.0)
    return 0.0


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _lead(kind: int, mean: float, std: float, lo: float, hi: float, key: np.uint64, t: int, i: int,
          stream: int = 2) -> float:
    if kind == 0 or std <= 0.0:
        return mean
    if kind == 3:
        return lo + (hi - lo) * uniform(key, t, i, stream)
    z = _normal(key, t, i, stream)
    if kind == 2:  # lognormal with the given mean and std (also stands in for gamma)
        s2 = math.log(1.0 + (std / max(mean, 1e-9)) ** 2)
        return math.exp(math.log(max(mean, 1e-9)) - 0.5 * s2 + math.sqrt(s2) * z)
    return mean + std * z


@numba.njit(parallel=True, cache=True, fastmath=_FAST, error_model="numpy")
def advance(t0, t1, keys, order, item_site, item_sku, source, in_ptr, in_arcs, out_ptr, out_arcs, arc_qty,
            bk_ptr, bk_arcs, arc_lane, arc_lt,
            lt_kind, lt_mean, lt_std, lt_min, lt_max, item_lane, pipe_off, pipe_len,
            site_cap, site_nom, lane_cap, lane_nom, lane_cost, lane_fixed, site_down, site_items,
            dem_kind, dem_mean, dem_std, hist, hist_len, cdf, guide, cdf_off, cdf_len, backorders,
            hold, transit_hold, short_cost, backlog_cost, price, order_cost,
            pol_kind, pol_a, pol_b, pol_review, pol_offset, pack, moq,
            ev_kind, ev_site, ev_lane, ev_sku, ev_sev, ev_start, ev_end,
            on_hand, on_order, in_transit, backlog, request, staged, pipe,
            acc, first_short, last_short, daily):
    """Advance every replication from day ``t0`` to ``t1`` (exclusive), in place."""
    R = on_hand.shape[0]
    N = on_hand.shape[1]
    S = site_cap.shape[0]
    K = lane_cap.shape[0]
    E = ev_kind.shape[0]
    H = daily.shape[1]
    Tm = dem_mean.shape[0]
    for r in prange(R):
        key = keys[r]
        cap_left = np.empty(S)
        site_fac = np.empty(S)
        lane_left = np.empty(K)
        lane_fac = np.empty(K)
        lt_fac = np.empty(K)
        lane_used = np.zeros(K, dtype=np.bool_)
        cur = np.empty(N, dtype=np.int64)  # today's slot in each item's pipeline ring
        for i in range(N):
            cur[i] = t0 % pipe_len[i]
        for t in range(t0, t1):
            day_cost = 0.0
            day_dem = 0.0
            day_now = 0.0
            day_lost = 0.0
            # 1. arrivals
            for i in range(N):
                if t > t0:
                    cur[i] = cur[i] + 1 if cur[i] + 1 < pipe_len[i] else 0
                slot = pipe_off[i] + cur[i]
                x = pipe[r, slot]
                if x != 0.0:
                    pipe[r, slot] = 0.0
                    on_hand[r, i] += x
                    in_transit[r, i] -= x
                    on_order[r, i] -= x
            # 2. disruption factors (recomputed only when some event is scheduled)
            lt_all = 1.0
            if E > 0 or t == t0:
                for s in range(S):
                    site_fac[s] = 1.0
                for k in range(K):
                    lane_fac[k] = 1.0
                    lt_fac[k] = 1.0
            for e in range(E):
                kind = ev_kind[e]
                if ev_start[r, e] <= t < ev_end[r, e]:
                    sev = ev_sev[e]
                    if kind == OUTAGE or kind == CAPACITY_LOSS or kind == SUPPLIER_FAILURE:
                        for s in range(S):
                            if ev_site[e] < 0 or ev_site[e] == s:
                                site_fac[s] *= max(0.0, 1.0 - sev)
                    elif kind == LEAD_TIME_SHOCK and ev_lane[e] < 0:
                        lt_all *= 1.0 + sev
                    elif kind == LANE_CLOSURE or kind == LEAD_TIME_SHOCK:
                        for k in range(K):
                            if ev_lane[e] < 0 or ev_lane[e] == k:
                                if kind == LANE_CLOSURE:
                                    lane_fac[k] *= max(0.0, 1.0 - sev)
                                else:
                                    lt_fac[k] *= 1.0 + sev
            for s in range(S):
                cap_left[s] = site_cap[s] if site_fac[s] >= 1.0 else site_nom[s] * site_fac[s]
            for k in range(K):
                lane_used[k] = False
            for k in range(K):
                lane_left[k] = lane_cap[k] if lane_fac[k] >= 1.0 else lane_nom[k] * lane_fac[k]
            tm = min(t, Tm - 1)
            # 3. demand, fulfilment, ordering: downstream first
            for idx in range(N):
                i = order[idx]
                s = item_site[i]
                d = 0.0
                if dem_kind[i] >= 0:
                    f = 1.0
                    for e in range(E):
                        kind = ev_kind[e]
                        if kind == DEMAND_SPIKE or kind == DEMAND_SHIFT:
                            if (ev_site[e] < 0 or ev_site[e] == s) and (ev_sku[e] < 0 or ev_sku[e] == item_sku[i]):
                                st = ev_start[r, e]
                                en = ev_end[r, e]
                                if kind == DEMAND_SPIKE:
                                    if st <= t < en:
                                        f *= 1.0 + ev_sev[e]
                                elif t >= st:
                                    ramp = min(1.0, (t - st + 1.0) / max(1.0, en - st))
                                    f *= 1.0 + ev_sev[e] * ramp
                    if f == 1.0 and cdf_len[i] > 0 and Tm == 1:  # tabulated Poisson: binary search
                        u = uniform(key, t, i, 0)
                        o = cdf_off[i]
                        k = guide[o + int(u * cdf_len[i])]  # Chen & Asau (1974) guide table
                        while cdf[o + k] < u:
                            k += 1
                        d = float(k)
                    else:
                        d = _demand(dem_kind[i], dem_mean[tm, i] * f, dem_std[tm, i] * f, key, t, i, hist[i],
                                    hist_len[i])
                    if dem_kind[i] == 3:
                        d *= f
                    if f < 1.0:  # demand the disruption took away: lost sales too
                        gone = dem_mean[tm, i] * (1.0 - f)
                        acc[r, i, A_DEMAND_LOSS] += gone
                        acc[r, i, A_DEMAND_LOSS_COST] += short_cost[i] * gone
                        day_cost += short_cost[i] * gone
                bl = backlog[r, i]
                cint = 0.0
                for p in range(out_ptr[i], out_ptr[i + 1]):
                    cint += request[r, out_arcs[p]]
                if source[i]:
                    avail = cap_left[s]
                else:
                    avail = min(max(on_hand[r, i], 0.0), cap_left[s])
                sb = min(bl, avail)
                avail -= sb
                sn = min(d, avail)
                avail -= sn
                si = min(cint, avail)
                if si > 0.0:
                    frac = si / cint
                    for p in range(out_ptr[i], out_ptr[i + 1]):
                        a = out_arcs[p]
                        q = request[r, a] * frac
                        request[r, a] -= q
                        staged[r, a] += q
                shipped = sb + sn + si
                if not source[i]:
                    on_hand[r, i] -= shipped
                cap_left[s] -= shipped
                unmet = d - sn
                sc = short_cost[i] * unmet
                if backorders[i]:
                    backlog[r, i] = bl - sb + unmet
                    sc += backlog_cost[i] * backlog[r, i]
                else:
                    backlog[r, i] = bl - sb
                    acc[r, i, A_LOST] += unmet
                    day_lost += unmet
                if d > 0.0 or sb > 0.0:
                    acc[r, i, A_SHORT] += sc
                    acc[r, i, A_BACKORDER_COST if backorders[i] else A_LOST_COST] += sc
                    day_cost += sc
                    acc[r, i, A_DEMAND] += d
                    acc[r, i, A_SERVED_NOW] += sn
                    acc[r, i, A_REVENUE] += price[i] * (sb + sn)
                    acc[r, i, A_SHIPPED_EXT] += sb + sn
                    day_dem += d
                    day_now += sn
                if backlog[r, i] > 0.0:
                    acc[r, i, A_BACKLOG_DAYS] += backlog[r, i]
                    if d == 0.0 and sb == 0.0:
                        acc[r, i, A_SHORT] += sc
                        acc[r, i, A_BACKORDER_COST if backorders[i] else A_LOST_COST] += sc
                        day_cost += sc
                if cint > si:
                    acc[r, i, A_OWED_DAYS] += cint - si
                if unmet > 1e-9 or cint - si > 1e-9:
                    if first_short[r, i] < 0:
                        first_short[r, i] = t
                    last_short[r, i] = t
                    acc[r, i, A_SHORT_DAYS] += 1.0
                if pol_kind[i] >= 0:
                    ip = on_hand[r, i] + on_order[r, i] - backlog[r, i] - (cint - si)
                    q = order_qty_scalar(pol_kind[i], pol_a[i], pol_b[i], pol_review[i], pol_offset[i], pack[i],
                                         moq[i], ip, float(t))
                    if q > 0.0:
                        on_order[r, i] += q
                        acc[r, i, A_NORDERS] += 1.0
                        acc[r, i, A_ORDER] += order_cost[i]
                        day_cost += order_cost[i]
                        k = item_lane[i]
                        routed = False
                        if bk_ptr[i] < bk_ptr[i + 1] and k >= 0 and lane_fac[k] <= 0.0:
                            # own lane closed: the cheapest backup lane that is open
                            for p in range(bk_ptr[i], bk_ptr[i + 1]):
                                a = bk_arcs[p]
                                if lane_fac[arc_lane[a]] > 0.0:
                                    request[r, a] += q
                                    routed = True
                                    break
                        if routed:
                            pass
                        elif in_ptr[i] == in_ptr[i + 1]:
                            fac = lt_all * lt_fac[k] if k >= 0 else lt_all
                            lt = _lead(lt_kind[i], lt_mean[i], lt_std[i], lt_min[i], lt_max[i], key, t, i) * fac
                            lt_i = min(max(int(math.floor(lt + 0.5)), 1), pipe_len[i] - 1)
                            slot = cur[i] + lt_i
                            pipe[r, pipe_off[i] + (slot if slot < pipe_len[i] else slot - pipe_len[i])] += q
                            in_transit[r, i] += q
                            if k >= 0:
                                tc = lane_cost[k] * q + (0.0 if lane_used[k] else lane_fixed[k])
                                lane_used[k] = True
                                acc[r, i, A_TRANSPORT] += tc
                                day_cost += tc
                        else:
                            for p in range(in_ptr[i], in_ptr[i + 1]):
                                a = in_arcs[p]
                                request[r, a] += q * arc_qty[a]
            # 4. releases of staged inputs onto lanes
            for i in range(N):
                for p in range(bk_ptr[i], bk_ptr[i + 1]):  # backup lanes: one source each
                    a = bk_arcs[p]
                    rel = staged[r, a]
                    if rel <= 1e-12:
                        continue
                    k = arc_lane[a]
                    rel = min(rel, lane_left[k])
                    if rel <= 1e-12:
                        continue
                    lane_left[k] -= rel
                    staged[r, a] -= rel
                    lt = _lead(int(arc_lt[a, 0]), arc_lt[a, 1], arc_lt[a, 2], arc_lt[a, 3], arc_lt[a, 4], key, t,
                               i, 4) * lt_all * lt_fac[k]
                    lt_i = min(max(int(math.floor(lt + 0.5)), 1), pipe_len[i] - 1)
                    slot = cur[i] + lt_i
                    pipe[r, pipe_off[i] + (slot if slot < pipe_len[i] else slot - pipe_len[i])] += rel
                    in_transit[r, i] += rel
                    tc = lane_cost[k] * rel + (0.0 if lane_used[k] else lane_fixed[k])
                    lane_used[k] = True
                    acc[r, i, A_TRANSPORT] += tc
                    day_cost += tc
                if in_ptr[i] == in_ptr[i + 1]:
                    continue
                rel = np.inf
                for p in range(in_ptr[i], in_ptr[i + 1]):
                    a = in_arcs[p]
                    rel = min(rel, staged[r, a] / arc_qty[a])
                if rel <= 1e-12:
                    continue
                k = item_lane[i]
                fac = lt_all
                if k >= 0:
                    rel = min(rel, lane_left[k])
                    if rel <= 1e-12:
                        continue
                    lane_left[k] -= rel
                    fac *= lt_fac[k]
                for p in range(in_ptr[i], in_ptr[i + 1]):
                    a = in_arcs[p]
                    staged[r, a] -= rel * arc_qty[a]
                lt = _lead(lt_kind[i], lt_mean[i], lt_std[i], lt_min[i], lt_max[i], key, t, i) * fac
                lt_i = min(max(int(math.floor(lt + 0.5)), 1), pipe_len[i] - 1)
                slot = cur[i] + lt_i
                pipe[r, pipe_off[i] + (slot if slot < pipe_len[i] else slot - pipe_len[i])] += rel
                in_transit[r, i] += rel
                if k >= 0:
                    tc = lane_cost[k] * rel + (0.0 if lane_used[k] else lane_fixed[k])
                    lane_used[k] = True
                    acc[r, i, A_TRANSPORT] += tc
                    day_cost += tc
            # 5. end-of-day holding and downtime costs and daily totals
            day_oh = 0.0
            day_bl = 0.0
            for i in range(N):
                s = item_site[i]
                if site_fac[s] < 1.0 and site_down[s] > 0.0:
                    dc = site_down[s] * (1.0 - site_fac[s]) / site_items[s]
                    acc[r, i, A_DOWNTIME] += dc
                    day_cost += dc
                if source[i]:
                    continue
                oh = on_hand[r, i]
                it = in_transit[r, i]
                acc[r, i, A_ONHAND_DAYS] += oh  # costs = rate x unit-days, priced in SimResult
                acc[r, i, A_TRANSIT] += it
                day_cost += hold[i] * oh + transit_hold[i] * it
                day_oh += oh
                day_bl += backlog[r, i]
            if t < H:
                daily[r, t, D_DEMAND] = day_dem
                daily[r, t, D_SERVED_NOW] = day_now
                daily[r, t, D_BACKLOG] = day_bl
                daily[r, t, D_ON_HAND] = day_oh
                daily[r, t, D_COST] = day_cost
                daily[r, t, D_LOST] = day_lost


#: the same kernel compiled without threads: for Dask workers, which run one chunk per thread
advance_serial = numba.njit(cache=True, fastmath=_FAST, error_model="numpy")(advance.py_func)
