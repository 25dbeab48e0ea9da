"""The compiled kernel's inputs and outputs: four NamedTuples of arrays and the column indices.

:class:`supplynet.sim.engine.Simulation` hands the kernel (:mod:`supplynet.sim._kernel`) four groups:

- :class:`KernelNetwork`: the topology (items, arcs in CSR form, lanes, pipeline rings);
- :class:`KernelParams`: the parameters (lead times, capacities, costs, demand, policies);
- :class:`KernelEvents`: the disruption schedule, one row per (event, matched site or lane), with
  its start and end day per replication;
- :class:`KernelState`: what the kernel updates in place (stocks, pipelines, requests, the KPI
  accumulators and daily totals), one row per replication.

numba compiles one kernel per combination of array types, so every array is built C-contiguous and
writable with the dtype its field names (:func:`as_kernel`): a read-only or strided array would make
the kernel compile again.

Column indices of the outputs, for readers of :class:`supplynet.sim.engine.SimResult`::

    >>> from supplynet import sim
    >>> sim.D_DEMAND, sim.A_DEMAND, N_ACC
    (0, 0, 20)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "A_BACKLOG_DAYS",
    "A_BACKORDER_COST",
    "A_DEMAND",
    "A_DEMAND_LOSS",
    "A_DEMAND_LOSS_COST",
    "A_DOWNTIME",
    "A_HOLD",
    "A_LOST",
    "A_LOST_COST",
    "A_NORDERS",
    "A_ONHAND_DAYS",
    "A_ORDER",
    "A_OWED_DAYS",
    "A_REVENUE",
    "A_SERVED_NOW",
    "A_SHIPPED_EXT",
    "A_SHORT",
    "A_SHORT_DAYS",
    "A_TRANSIT",
    "A_TRANSPORT",
    "CAPACITY_LOSS",
    "DEMAND_SHIFT",
    "DEMAND_SPIKE",
    "D_BACKLOG",
    "D_COST",
    "D_DEMAND",
    "D_LOST",
    "D_ON_HAND",
    "D_SERVED_NOW",
    "GUIDE",
    "KernelEvents",
    "KernelNetwork",
    "KernelParams",
    "KernelState",
    "LANE_CLOSURE",
    "LEAD_TIME_SHOCK",
    "N_ACC",
    "N_DAILY",
    "OUTAGE",
    "SUPPLIER_FAILURE",
    "as_kernel",
]

#: event kinds (``KernelEvents.kind``), in :data:`supplynet.sim.disruptions.KINDS` order
OUTAGE, LANE_CLOSURE, CAPACITY_LOSS, LEAD_TIME_SHOCK, SUPPLIER_FAILURE, DEMAND_SPIKE, DEMAND_SHIFT = range(7)

#: accumulator columns of ``KernelState.acc`` and ``SimResult.acc`` (per replication x item)
(
    A_DEMAND,
    A_SERVED_NOW,
    A_LOST,
    A_BACKLOG_DAYS,
    A_HOLD,
    A_TRANSIT,
    A_ORDER,
    A_TRANSPORT,
    A_SHORT,
    A_NORDERS,
    A_REVENUE,
    A_SHIPPED_EXT,
    A_SHORT_DAYS,
    A_ONHAND_DAYS,
    A_OWED_DAYS,
    A_LOST_COST,
    A_BACKORDER_COST,
    A_DOWNTIME,
    A_DEMAND_LOSS,
    A_DEMAND_LOSS_COST,
) = range(20)
N_ACC = 20
#: daily totals columns of ``KernelState.daily`` and ``SimResult.daily`` (per replication x day)
D_DEMAND, D_SERVED_NOW, D_BACKLOG, D_ON_HAND, D_COST, D_LOST = range(6)
N_DAILY = 6
#: guide-table entries per entry of a Poisson CDF table (more entries: fewer steps of the search)
GUIDE = 4


class KernelNetwork(NamedTuple):
    """Topology: N items, A arcs, S sites, K lanes."""

    order: np.ndarray  # int[N] items downstream first
    item_site: np.ndarray  # int[N]
    item_sku: np.ndarray  # int[N] sku number
    item_lane: np.ndarray  # int[N] lane feeding the item (-1: none)
    source: np.ndarray  # bool[N] unlimited supply
    in_ptr: np.ndarray  # int[N+1] CSR of the primary arcs into each item
    in_arcs: np.ndarray  # int
    out_ptr: np.ndarray  # int[N+1] CSR of the arcs out of each item
    out_arcs: np.ndarray  # int
    bk_ptr: np.ndarray  # int[N+1] CSR of the backup arcs into each item, cheapest lane first
    bk_arcs: np.ndarray  # int
    arc_qty: np.ndarray  # float[A] source units per destination unit
    arc_lane: np.ndarray  # int[A] lane of a backup arc
    pipe_off: np.ndarray  # int[N] start of the item's pipeline ring in ``KernelState.pipe``
    pipe_len: np.ndarray  # int[N] its length (days)
    site_items: np.ndarray  # float[S] items per site (at least 1)
    direct: (
        np.ndarray
    )  # bool[N] ordered from an external supplier (no inputs, no backup) on a fixed lead time


class KernelParams(NamedTuple):
    """Parameters: lead times, capacities, costs, demand and policies."""

    lt_kind: np.ndarray  # int[N] LEAD_KINDS
    lt_mean: np.ndarray  # float[N]
    lt_std: np.ndarray
    lt_min: np.ndarray
    lt_max: np.ndarray
    arc_lt: np.ndarray  # float[A, 5] backup lead time (kind, mean, std, min, max)
    site_cap: np.ndarray  # float[S] units/day (inf: unlimited)
    site_nom: np.ndarray  # float[S] the capacity a disruption scales (finite)
    lane_cap: np.ndarray  # float[K]
    lane_nom: np.ndarray  # float[K]
    lane_cost: np.ndarray  # float[K] per unit
    lane_fixed: np.ndarray  # float[K] per day the lane carries anything
    site_down: np.ndarray  # float[S] cost per day wholly down
    dem_kind: np.ndarray  # int[N] DEMAND_KINDS
    dem_mean: np.ndarray  # float[Tm, N]
    dem_std: np.ndarray  # float[Tm, N]
    hist: np.ndarray  # float[N, H] bootstrap history
    hist_len: np.ndarray  # int[N]
    cdf: np.ndarray  # float: Poisson CDF tables, concatenated
    guide: np.ndarray  # int: their guide tables (Chen & Asau 1974), GUIDE entries per CDF entry
    cdf_off: np.ndarray  # int[N]
    cdf_len: np.ndarray  # int[N] (0: no table)
    backorders: np.ndarray  # bool[N]
    hold: np.ndarray  # float[N] per unit-day on hand
    transit_hold: np.ndarray  # float[N] per unit-day in transit
    short_cost: np.ndarray  # float[N]
    backlog_cost: np.ndarray  # float[N]
    price: np.ndarray  # float[N]
    order_cost: np.ndarray  # float[N]
    pol_kind: np.ndarray  # int[N] (-1: never orders)
    pol_a: np.ndarray  # float[N]
    pol_b: np.ndarray
    pol_review: np.ndarray
    pol_offset: np.ndarray
    pack: np.ndarray
    moq: np.ndarray


class KernelEvents(NamedTuple):
    """The disruption schedule: E rows."""

    kind: np.ndarray  # int[E]
    site: np.ndarray  # int[E] (-1: every site)
    lane: np.ndarray  # int[E] (-1: every lane)
    sku: np.ndarray  # int[E] (-1: every sku)
    severity: np.ndarray  # float[E]
    start: np.ndarray  # int[R, E] first day
    end: np.ndarray  # int[R, E] first day after


class KernelState(NamedTuple):
    """What the kernel updates in place, one row per replication."""

    on_hand: np.ndarray  # float[R, N]
    on_order: np.ndarray  # float[R, N]
    in_transit: np.ndarray  # float[R, N]
    backlog: np.ndarray  # float[R, N]
    request: np.ndarray  # float[R, A] owed on each arc
    staged: np.ndarray  # float[R, A] shipped by the source, waiting for the release
    pipe: np.ndarray  # float[R, sum(pipe_len)] pipeline rings
    acc: np.ndarray  # float[R, N, N_ACC]
    first_short: np.ndarray  # int[R, N] (-1: never)
    last_short: np.ndarray  # int[R, N]
    daily: np.ndarray  # float[R, H, N_DAILY]


_INT = (
    "order",
    "item_site",
    "item_sku",
    "item_lane",
    "in_ptr",
    "in_arcs",
    "out_ptr",
    "out_arcs",
    "bk_ptr",
    "bk_arcs",
    "arc_lane",
    "pipe_off",
    "pipe_len",
    "lt_kind",
    "dem_kind",
    "hist_len",
    "guide",
    "cdf_off",
    "cdf_len",
    "pol_kind",
    "kind",
    "site",
    "lane",
    "sku",
    "start",
    "end",
    "first_short",
    "last_short",
)
_BOOL = ("source", "backorders", "direct")


def as_kernel(cls: type[Any], **arrays: Any) -> Any:
    """``cls(**arrays)`` with every array C-contiguous, writable and of its field's dtype (int64,
    bool or float64), so the kernel compiles once for all runs."""
    out = {}
    for name in cls._fields:
        dtype = np.int64 if name in _INT else np.bool_ if name in _BOOL else np.float64
        out[name] = np.require(arrays[name], dtype=dtype, requirements=("C", "W"))
    return cls(**out)
