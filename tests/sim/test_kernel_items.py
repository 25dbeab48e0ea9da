"""The item-by-item kernel (independent items) against the general day-by-day kernel: the same numbers.

:func:`supplynet.sim._kernel.advance` runs a network whose items never touch one another (no arcs, no
disruption, no finite site capacity, no lane fixed cost shared) item by item, in blocks of days
(:func:`supplynet.sim._kernel._replication_items`). It must give the very numbers the general kernel
gives, to the last bit (all but the day's total cost, a sum of fractional costs whose rounding both
kernels leave to the compiler's reassociation: equal within 1e-13): every test here runs a network
both ways. The general kernel is made to run
by one disruption that never starts (an outage from day 10**6): it changes no number, only which
kernel runs.
"""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.policy.policies import BaseStock, RQPolicy, RSPolicy, SsPolicy
from supplynet.sim import _kernel as K
from supplynet.sim.arrays import OUTAGE, KernelEvents, KernelState, as_kernel
from supplynet.sim.engine import Simulation
from supplynet.sim.network import SimNetwork

STATE = ("on_hand", "on_order", "in_transit", "backlog", "pipe", "acc", "first_short", "last_short", "daily")


def _state(sim: Simulation) -> KernelState:
    return KernelState(sim.on_hand, sim.on_order, sim.in_transit, sim.backlog, sim.request, sim.staged, sim.pipe,
                       sim.acc, sim.first_short, sim.last_short, sim.daily)


def _inert(reps: int) -> KernelEvents:
    """An outage of every site from day 10**6: the general kernel runs, and nothing changes."""
    start = np.full((reps, 1), 10**6)
    return as_kernel(KernelEvents, kind=[OUTAGE], site=[-1], lane=[-1], sku=[-1], severity=[1.0], start=start,
                     end=start + 1)


def _run(net: SimNetwork, *, general: bool, parallel: bool, until: tuple[int, ...], reps: int = 12,
         seed: int = 4) -> Simulation:
    sim = Simulation(net, horizon=until[-1], replications=reps, seed=seed, parallel=parallel)
    events = _inert(reps) if general else sim._events
    kernel = K.advance if parallel else K.advance_serial
    for day in until:
        kernel(sim.now, day, sim.keys, sim._net_arrays, sim._params, events, _state(sim))
        sim.now = day
    return sim


def _same(net: SimNetwork, until: tuple[int, ...] = (100,), **kw) -> None:
    sim = Simulation(net, horizon=until[-1], replications=1)
    assert K.independent_items(sim._net_arrays, sim._params, sim._events)
    for parallel in (False, True):
        fast = _run(net, general=False, parallel=parallel, until=until, **kw)
        slow = _run(net, general=True, parallel=parallel, until=until, **kw)
        for name in STATE:
            a, b = getattr(fast, name), getattr(slow, name)
            if name == "daily":  # the day's cost: a sum whose rounding the compiler may reassociate
                np.testing.assert_allclose(a[..., K.D_COST], b[..., K.D_COST], rtol=1e-13, atol=0.0)
                a, b = np.delete(a, K.D_COST, axis=-1), np.delete(b, K.D_COST, axis=-1)
            np.testing.assert_array_equal(a, b, err_msg=name)
        assert fast.acc[..., K.A_DEMAND].sum() > 0  # something happened


def _bench_like(n: int = 25) -> SimNetwork:
    rng = np.random.default_rng(1)
    lam = rng.uniform(2.0, 20.0, n).round(1)
    s = np.ceil(lam * 4 + 1.65 * np.sqrt(lam * 4))
    return SimNetwork.build(items=[("dc", f"sku{i}") for i in range(n)], lead_time=3, demand_mean=lam, hold=1.0,
                            backlog_cost=10.0, order_cost=20.0, policy=SsPolicy(s, s + np.ceil(5 * lam)))


def test_ss_backorders_like_the_bench_in_steps():
    _same(_bench_like(), until=(1, 7, 40, 71, 130))  # runs of 1, 6, 33, 31 and 59 days


@pytest.mark.parametrize("block", [1, 7, 32])
def test_blocks_of_any_length_give_the_same_numbers(block):
    net, reps, days = _bench_like(), 6, 75
    slow = _run(net, general=True, parallel=False, until=(days,), reps=reps)
    fast = Simulation(net, horizon=days, replications=reps, seed=4)
    n = net.n_items
    for r in range(reps):
        K._replication_items(r, 0, days, fast.keys[r], fast._net_arrays, fast._params, _state(fast),
                             np.empty(block, dtype=np.uint64), np.empty(block), np.empty((6, block)),
                             np.empty((3, n, block)))
    for name in STATE:
        np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)


def test_block_length_keeps_the_scratch_within_a_core_cache():
    assert K._block_days(100, 365) == 365  # the bench's model: one block
    assert K._block_days(100, 5) == 5
    assert K._block_days(10_000, 365) == K._BLOCK_MIN
    assert 24 * 1000 * K._block_days(1000, 365) <= K._BLOCK_BYTES


def test_lost_sales_fractional_costs_lanes_and_random_lead_times():
    n = 8
    net = SimNetwork.build(items=[("dc", f"s{i}") for i in range(n)] + [("plant", "p")], lead_time=4.0,
                           lead_std=1.3, lead_kind="lognormal", demand_mean=[3.3, 7.1, 0.6, 12.0, 25.0, 4.4, 9.9, 1.7, 5.0],
                           backorders=[False, True] * 4 + [False], hold=0.37, transit_hold=0.11, short_cost=2.9,
                           backlog_cost=1.7, price=4.05, order_cost=3.3, policy=RQPolicy(np.arange(9) * 2.5 + 3.0, 11.5,
                                                                                          pack_size=2.5, moq=6.0),
                           lanes=[f"l{i}" for i in range(n)] + ["shared"], item_lane=list(range(n)) + [-1],
                           lane_cost=[0.13] * n + [0.0], lane_fixed_cost=[7.5] * n + [0.0])
    _same(net, until=(37, 90))


def test_normal_demand_periodic_review_and_a_lane_two_items_share_without_fixed_cost():
    net = SimNetwork.build(items=[("dc", "a"), ("dc", "b"), ("shop", "a")], lead_time=[2.0, 5.0, 3.0],
                           demand_mean=[40.0, 6.5, 8.25], demand_std=[9.0, 2.2, 3.1],
                           demand=["poisson", "normal", "normal_int"], hold=0.21, backlog_cost=3.3,
                           policy=RSPolicy(3, [170.0, 60.0, 55.0], offset=1), lanes=["truck"], item_lane=[0, 0, -1],
                           lane_cost=0.41, lane_fixed_cost=0.0)
    _same(net, until=(5, 64))


def test_demand_that_changes_over_time_and_uniform_lead_times():
    days = 50
    mean = 4.0 + 3.0 * np.sin(np.arange(days) / 5.0)[:, None] * np.array([[1.0, 0.5]])
    net = SimNetwork.build(items=[("dc", "a"), ("dc", "b")], lead_time=3.0, lead_std=1.0, lead_kind="uniform",
                           demand_mean=mean, policy=BaseStock([25.0, 20.0]), order_cost=1.1)
    _same(net, until=(days,))


def test_a_source_item_and_an_item_that_never_orders():
    net = SimNetwork.build(items=[("vendor", "a"), ("dc", "a"), ("dc", "b")], source=[True, False, False],
                           demand_mean=[3.0, 2.0, 4.0], lead_time=2.0, policy=BaseStock([0.0, 9.0, 0.0]))
    _same(net, until=(45,))


@pytest.mark.parametrize("change", ["arc", "capacity", "shared_fixed", "event"])
def test_items_that_touch_one_another_take_the_general_kernel(change):
    kw: dict = {"items": [("dc", "a"), ("dc", "b")], "demand_mean": 3.0, "policy": BaseStock(10.0)}
    if change == "arc":
        kw |= {"items": [("dc", "a"), ("plant", "a")], "arcs": [(1, 0, 1.0)]}
    elif change == "capacity":
        kw |= {"site_capacity": {"dc": 5.0}}
    elif change == "shared_fixed":
        kw |= {"lanes": ["truck"], "item_lane": [0, 0], "lane_fixed_cost": 50.0}
    sim = Simulation(SimNetwork.build(**kw), horizon=5, replications=2)
    events = _inert(2) if change == "event" else sim._events
    assert not K.independent_items(sim._net_arrays, sim._params, events)
