"""Cold chain: excursions above/below limits, mean kinetic temperature (USP <1079>), products at risk."""

from __future__ import annotations

import numpy as np
import pytest

from supplynet.sense.coldchain import (
    ProductTolerance,
    assess_load,
    find_excursions,
    mean_kinetic_temperature_c,
)


def _mkt_direct(temps_c: list[float]) -> float:
    """Equal-weight MKT straight from the USP formula with dH/R = 83144 / 8.3144 = 10000 K."""
    k = np.asarray(temps_c) + 273.15
    return float(10000.0 / -np.log(np.mean(np.exp(-10000.0 / k))) - 273.15)


def test_mkt_of_constant_temperature_is_that_temperature():
    assert mean_kinetic_temperature_c(np.arange(10) * 600.0, np.full(10, 5.0)) == pytest.approx(5.0)


def test_mkt_half_time_at_20_and_half_at_30_matches_the_formula():
    t = np.arange(200) * 60.0
    x = np.where(np.arange(200) < 100, 20.0, 30.0)
    got = mean_kinetic_temperature_c(t, x)
    assert got == pytest.approx(_mkt_direct([20.0, 30.0]), abs=1e-9)
    assert 25.0 < got < 30.0  # heat weighs more than cold: above the arithmetic mean


def test_mkt_weights_readings_by_the_time_they_stand_for():
    # one hot reading in a long cold record counts for its interval only
    t = np.array([0.0, 60.0, 120.0, 3600.0 * 10])
    x = np.array([5.0, 25.0, 5.0, 5.0])
    short = mean_kinetic_temperature_c(t, x)
    assert short < mean_kinetic_temperature_c([0.0, 1.0, 2.0, 3.0], x)
    # a long silence is left out when max_gap_s says so
    assert mean_kinetic_temperature_c(t, x, max_gap_s=600) > short


def test_excursion_crossings_are_interpolated():
    t = np.array([0, 60, 120, 180, 240, 300.0])
    x = np.array([4, 6, 10, 12, 6, 4.0])  # crosses 8 C at t=90 going up and t=220 going down
    (e,) = find_excursions(t, x, upper_c=8.0)
    assert (e.kind, e.start, e.end, e.peak_c) == ("above", pytest.approx(90.0), pytest.approx(220.0), 12.0)
    b1, b2 = find_excursions(t, x, lower_c=5.0)  # starts and ends below 5 C
    assert b1.kind == "below" and b1.start == 0 and b1.end == pytest.approx(30.0)
    assert b2.start == pytest.approx(270.0) and b2.end == 300


def test_a_silence_ends_an_excursion():
    t = np.array([0, 60, 120, 5000, 5060.0])
    x = np.array([4, 10, 10, 10, 4.0])
    exc = find_excursions(t, x, upper_c=8.0, max_gap_s=600)
    assert len(exc) == 2
    assert exc[0].end == 120 and exc[1].start == 5000


def test_products_at_risk_by_allowance_and_mkt():
    t = np.arange(0, 6 * 3600, 300.0)
    x = np.where((t >= 3600) & (t < 3600 + 1800), 12.0, 4.0)  # about 30 min at 12 C in a 2-8 C reefer
    a = assess_load(t, x, limit_c=8.0, products=[
        "FROZEN-PEAS",
        ProductTolerance("APPLES", allowance_s=3600),
        ProductTolerance("VACCINE", allowance_s=3600, max_mkt_c=5.0),
    ])
    assert 1800 <= a.time_above_s <= 2100
    assert a.at_risk_skus == ["FROZEN-PEAS", "VACCINE"]
    assert "above 8.0 C" in a.at_risk["FROZEN-PEAS"][0]
    assert "mean kinetic temperature" in a.at_risk["VACCINE"][0]
    assert a.to_dict()["n_excursions"] == 1
    ok = assess_load(t, np.full(t.size, 4.0), limit_c=8.0, products=["FROZEN-PEAS"])
    assert ok.at_risk == {} and ok.time_above_s == 0


def test_validation_names_the_value():
    with pytest.raises(ValueError, match="sorted"):
        find_excursions([1, 0], [5, 5], upper_c=8)
    with pytest.raises(ValueError, match="lower_c"):
        find_excursions([0, 1], [5, 5], upper_c=2, lower_c=8)
    with pytest.raises(ValueError, match="allowance_s"):
        ProductTolerance("X", allowance_s=-1)
    with pytest.raises(ValueError, match="absolute zero"):
        mean_kinetic_temperature_c([0, 1], [-300, 4])
