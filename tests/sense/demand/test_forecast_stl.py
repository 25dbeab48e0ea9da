"""The compiled many-series STL gives statsmodels' STL numbers, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.tsa.seasonal import STL

from supplynet.errors import ParameterError
from supplynet.sense.demand._forecast_stl import stl_defaults, stl_many
from supplynet.testing.require import require_or_skip


def _statsmodels(y: np.ndarray, period: int, seasonal: int, **kw: int) -> tuple[np.ndarray, np.ndarray]:
    fit = STL(y, period=period, seasonal=seasonal, **kw).fit()
    return np.asarray(fit.seasonal), np.asarray(fit.trend)


def _assert_same(ys: list[np.ndarray], period: int, seasonal: int, **kw: int) -> None:
    seasonals, trends = stl_many(ys, period, seasonal, **kw)
    assert len(seasonals) == len(trends) == len(ys)
    for y, s, t in zip(ys, seasonals, trends, strict=True):
        ref_s, ref_t = _statsmodels(y, period, seasonal, **kw)
        assert np.array_equal(s, ref_s), (len(y), np.max(np.abs(s - ref_s)))
        assert np.array_equal(t, ref_t), (len(y), np.max(np.abs(t - ref_t)))


def test_defaults_are_statsmodels_windows() -> None:
    fit = STL(np.arange(120.0), period=52, seasonal=11)
    assert stl_defaults(52, 11) == (fit.config["trend"], fit.config["low_pass"]) == (91, 53)
    assert stl_defaults(12, 7) == (23, 13)


def test_equals_statsmodels_on_every_length_and_shape() -> None:
    """Seasonal, trending, flat, zero, lumpy series, and every length from 1 to 3 seasons (shorter
    than a season, statsmodels reads its workspace beyond the series: the port does the same)."""
    rng = np.random.default_rng(5)
    k = np.arange(160)
    ys = [
        50 + 10 * np.sin(k * 2 * np.pi / 52) + rng.normal(0, 2, 160),
        20 + 0.3 * k + 5 * np.cos(k * 2 * np.pi / 52) + rng.normal(0, 1, 160),
        np.full(130, 7.0),
        np.zeros(143),
        rng.poisson(0.4, 143).astype(float) * 5,
        -np.zeros(60),  # negative zeros
    ]
    ys += [rng.normal(100, 30, n) for n in range(1, 157)]
    _assert_same(ys, 52, 11, seasonal_deg=0)  # statsforecast's MSTL configuration


@pytest.mark.parametrize(
    ("period", "seasonal", "degrees"), [(12, 7, (1, 1, 1)), (7, 13, (0, 0, 1)), (4, 5, (1, 0, 0))]
)
def test_equals_statsmodels_on_other_periods_and_degrees(period: int, seasonal: int, degrees: tuple) -> None:
    rng = np.random.default_rng(period)
    ys = [rng.normal(0, 1, n) + np.sin(np.arange(n) * 2 * np.pi / period) for n in range(1, 6 * period)]
    sd, td, ld = degrees
    _assert_same(ys, period, seasonal, seasonal_deg=sd, trend_deg=td, low_pass_deg=ld)


def test_refuses_what_statsmodels_refuses_and_takes_an_empty_batch() -> None:
    assert stl_many([], 52, 11) == ([], [])
    with pytest.raises(ParameterError, match="at least one value"):
        stl_many([np.ones(10), np.array([])], 52, 11)
    with pytest.raises(ParameterError, match="period must be >= 2"):
        stl_many([np.ones(10)], 1, 11)
    with pytest.raises(ParameterError, match="odd integer >= 3"):
        stl_many([np.ones(10)], 12, 8)


@pytest.mark.data
@pytest.mark.slow
def test_equals_statsmodels_on_the_walmart_series() -> None:
    """Every Walmart store-department series, whole and without its last 39 weeks (the forecast's
    calibration refit), as the default model's MSTL member decomposes them."""
    from supplynet.datasets.walmart import find_walmart_dir, load_walmart

    if find_walmart_dir() is None:
        require_or_skip("../shared/data/walmart-store-sales not available (set SUPPLYNET_DATA_DIR)", "data")
    series, _ = load_walmart()
    ys = [g.to_numpy(float) + 0.0 for _, g in series.groupby("unique_id")["y"]]
    ys += [y[:-39] for y in ys if len(y) > 39]
    assert len(ys) > 6000 and len({len(y) for y in ys}) > 100
    _assert_same(ys, 52, 11, seasonal_deg=0)
