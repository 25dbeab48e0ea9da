"""Vectorized multi-echelon Monte Carlo engine: R replications advanced together, one day per tick.

Modelled on SimPy's ``Environment``: :meth:`Simulation.step` advances one day and
:meth:`Simulation.run` advances ``until`` a day, so tests can assert after each tick and a dashboard
can animate a scenario. The day's work is the compiled kernel in :mod:`supplynet.sim._kernel`.

    >>> from supplynet.sim.network import SimNetwork
    >>> net = SimNetwork.build(items=[("dc", "a")], lead_time=2, demand_mean=5.0)
    >>> sim = Simulation(net, horizon=30, replications=8, seed=1)
    >>> sim.step().now
    1
    >>> sim.run().now
    30

Randomness: replication ``r`` of seed ``seed`` is keyed by ``SeedSequence(seed, spawn_key=(r,))``,
so any subset of replications (a Dask chunk) reproduces the same numbers, and runs with the same
seed share demand and lead-time draws (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from supplynet.errors import SimulationError
from supplynet.sim import _kernel as K
from supplynet.sim.arrays import GUIDE, KernelEvents, KernelNetwork, KernelParams, KernelState, as_kernel
from supplynet.sim.network import SimNetwork
from supplynet.sim.scenario import EventArrays, ScenarioLike

__all__ = ["SimResult", "Simulation", "replication_keys"]


def replication_keys(seed: int, start: int, count: int) -> np.ndarray:
    """The kernel key of each replication ``start .. start+count-1`` for ``seed``."""
    if seed is None or int(seed) < 0:
        raise SimulationError(f'"seed" must be an integer >= 0, got {seed!r}')
    return np.array([np.random.SeedSequence(int(seed), spawn_key=(r,)).generate_state(1, np.uint64)[0]
                     for r in range(start, start + count)], dtype=np.uint64)


@dataclass
class SimResult:
    """Raw outcome of a run (arrays over replications); :mod:`supplynet.sim.kpi` turns it into frames."""

    acc: np.ndarray               # [R, N, N_ACC]
    first_short: np.ndarray       # [R, N] first day with unmet demand or requests (-1: never)
    last_short: np.ndarray        # [R, N]
    daily: np.ndarray             # [R, H, N_DAILY]
    days: int                     # days simulated
    replications: np.ndarray      # global replication indices
    item_names: list[str]
    item_site: np.ndarray
    item_sku: list[str]
    sites: list[str]
    site_kind: list[str]
    price: np.ndarray
    ev_start: np.ndarray          # [R, E]
    ev_end: np.ndarray
    ev_site: np.ndarray
    scenario: str = "baseline"
    meta: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def concat(parts: list[SimResult]) -> SimResult:
        """Join results of replication chunks (in the order given)."""
        if not parts:
            raise SimulationError("no results to join")
        first = parts[0]
        cat = {name: np.concatenate([getattr(p, name) for p in parts], axis=0)
               for name in ("acc", "first_short", "last_short", "daily", "replications", "ev_start", "ev_end")}
        return SimResult(days=first.days, item_names=first.item_names, item_site=first.item_site,
                         item_sku=first.item_sku, sites=first.sites, site_kind=first.site_kind, price=first.price,
                         ev_site=first.ev_site, scenario=first.scenario, meta=dict(first.meta), **cat)


class Simulation:
    """R replications of ``network`` over ``horizon`` days, optionally under a scenario."""

    def __init__(self, network: SimNetwork, *, horizon: int, replications: int = 100, seed: int = 0,
                 scenario: ScenarioLike | None = None, first_replication: int = 0, parallel: bool = True) -> None:
        if not isinstance(network, SimNetwork):
            raise SimulationError(f"network must be a SimNetwork, got {type(network).__name__}")
        if int(horizon) < 1:
            raise SimulationError(f'"horizon" must be >= 1 day, got {horizon!r}')
        if int(replications) < 1:
            raise SimulationError(f'"replications" must be >= 1, got {replications!r}')
        if int(first_replication) < 0:
            raise SimulationError(f'"first_replication" must be >= 0, got {first_replication!r}')
        self.network = net = network
        self.horizon = int(horizon)
        self.replications = int(replications)
        self.seed = int(seed)
        self.scenario = scenario
        self.first_replication = int(first_replication)
        self.parallel = bool(parallel)
        self.now = 0
        R, N = self.replications, net.n_items
        self.keys = replication_keys(self.seed, self.first_replication, R)
        ev = scenario.compile(net, self.keys, self.horizon) if scenario is not None else EventArrays.empty(R)
        self.events = ev
        self._static = _static_arrays(net, ev.max_lead_factor)
        st = self._static
        self._net_arrays, self._params = _kernel_inputs(net, st)
        self._events = as_kernel(KernelEvents, kind=ev.kind, site=ev.site, lane=ev.lane, sku=ev.sku,
                                 severity=ev.severity, start=ev.start, end=ev.end)
        A = len(net.arc_src)
        self.on_hand = np.repeat(np.where(net.source, 0.0, net.init_on_hand)[None, :], R, axis=0)
        self.on_order = np.zeros((R, N))
        self.in_transit = np.zeros((R, N))
        self.backlog = np.repeat(np.where(net.source, 0.0, net.init_backlog)[None, :], R, axis=0)
        self.request = np.zeros((R, A))
        self.staged = np.zeros((R, A))
        self.pipe = np.zeros((R, int(st["pipe_total"])))
        self._load_initial_transit(net, st)
        self.acc = np.zeros((R, N, K.N_ACC))
        self.first_short = np.full((R, N), -1, dtype=np.int64)
        self.last_short = np.full((R, N), -1, dtype=np.int64)
        self.daily = np.zeros((R, self.horizon, K.N_DAILY))

    def _load_initial_transit(self, net: SimNetwork, st: dict[str, np.ndarray]) -> None:
        for i in range(net.n_items):
            for d in range(net.init_transit.shape[1]):
                q = net.init_transit[i, d]
                if q:
                    self.pipe[:, st["pipe_off"][i] + (d + 1) % st["pipe_len"][i]] += q
                    self.in_transit[:, i] += q
                    self.on_order[:, i] += q
            q = net.init_open[i]
            if q:
                arcs = np.nonzero((net.arc_dst == i) & ~net.arc_backup)[0]
                if len(arcs):
                    self.request[:, arcs] += q * net.arc_qty[arcs]
                else:  # externally supplied: the open order ships after the mean lead time
                    lt = int(min(max(round(net.lt_mean[i]), 1), st["pipe_len"][i] - 1))
                    self.pipe[:, st["pipe_off"][i] + lt % st["pipe_len"][i]] += q
                    self.in_transit[:, i] += q
                self.on_order[:, i] += q

    # ------------------------------------------------------------------ SimPy-style verbs
    def peek(self) -> int:
        """The next day to simulate (``horizon`` when done)."""
        return self.now

    def step(self) -> Simulation:
        """Simulate one day for every replication."""
        if self.now >= self.horizon:
            raise SimulationError(f"the simulation is over: day {self.now} of a {self.horizon}-day horizon")
        return self.run(until=self.now + 1)

    def run(self, until: int | None = None) -> Simulation:
        """Simulate until day ``until`` (exclusive; default: the horizon)."""
        until = self.horizon if until is None else int(until)
        if until <= self.now or until > self.horizon:
            raise SimulationError(f'"until" must be in ({self.now}, {self.horizon}], got {until}')
        kernel = K.advance if self.parallel else K.advance_serial
        state = KernelState(self.on_hand, self.on_order, self.in_transit, self.backlog, self.request, self.staged,
                            self.pipe, self.acc, self.first_short, self.last_short, self.daily)
        kernel(self.now, until, self.keys, self._net_arrays, self._params, self._events, state)
        self.now = until
        return self

    def reset_kpis(self) -> None:
        """Forget costs and service so far (end of a warm-up period); the state is kept."""
        self.acc[:] = 0.0
        self.first_short[:] = -1
        self.last_short[:] = -1
        self.meta_warmup = self.now

    @property
    def position(self) -> np.ndarray:
        """Inventory position per replication and item (on hand + on order - backorders - owed)."""
        owed = np.zeros_like(self.on_hand)
        np.add.at(owed.T, self.network.arc_src, self.request.T)
        return self.on_hand + self.on_order - self.backlog - owed

    def scheduled_arrivals(self, days: int | None = None) -> np.ndarray:
        """Quantities on the way, ``[R, N, days]``: column ``d`` arrives at the start of day ``now + d``
        (default: as many days as the longest pipeline)."""
        st = self._static
        days = int(st["pipe_len"].max()) if days is None else int(days)
        out = np.zeros((self.replications, self.network.n_items, days))
        for i in range(self.network.n_items):
            length = int(st["pipe_len"][i])
            for d in range(min(days, length)):
                out[:, i, d] = self.pipe[:, st["pipe_off"][i] + (self.now + d) % length]
        return out

    def result(self) -> SimResult:
        net = self.network
        acc = self.acc.copy()
        acc[:, :, K.A_HOLD] = acc[:, :, K.A_ONHAND_DAYS] * net.hold
        acc[:, :, K.A_TRANSIT] = acc[:, :, K.A_TRANSIT] * net.transit_hold
        return SimResult(
            acc=acc, first_short=self.first_short.copy(), last_short=self.last_short.copy(),
            daily=self.daily[:, : self.now].copy(), days=self.now - getattr(self, "meta_warmup", 0),
            replications=np.arange(self.first_replication, self.first_replication + self.replications),
            item_names=net.item_names, item_site=net.item_site, item_sku=net.item_sku, sites=net.sites,
            site_kind=net.site_kind, price=net.price, ev_start=self.events.start, ev_end=self.events.end,
            ev_site=self.events.site, scenario=getattr(self.scenario, "name", "baseline"),
            meta={"network": net.name, "currency": net.currency, "seed": self.seed, "horizon": self.horizon,
                  "backorder_items": int(np.sum(net.backorders & (net.dem_kind >= 0))),
                  "lost_sale_items": int(np.sum(~net.backorders & (net.dem_kind >= 0))),
                  "warmup": getattr(self, "meta_warmup", 0)})


def _kernel_inputs(net: SimNetwork, st: dict[str, Any]) -> tuple[KernelNetwork, KernelParams]:
    """The kernel's topology and parameter groups for ``net`` (``st``: :func:`_static_arrays`)."""
    topo = as_kernel(KernelNetwork, order=net.order, item_site=net.item_site, item_sku=st["item_sku_id"],
                     item_lane=net.item_lane, source=net.source, in_ptr=st["in_ptr"], in_arcs=st["in_arcs"],
                     out_ptr=st["out_ptr"], out_arcs=st["out_arcs"], bk_ptr=st["bk_ptr"], bk_arcs=st["bk_arcs"],
                     arc_qty=net.arc_qty, arc_lane=net.arc_lane, pipe_off=st["pipe_off"], pipe_len=st["pipe_len"],
                     site_items=st["site_items"],
                     direct=(st["in_ptr"][1:] == st["in_ptr"][:-1]) & (st["bk_ptr"][1:] == st["bk_ptr"][:-1])
                     & ((net.lt_kind == 0) | (net.lt_std <= 0.0)))
    params = as_kernel(KernelParams, lt_kind=net.lt_kind, lt_mean=net.lt_mean, lt_std=net.lt_std, lt_min=net.lt_min,
                       lt_max=net.lt_max, arc_lt=net.arc_lt, site_cap=net.site_capacity, site_nom=st["site_nom"],
                       lane_cap=net.lane_capacity, lane_nom=st["lane_nom"], lane_cost=net.lane_cost,
                       lane_fixed=net.lane_fixed_cost, site_down=st["site_down"], dem_kind=net.dem_kind,
                       dem_mean=net.dem_mean, dem_std=net.dem_std, hist=net.hist, hist_len=net.hist_len,
                       cdf=st["cdf"], guide=st["guide"], cdf_off=st["cdf_off"], cdf_len=st["cdf_len"],
                       backorders=net.backorders, hold=net.hold, transit_hold=net.transit_hold,
                       short_cost=net.short_cost, backlog_cost=net.backlog_cost, price=net.price,
                       order_cost=net.order_cost, pol_kind=net.pol_kind, pol_a=net.pol_a, pol_b=net.pol_b,
                       pol_review=net.pol_review, pol_offset=net.pol_offset, pack=net.pack, moq=net.moq)
    return topo, params


def _static_arrays(net: SimNetwork, lead_factor: float) -> dict[str, np.ndarray]:
    """CSR arc lists, pipeline ring offsets and nominal capacities (computed once per run)."""
    n = net.n_items
    primary = np.nonzero(~net.arc_backup)[0]
    by_dst = primary[np.argsort(net.arc_dst[primary], kind="stable")]
    by_src = np.argsort(net.arc_src, kind="stable")
    in_ptr = np.zeros(n + 1, dtype=np.int64)
    out_ptr = np.zeros(n + 1, dtype=np.int64)
    in_ptr[1:] = np.cumsum(np.bincount(net.arc_dst[primary], minlength=n))
    out_ptr[1:] = np.cumsum(np.bincount(net.arc_src, minlength=n))
    # backup arcs per destination, cheapest lane first
    backup = np.nonzero(net.arc_backup)[0]
    bk_cost = np.asarray(net.lane_cost, dtype=float)[net.arc_lane[backup]] if len(backup) else np.zeros(0)
    bk_arcs = backup[np.lexsort((bk_cost, net.arc_dst[backup]))] if len(backup) else backup
    bk_ptr = np.zeros(n + 1, dtype=np.int64)
    bk_ptr[1:] = np.cumsum(np.bincount(net.arc_dst[backup], minlength=n))
    upper = np.ceil(net.lead_upper() * lead_factor) + 2
    pipe_len = np.maximum(upper, net.init_transit.shape[1] + 2).astype(np.int64)
    pipe_off = np.zeros(n, dtype=np.int64)
    pipe_off[1:] = np.cumsum(pipe_len)[:-1]
    mu, _ = net.mean_flow()
    site_flow = np.bincount(net.item_site, weights=mu, minlength=len(net.sites))
    site_nom = np.where(np.isfinite(net.site_capacity), net.site_capacity, np.maximum(2.0 * site_flow, 1.0))
    lanes = net.item_lane >= 0
    lane_flow = np.bincount(net.item_lane[lanes], weights=mu[lanes], minlength=len(net.lanes))
    for a in backup:  # a backup lane may carry its destination's whole flow
        lane_flow[net.arc_lane[a]] += mu[net.arc_dst[a]]
    lane_nom = np.where(np.isfinite(net.lane_capacity), net.lane_capacity, np.maximum(2.0 * lane_flow, 1.0))
    skus = net.sku_ids()
    site_down = np.zeros(len(net.sites))
    if net.site_down is not None:
        given = np.asarray(net.site_down, dtype=float)[: len(net.sites)]
        site_down[: len(given)] = given
    site_items = np.maximum(np.bincount(net.item_site, minlength=len(net.sites)), 1).astype(float)
    # Poisson CDF tables for constant means below 30 (the kernel's fast path)
    tables, guides, off, length = [], [], np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    pos = 0
    for i in range(n):
        lam = float(net.dem_mean[0, i])
        if net.dem_kind[i] == 0 and net.dem_mean.shape[0] == 1 and 0.0 < lam < 30.0:
            k = np.arange(int(lam + 12 * np.sqrt(lam) + 25))
            cdf = stats.poisson.cdf(k, lam)
            cdf[-1] = 1.0
            tables.append(cdf)
            m = GUIDE * len(cdf)
            guides.append(np.searchsorted(cdf, np.arange(m) / m, side="right"))
            off[i], length[i] = pos, len(cdf)
            pos += len(cdf)
    return {
        "in_ptr": in_ptr, "in_arcs": by_dst.astype(np.int64), "out_ptr": out_ptr,
        "out_arcs": by_src.astype(np.int64), "bk_ptr": bk_ptr, "bk_arcs": bk_arcs.astype(np.int64),
        "pipe_len": pipe_len, "pipe_off": pipe_off,
        "pipe_total": np.int64(pipe_len.sum()), "site_nom": site_nom.astype(float),
        "lane_nom": lane_nom.astype(float), "site_down": site_down, "site_items": site_items,
        "item_sku_id": np.array([skus[s] for s in net.item_sku], dtype=np.int64),
        "sku_index": skus, "cdf": np.concatenate(tables) if tables else np.ones(1), "cdf_off": off,
        "guide": np.concatenate(guides).astype(np.int64) if guides else np.zeros(1, np.int64),
        "cdf_len": length,
    }
