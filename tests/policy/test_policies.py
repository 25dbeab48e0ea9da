"""Inventory policies: one protocol, vectorized, never negative, rounding, sized from specs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from supplynet.errors import DecisionError
from supplynet.model import PolicySpec
from supplynet.policy.policies import (
    BaseStock,
    Forecast,
    Newsvendor,
    RQPolicy,
    RSPolicy,
    SsPolicy,
    order_qty_scalar,
    policy_from_spec,
)

ALL = [BaseStock(50), SsPolicy(20, 60), RQPolicy(20, 15), RSPolicy(7, 80, offset=3), Newsvendor(40),
       BaseStock(50, pack_size=12, moq=30)]


@pytest.mark.parametrize("policy", ALL, ids=lambda p: type(p).__name__)
def test_contract_vectorized_never_negative_and_pickles(policy):
    pos = np.random.default_rng(0).normal(30, 40, size=(64, 5))
    days = np.arange(5)[None, :].repeat(64, 0)
    q = policy.order_quantity(pos, day=days)
    assert q.shape == pos.shape and np.all(q >= 0) and np.all(np.isfinite(q))
    # scalar calls agree with the array call, and the kernel's scalar function with both
    kind, a, b, review, offset = policy.kernel_params()
    for (r, c) in [(0, 0), (3, 2), (10, 4)]:
        assert policy.order_quantity(float(pos[r, c]), day=int(days[r, c])) == pytest.approx(q[r, c])
        k = order_qty_scalar(kind, float(a), float(b), float(review), float(offset), float(policy.pack_size),
                             float(policy.moq), float(pos[r, c]), float(days[r, c]))
        assert k == pytest.approx(q[r, c])
    assert pickle.loads(pickle.dumps(policy)) == policy


def test_base_stock_orders_up_to_S():
    assert BaseStock(50).order_quantity(np.array([10.0, 50.0, 70.0, -5.0])).tolist() == [40, 0, 0, 55]


def test_ss_orders_only_at_or_below_s():
    q = SsPolicy(20, 60).order_quantity(np.array([21.0, 20.0, 5.0]))
    assert q.tolist() == [0, 40, 55]


def test_rq_orders_multiples_of_Q_lifting_position_above_r():
    q = RQPolicy(20, 15).order_quantity(np.array([21.0, 20.0, -12.0]))
    assert q.tolist() == [0, 15, 45]  # -12 + 45 = 33 > 20, -12 + 30 = 18 is not


def test_rs_orders_only_on_review_days():
    p = RSPolicy(7, 80, offset=3)
    q = p.order_quantity(np.full(14, 30.0), day=np.arange(14))
    assert np.nonzero(q)[0].tolist() == [3, 10] and q[3] == 50
    assert p.order_quantity(30.0) == 50  # live call on a review: no day given


def test_pack_size_and_moq_rounding():
    p = BaseStock(50, pack_size=12, moq=30)
    assert p.order_quantity(np.array([45.0, 10.0, 50.0])).tolist() == [36, 48, 0]


def test_parameters_broadcast_per_node():
    p = SsPolicy(np.array([10.0, 20.0]), np.array([30.0, 50.0]))
    q = p.order_quantity(np.array([[15.0, 15.0], [5.0, 25.0]]))
    assert q.tolist() == [[0, 35], [25, 0]]


def test_newsvendor_sized_from_forecast_critical_ratio():
    p = Newsvendor(underage=3.0, overage=1.0)  # ratio 0.75 -> z = 0.6745
    assert p.order_quantity(0.0, forecast=Forecast(100.0, 10.0)) == pytest.approx(106.7449, abs=1e-3)
    with pytest.raises(DecisionError, match="forecast"):
        p.kernel_params()


def test_base_stock_sized_by_service_level():
    p = BaseStock(service_level=0.95)
    q = p.order_quantity(np.array([0.0, 10.0]), forecast=(10.0, 3.0), lead_time=4)
    s = 10 * 5 + 1.6449 * 3 * np.sqrt(5)
    assert q == pytest.approx([s, s - 10], abs=1e-2)


@pytest.mark.parametrize("bad, match", [
    (lambda: SsPolicy(70, 60), '"s" must be <= "S"'),
    (lambda: RQPolicy(10, 0), '"Q" must be > 0'),
    (lambda: RSPolicy(7, 10, offset=7), '"offset" must be < "R"'),
    (lambda: RSPolicy(2.5, 10), "whole number"),
    (lambda: BaseStock(-1), '"S" must be >= 0'),
    (lambda: BaseStock(10, pack_size=0), '"pack_size" must be > 0'),
])
def test_constructors_name_the_bad_value(bad, match):
    with pytest.raises(DecisionError, match=match):
        bad()


def test_policy_from_spec_levels_and_service_level():
    assert policy_from_spec({"type": "sS", "params": {"s": 10, "S": 40}}) == SsPolicy(10, 40)
    assert isinstance(policy_from_spec({"type": "RS", "params": {"R": 7, "S": 100}}), RSPolicy)
    sized = policy_from_spec({"type": "base_stock", "service_level": 0.9}, demand_mean=10, demand_std=2,
                             lead_time=3)
    assert float(sized.S) == pytest.approx(40 + 1.2816 * 2 * 2, abs=1e-3)
    rq = policy_from_spec({"type": "RQ", "params": {"Q": 50}, "service_level": 0.9}, demand_mean=10,
                          lead_time=2)
    assert float(rq.Q) == 50
    with pytest.raises(DecisionError, match="missing parameter 'S'"):
        policy_from_spec({"type": "base_stock", "params": {}})
    with pytest.raises(DecisionError, match="needs demand_mean"):
        policy_from_spec({"type": "sS", "service_level": 0.9})


def test_policy_from_model_policyspec():
    spec = PolicySpec(site="DC-1", sku="*", type="sS", service_level=0.97)
    p = policy_from_spec(spec, demand_mean=20.0, demand_std=5.0, lead_time=2.0, pack_size=6)
    assert isinstance(p, SsPolicy) and float(p.s) < float(p.S)
    assert p.order_quantity(0.0) % 6 == 0


def test_newsvendor_spec_without_q_uses_the_cost_critical_ratio():
    p = policy_from_spec({"type": "newsvendor"}, demand_mean=100.0, demand_std=10.0, lead_time=0.0,
                         underage=3.0, overage=1.0)
    assert float(p.q) == pytest.approx(100 + 0.6745 * 10, abs=1e-2)
    with pytest.raises(DecisionError, match="underage and overage"):
        policy_from_spec({"type": "newsvendor"}, demand_mean=100.0, lead_time=1.0)
