"""The compiled daily kernel of the Monte Carlo engine (numba; one replication per parallel lane).

Random numbers are drawn inside the kernel from a counter-based generator: every uniform is a
SplitMix64 hash (Steele, Lea & Flood 2014) of the replication's key, the day, the item and a stream
number. So a replication's numbers do not depend on the chunk it runs in (local and Dask runs are
identical), and two runs with the same seed see the same demand on the same day at the same item
whatever their policies do (common random numbers).

Order of events in one day, per replication:
1. shipments due today arrive (on hand += pipeline slot);
2. disruptions active today set site, lane and demand factors;
3. every item's external demand is drawn (it depends on no stock); then items in downstream-first
   order serve backorders, then new demand, then downstream requests (pro rata) within the site's
   throughput capacity; the policy (the compiled
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

The inputs are four NamedTuples of arrays (:mod:`supplynet.sim.arrays`). Speed (the bench's
single-echelon (s,S) model, CPU time per SKU-location-day, one thread, this kernel against the one
with 71 positional arguments run alternately): 40-43 -> 34 ns on the 2-core machine at load average
~2, 62 -> 39 ns at load average ~7 (the time swings with the other jobs' load). What paid: no
reference counting in the day loop (``_nrt=False``; its atomic increments cost most on a busy
machine), indexes read from arrays masked non-negative so numba drops the wraparound (``_IDX``,
~5 ns), no dependency carried from item to item through the day's cost or an unlimited site's
capacity (~3 ns), uniforms converted from a signed integer (~1 ns). What did not: removing the
accumulator writes, skipping the release loop, branch-free shortage days, inlined float min/max,
an inlined (s,S) rule in place of the shared policy function (each within the 1-2 ns noise).

Independent items (:func:`independent_items`: no arcs, no disruption, no finite site capacity, no lane
fixed cost two items share; a single-echelon network such as the bench's) run item by item instead
(:func:`_replication_items`), in blocks of days (:func:`_block_days`): an item's stock, pipeline position and
accumulators stay in registers for the block, and its demand over the block is drawn first, in
loops that do not wait on the stock (the hash in SIMD lanes). Same numbers as the general kernel
(tests/sim/test_kernel_items.py). Speed on the bench's model (serial kernel, CPU time per
SKU-location-day, 2-core machine at load average 5-9): 25 ns (general kernel) -> 15.5 (item by item)
-> 12.5 (the block's draws first) -> 11.7 (a fixed lead time rounded once per block) -> 11.1 (blocks
as long as the scratch fits a core's L2 cache: the whole 365 days for the bench's 100 items). What is left
(timed by removing parts): the day totals ~1.5 ns, the table look-ups ~0.5 ns; with a periodic
demand in place of the draws the loop takes ~9 ns (its order days then predictable); breaking the
chain from one day's stock to the next saves ~1.5 ns: the loop is bound by its instruction count
(~150 per item-day with the shared policy function), not by that chain. Willems' network
(multi-echelon) still runs the general kernel.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import prange

from supplynet.policy.policies import order_qty_scalar
from supplynet.sim.arrays import (  # noqa: F401 - the columns are re-exported for the engine's readers
    A_BACKLOG_DAYS,
    A_BACKORDER_COST,
    A_DEMAND,
    A_DEMAND_LOSS,
    A_DEMAND_LOSS_COST,
    A_DOWNTIME,
    A_HOLD,
    A_LOST,
    A_LOST_COST,
    A_NORDERS,
    A_ONHAND_DAYS,
    A_ORDER,
    A_OWED_DAYS,
    A_REVENUE,
    A_SERVED_NOW,
    A_SHIPPED_EXT,
    A_SHORT,
    A_SHORT_DAYS,
    A_TRANSIT,
    A_TRANSPORT,
    CAPACITY_LOSS,
    D_BACKLOG,
    D_COST,
    D_DEMAND,
    D_LOST,
    D_ON_HAND,
    D_SERVED_NOW,
    DEMAND_SHIFT,
    DEMAND_SPIKE,
    GUIDE,
    LANE_CLOSURE,
    LEAD_TIME_SHOCK,
    N_ACC,
    N_DAILY,
    OUTAGE,
    SUPPLIER_FAILURE,
    KernelEvents,
    KernelNetwork,
    KernelParams,
    KernelState,
)

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
#: compile without numba's reference counting (an option numba's own tests use): only for a function
#: that allocates nothing; the counting of every array taken out of the kernel's tuples cost as much
#: as the day's work on a busy machine (39 against 62 ns per item-day on the bench's model at load ~7)
_NO_REFCOUNT: dict[str, Any] = {"_nrt": False}
#: ``x & _IDX`` is ``x`` for an index read from an array (>= 0), and tells LLVM so: numba then drops the
#: negative-index wraparound of every access with it (~5 ns per item-day on the bench's model)
_IDX = 0x7FFFFFFFFFFFFFFF


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
    return (float(np.int64(x >> _S11)) + 0.5) * _INV53  # < 2**53: a signed conversion, one instruction


@numba.njit(inline="always", cache=True)
def _normal(key: np.uint64, t: int, i: int, stream: int) -> float:
    """A standard normal from one hash (two 32-bit uniforms, Box & Muller 1958)."""
    x = _mix(key + np.uint64(t + 1) * _GOLD)
    x = _mix(x ^ (np.uint64(i) * _M3 + np.uint64(stream)))
    u1 = (float(np.int64(x >> _S32)) + 0.5) * _INV32
    u2 = (float(np.int64(x & _LO32)) + 0.5) * _INV32
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



@numba.njit(inline="always", cache=True)
def _day_hash(key: np.uint64, t: int) -> np.uint64:
    """The part of :func:`uniform` shared by every item of a day (hashed once per day)."""
    return _mix(key + np.uint64(t + 1) * _GOLD)


@numba.njit(inline="always", cache=True)
def _uniform_h(h: np.uint64, i: int, stream: int) -> float:
    """:func:`uniform` from the day's hash: the same number."""
    x = _mix(h ^ (np.uint64(i) * _M3 + np.uint64(stream)))
    return (float(np.int64(x >> _S11)) + 0.5) * _INV53


@numba.njit(inline="always", cache=True)
def _ship(net: KernelNetwork, par: KernelParams, pipe: np.ndarray, in_transit: np.ndarray, acc: np.ndarray,
          lane_used: np.ndarray, cur: np.ndarray, i: int, k: int, lt: float, q: float) -> float:
    """Put ``q`` units for item ``i`` on lane ``k`` (-1: none) arriving after ``lt`` days (rounded, at
    least one, within the item's pipeline ring); returns the transport cost (the lane's fixed cost
    once per day it carries anything). ``q`` may be 0 (nothing moves, nothing is paid)."""
    n = net.pipe_len[i]
    lt_i = min(max(int(math.floor(lt + 0.5)), 1), n - 1)
    slot = cur[i] + lt_i
    pipe[(net.pipe_off[i] + (slot if slot < n else slot - n)) & _IDX] += q
    in_transit[i] += q
    if k < 0:
        return 0.0
    used = lane_used[k]
    tc = par.lane_cost[k] * q + (par.lane_fixed[k] if q > 0.0 and used == 0.0 else 0.0)
    lane_used[k] = 1.0 if q > 0.0 else used
    acc[i, A_TRANSPORT] += tc
    return tc


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy", **_NO_REFCOUNT)
def _replication(r: int, t0: int, t1: int, key: np.uint64, net: KernelNetwork, par: KernelParams,
                 ev: KernelEvents, st: KernelState, scratch: np.ndarray, today: np.ndarray, cur: np.ndarray) -> None:
    """Advance replication ``r`` from day ``t0`` to ``t1`` (exclusive), in place.

    Compiled without numba's reference counting (``_nrt=False``): it allocates nothing (``scratch``,
    ``[6, max(S, K)]``, ``today``, ``[2, N]``, and ``cur``, ``[N]``, come from the caller), and the
    counting of every array taken out of the four tuples cost as much as the day's work itself."""
    on_hand = st.on_hand[r]
    on_order = st.on_order[r]
    in_transit = st.in_transit[r]
    backlog = st.backlog[r]
    request = st.request[r]
    staged = st.staged[r]
    pipe = st.pipe[r]
    acc = st.acc[r]
    first_short = st.first_short[r]
    last_short = st.last_short[r]
    daily = st.daily[r]
    ev_start = ev.start[r]
    ev_end = ev.end[r]
    N = on_hand.shape[0]
    S = par.site_cap.shape[0]
    K = par.lane_cap.shape[0]
    E = ev.kind.shape[0]
    H = daily.shape[0]
    Tm = par.dem_mean.shape[0]
    dem_events = False
    for e in range(E):
        if ev.kind[e] == DEMAND_SPIKE or ev.kind[e] == DEMAND_SHIFT:
            dem_events = True
    cap_left = scratch[0, :S]   # capacity left today per site
    site_fac = scratch[1, :S]   # share of capacity a disruption leaves per site
    lane_left = scratch[2, :K]
    lane_fac = scratch[3, :K]
    lt_fac = scratch[4, :K]     # lead-time factor per lane
    lane_used = scratch[5, :K]  # 1.0 once the lane carried something today (its fixed cost is paid)
    for s in range(S):
        site_fac[s] = 1.0
    for k in range(K):
        lane_fac[k] = 1.0
        lt_fac[k] = 1.0
    for i in range(N):
        cur[i] = t0 % net.pipe_len[i]
    for t in range(t0, t1):
        day_cost = 0.0
        day_dem = 0.0
        day_now = 0.0
        day_lost = 0.0
        h = _day_hash(key, t)
        # 1. arrivals
        for i in range(N):
            if t > t0:
                cur[i] = cur[i] + 1 if cur[i] + 1 < net.pipe_len[i] else 0
            slot = (net.pipe_off[i] + cur[i]) & _IDX
            x = pipe[slot]  # no branch on whether something arrives: adding zero changes nothing
            pipe[slot] = 0.0
            on_hand[i] += x
            in_transit[i] -= x
            on_order[i] -= x
        # 2. disruption factors (recomputed only when some event is scheduled)
        lt_all = 1.0
        if E > 0:
            for s in range(S):
                site_fac[s] = 1.0
            for k in range(K):
                lane_fac[k] = 1.0
                lt_fac[k] = 1.0
        for e in range(E):
            kind = ev.kind[e]
            if ev_start[e] <= t < ev_end[e]:
                sev = ev.severity[e]
                if kind == OUTAGE or kind == CAPACITY_LOSS or kind == SUPPLIER_FAILURE:
                    for s in range(S):
                        if ev.site[e] < 0 or ev.site[e] == s:
                            site_fac[s] *= max(0.0, 1.0 - sev)
                elif kind == LEAD_TIME_SHOCK and ev.lane[e] < 0:
                    lt_all *= 1.0 + sev
                elif kind == LANE_CLOSURE or kind == LEAD_TIME_SHOCK:
                    for k in range(K):
                        if ev.lane[e] < 0 or ev.lane[e] == k:
                            if kind == LANE_CLOSURE:
                                lane_fac[k] *= max(0.0, 1.0 - sev)
                            else:
                                lt_fac[k] *= 1.0 + sev
        for s in range(S):
            cap_left[s] = par.site_cap[s] if site_fac[s] >= 1.0 else par.site_nom[s] * site_fac[s]
        for k in range(K):
            lane_used[k] = 0.0
            lane_left[k] = par.lane_cap[k] if lane_fac[k] >= 1.0 else par.lane_nom[k] * lane_fac[k]
        tm = min(t, Tm - 1)
        # 3a. today's external demand of every item (it depends on no stock: drawn in a loop of its own,
        # whose iterations the processor overlaps)
        for i in range(N):
            d = 0.0
            f = 1.0
            dk = par.dem_kind[i]
            if dk >= 0:
                if dem_events:
                    s = net.item_site[i]
                    for e in range(E):
                        kind = ev.kind[e]
                        if kind == DEMAND_SPIKE or kind == DEMAND_SHIFT:
                            if (ev.site[e] < 0 or ev.site[e] == s) and (ev.sku[e] < 0 or ev.sku[e] == net.item_sku[i]):
                                st_e = ev_start[e]
                                en_e = ev_end[e]
                                if kind == DEMAND_SPIKE:
                                    if st_e <= t < en_e:
                                        f *= 1.0 + ev.severity[e]
                                elif t >= st_e:
                                    ramp = min(1.0, (t - st_e + 1.0) / max(1.0, en_e - st_e))
                                    f *= 1.0 + ev.severity[e] * ramp
                n_cdf = par.cdf_len[i]
                if f == 1.0 and n_cdf > 0 and Tm == 1:  # tabulated Poisson: guide table (Chen & Asau 1974)
                    u = _uniform_h(h, i, 0)
                    o = par.cdf_off[i] & _IDX
                    k = par.guide[(GUIDE * o + int(u * (GUIDE * n_cdf))) & _IDX] & _IDX
                    while par.cdf[o + k] < u:
                        k += 1
                    d = float(k)
                else:
                    d = _demand(dk, par.dem_mean[tm, i] * f, par.dem_std[tm, i] * f, key, t, i, par.hist[i],
                                par.hist_len[i])
                if dk == 3:
                    d *= f
            today[0, i] = d
            today[1, i] = f
        # 3b. fulfilment and ordering, downstream first
        for idx in range(N):
            i = net.order[idx] & _IDX
            s = net.item_site[i] & _IDX
            d = today[0, i]
            f = today[1, i]
            ic = 0.0  # the item's cost today (one sum per item into the day's: no chain across items)
            if f < 1.0:  # demand the disruption took away: lost sales too
                gone = par.dem_mean[tm, i] * (1.0 - f)
                acc[i, A_DEMAND_LOSS] += gone
                acc[i, A_DEMAND_LOSS_COST] += par.short_cost[i] * gone
                ic += par.short_cost[i] * gone
            bl = backlog[i]
            cint = 0.0
            for p in range(net.out_ptr[i], net.out_ptr[i + 1]):
                cint += request[net.out_arcs[p] & _IDX]
            cap = cap_left[s]
            if net.source[i]:
                avail = cap
            else:
                avail = min(max(on_hand[i], 0.0), cap)
            sb = min(bl, avail)
            avail -= sb
            sn = min(d, avail)
            avail -= sn
            si = min(cint, avail)
            if si > 0.0:
                frac = si / cint
                for p in range(net.out_ptr[i], net.out_ptr[i + 1]):
                    a = net.out_arcs[p] & _IDX
                    q = request[a] * frac
                    request[a] -= q
                    staged[a] += q
            shipped = sb + sn + si
            if not net.source[i]:
                on_hand[i] -= shipped
            if cap < np.inf:  # an unlimited site's capacity stays unlimited: no chain through memory
                cap_left[s] = cap - shipped
            unmet = d - sn
            # every sum below adds zero when nothing is asked nor owed (no branch on the day's luck)
            sc = par.short_cost[i] * unmet
            bl_new = bl - sb
            if par.backorders[i]:
                bl_new += unmet
                sc += par.backlog_cost[i] * bl_new
                acc[i, A_BACKORDER_COST] += sc
            else:
                acc[i, A_LOST] += unmet
                acc[i, A_LOST_COST] += sc
                day_lost += unmet
            backlog[i] = bl_new
            acc[i, A_SHORT] += sc
            ic += sc
            acc[i, A_DEMAND] += d
            acc[i, A_SERVED_NOW] += sn
            acc[i, A_REVENUE] += par.price[i] * (sb + sn)
            acc[i, A_SHIPPED_EXT] += sb + sn
            acc[i, A_BACKLOG_DAYS] += bl_new
            acc[i, A_OWED_DAYS] += cint - si
            day_dem += d
            day_now += sn
            if unmet > 1e-9 or cint - si > 1e-9:
                if first_short[i] < 0:
                    first_short[i] = t
                last_short[i] = t
                acc[i, A_SHORT_DAYS] += 1.0
            if par.pol_kind[i] >= 0:
                ip = on_hand[i] + on_order[i] - bl_new - (cint - si)
                q = order_qty_scalar(par.pol_kind[i], par.pol_a[i], par.pol_b[i], par.pol_review[i],
                                     par.pol_offset[i], par.pack[i], par.moq[i], ip, float(t))
                if net.direct[i]:  # from an external supplier after a fixed lead time: no branch on the order
                    placed = 1.0 if q > 0.0 else 0.0
                    on_order[i] += q
                    acc[i, A_NORDERS] += placed
                    oc = par.order_cost[i] * placed
                    acc[i, A_ORDER] += oc
                    ic += oc
                    k = net.item_lane[i]
                    fac = lt_all * lt_fac[k] if k >= 0 else lt_all
                    ic += _ship(net, par, pipe, in_transit, acc, lane_used, cur, i, k, par.lt_mean[i] * fac, q)
                elif q > 0.0:
                    on_order[i] += q
                    acc[i, A_NORDERS] += 1.0
                    acc[i, A_ORDER] += par.order_cost[i]
                    ic += par.order_cost[i]
                    k = net.item_lane[i]
                    routed = False
                    if net.bk_ptr[i] < net.bk_ptr[i + 1] and k >= 0 and lane_fac[k] <= 0.0:
                        # own lane closed: the cheapest backup lane that is open
                        for p in range(net.bk_ptr[i], net.bk_ptr[i + 1]):
                            a = net.bk_arcs[p] & _IDX
                            if lane_fac[net.arc_lane[a]] > 0.0:
                                request[a] += q
                                routed = True
                                break
                    if routed:
                        pass
                    elif net.in_ptr[i] == net.in_ptr[i + 1]:
                        fac = lt_all * lt_fac[k] if k >= 0 else lt_all
                        lt = _lead(par.lt_kind[i], par.lt_mean[i], par.lt_std[i], par.lt_min[i], par.lt_max[i],
                                   key, t, i) * fac
                        ic += _ship(net, par, pipe, in_transit, acc, lane_used, cur, i, k, lt, q)
                    else:
                        for p in range(net.in_ptr[i], net.in_ptr[i + 1]):
                            a = net.in_arcs[p] & _IDX
                            request[a] += q * net.arc_qty[a]
            day_cost += ic
        # 4. releases of staged inputs onto lanes
        for i in range(N):
            for p in range(net.bk_ptr[i], net.bk_ptr[i + 1]):  # backup lanes: one source each
                a = net.bk_arcs[p] & _IDX
                rel = staged[a]
                if rel <= 1e-12:
                    continue
                k = net.arc_lane[a]
                rel = min(rel, lane_left[k])
                if rel <= 1e-12:
                    continue
                lane_left[k] -= rel
                staged[a] -= rel
                lt = _lead(int(par.arc_lt[a, 0]), par.arc_lt[a, 1], par.arc_lt[a, 2], par.arc_lt[a, 3],
                           par.arc_lt[a, 4], key, t, i, 4) * lt_all * lt_fac[k]
                day_cost += _ship(net, par, pipe, in_transit, acc, lane_used, cur, i, k, lt, rel)
            if net.in_ptr[i] == net.in_ptr[i + 1]:
                continue
            rel = np.inf
            for p in range(net.in_ptr[i], net.in_ptr[i + 1]):
                a = net.in_arcs[p] & _IDX
                rel = min(rel, staged[a] / net.arc_qty[a])
            if rel <= 1e-12:
                continue
            k = net.item_lane[i]
            fac = lt_all
            if k >= 0:
                rel = min(rel, lane_left[k])
                if rel <= 1e-12:
                    continue
                lane_left[k] -= rel
                fac *= lt_fac[k]
            for p in range(net.in_ptr[i], net.in_ptr[i + 1]):
                a = net.in_arcs[p] & _IDX
                staged[a] -= rel * net.arc_qty[a]
            lt = _lead(par.lt_kind[i], par.lt_mean[i], par.lt_std[i], par.lt_min[i], par.lt_max[i], key, t, i) * fac
            day_cost += _ship(net, par, pipe, in_transit, acc, lane_used, cur, i, k, lt, rel)
        # 5. end-of-day holding and downtime costs and daily totals
        day_oh = 0.0
        day_bl = 0.0
        for i in range(N):
            s = net.item_site[i] & _IDX
            if site_fac[s] < 1.0 and par.site_down[s] > 0.0:
                dc = par.site_down[s] * (1.0 - site_fac[s]) / net.site_items[s]
                acc[i, A_DOWNTIME] += dc
                day_cost += dc
            if net.source[i]:
                continue
            oh = on_hand[i]
            it = in_transit[i]
            acc[i, A_ONHAND_DAYS] += oh  # costs = rate x unit-days, priced in SimResult
            acc[i, A_TRANSIT] += it
            day_cost += par.hold[i] * oh + par.transit_hold[i] * it
            day_oh += oh
            day_bl += backlog[i]
        if t < H:
            daily[t, D_DEMAND] = day_dem
            daily[t, D_SERVED_NOW] = day_now
            daily[t, D_BACKLOG] = day_bl
            daily[t, D_ON_HAND] = day_oh
            daily[t, D_COST] = day_cost
            daily[t, D_LOST] = day_lost


#: the independent-items kernel's day blocks: as many days as keep its per-block scratch (three numbers per
#: item-day) within a core's L2 cache (1 MB), at least ``_BLOCK_MIN`` (on the bench's model, CPU time per
#: item-day: 32-day blocks 12.5 ns, 64 11.5, 128 11.4, one 365-day block 11.0)
_BLOCK_BYTES = 1 << 20
_BLOCK_MIN = 16


@numba.njit(cache=True)
def _block_days(n_items: int, days: int) -> int:
    """Days per block of :func:`_replication_items` for ``n_items`` items and a run of ``days`` days."""
    return max(1, min(days, max(_BLOCK_MIN, _BLOCK_BYTES // (24 * max(n_items, 1)))))


@numba.njit(cache=True)
def independent_items(net: KernelNetwork, par: KernelParams, ev: KernelEvents) -> bool:
    """True when no item's day depends on another's: no arcs, no disruption, no finite site capacity
    and no lane whose fixed cost two items share (a single-echelon network). Then
    :func:`_replication_items` gives the numbers :func:`_replication` gives (tests/sim/test_kernel_items.py)."""
    if ev.kind.shape[0] > 0 or net.out_arcs.shape[0] > 0 or net.in_arcs.shape[0] > 0 or net.bk_arcs.shape[0] > 0:
        return False
    for s in range(par.site_cap.shape[0]):
        if par.site_cap[s] < np.inf:
            return False
    users = np.zeros(par.lane_cap.shape[0], dtype=np.int64)
    for i in range(net.item_lane.shape[0]):
        k = net.item_lane[i]
        if k >= 0:
            users[k] += 1
            if users[k] > 1 and par.lane_fixed[k] != 0.0:
                return False
    return True


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy", **_NO_REFCOUNT)
def _replication_items(r: int, t0: int, t1: int, key: np.uint64, net: KernelNetwork, par: KernelParams,
                       st: KernelState, hs: np.ndarray, draws: np.ndarray, sums: np.ndarray, part: np.ndarray) -> None:
    """:func:`_replication` for independent items (:func:`independent_items`), item by item.

    The days run in blocks of ``B = hs.shape[0]`` days; within a block each item runs all its days
    with its stock, pipeline position and accumulators in local variables (read and written once per
    block, not once per day). The day's totals keep the general kernel's order of additions, so the
    results are the same to the last bit (but for the day's total cost when costs are fractional: both
    kernels let the compiler reassociate that sum, each its own way, a difference of 1e-16 relative):
    demand, service, lost sales and the order-time costs are summed in ``net.order`` as the items run
    (``sums``, ``[6, B]``); holding costs, stock on hand and backorders, summed in item order after
    them, wait in ``part`` (``[3, N, B]``) until every item has run. ``hs`` (``[B]``) holds the days'
    hashes, ``draws`` (``[B]``) an item's demand over the block when it is tabulated: drawn before the
    item's days run, in loops whose iterations do not wait for one another (the days' stock updates
    do: one chain). Allocates nothing."""
    on_hand = st.on_hand[r]
    on_order = st.on_order[r]
    in_transit = st.in_transit[r]
    backlog = st.backlog[r]
    pipe = st.pipe[r]
    acc = st.acc[r]
    first_short = st.first_short[r]
    last_short = st.last_short[r]
    daily = st.daily[r]
    N = on_hand.shape[0]
    H = daily.shape[0]
    Tm = par.dem_mean.shape[0]
    B = hs.shape[0]
    for b0 in range(t0, t1, B):
        nb = min(B, t1 - b0)
        for j in range(nb):
            hs[j] = _day_hash(key, b0 + j)
            sums[0, j] = 0.0  # demand
            sums[1, j] = 0.0  # served now
            sums[2, j] = 0.0  # lost
            sums[3, j] = 0.0  # cost
        for idx in range(N):
            i = net.order[idx] & _IDX
            n = net.pipe_len[i]
            off = net.pipe_off[i] & _IDX
            cur = b0 % n
            oh = on_hand[i]
            oo = on_order[i]
            it = in_transit[i]
            bl = backlog[i]
            fs = first_short[i]
            ls = last_short[i]
            a_dem = acc[i, A_DEMAND]
            a_now = acc[i, A_SERVED_NOW]
            a_lost = acc[i, A_LOST]
            a_lost_c = acc[i, A_LOST_COST]
            a_bo_c = acc[i, A_BACKORDER_COST]
            a_short = acc[i, A_SHORT]
            a_rev = acc[i, A_REVENUE]
            a_ship = acc[i, A_SHIPPED_EXT]
            a_bl = acc[i, A_BACKLOG_DAYS]
            a_sdays = acc[i, A_SHORT_DAYS]
            a_norders = acc[i, A_NORDERS]
            a_order = acc[i, A_ORDER]
            a_trans = acc[i, A_TRANSPORT]
            a_oh = acc[i, A_ONHAND_DAYS]
            a_it = acc[i, A_TRANSIT]
            source = net.source[i]
            direct = net.direct[i]
            backorders = par.backorders[i]
            dk = par.dem_kind[i]
            n_cdf = par.cdf_len[i]
            tabulated = n_cdf > 0 and Tm == 1
            o = par.cdf_off[i] & _IDX
            pk = par.pol_kind[i]
            k = net.item_lane[i]
            lane_cost = par.lane_cost[k & _IDX] if k >= 0 else 0.0
            lane_fixed = par.lane_fixed[k & _IDX] if k >= 0 else 0.0
            short_cost = par.short_cost[i]
            backlog_cost = par.backlog_cost[i]
            price = par.price[i]
            order_cost = par.order_cost[i]
            hold = par.hold[i]
            transit_hold = par.transit_hold[i]
            lt_mean = par.lt_mean[i]
            lt_direct = min(max(int(math.floor(lt_mean + 0.5)), 1), n - 1)  # a direct item's fixed lead time
            if dk >= 0 and tabulated:  # the block's draws first, in loops of independent iterations
                for j in range(nb):
                    draws[j] = _uniform_h(hs[j], i, 0)  # vectorized (the hash's multiplies in SIMD lanes)
                for j in range(nb):
                    u = draws[j]
                    g = par.guide[(GUIDE * o + int(u * (GUIDE * n_cdf))) & _IDX] & _IDX
                    while par.cdf[o + g] < u:
                        g += 1
                    draws[j] = float(g)
            for j in range(nb):
                t = b0 + j
                # 1. arrivals
                slot = (off + cur) & _IDX
                x = pipe[slot]
                pipe[slot] = 0.0
                oh += x
                it -= x
                oo -= x
                # 3a. demand
                d = 0.0
                if dk >= 0:
                    if tabulated:
                        d = draws[j]
                    else:
                        tm = min(t, Tm - 1)
                        d = _demand(dk, par.dem_mean[tm, i], par.dem_std[tm, i], key, t, i, par.hist[i],
                                    par.hist_len[i])
                # 3b. fulfilment (no requests from downstream: none owed)
                avail = np.inf if source else max(oh, 0.0)
                sb = min(bl, avail)
                avail -= sb
                sn = min(d, avail)
                if not source:
                    oh -= sb + sn
                unmet = d - sn
                sc = short_cost * unmet
                bl_new = bl - sb
                if backorders:
                    bl_new += unmet
                    sc += backlog_cost * bl_new
                    a_bo_c += sc
                else:
                    a_lost += unmet
                    a_lost_c += sc
                    sums[2, j] += unmet
                bl = bl_new
                a_short += sc
                ic = sc
                a_dem += d
                a_now += sn
                a_rev += price * (sb + sn)
                a_ship += sb + sn
                a_bl += bl_new
                sums[0, j] += d
                sums[1, j] += sn
                if unmet > 1e-9:
                    if fs < 0:
                        fs = t
                    ls = t
                    a_sdays += 1.0
                if pk >= 0:
                    q = order_qty_scalar(pk, par.pol_a[i], par.pol_b[i], par.pol_review[i], par.pol_offset[i],
                                         par.pack[i], par.moq[i], oh + oo - bl_new, float(t))
                    lt_i = lt_direct
                    if direct:
                        placed = 1.0 if q > 0.0 else 0.0
                        oo += q
                        a_norders += placed
                        oc = order_cost * placed
                        a_order += oc
                        ic += oc
                    elif q > 0.0:
                        oo += q
                        a_norders += 1.0
                        a_order += order_cost
                        ic += order_cost
                        lt = _lead(par.lt_kind[i], lt_mean, par.lt_std[i], par.lt_min[i], par.lt_max[i], key, t, i)
                        lt_i = min(max(int(math.floor(lt + 0.5)), 1), n - 1)
                    if direct or q > 0.0:  # _ship, with no lane shared
                        sl = cur + lt_i
                        pipe[(off + (sl if sl < n else sl - n)) & _IDX] += q
                        it += q
                        if k >= 0:
                            tc = lane_cost * q + (lane_fixed if q > 0.0 else 0.0)
                            a_trans += tc
                            ic += tc
                sums[3, j] += ic
                # 5. end of day
                if source:
                    part[0, i, j] = 0.0
                    part[1, i, j] = 0.0
                    part[2, i, j] = 0.0
                else:
                    a_oh += oh
                    a_it += it
                    part[0, i, j] = hold * oh + transit_hold * it
                    part[1, i, j] = oh
                    part[2, i, j] = bl
                cur = cur + 1 if cur + 1 < n else 0
            on_hand[i] = oh
            on_order[i] = oo
            in_transit[i] = it
            backlog[i] = bl
            first_short[i] = fs
            last_short[i] = ls
            acc[i, A_DEMAND] = a_dem
            acc[i, A_SERVED_NOW] = a_now
            acc[i, A_LOST] = a_lost
            acc[i, A_LOST_COST] = a_lost_c
            acc[i, A_BACKORDER_COST] = a_bo_c
            acc[i, A_SHORT] = a_short
            acc[i, A_REVENUE] = a_rev
            acc[i, A_SHIPPED_EXT] = a_ship
            acc[i, A_BACKLOG_DAYS] = a_bl
            acc[i, A_SHORT_DAYS] = a_sdays
            acc[i, A_NORDERS] = a_norders
            acc[i, A_ORDER] = a_order
            acc[i, A_TRANSPORT] = a_trans
            acc[i, A_ONHAND_DAYS] = a_oh
            acc[i, A_TRANSIT] = a_it
        # 5. the days' totals, holding costs added after the order-time costs as in _replication
        for j in range(nb):
            sums[4, j] = 0.0
            sums[5, j] = 0.0
        for i in range(N):
            for j in range(nb):
                sums[3, j] += part[0, i, j]
                sums[4, j] += part[1, i, j]
                sums[5, j] += part[2, i, j]
        for j in range(nb):
            t = b0 + j
            if t < H:
                daily[t, D_DEMAND] = sums[0, j]
                daily[t, D_SERVED_NOW] = sums[1, j]
                daily[t, D_BACKLOG] = sums[5, j]
                daily[t, D_ON_HAND] = sums[4, j]
                daily[t, D_COST] = sums[3, j]
                daily[t, D_LOST] = sums[2, j]


@numba.njit(parallel=True, cache=True)
def advance(t0: int, t1: int, keys: np.ndarray, net: KernelNetwork, par: KernelParams, ev: KernelEvents,
            st: KernelState) -> None:
    """Advance every replication from day ``t0`` to ``t1`` (exclusive), in place, on every numba thread."""
    N = st.on_hand.shape[1]
    if independent_items(net, par, ev):
        for r in prange(keys.shape[0]):
            B = _block_days(N, t1 - t0)
            _replication_items(r, t0, t1, keys[r], net, par, st, np.empty(B, dtype=np.uint64), np.empty(B),
                               np.empty((6, B)), np.empty((3, N, B)))
        return
    width = max(par.site_cap.shape[0], par.lane_cap.shape[0])
    for r in prange(keys.shape[0]):
        _replication(r, t0, t1, keys[r], net, par, ev, st, np.empty((6, width)), np.empty((2, N)),
                     np.empty(N, dtype=np.int64))


@numba.njit(cache=True)
def advance_serial(t0: int, t1: int, keys: np.ndarray, net: KernelNetwork, par: KernelParams, ev: KernelEvents,
                   st: KernelState) -> None:
    """The same without threads: for Dask workers, which run one chunk per thread."""
    N = st.on_hand.shape[1]
    if independent_items(net, par, ev):
        B = _block_days(N, t1 - t0)
        hs = np.empty(B, dtype=np.uint64)
        draws = np.empty(B)
        sums = np.empty((6, B))
        part = np.empty((3, N, B))
        for r in range(keys.shape[0]):
            _replication_items(r, t0, t1, keys[r], net, par, st, hs, draws, sums, part)
        return
    width = max(par.site_cap.shape[0], par.lane_cap.shape[0])
    scratch = np.empty((6, width))
    today = np.empty((2, st.on_hand.shape[1]))
    cur = np.empty(st.on_hand.shape[1], dtype=np.int64)
    for r in range(keys.shape[0]):
        _replication(r, t0, t1, keys[r], net, par, ev, st, scratch, today, cur)
