"""The engine and the same (s, S) model written in SimPy agree within Monte Carlo error."""

from __future__ import annotations

import numpy as np

from supplynet.policy.policies import SsPolicy
from supplynet.sim import _kernel as K
from supplynet.sim.engine import Simulation
from supplynet.sim.network import SimNetwork

from .simpy_ref import simulate_ss


def test_ss_single_echelon_agrees_with_simpy():
    lam = np.array([3.0, 8.0, 15.0])
    s = np.array([12.0, 30.0, 55.0])
    S = np.array([30.0, 60.0, 110.0])
    lead, days = 3, 120
    ref = [simulate_ss(lam, s, S, lead, days, hold=1.0, backlog_cost=10.0, order_cost=20.0, seed=r)
           for r in range(60)]
    ref_cost = np.array([r["cost"] for r in ref]) / days
    ref_fill = np.array([r["served_now"] / r["demand"] for r in ref])
    net = SimNetwork.build(items=[("dc", f"s{i}") for i in range(3)], lead_time=lead, demand_mean=lam, hold=1.0,
                           backlog_cost=10.0, order_cost=20.0, policy=SsPolicy(s, S))
    res = Simulation(net, horizon=days, replications=600, seed=1).run().result()
    acc = res.acc
    cost = (acc[:, :, K.A_HOLD] + acc[:, :, K.A_SHORT] + acc[:, :, K.A_ORDER]).sum(axis=1) / days
    fill = acc[:, :, K.A_SERVED_NOW].sum(axis=1) / acc[:, :, K.A_DEMAND].sum(axis=1)
    for a, b in ((cost, ref_cost), (fill, ref_fill)):
        se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
        assert abs(a.mean() - b.mean()) < 4 * se, (a.mean(), b.mean(), se)
