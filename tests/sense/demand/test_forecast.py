"""Demand sensing: validation, kernels, Forecaster, conformal intervals and backtests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from supplynet.errors import DataError
from supplynet.sense.demand import _forecast_models as km
from supplynet.sense.demand.forecast import Forecaster, backtest
from supplynet.testing.require import require_or_skip

M = 52


def seasonal_panel(n_series: int = 12, n: int = 130, noise: float = 3.0, seed: int = 0) -> pd.DataFrame:
    """Weekly (Friday) series: level + yearly sine + Gaussian noise, all ending on the same week."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI")
    t = np.arange(n)
    frames = []
    for i in range(n_series):
        level = 20 + 10 * i
        y = level * (1 + 0.3 * np.sin(2 * np.pi * t / M)) + rng.normal(0, noise, n)
        frames.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def intermittent_panel(n_series: int, n: int, p: float, mu: float, seed: int) -> pd.DataFrame:
    """Bernoulli(p) occurrences with Poisson(mu - 1) + 1 sizes: mean demand p * mu per period."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI")
    frames = []
    for i in range(n_series):
        y = (rng.random(n) < p) * (rng.poisson(mu - 1, n) + 1)
        frames.append(pd.DataFrame({"unique_id": f"i{i}", "ds": ds, "y": y.astype(float)}))
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2020-01-03"]}), "missing column"),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2020-01-03", "2020-01-10"], "y": [1, "x"]}),
            "non-numeric",
        ),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2020-01-03", "2020-01-03"], "y": [1, 2]}),
            "duplicate",
        ),
        (
            pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2020-01-03", "not a date"], "y": [1, 2]}),
            "unparseable",
        ),
        (pd.DataFrame({"unique_id": ["a"], "ds": ["2020-01-03"], "y": [1], "weight": [-1]}), "negative"),
    ],
)
def test_bad_frames_raise_clear_data_errors(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(DataError, match=message):
        Forecaster(freq="W").fit(frame)


def test_unknown_freq_model_and_levels_are_refused() -> None:
    with pytest.raises(DataError, match="unknown freq 'fortnight'"):
        Forecaster(freq="fortnight")
    with pytest.raises(DataError, match="unknown model 'prophet'"):
        Forecaster(model="prophet")
    fc = Forecaster(freq="W", model="seasonal_naive").fit(seasonal_panel(2))
    with pytest.raises(DataError, match="level 120"):
        fc.predict(4, levels=(120,))
    with pytest.raises(DataError, match="horizon"):
        fc.predict(0)


def test_two_dates_in_one_week_are_duplicates() -> None:
    frame = pd.DataFrame({"unique_id": ["a", "a"], "ds": ["2020-01-06", "2020-01-08"], "y": [1.0, 2.0]})
    with pytest.raises(DataError, match="duplicate"):
        Forecaster(freq="W").fit(frame)


def test_exog_must_be_numeric() -> None:
    df = seasonal_panel(1)
    ex = df[["unique_id", "ds"]].assign(price="cheap")
    with pytest.raises(DataError, match="price"):
        Forecaster(freq="W").fit(df, exog=ex)


# ------------------------------------------------------------------ kernels


def test_seasonal_naive_repeats_last_season_and_gaps_are_zero() -> None:
    ds = pd.date_range("2020-01-03", periods=6, freq="W-FRI")
    df = pd.DataFrame({"unique_id": "a", "ds": ds, "y": [1.0, 2, 3, 4, 5, 6]}).drop(index=[3])
    fc = Forecaster(freq="W", season_length=3, model="seasonal_naive").fit(df).predict(4, levels=())
    # series is 1 2 3 0 5 6 once the missing week is zero demand; the last season is 0 5 6
    assert fc["y_hat"].tolist() == [0.0, 5.0, 6.0, 0.0]
    assert fc["ds"].tolist() == list(pd.date_range(ds[-1], periods=5, freq="W-FRI")[1:])


def test_smoothed_seasonal_naive_recovers_a_clean_season() -> None:
    t = np.arange(3 * M)
    y = 100 + 20 * np.sin(2 * np.pi * t / M)
    f = km.smoothed_seasonal_naive(y[None, :], 26, M)[0]
    truth = 100 + 20 * np.sin(2 * np.pi * (len(t) + np.arange(26)) / M)
    # 1-2-1 smoothing shrinks a sine by (1 + cos(2 pi / 52)) / 2; a window cut at the start skews it
    np.testing.assert_allclose(f, truth, atol=0.3)


def test_classify_demand_follows_syntetos_boylan() -> None:
    smooth = np.full(20, 5.0)
    intermittent = np.array([0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3], dtype=float)
    adi, cv2 = km.classify_demand(np.vstack([np.r_[smooth[:12]], intermittent]))
    assert adi[0] == pytest.approx(1.0) and cv2[0] == pytest.approx(0.0)
    assert adi[1] == pytest.approx(3.0) and adi[1] >= km.ADI_CUTOFF


def test_croston_matches_hand_computation() -> None:
    y = np.array([0, 4, 0, 0, 2, 0], dtype=float)
    # first demand 4 after interval 2; then size 4 + 0.5 (2 - 4) = 3, interval 2 + 0.5 (3 - 2) = 2.5
    np.testing.assert_allclose(km.croston(y, 2, alpha=0.5), [3 / 2.5, 3 / 2.5])
    assert km.croston(np.zeros(5), 3).tolist() == [0.0, 0.0, 0.0]


# ------------------------------------------------------------------ forecaster


def test_predict_columns_intervals_and_coverage_on_known_noise() -> None:
    df = seasonal_panel(n_series=20, n=150, noise=3.0)
    fc = Forecaster(freq="W", model="snaive_smooth").fit(df).predict(8, levels=(50, 80))
    assert list(fc.columns) == ["unique_id", "ds", "y_hat", "lo_50", "hi_50", "lo_80", "hi_80"]
    assert len(fc) == 20 * 8 and fc["ds"].dt.dayofweek.eq(4).all()
    assert (fc["lo_80"] <= fc["lo_50"]).all() and (fc["lo_50"] <= fc["y_hat"]).all()
    assert (fc["hi_50"] <= fc["hi_80"]).all()
    # fresh noise from the same process falls inside the 80% band about 80% of the time
    t = 150 + np.tile(np.arange(8), 20)
    level = 20 + 10 * fc["unique_id"].str[1:].astype(int).to_numpy()
    rng = np.random.default_rng(99)
    truth = level * (1 + 0.3 * np.sin(2 * np.pi * t / M)) + rng.normal(0, 3.0, len(fc))
    inside = (truth >= fc["lo_80"]) & (truth <= fc["hi_80"])
    assert 0.6 <= inside.mean() <= 0.97


@pytest.mark.slow
def test_intermittent_series_get_croston_type_forecasts_near_the_true_mean() -> None:
    p, mu = 0.2, 3.0
    df = intermittent_panel(n_series=15, n=120, p=p, mu=mu, seed=1)
    fc = Forecaster(freq="W", model="intermittent").fit(df).predict(4, levels=(80,))
    assert fc["lo_80"].min() >= 0.0
    assert abs(fc["y_hat"].mean() - p * mu) < 0.2
    # a seasonal naive on the same data is far noisier around the true mean
    sn = Forecaster(freq="W", model="seasonal_naive").fit(df).predict(4, levels=())
    assert np.abs(fc["y_hat"] - p * mu).mean() < np.abs(sn["y_hat"] - p * mu).mean()


def test_lightgbm_uses_future_exogenous_promotions() -> None:
    rng = np.random.default_rng(3)
    n, k = 120, 10
    ds = pd.date_range("2020-01-03", periods=n + 4, freq="W-FRI")
    frames, exogs = [], []
    for i in range(k):
        promo = (rng.random(n + 4) < 0.3).astype(float)
        promo[n:] = [1, 0, 1, 0]
        y = 50 * (1 + promo) + rng.normal(0, 2, n + 4)
        frames.append(pd.DataFrame({"unique_id": f"p{i}", "ds": ds[:n], "y": y[:n]}))
        exogs.append(pd.DataFrame({"unique_id": f"p{i}", "ds": ds, "promo": promo}))
    fc = Forecaster(freq="W", model="lgbm").fit(pd.concat(frames), exog=pd.concat(exogs))
    out = fc.predict(4, levels=())
    step = out.groupby("unique_id")["y_hat"].apply(list).apply(pd.Series)
    assert (step[0] > 80).all() and (step[1] < 70).all() and (step[2] > 80).all()


# ------------------------------------------------------------------ backtest


def test_backtest_counts_short_series_and_beats_seasonal_naive_on_noisy_seasons() -> None:
    df = seasonal_panel(n_series=12, n=130, noise=6.0)
    short = df[df["unique_id"] == "s0"].tail(40).assign(unique_id="short")
    result = backtest(pd.concat([df, short]), h=13, freq="W", model="snaive_smooth", n_windows=2)
    assert set(result) == {"n_series", "n_skipped", "seconds", "model", "seasonal_naive", "seasonal_ets"}
    assert result["n_series"] == 13 and result["n_skipped"] == 1
    for key in ("model", "seasonal_naive", "seasonal_ets"):
        assert set(result[key]) == {"mase", "rmsse", "wmae", "coverage_80"}
        assert np.isfinite(list(result[key].values())).all()
    # averaging earlier seasons halves the noise variance of a one-season copy
    assert result["model"]["mase"] < 0.9 * result["seasonal_naive"]["mase"]


def test_backtest_weights_wmae() -> None:
    df = seasonal_panel(n_series=3, n=120, noise=2.0)
    heavy = df.assign(weight=np.where(df["ds"] >= df["ds"].max() - pd.Timedelta(weeks=2), 5.0, 1.0))
    a = backtest(df, h=8, model="seasonal_naive")
    b = backtest(heavy, h=8, model="seasonal_naive")
    assert a["model"]["mase"] == pytest.approx(b["model"]["mase"])
    assert a["model"]["wmae"] != pytest.approx(b["model"]["wmae"])


def test_backtest_with_nothing_to_score_says_why() -> None:
    df = seasonal_panel(n_series=2, n=30)
    with pytest.raises(DataError, match="no series can be scored"):
        backtest(df, h=4, model="seasonal_naive")


@pytest.mark.slow
def test_default_model_runs_end_to_end_with_mixed_series() -> None:
    df = pd.concat([seasonal_panel(8, 120), intermittent_panel(4, 120, 0.2, 3.0, 5)])
    result = backtest(df, h=8, model="default")
    assert result["n_skipped"] == 0
    assert result["model"]["mase"] < result["seasonal_naive"]["mase"]


# ------------------------------------------------------------------ Walmart


@pytest.mark.data
@pytest.mark.slow
def test_walmart_loader_shapes_and_holiday_weights() -> None:
    from supplynet.datasets.walmart import find_walmart_dir, load_walmart

    if find_walmart_dir() is None:
        require_or_skip("../shared/data/walmart-store-sales not available (set SUPPLYNET_DATA_DIR)", "data")
    series, exog = load_walmart()
    assert series["unique_id"].nunique() == 3331
    assert set(series["weight"].unique()) == {1.0, 5.0}
    assert series.loc[series["ds"] == "2010-12-31", "weight"].eq(5.0).all()
    assert not exog.duplicated(["unique_id", "ds"]).any()
    assert exog["markdown1"].notna().all()
    # the department is each series' group (pooled across stores) and, with the store, a regressor
    one = series[series["unique_id"] == "1_1"]
    assert (
        one["group"].eq("dept1").all()
        and series["group"].nunique() == series["unique_id"].str.split("_").str[1].nunique()
    )
    assert exog.loc[exog["unique_id"] == "10_7", ["store", "dept"]].drop_duplicates().values.tolist() == [
        [10.0, 7.0]
    ]
