"""The single-echelon (s, S) model written in SimPy: the reference the engine is checked against.

One replication per process loop, as a SimPy user would write it: every stocking point is a process
that wakes each day, draws Poisson demand, serves backorders then new demand from stock, and orders
up to S when the inventory position is at or below s; an order is a process that delivers after the
lead time (half a day early, so it lands before the day's demand, as in the engine). Costs per day:
holding on hand, backorder cost per unit-day, a fixed cost per order. Used by tests/sim and bench/sim.py.
"""

from __future__ import annotations

import numpy as np
import simpy


def simulate_ss(lam: np.ndarray, s: np.ndarray, S: np.ndarray, lead: int, days: int, *, hold: float = 1.0,
                backlog_cost: float = 10.0, order_cost: float = 0.0, seed: int = 0) -> dict[str, float]:
    """One replication of ``len(lam)`` independent (s, S) stocking points; totals over ``days``."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    tot = {"demand": 0.0, "served_now": 0.0, "cost": 0.0, "backorders": 0.0, "orders": 0.0}

    def item(i: int):
        state = {"oh": float(S[i]), "on_order": 0.0, "bl": 0.0}

        def deliver(q: float):
            yield env.timeout(lead - 0.5)
            state["oh"] += q
            state["on_order"] -= q

        while env.now < days:
            d = float(rng.poisson(lam[i]))
            sb = min(state["bl"], state["oh"])
            state["oh"] -= sb
            sn = min(d, state["oh"])
            state["oh"] -= sn
            state["bl"] += d - sn - sb
            ip = state["oh"] + state["on_order"] - state["bl"]
            cost = 0.0
            if ip <= s[i]:
                q = S[i] - ip
                state["on_order"] += q
                env.process(deliver(q))
                cost += order_cost
                tot["orders"] += 1
            cost += hold * state["oh"] + backlog_cost * state["bl"]
            tot["demand"] += d
            tot["served_now"] += sn
            tot["cost"] += cost
            tot["backorders"] += state["bl"]
            yield env.timeout(1)

    for i in range(len(lam)):
        env.process(item(i))
    env.run(until=days)
    return tot
