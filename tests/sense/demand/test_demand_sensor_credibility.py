"""The demand sensor's young-evidence gain: the declared figure counts as ``prior_days`` days of observation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from supplynet.errors import ModelError
from supplynet.events import Sale
from supplynet.sense.demand.demand_live import DemandSensor

T0 = datetime(2026, 3, 2, 22, tzinfo=UTC)
KEY = ("S1", "A")


def _feed(sensor: DemandSensor, values: list[float], first_day: int = 0) -> None:
    for d, y in enumerate(values, first_day):  # a sale at each day's close; the day after closes it
        sensor.observe(Sale(source="pos", seq=d, ts=T0 + timedelta(days=d), site="S1", sku="A", quantity=y))


def test_a_wrong_declared_level_is_replaced_by_the_recursive_mean_of_prior_and_days_seen():
    sensor = DemandSensor({KEY: (20.0, 6.0)}, prior_days=1.0)  # declared 20/day; the shop sells 100/day
    _feed(sensor, [100.0, 100.0])  # the second sale closes the first day
    est = sensor.estimate(KEY)
    assert est.source == "online" and est.n_days == 1
    assert est.mean == pytest.approx((20.0 + 100.0) / 2)  # the prior is worth one day
    _feed(sensor, [100.0] * 4, first_day=2)  # days 1..4 close
    est = sensor.estimate(KEY)
    assert est.n_days == 5 and est.mean == pytest.approx((20.0 + 5 * 100.0) / 6)
    # the spread of the errors made while catching up is kept: the safety stock covers a level still moving
    assert est.std > 6.0


def test_the_gain_falls_to_alpha_and_prior_days_none_is_plain_smoothing():
    s = DemandSensor({KEY: (20.0, 6.0)}, alpha=0.1, prior_days=1.0, tracking=None)
    assert [s.gain(n) for n in (0, 1, 8, 50)] == pytest.approx([0.5, 1 / 3, 0.1, 0.1])
    plain = DemandSensor({KEY: (20.0, 6.0)}, alpha=0.1, prior_days=None, min_days=1, tracking=None)
    _feed(plain, [100.0, 100.0])
    assert plain.estimate(KEY).mean == pytest.approx(20.0 + 0.1 * 80.0)
    strong = DemandSensor({KEY: (20.0, 6.0)}, prior_days=9.0, tracking=None)  # a declared figure worth nine days
    _feed(strong, [100.0, 100.0])
    assert strong.estimate(KEY).mean == pytest.approx(20.0 + 0.1 * 80.0)


def test_before_min_days_the_prior_answers():
    s = DemandSensor({KEY: (20.0, 6.0)}, min_days=3)
    _feed(s, [100.0, 100.0, 100.0])
    assert s.estimate(KEY).source == "network" and s.estimate(KEY).mean == 20.0


def test_the_tracking_signal_catches_a_level_shift_and_stays_calm_on_noise():
    rng = np.random.default_rng(5)
    noise = rng.normal(0.0, 5.0, 60)
    shifted = [50.0 + e for e in noise[:30]] + [80.0 + e for e in noise[30:]]  # the level moves at day 30
    est = {}
    for tracking in (None, 0.2):
        s = DemandSensor({KEY: (50.0, 5.0)}, tracking=tracking)
        _feed(s, shifted[:36])  # five days after the shift closed
        est[tracking] = s.estimate(KEY).mean
    assert est[None] < 72.0 < est[0.2]  # the fixed gain is still less than two thirds of the way there
    calm = DemandSensor({KEY: (50.0, 5.0)}, tracking=0.2)
    _feed(calm, [50.0 + e for e in noise])
    assert abs(calm.estimate(KEY).mean - 50.0) < 5.0  # noise alone: the level stays near the mean


@pytest.mark.parametrize(("name", "bad"), [("prior_days", -1.0), ("prior_days", float("nan")), ("prior_days", "x"),
                                           ("prior_days", float("inf")), ("tracking", 0.0), ("tracking", 1.5)])
def test_parameters_are_checked(name, bad):
    with pytest.raises(ModelError, match=name):
        DemandSensor(**{name: bad})


def test_advance_closes_the_days_before_the_clock_for_every_key():
    s = DemandSensor({KEY: (20.0, 6.0), ("S2", "A"): (5.0, 2.0)}, prior_days=1.0)
    s.observe(Sale(source="pos", seq=1, ts=T0, site="S1", sku="A", quantity=100.0))  # day 0's close
    s.observe(Sale(source="pos", seq=2, ts=T0 - timedelta(days=1), site="S2", sku="A", quantity=5.0))
    assert s.estimate(KEY).source == "network"  # day 0 is still open: no sale of a later day yet
    s.advance(T0 + timedelta(hours=7))  # the next morning: day 0 is over
    assert s.estimate(KEY).source == "online" and s.estimate(KEY).mean == pytest.approx(60.0)
    other = s.estimate(("S2", "A"))  # its day -1 closed, and day 0 (no sale) counts as zero
    assert other.n_days == 2 and other.mean == pytest.approx((5.0 + 5.0) / 2 * 2 / 3)
    s.advance(T0 + timedelta(hours=8))  # nothing more to close
    assert s.estimate(KEY).n_days == 1


def _world(sensor: DemandSensor, truth: dict, days: int, rng: np.random.Generator, cv: float) -> None:
    for d in range(days):  # the sales at each day's close, the loop's morning release (advance) after it
        for i, (key, mu) in enumerate(truth.items()):
            sensor.observe(Sale(source="pos", seq=d * 100 + i, ts=T0 + timedelta(days=d), site=key[0], sku=key[1],
                                quantity=float(max(rng.normal(mu, cv * mu), 0.0))))
        sensor.advance(T0 + timedelta(days=d + 1, hours=-15))


def test_auto_credibility_trusts_declared_figures_that_hold_and_not_ones_that_do_not():
    """Buhlmann-Straub on the customer keys: declared means off by x0.5-x2 weigh under a day; declared means
    that hold (the days only scatter around them by the declared spread) weigh many days or nothing is learned."""
    rng = np.random.default_rng(3)
    keys = [(f"S{i}", "A") for i in range(30)]
    prior = {k: (100.0, 30.0) for k in keys}  # declared 100/day, cv 0.3
    off = DemandSensor(prior)
    truth = {k: 100.0 * f for k, f in zip(keys, rng.choice([0.5, 0.7, 1.4, 2.0], len(keys)), strict=True)}
    _world(off, truth, 3, rng, 0.1)
    assert off.prior_days < 1.0
    assert all(abs(off.estimate(k).mean - truth[k]) < 0.5 * abs(truth[k] - 100.0) for k in keys)  # past halfway
    held = DemandSensor(prior)
    _world(held, {k: 100.0 for k in keys}, 3, rng, 0.3)
    assert held.prior_days > 5.0
    assert np.mean([abs(held.estimate(k).mean - 100.0) for k in keys]) < 8.0  # the noise barely moves them
