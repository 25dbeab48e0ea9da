"""Maintenance decisions: cost threshold, significance, one open work order per asset, closing."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.decide.maintain import (
    MaintenancePolicy,
    MaintenanceState,
    close,
    decide,
    significant,
    wilson_lower,
)
from supplynet.errors import DecisionError
from supplynet.sense.health.rul import RulDistribution

POLICY = MaintenancePolicy(preventive_cost=1_000, failure_cost=10_000, lead_time=5, opportunity_interval=10)


def dist(point: float, spread: float, n: int = 500, seed: int = 0) -> RulDistribution:
    rng = np.random.default_rng(seed)
    return RulDistribution(point, np.sort(np.maximum(point + rng.normal(0, spread, n), 0)))


def test_threshold_and_horizon_come_from_costs_and_timing() -> None:
    assert POLICY.threshold == pytest.approx(0.1)
    assert POLICY.horizon == 15
    with pytest.raises(DecisionError, match="failure_cost"):
        MaintenancePolicy(preventive_cost=10, failure_cost=5)
    with pytest.raises(DecisionError, match="preventive_cost"):
        MaintenancePolicy(preventive_cost=0, failure_cost=5)
    with pytest.raises(DecisionError, match="confidence"):
        MaintenancePolicy(preventive_cost=1, failure_cost=5, confidence=0.2)


def test_healthy_asset_gets_no_work_order() -> None:
    state, wo = decide(MaintenanceState(), "M1", dist(120, 10), now=0.0, policy=POLICY)
    assert wo is None and not state.open


def test_interval_not_point_decides() -> None:
    # the point estimate (30) is beyond the horizon (15), but the wide interval reaches into it
    narrow = dist(30, 3)
    wide = dist(30, 20)
    assert decide(MaintenanceState(), "M1", narrow, 0.0, POLICY)[1] is None
    state, wo = decide(MaintenanceState(), "M1", wide, 0.0, POLICY)
    assert wo is not None
    assert wo.failure_probability > POLICY.threshold
    assert wo.rul_interval[0] < POLICY.horizon < wo.rul_point


def test_work_order_contents() -> None:
    state, wo = decide(MaintenanceState(), "M7", dist(12, 4), now=100.0, policy=POLICY,
                       driving_sensors=("s_11", "s_4"))
    assert wo is not None
    assert wo.asset == "M7" and wo.id == "WO-M7-1" and wo.opened_at == 100.0
    assert wo.driving_sensors == ("s_11", "s_4")
    lo, hi = wo.rul_interval
    assert lo < 12 < hi
    assert wo.window[0] == 105.0 and wo.window[1] >= wo.window[0]
    assert wo.expected_cost_avoided == pytest.approx(wo.failure_probability * 10_000 - 1_000)
    assert wo.expected_cost_avoided > 0
    assert state.open["M7"] is wo


def test_few_samples_are_not_significant() -> None:
    # the same probability (0.2 > p* = 0.1) from 10 samples is not enough evidence; from 1000 it is
    assert not significant(0.2, 10, POLICY)
    assert significant(0.2, 1000, POLICY)
    assert wilson_lower(0.2, 10, 0.9) < wilson_lower(0.2, 1000, 0.9) < 0.2
    few = RulDistribution(20.0, np.array([10.0, 18.0, 20, 22, 24, 26, 28, 30, 32, 34]))
    assert few.prob_fail_before(15) == pytest.approx(0.1 * 1)  # one of ten
    assert decide(MaintenanceState(), "M1", few, 0.0, POLICY)[1] is None


def test_one_open_work_order_per_asset_and_closing_resets_baseline() -> None:
    s0 = MaintenanceState()
    s1, wo1 = decide(s0, "M1", dist(5, 3), 0.0, POLICY)
    assert wo1 is not None
    s2, again = decide(s1, "M1", dist(2, 1), 1.0, POLICY)
    assert again is None and s2 is s1
    s3, other = decide(s2, "M2", dist(3, 2), 1.0, POLICY)
    assert other is not None and set(s3.open) == {"M1", "M2"}
    s4 = close(s3, "M1")
    assert set(s4.open) == {"M2"} and s4.baseline_epoch("M1") == 1 and s4.baseline_epoch("M2") == 0
    assert s3.baseline_epoch("M1") == 0  # the old state is unchanged
    s5, wo_new = decide(s4, "M1", dist(5, 3), 2.0, POLICY)
    assert wo_new is not None and wo_new.id != wo1.id
    with pytest.raises(DecisionError, match="no open work order"):
        close(s5, "M9")


def test_state_cannot_be_mutated() -> None:
    s, _ = decide(MaintenanceState(), "M1", dist(5, 3), 0.0, POLICY)
    with pytest.raises(TypeError):
        s.open["M2"] = None  # type: ignore[index]


def test_higher_failure_cost_acts_earlier() -> None:
    cheap = MaintenancePolicy(preventive_cost=1, failure_cost=2, lead_time=5, opportunity_interval=10)
    dear = MaintenancePolicy(preventive_cost=1, failure_cost=100, lead_time=5, opportunity_interval=10)
    first = {}
    for name, pol in (("cheap", cheap), ("dear", dear)):
        for t, rul in enumerate(range(80, 0, -1)):
            if decide(MaintenanceState(), "M", dist(rul, 8, seed=t), float(t), pol)[1] is not None:
                first[name] = t
                break
    assert first["dear"] < first["cheap"]


def test_policy_from_a_network_asset() -> None:
    from supplynet.model import Network

    net_asset = Network.model_validate({
        "name": "n", "sites": [{"id": "P1", "name": "plant", "kind": "plant", "location": {"lat": 0, "lon": 0}}],
        "assets": [{"id": "M1", "kind": "machine", "site": "P1", "failure_cost": 50_000, "preventive_cost": 5_000,
                    "maintenance_lead_time_days": 3}],
    }).assets[0]
    pol = MaintenancePolicy.from_asset(net_asset, opportunity_interval=7, days_per_unit=0.5)
    assert pol.threshold == pytest.approx(0.1) and pol.lead_time == 6 and pol.horizon == 13
    free = type("A", (), {"id": "M2", "failure_cost": 0.0, "preventive_cost": 0.0})()
    with pytest.raises(DecisionError, match="asset M2"):
        MaintenancePolicy.from_asset(free)
