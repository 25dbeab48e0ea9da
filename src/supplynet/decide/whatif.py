"""The what-if seam: what decide asks of a simulation and what it gets back, so that no decide module
imports the simulator.

A response to a late shipment (:mod:`supplynet.decide.reroute`) is costed by simulating the affected
part of the network from the twin's state once per alternative. decide describes that part
(:class:`WhatIfNetwork`) and each alternative's starting state (:class:`WhatIfStart`), and is handed a
:class:`Simulate` function that runs them; the wiring (``supplynet run``'s brain, the demo, the tests)
hands it :func:`supplynet.loop.sim_whatif`, the Monte Carlo engine of :mod:`supplynet.sim`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["Simulate", "WhatIfNetwork", "WhatIfOutcome", "WhatIfStart"]

#: a stocking point: (site, sku)
Item = tuple[str, str]


@dataclass(frozen=True)
class WhatIfNetwork:
    """The part of a network to simulate: item ``i`` is ``items[i]``; an arc ``(src, dst, qty)`` feeds
    ``qty`` units of item ``src`` into each unit of item ``dst``. Per item: lead time (days) and its
    standard deviation and distribution (``lead_kind``: ``fixed`` or ``normal``), demand per day (mean,
    std, ``demand_kind``: ``none`` or ``normal_int``), whether shortages are backordered, holding cost
    per day, shortage cost per unit and price; ``item_lane[i]`` indexes ``lanes`` (the lane feeding the
    item, -1: none). The ``frozen`` items do not reorder within the horizon. Every time is in days; the
    simulation steps ``periods_per_day`` times a day (24: hourly, so that a load arriving seven hours
    sooner is not lost in a day's rounding), each step drawing its share of a day's demand."""

    name: str
    items: tuple[Item, ...]
    arcs: tuple[tuple[int, int, float], ...]
    site_kind: Mapping[str, str]
    lead_time: np.ndarray
    lead_std: np.ndarray
    lead_kind: tuple[str, ...]
    demand_mean: np.ndarray
    demand_std: np.ndarray
    demand_kind: tuple[str, ...]
    backorders: tuple[bool, ...]
    hold: np.ndarray
    short_cost: np.ndarray
    price: np.ndarray
    lanes: tuple[str, ...]
    item_lane: np.ndarray
    frozen: tuple[int, ...] = ()
    periods_per_day: int = 1

    def index(self) -> dict[Item, int]:
        return {k: i for i, k in enumerate(self.items)}


@dataclass(frozen=True)
class WhatIfStart:
    """A starting state: units on hand per item, and what is on its way as ``(item, quantity, days until
    it arrives)``."""

    on_hand: Mapping[Item, float]
    in_transit: Sequence[tuple[Item, float, float]]


@dataclass(frozen=True)
class WhatIfOutcome:
    """One start simulated: per replication, the network's holding and shortage cost over the horizon,
    its revenue at risk and its fill rate (NaN when nothing was demanded)."""

    holding_cost: np.ndarray
    shortage_cost: np.ndarray
    revenue_at_risk: np.ndarray
    fill_rate: np.ndarray

    @property
    def cost(self) -> np.ndarray:
        """Holding plus shortage cost per replication."""
        return self.holding_cost + self.shortage_cost


class Simulate(Protocol):
    """Simulate ``network`` from each start over ``horizon`` days (in steps of a
    ``network.periods_per_day``-th of a day), ``replications`` times, every start on the same ``seed``
    (common random numbers, so differences between starts are paired); one outcome per start, in order."""

    def __call__(
        self,
        network: WhatIfNetwork,
        starts: Sequence[WhatIfStart],
        *,
        horizon: float,
        replications: int,
        seed: int,
    ) -> list[WhatIfOutcome]: ...
