"""Delay detection: declared when the predicted arrival passes the promised time with significance,
on consecutive pings, never on one late ping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from supplynet.model import Network
from supplynet.model._schema import LeadTime
from supplynet.sense.eta.delay import DelayDetector, DelayPolicy, LaneEta, lane_route, split_normal_sf

T0 = datetime(2026, 3, 2, 6, tzinfo=UTC)


def _net(**meta) -> Network:
    return Network.model_validate({
        "name": "delay-test",
        "sites": [{"id": "A", "kind": "dc", "location": {"lat": 52.0, "lon": -1.0}},
                  {"id": "B", "kind": "store", "location": {"lat": 53.0, "lon": -2.0}}],
        "products": [{"sku": "X", "unit_cost": 1.0, "price": 2.0}],
        "lanes": [{"id": "L1", "origin": "A", "destination": "B", "lead_time": {"mean_days": 0.5, "std_days": 0.05}}],
        "meta": meta,
    })


def _drive(det, stop_at: float | None, stop_h: float, *, minutes: int = 15, n: int = 200, promised_h: float = 24.0,
           seed: int = 0):
    """A truck doing the lane in 12 h, standing still ``stop_h`` hours at ``stop_at`` of the route."""
    rng = np.random.default_rng(seed)
    route = lane_route(det.network, "L1")
    det.observe_status("S1", "departed", "L1", T0, event_id="wms:1")
    out = []
    for k in range(n):
        h = k * minutes / 60
        moving = h if stop_at is None or h < stop_at * 12 else (stop_at * 12 + max(h - stop_at * 12 - stop_h, 0))
        f = min(moving / 12, 1.0)
        if f >= 1.0:
            break
        la, lo = route.point_at(f * route.length_m)
        fc, late = det.observe_position("S1", "L1", float(la[()] + rng.normal(0, 1e-5)),
                                        float(lo[()] + rng.normal(0, 1e-5)), T0 + timedelta(hours=h),
                                        T0 + timedelta(hours=promised_h), event_id=f"gps:{k}")
        out.append((h, fc, late))
    return out


def test_split_normal_through_its_quantiles():
    assert split_normal_sf(50, 40, 50, 70) == pytest.approx(0.5)
    assert split_normal_sf(40, 40, 50, 70) == pytest.approx(0.9)
    assert split_normal_sf(70, 40, 50, 70) == pytest.approx(0.1)
    assert split_normal_sf(100, 50, 50, 50) == 0.0 and split_normal_sf(0, 50, 50, 50) == 1.0


def test_on_time_truck_is_never_declared():
    det = DelayDetector(_net())
    rows = _drive(det, None, 0.0)
    assert not any(late for _, _, late in rows)
    assert rows[-1][1].prob_after((T0 + timedelta(hours=24, minutes=30)).timestamp()) < 0.05


def test_standing_truck_declared_with_significance_after_consecutive_pings():
    det = DelayDetector(_net(), policy=DelayPolicy(confidence=0.9, min_pings=3, min_span_s=1800))
    rows = _drive(det, 0.4, 20.0)
    declared = [i for i, (_, _, late) in enumerate(rows) if late]
    assert len(declared) >= 1
    i = declared[0]
    deadline = (T0 + timedelta(hours=24, minutes=30)).timestamp()
    probs = [fc.prob_after(deadline) for _, fc, _ in rows]
    # the three pings before and at the declaration were all significantly late, the one before them not
    assert all(p >= 0.9 for p in probs[i - 2: i + 1])
    assert probs[i - 3] < 0.9 or rows[i][0] - rows[i - 3][0] < 0.5
    assert not any(late for _, _, late in rows[:i])
    j = i
    while j > 0 and probs[j - 1] >= 0.9:
        j -= 1
    assert i - j + 1 >= 3 and rows[i][0] - rows[j][0] >= 0.5  # min_pings and min_span_s (30 min) met
    # the truck stood at 40% of the route: the forecast says so
    assert rows[i][1].progress == pytest.approx(0.4, abs=0.03)


def test_one_late_ping_is_not_a_delay():
    det = DelayDetector(_net(), policy=DelayPolicy(confidence=0.9, min_pings=3, min_span_s=600))
    route = lane_route(det.network, "L1")
    det.observe_status("S1", "departed", "L1", T0)
    promised = T0 + timedelta(hours=15)
    deadline = (promised + timedelta(minutes=30)).timestamp()
    seen = []
    hours = [0.5 * k for k in range(12)] + [14.0] + [14.1, 14.2, 14.3]   # a 8.5 h silence, then near the end
    fracs = [h / 12 for h in hours[:12]] + [0.46] + [0.97, 0.98, 0.99]
    for k, (h, f) in enumerate(zip(hours, fracs, strict=True)):
        la, lo = route.point_at(f * route.length_m)
        fc, late = det.observe_position("S1", "L1", float(la), float(lo), T0 + timedelta(hours=h), promised,
                                        event_id=f"gps:{k}")
        seen.append((fc.prob_after(deadline), late))
    assert seen[12][0] >= 0.9          # that one ping said "late" with significance
    assert not any(late for _, late in seen)
    assert seen[-1][0] < 0.9


def test_the_p_level_is_configurable():
    def first(conf: float) -> float:
        det = DelayDetector(_net(), policy=DelayPolicy(confidence=conf, min_pings=2, min_span_s=0))
        return next(h for h, _, late in _drive(det, 0.4, 20.0) if late)

    assert first(0.6) < first(0.95)
    det = DelayDetector(_net(delay_confidence=0.75, delay_min_pings=4))
    assert det.policy.confidence == 0.75 and det.policy.min_pings == 4
    with pytest.raises(ValueError, match="one late ping"):
        DelayPolicy(min_pings=1)
    with pytest.raises(ValueError, match="confidence"):
        DelayPolicy(confidence=1.0)


def test_lane_history_learns_trip_times_and_profiles():
    lt = LeadTime(dist="normal", mean_days=1.0, std_days=0.1)
    eta = LaneEta(lt, seed=1)
    before = eta.forecast(0.0, 0.0, 0.0, 0.0).p50
    assert before == pytest.approx(86_400, rel=0.05)
    t = np.linspace(0, 2 * 86_400, 50)
    prog = np.clip(np.concatenate([np.zeros(25), np.linspace(0, 1, 25)]), 0, 1)  # half the time at the origin
    for _ in range(8):
        eta.learn(2 * 86_400, t, prog)
    assert len(eta.profiles) == 8
    # slower trips learned (about 2 days)
    assert eta.forecast(0.0, 0.0, 0.0, 0.0).p50 > 1.5 * 86_400
    # past trips took 76% of their time to cover half the route (they waited at the origin): from
    # halfway, about a quarter of the trip time is left, not a half
    tau = (25 + 12) / 49
    fc = eta.forecast(tau * 2 * 86_400, 0.0, 0.5, tau * 2 * 86_400)
    assert fc.p50 - fc.t == pytest.approx((1 - tau) * 2 * 86_400, rel=0.15)


def test_escalation_when_the_forecast_slips_further():
    det = DelayDetector(_net(), policy=DelayPolicy(confidence=0.9, min_pings=3, min_span_s=600, reassess_s=3 * 3600))
    rows = _drive(det, 0.4, 30.0, n=170)
    assert sum(late for _, _, late in rows) >= 2
    assert det.tracks["S1"].declarations >= 2
