"""SimNetwork: the array form of a supply network that the Monte Carlo kernel reads.

A stocking point ("item") is one (site, sku) pair. Items are fed by *arcs*: ``arc_src -> arc_dst`` with
``arc_qty`` units of the source item per unit of the destination item (1 for a transport lane, the
BOM quantity for a component consumed at a plant; several arcs into one item make an assembly).
An item with no arcs is replenished from an unlimited external supplier after its lead time; a
*source* item (a supplier site) has unlimited stock and never orders.

*Backup* arcs (:meth:`SimNetwork.with_backup`) are other transport lanes into an item (one unit of
the source item per unit, their own lane and lead time). They carry nothing while the item's own
lane is open; while it is closed by a disruption (``lane_closure`` at severity 1), new orders go to
the cheapest backup whose lane is open. They are left out of the mean flow that sizes policies.

Built from a :class:`supplynet.model.Network` (:meth:`SimNetwork.from_network`), from a Willems
(2008) chain CSV (:meth:`SimNetwork.from_willems`) or directly from arrays (:meth:`SimNetwork.build`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from supplynet.errors import SimulationError
from supplynet.model.willems import read_stages
from supplynet.policy.policies import BaseStock, policy_from_spec

__all__ = ["DEMAND_KINDS", "LEAD_KINDS", "SimNetwork"]

DEMAND_KINDS = {"none": -1, "poisson": 0, "normal": 1, "normal_int": 2, "bootstrap": 3}
LEAD_KINDS = {"fixed": 0, "normal": 1, "lognormal": 2, "gamma": 2, "uniform": 3}
_DAYS_PER_YEAR = 365.0


def _arr(x: Any, n: int, default: float, dtype: Any = float) -> np.ndarray:
    if x is None:
        return np.full(n, default, dtype=dtype)
    a = np.asarray(x, dtype=dtype)
    return np.broadcast_to(a, (n,)).copy() if a.ndim <= 1 else a.copy()


@dataclass
class SimNetwork:
    """Arrays describing N items, A arcs, S sites and K lanes (see the module docstring)."""

    sites: list[str]
    site_kind: list[str]
    item_site: np.ndarray            # int[N] index into sites
    item_sku: list[str]              # sku name per item
    arc_src: np.ndarray              # int[A]
    arc_dst: np.ndarray              # int[A]
    arc_qty: np.ndarray              # float[A]
    source: np.ndarray               # bool[N] unlimited supply (suppliers)
    lt_kind: np.ndarray              # int[N] LEAD_KINDS
    lt_mean: np.ndarray
    lt_std: np.ndarray
    lt_min: np.ndarray
    lt_max: np.ndarray
    item_lane: np.ndarray            # int[N] lane feeding the item (-1: none)
    lanes: list[str]
    lane_capacity: np.ndarray        # float[K] units/day (inf)
    lane_cost: np.ndarray            # float[K] per unit
    lane_fixed_cost: np.ndarray      # float[K] per shipment
    site_capacity: np.ndarray        # float[S] units/day shipped (inf)
    dem_kind: np.ndarray             # int[N] DEMAND_KINDS
    dem_mean: np.ndarray             # float[Tm, N] per day (last row repeats)
    dem_std: np.ndarray              # float[Tm, N]
    hist: np.ndarray                 # float[N, H] history for bootstrap
    hist_len: np.ndarray             # int[N]
    backorders: np.ndarray           # bool[N]
    hold: np.ndarray                 # float[N] per unit per day on hand
    transit_hold: np.ndarray         # float[N] per unit per day in transit to the item
    short_cost: np.ndarray           # float[N] per unit short when it happens (backordered or lost)
    backlog_cost: np.ndarray         # float[N] per unit-day backordered
    price: np.ndarray                # float[N]
    order_cost: np.ndarray           # float[N] per order placed
    pol_kind: np.ndarray             # int[N] policy kind (-1: never orders)
    pol_a: np.ndarray
    pol_b: np.ndarray
    pol_review: np.ndarray
    pol_offset: np.ndarray
    pack: np.ndarray
    moq: np.ndarray
    init_on_hand: np.ndarray         # float[N]
    init_transit: np.ndarray         # float[N, D]: quantity arriving d days from start (d >= 1 at col d-1)
    init_open: np.ndarray            # float[N]: ordered, not yet shipped by the upstream item
    name: str = "network"
    meta: dict[str, Any] = field(default_factory=dict)
    lane_mode: list[str] = field(default_factory=list)   # transport mode per lane ("" unknown)
    init_backlog: np.ndarray | None = None  # float[N]: backorders waiting at the start (None: none)
    arc_backup: np.ndarray | None = None    # bool[A]: a backup lane (None: no backups)
    arc_lane: np.ndarray | None = None      # int[A]: lane of a backup arc (-1: the item's own lane)
    arc_lt: np.ndarray | None = None        # float[A, 5]: backup lead time (kind, mean, std, min, max)
    site_down: np.ndarray | None = None     # float[S]: cost per day a site is wholly down (its machines' downtime)
    currency: str = ""                      # of every cost above ("" unknown: a chain CSV without one)

    # ------------------------------------------------------------------ derived
    def __post_init__(self) -> None:
        n = len(self.item_sku)
        if len(self.item_site) != n:
            raise SimulationError(f"item_site has {len(self.item_site)} entries, item_sku {n}")
        if np.any((self.arc_src < 0) | (self.arc_src >= n) | (self.arc_dst < 0) | (self.arc_dst >= n)):
            raise SimulationError("an arc refers to an item index outside 0..N-1")
        if np.any(self.arc_qty <= 0):
            raise SimulationError(f"arc quantities must be > 0, got {self.arc_qty[self.arc_qty <= 0][:3]}")
        if np.any(self.lt_mean < 0):
            raise SimulationError("lead-time means must be >= 0")
        if self.init_backlog is None:
            self.init_backlog = np.zeros(n)
        elif np.shape(self.init_backlog) != (n,):
            raise SimulationError(f"init_backlog must have one value per item ({n}), got {np.shape(self.init_backlog)}")
        a = len(self.arc_src)
        if self.arc_backup is None:
            self.arc_backup = np.zeros(a, dtype=bool)
        if self.arc_lane is None:
            self.arc_lane = np.full(a, -1, dtype=np.int64)
        if self.arc_lt is None:
            self.arc_lt = np.zeros((a, 5))
        if len(self.arc_backup) != a or len(self.arc_lane) != a or np.shape(self.arc_lt) != (a, 5):
            raise SimulationError(f"arc_backup, arc_lane and arc_lt must have one entry per arc ({a})")
        self.order = self._downstream_first()

    @property
    def n_items(self) -> int:
        return len(self.item_sku)

    def sku_ids(self) -> dict[str, int]:
        """Index of each sku name (order of first appearance), as the kernel numbers them."""
        return {s: j for j, s in enumerate(dict.fromkeys(self.item_sku))}

    @property
    def item_names(self) -> list[str]:
        return [f"{self.sites[s]}/{k}" for s, k in zip(self.item_site, self.item_sku, strict=True)]

    def _downstream_first(self) -> np.ndarray:
        """Items ordered so every arc's destination comes before its source (Kahn's algorithm)."""
        n = self.n_items
        outdeg = np.bincount(self.arc_src, minlength=n)
        by_src: list[list[int]] = [[] for _ in range(n)]
        for a in range(len(self.arc_src)):
            by_src[self.arc_dst[a]].append(int(self.arc_src[a]))
        ready = [i for i in range(n) if outdeg[i] == 0]
        out: list[int] = []
        while ready:
            i = ready.pop()
            out.append(i)
            for j in by_src[i]:
                outdeg[j] -= 1
                if outdeg[j] == 0:
                    ready.append(j)
        if len(out) != n:
            raise SimulationError("the network has a cycle of supply arcs; the simulator needs a DAG")
        return np.asarray(out, dtype=np.int64)

    def mean_flow(self) -> np.ndarray:
        """Mean daily demand each item must supply (external plus downstream arcs), and its std."""
        mu = np.where(self.dem_kind >= 0, self.dem_mean.mean(axis=0), 0.0)
        var = np.where(self.dem_kind >= 0, self.dem_std.mean(axis=0) ** 2, 0.0)
        for i in self.order:  # downstream first: dst totals are final before src reads them
            for a in np.nonzero((self.arc_dst == i) & ~self.arc_backup)[0]:
                mu[self.arc_src[a]] += self.arc_qty[a] * mu[i]
                var[self.arc_src[a]] += self.arc_qty[a] ** 2 * var[i]
        return mu, np.sqrt(var)

    def lead_upper(self) -> np.ndarray:
        """Largest lead time (days) a sample may take, per item."""
        up = np.where(self.lt_kind == 0, self.lt_mean, self.lt_mean + 5.0 * self.lt_std)
        up = np.where(self.lt_kind == 3, self.lt_max, up)
        for a in np.nonzero(self.arc_backup)[0]:  # a backup lane's shipments land in the same pipeline
            kind, mean, std, _, hi = self.arc_lt[a]
            b = hi if kind == 3 else (mean if kind == 0 else mean + 5.0 * std)
            up[self.arc_dst[a]] = max(up[self.arc_dst[a]], b)
        return np.maximum(1.0, np.ceil(up + 0.5))

    def policy_level(self) -> np.ndarray:
        """The order-up-to level each item starts at (S, s..S top, r+Q, q)."""
        lvl = np.where(self.pol_kind == 1, self.pol_b, self.pol_a)
        lvl = np.where(self.pol_kind == 2, self.pol_a + self.pol_b, lvl)
        return np.where(self.pol_kind < 0, 0.0, np.maximum(lvl, 0.0))

    def replace(self, **changes: Any) -> SimNetwork:
        return dataclasses.replace(self, **changes)

    def with_policy(self, policy: Any, items: Sequence[int] | None = None) -> SimNetwork:
        """A copy where ``policy`` (a policy.policies class, params broadcast over items) applies."""
        kind, a, b, review, offset = policy.kernel_params()
        idx = np.arange(self.n_items) if items is None else np.asarray(items)
        new = {k: getattr(self, k).copy() for k in ("pol_kind", "pol_a", "pol_b", "pol_review", "pol_offset",
                                                     "pack", "moq")}
        for key, val in (("pol_kind", kind), ("pol_a", a), ("pol_b", b), ("pol_review", review),
                         ("pol_offset", offset), ("pack", policy.pack_size), ("moq", policy.moq)):
            new[key][idx] = np.broadcast_to(np.asarray(val, dtype=float), (len(idx),))
        new["pol_kind"][idx[self.source[idx]]] = -1
        return self.replace(**new)

    def with_backup(self, src: Any, dst: Any, lane: str | int, *, lead_time: float, lead_std: float = 0.0,
                    lead_kind: str = "fixed", lead_min: float | None = None,
                    lead_max: float | None = None) -> SimNetwork:
        """A copy with a backup lane from item ``src`` into item ``dst`` (indices or ``(site, sku)``).

        ``lane`` names (or indexes) the lane in ``lanes``; its capacity, costs and disruptions apply.
        While ``dst``'s own lane is closed, orders go to the cheapest backup whose lane is open.
        """
        i, j = self._index(src), self._index(dst)
        if i == j:
            raise SimulationError(f"a backup lane must join two different items, got {self.item_names[i]} twice")
        if self.item_lane[j] < 0:
            raise SimulationError(f"{self.item_names[j]} has no lane of its own: a backup lane backs up a lane")
        k = lane if isinstance(lane, (int, np.integer)) else (self.lanes.index(lane) if lane in self.lanes else -1)
        if not 0 <= int(k) < len(self.lanes):
            raise SimulationError(f"backup lane {lane!r} is not a lane of network {self.name!r}")
        if lead_kind not in LEAD_KINDS:
            raise SimulationError(f"lead-time distribution {lead_kind!r} unknown; use one of {sorted(LEAD_KINDS)}")
        if not lead_time >= 0 or not lead_std >= 0:
            raise SimulationError(f"backup lane {lane!r}: lead time and std must be >= 0, got {lead_time}, {lead_std}")
        lo = max(lead_time - 3 * lead_std, 1.0) if lead_min is None else lead_min
        hi = lead_time + 3 * lead_std if lead_max is None else lead_max
        net = self.replace(
            arc_src=np.append(self.arc_src, i), arc_dst=np.append(self.arc_dst, j),
            arc_qty=np.append(self.arc_qty, 1.0), arc_backup=np.append(self.arc_backup, True),
            arc_lane=np.append(self.arc_lane, int(k)),
            arc_lt=np.vstack([self.arc_lt, [[LEAD_KINDS[lead_kind], max(lead_time, 1.0), lead_std, lo, hi]]]))
        return net

    def with_initial_state(self, on_hand: Any = None, in_transit: Any = None,
                           open_orders: Any = None, backorders: Any = None) -> SimNetwork:
        """A copy starting from a given state (e.g. the live twin's snapshot, see :mod:`supplynet.sim.live`).

        ``on_hand``/``open_orders``/``backorders``: array[N] or mapping ``{(site, sku) | item index: qty}``;
        ``in_transit``: array[N, D] (arrivals d+1 days ahead) or iterable of ``(item, qty, eta_days)``
        where item is an index or ``(site, sku)``.
        """
        oh = self.init_on_hand.copy() if on_hand is None else self._per_item(on_hand, "on_hand")
        op = self.init_open.copy() if open_orders is None else self._per_item(open_orders, "open_orders")
        bl = self.init_backlog.copy() if backorders is None else self._per_item(backorders, "backorders")
        for what, arr in (("on_hand", oh), ("open_orders", op), ("backorders", bl)):
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                bad = int(np.nonzero(~np.isfinite(arr) | (arr < 0))[0][0])
                raise SimulationError(f"{what} of {self.item_names[bad]} must be a finite number >= 0, got {arr[bad]}")
        tr = self.init_transit.copy()
        if in_transit is not None:
            if isinstance(in_transit, np.ndarray):
                if in_transit.ndim != 2 or in_transit.shape[0] != self.n_items:
                    raise SimulationError(f"in_transit must be shaped (N={self.n_items}, days), got {in_transit.shape}")
                tr = in_transit.astype(float).copy()
            else:
                rows = [(self._index(it), float(q), max(1, int(math.ceil(float(eta))))) for it, q, eta in in_transit]
                d = max([e for _, _, e in rows], default=1)
                tr = np.zeros((self.n_items, d))
                for i, q, e in rows:
                    tr[i, e - 1] += q
        if np.any(tr < 0) or not np.all(np.isfinite(tr)):
            raise SimulationError("in_transit quantities must be finite and >= 0")
        return self.replace(init_on_hand=oh, init_transit=tr, init_open=op, init_backlog=bl)

    def _index(self, key: Any) -> int:
        if isinstance(key, (int, np.integer)):
            if not 0 <= key < self.n_items:
                raise SimulationError(f"item index {key} outside 0..{self.n_items - 1}")
            return int(key)
        if not hasattr(self, "_lookup"):
            self._lookup = {(self.sites[s], k): i for i, (s, k) in enumerate(zip(self.item_site, self.item_sku,
                                                                                  strict=True))}
        try:
            return self._lookup[tuple(key)]
        except (KeyError, TypeError) as exc:
            raise SimulationError(f"no stocking point {key!r} in network {self.name!r}") from exc

    def _per_item(self, values: Any, what: str) -> np.ndarray:
        if isinstance(values, Mapping):
            out = np.zeros(self.n_items)
            for k, v in values.items():
                out[self._index(k)] = float(v)
            return out
        arr = np.asarray(values, dtype=float)
        if arr.shape != (self.n_items,):
            raise SimulationError(f"{what} must have one value per item ({self.n_items}), got shape {arr.shape}")
        return arr.copy()

    # ------------------------------------------------------------------ builders
    @classmethod
    def build(cls, *, items: Sequence[tuple[str, str]], arcs: Sequence[tuple[int, int, float]] = (),
              site_kind: Mapping[str, str] | None = None, source: Any = None, lead_time: Any = 1.0,
              lead_std: Any = 0.0, lead_kind: str | Sequence[str] = "fixed", demand_mean: Any = 0.0,
              demand_std: Any = None, demand: str | Sequence[str] = "poisson", backorders: Any = True,
              hold: Any = 1.0, transit_hold: Any = 0.0, short_cost: Any = 0.0, backlog_cost: Any = 10.0, price: Any = 0.0,
              order_cost: Any = 0.0, policy: Any = None, site_capacity: Mapping[str, float] | None = None,
              lanes: Sequence[str] | None = None, item_lane: Any = None, lane_capacity: Any = None,
              lane_cost: Any = 0.0, lane_fixed_cost: Any = 0.0, history: Sequence[Sequence[float]] | None = None,
              name: str = "network") -> SimNetwork:
        """Build from plain Python values; per-item values broadcast. ``policy``: one policy class
        (params broadcast over items) or None (a 95% base-stock sized from the mean flow)."""
        sites = list(dict.fromkeys(s for s, _ in items))
        n = len(items)
        sidx = np.array([sites.index(s) for s, _ in items], dtype=np.int64)
        arcs_a = np.array(arcs, dtype=float).reshape(-1, 3)
        kinds = [demand] * n if isinstance(demand, str) else list(demand)
        lkinds = [lead_kind] * n if isinstance(lead_kind, str) else list(lead_kind)
        for k in kinds:
            if k not in DEMAND_KINDS:
                raise SimulationError(f"demand distribution {k!r} unknown; use one of {sorted(DEMAND_KINDS)}")
        for k in lkinds:
            if k not in LEAD_KINDS:
                raise SimulationError(f"lead-time distribution {k!r} unknown; use one of {sorted(LEAD_KINDS)}")
        dmean = np.asarray(demand_mean, dtype=float)
        dmean = np.broadcast_to(dmean, (n,)).reshape(1, n) if dmean.ndim <= 1 else dmean
        if demand_std is None:
            dstd = np.sqrt(np.maximum(dmean, 0.0))
        else:
            dstd = np.asarray(demand_std, dtype=float)
            dstd = np.broadcast_to(dstd, (n,)).reshape(1, n) if dstd.ndim <= 1 else dstd
        dstd = np.broadcast_to(dstd, dmean.shape).copy()
        dk = np.array([DEMAND_KINDS[k] for k in kinds], dtype=np.int64)
        dk = np.where(dmean.max(axis=0) > 0, dk, np.where(dk == 3, 3, -1))
        if history is not None:
            hl = np.array([len(h) for h in history], dtype=np.int64)
            hist = np.zeros((n, max(1, int(hl.max(initial=1)))))
            for i, h in enumerate(history):
                hist[i, : len(h)] = h
        else:
            hl, hist = np.zeros(n, dtype=np.int64), np.zeros((n, 1))
        lanes = list(lanes or [])
        k = len(lanes)
        site_cap = np.full(len(sites), np.inf)
        for s, c in (site_capacity or {}).items():
            if s in sites:  # a site holding no item has nothing to ship
                site_cap[sites.index(s)] = np.inf if c is None else float(c)
        lt = _arr(lead_time, n, 1.0)
        net = cls(
            sites=sites, site_kind=[(site_kind or {}).get(s, "dc") for s in sites], item_site=sidx,
            item_sku=[k_ for _, k_ in items], arc_src=arcs_a[:, 0].astype(np.int64),
            arc_dst=arcs_a[:, 1].astype(np.int64), arc_qty=arcs_a[:, 2].copy(),
            source=_arr(source, n, False, bool), lt_kind=np.array([LEAD_KINDS[x] for x in lkinds], dtype=np.int64),
            lt_mean=lt, lt_std=_arr(lead_std, n, 0.0), lt_min=np.maximum(lt - 3 * _arr(lead_std, n, 0.0), 1.0),
            lt_max=lt + 3 * _arr(lead_std, n, 0.0), item_lane=_arr(item_lane, n, -1, np.int64), lanes=lanes,
            lane_capacity=_arr(lane_capacity, k, np.inf), lane_cost=_arr(lane_cost, k, 0.0),
            lane_fixed_cost=_arr(lane_fixed_cost, k, 0.0), site_capacity=site_cap, dem_kind=dk,
            dem_mean=np.ascontiguousarray(dmean), dem_std=np.ascontiguousarray(dstd), hist=hist, hist_len=hl,
            backorders=_arr(backorders, n, True, bool), hold=_arr(hold, n, 1.0),
            transit_hold=_arr(transit_hold, n, 0.0), short_cost=_arr(short_cost, n, 0.0),
            backlog_cost=_arr(backlog_cost, n, 10.0), price=_arr(price, n, 0.0),
            order_cost=_arr(order_cost, n, 0.0), pol_kind=np.full(n, -1, dtype=np.int64), pol_a=np.zeros(n),
            pol_b=np.zeros(n), pol_review=np.ones(n), pol_offset=np.zeros(n), pack=np.ones(n), moq=np.zeros(n),
            init_on_hand=np.zeros(n), init_transit=np.zeros((n, 1)), init_open=np.zeros(n), name=name)
        if policy is None:
            policy = net.default_policy()
        net = net.with_policy(policy)
        return net.replace(init_on_hand=np.where(net.source, 0.0, net.policy_level()))

    def default_policy(self, service_level: float = 0.95) -> BaseStock:
        """A base-stock policy per item covering lead time + 1 day of its mean flow (normal approx.)."""
        mu, sd = self.mean_flow()
        sd = np.maximum(sd, np.sqrt(mu))
        cover = self.lt_mean + 1.0
        z = float(stats.norm.ppf(service_level))
        return BaseStock(np.maximum(mu * cover + z * sd * np.sqrt(cover), 0.0))

    @classmethod
    def from_willems(cls, path: str | Path, *, service_level: float | None = None,
                     holding_rate: float = 0.25) -> SimNetwork:
        """Load a Willems (2008) chain CSV: every stage is a stocking point (its own sku).

        Stage lead times become fixed lead times (rounded, at least one day); external demand is
        normal (mean, std per day) at demand stages; each stage gets a base-stock level covering its
        lead time plus one day at the z of ``ext_demand_thres`` (or ``service_level``). Holding cost
        per day is ``holding_rate * cost_rate / 365``; shortage cost per unit-day is 10x the
        holding cost of the demand stage. The stages are read by
        :func:`supplynet.model.willems.read_stages`, the one parser of the format.
        """
        p = Path(path)
        stages = read_stages(p)
        ids = [st.id for st in stages]
        index = {sid: i for i, sid in enumerate(ids)}
        arcs = [(index[up], index[st.id], float(qty)) for st in stages for up, qty in st.upstream]
        lt = [max(1.0, round(st.lead_time)) for st in stages]
        cost = [st.cost_rate for st in stages]
        dmean = [st.demand_mean or 0.0 for st in stages]
        dstd = [st.demand_std or 0.0 for st in stages]
        z = [1.645 if st.demand_z is None else st.demand_z for st in stages]
        n = len(ids)
        cost_a = np.asarray(cost)
        hold = holding_rate * np.maximum(cost_a, 1e-6) / _DAYS_PER_YEAR
        dm = np.asarray(dmean)
        kinds = ["normal" if m > 0 else "none" for m in dm]
        net = cls.build(items=[(s, s) for s in ids], arcs=arcs, lead_time=lt, demand_mean=dm, demand_std=dstd,
                        demand=kinds, hold=hold, backlog_cost=10.0 * hold, price=cost_a,
                        policy=BaseStock(np.zeros(n)), name=p.stem)
        # transit holding at the cost of what is shipped: the sum of the inputs' holding costs
        th = np.zeros(n)
        np.add.at(th, net.arc_dst, net.arc_qty * hold[net.arc_src])
        mu, sd = net.mean_flow()
        zz = np.full(n, float(stats.norm.ppf(service_level)) if service_level else np.max(z))
        zz = np.where(dm > 0, np.asarray(z) if service_level is None else zz, zz)
        cover = net.lt_mean + 1.0
        S = mu * cover + zz * sd * np.sqrt(cover)
        net = net.with_policy(BaseStock(np.maximum(S, 0.0))).replace(transit_hold=th)
        return net.replace(init_on_hand=net.policy_level(), meta={"source": str(p), "stages": n})

    @classmethod
    def from_network(cls, network: Any, *, service_level: float = 0.95) -> SimNetwork:
        """Array form of a :class:`supplynet.model.Network` (see :mod:`supplynet.sim._from_model`)."""
        from supplynet.sim._from_model import network_to_arrays

        return network_to_arrays(cls, network, service_level=service_level)


def policy_for_items(specs: Sequence[Any], mean: np.ndarray, std: np.ndarray, lead: np.ndarray) -> list[Any]:
    """Policies from PolicySpecs sized per item (helper for the model adapter)."""
    return [policy_from_spec(s, demand_mean=m, demand_std=d, lead_time=lt)
            for s, m, d, lt in zip(specs, mean, std, lead, strict=True)]
