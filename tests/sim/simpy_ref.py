"""The single-echelon (s, S) model written in SimPy: the reference the engine is checked against.

One replication per process loop, written as fast as idiomatic SimPy allows: each replication's
demand is drawn up front with numpy (one ``(items, days)`` array), and every stocking point is a
process that keeps its state in local variables; it wakes each day, serves backorders then new
demand from stock, and orders up to S when the inventory position is at or below s; an order is a
process that delivers after the lead time (half a day early, so it lands before the day's demand,
as in the engine). Costs per day: holding on hand, backorder cost per unit-day, a fixed cost per
order. Used by tests/sim and bench/sim.py.

:func:`simulate_ss_scalar` is the earlier, slower writing of the same model (one scalar
``rng.poisson`` per item-day, state in dicts); bench/sim.py reports it beside the fast one so the
reference's own speed-up is on record.
"""

from __future__ import annotations

import numpy as np
import simpy

__all__ = ["simulate_ss", "simulate_ss_scalar"]


def simulate_ss(lam: np.ndarray, s: np.ndarray, S: np.ndarray, lead: int, days: int, *, hold: float = 1.0,
                backlog_cost: float = 10.0, order_cost: float = 0.0, seed: int = 0) -> dict[str, float]:
    """One replication of ``len(lam)`` independent (s, S) stocking points; totals over ``days``."""
    rng = np.random.default_rng(seed)
    demand = rng.poisson(np.asarray(lam, dtype=float)[:, None], size=(len(lam), days)).astype(float).tolist()
    env = simpy.Environment()
    timeout = env.timeout
    totals: list[tuple[float, float, float, float, float]] = []

    def item(d_row: list[float], s_i: float, S_i: float):
        oh, on_order, bl = S_i, 0.0, 0.0
        t_dem = t_served = t_cost = t_bl = t_orders = 0.0

        def deliver(q: float):
            nonlocal oh, on_order
            yield timeout(lead - 0.5)
            oh += q
            on_order -= q

        for day in range(days):
            d = d_row[day]
            sb = bl if bl < oh else oh
            oh -= sb
            sn = d if d < oh else oh
            oh -= sn
            bl += d - sn - sb
            ip = oh + on_order - bl
            if ip <= s_i:
                q = S_i - ip
                on_order += q
                env.process(deliver(q))
                t_cost += order_cost
                t_orders += 1.0
            t_cost += hold * oh + backlog_cost * bl
            t_dem += d
            t_served += sn
            t_bl += bl
            yield timeout(1)
        totals.append((t_dem, t_served, t_cost, t_bl, t_orders))

    for i in range(len(lam)):
        env.process(item(demand[i], float(s[i]), float(S[i])))
    env.run()  # to the end: each stocking point records its totals after its last day
    t = np.asarray(totals).sum(axis=0) if totals else np.zeros(5)
    return {"demand": float(t[0]), "served_now": float(t[1]), "cost": float(t[2]), "backorders": float(t[3]),
            "orders": float(t[4])}


def simulate_ss_scalar(lam: np.ndarray, s: np.ndarray, S: np.ndarray, lead: int, days: int, *, hold: float = 1.0,
                       backlog_cost: float = 10.0, order_cost: float = 0.0, seed: int = 0) -> dict[str, float]:
    """The same model as :func:`simulate_ss`, one scalar Poisson draw per item-day and state in dicts."""
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
