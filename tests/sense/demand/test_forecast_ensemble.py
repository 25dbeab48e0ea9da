"""Default ensemble rules: group SVD denoising, dead series, validated intermittent routing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from supplynet.errors import DataError
from supplynet.sense.demand import _forecast_models as km
from supplynet.sense.demand import forecast as fm
from supplynet.sense.demand._forecast_data import build_panel, resolve_freq, validate_series
from supplynet.sense.demand.forecast import Forecaster

M = 52
W = resolve_freq("W")


def product_panel(n_products: int = 2, n_sites: int = 20, n: int = 130, noise: float = 0.3, seed: int = 0):
    """Each product has one seasonal shape; each site sells it at its own level, with heavy noise.

    Returns the long frame (with ``group`` = product) and the noise-free truth, (series, n).
    """
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI")
    t = np.arange(n)
    frames, truth = [], []
    for p in range(n_products):
        shape = 1 + 0.5 * np.sin(2 * np.pi * (t + 13 * p) / M) + 0.8 * (t % M == 47)
        for s in range(n_sites):
            mean = (20 + 5 * s) * shape
            y = mean * (1 + rng.normal(0, noise, n))
            frames.append(pd.DataFrame({"unique_id": f"p{p}_s{s:02d}", "ds": ds, "y": y, "group": f"p{p}"}))
            truth.append(mean)
    return pd.concat(frames, ignore_index=True), np.array(truth)


# ------------------------------------------------------------------ kernels


def test_svd_denoise_moves_each_series_toward_its_noise_free_mean() -> None:
    df, truth = product_panel(noise=0.3)
    panel = build_panel(validate_series(df, W))
    den = km.svd_denoise(panel.Y, panel.groups, rank=2)
    raw_err = np.abs(panel.Y - truth).mean()
    den_err = np.abs(den - truth).mean()
    assert den_err < 0.6 * raw_err
    assert den.shape == panel.Y.shape


def test_svd_denoise_keeps_missing_starts_and_leaves_small_groups_alone() -> None:
    rng = np.random.default_rng(1)
    Y = rng.normal(10, 1, (6, 30))
    Y[0, :5] = np.nan
    groups = np.array([0, 0, 0, 0, 0, 1])
    out = km.svd_denoise(Y, groups, rank=2)
    assert np.isnan(out[0, :5]).all() and np.isfinite(out[0, 5:]).all()
    np.testing.assert_array_equal(out[5], Y[5])  # a group of one series has nothing to pool
    assert not np.allclose(out[1], Y[1])
    assert km.svd_denoise(Y, None) is Y
    with pytest.raises(ValueError, match="rank must be >= 1"):
        km.svd_denoise(Y, groups, rank=0)


def test_zero_runs_and_dead_mask() -> None:
    Y = np.array(
        [
            [5, 6, 0, 0, 0, 0, 0],  # stopped selling
            [5, 0, 0, 0, 7, 0, 0],  # a gap, then sold again
            [np.nan, np.nan, np.nan, 0, 0, 0, 0],  # new and never sold
            [5, 6, 0, 0, 0, 0, np.nan],  # last period unknown
            [0, 0, 0, 0, 0, 3, 0],  # intermittent habits: gaps of 5
        ],
        dtype=float,
    )
    trailing, longest = km.zero_runs(Y)
    assert trailing.tolist() == [5, 2, 4, 0, 1]
    assert longest.tolist() == [0, 3, 0, 4, 5]
    assert km.dead_mask(Y, 4).tolist() == [True, False, True, False, False]
    # an intermittent series is dead only once its gap is longer than any it had before
    Z = np.array([[0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0], [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]], dtype=float)
    assert km.dead_mask(Z, 4).tolist() == [True, True]
    assert km.dead_mask(Z, 4, intermittent=np.array([True, True])).tolist() == [False, True]
    with pytest.raises(ValueError, match="run must be >= 1"):
        km.dead_mask(Y, 0)


# ------------------------------------------------------------------ group column


def test_group_must_be_constant_per_series_and_present() -> None:
    ds = ["2020-01-03", "2020-01-10"]
    two = pd.DataFrame({"unique_id": ["a", "a"], "ds": ds, "y": [1.0, 2.0], "group": ["x", "y"]})
    with pytest.raises(DataError, match="'group' must be constant per series; unique_id 'a'"):
        Forecaster(freq="W").fit(two)
    gap = pd.DataFrame({"unique_id": ["a", "a"], "ds": ds, "y": [1.0, 2.0], "group": ["x", None]})
    with pytest.raises(DataError, match="missing value in column 'group'"):
        Forecaster(freq="W").fit(gap)


def test_panel_carries_group_codes_through_cut_truncate_and_subset() -> None:
    df, _ = product_panel(n_products=2, n_sites=3, n=60)
    panel = build_panel(validate_series(df, W))
    assert panel.groups.tolist() == [0, 0, 0, 1, 1, 1]
    assert panel.truncate(5).groups.tolist() == [0, 0, 0, 1, 1, 1]
    assert panel.cut(int(panel.t_last.max()) - 3).groups.tolist() == [0, 0, 0, 1, 1, 1]
    assert panel.subset(np.array([False, True, False, True, False, False])).groups.tolist() == [0, 1]
    plain = build_panel(validate_series(df.drop(columns="group"), W))
    assert plain.groups is None and plain.truncate(5).groups is None


@pytest.mark.slow
def test_denoised_smoothed_seasonal_naive_beats_the_raw_one_on_noisy_products() -> None:
    # 40 sites of 2 products: the rank-12 reconstruction (forecast.SVD_RANK) drops most of the noise
    df, truth = product_panel(n_sites=40, noise=0.35, seed=2)
    h = 13
    last = df["ds"].max() - pd.Timedelta(weeks=h)
    hist = df[df["ds"] <= last]
    actual = truth[:, -h:]  # the noise-free mean of the held-out weeks

    def mae(model: str) -> float:
        out = Forecaster(freq="W", model=model).fit(hist).predict(h, levels=())
        pred = out.pivot(index="unique_id", columns="ds", values="y_hat").to_numpy()
        return float(np.abs(pred - actual).mean())

    assert mae("snaive_svd") < 0.9 * mae("snaive_smooth")


# ------------------------------------------------------------------ default model rules


def _seasonal(n_series: int, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI")
    t = np.arange(n)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": ds,
                    "y": 40 * (1 + 0.3 * np.sin(2 * np.pi * t / M)) + rng.normal(0, 3, n),
                }
            )
            for i in range(n_series)
        ],
        ignore_index=True,
    )


def test_combine_zeroes_dead_series_and_routes_intermittent_ones() -> None:
    Y = np.array(
        [
            [5, 6, 7, 8, 9, 9, 9, 0, 0, 0, 0],  # smooth, stopped selling
            [5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9],  # smooth, selling
            [0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0],  # intermittent, a usual gap
            [0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # intermittent, gone for longer than ever
        ],
        dtype=float,
    )
    members = {name: np.full((4, 2), 4.0) for name in fm.MODELS["default"]}
    members["intermittent"] = np.full((4, 2), 1.0)
    inter = np.array([False, False, True, True])
    routed = fm._combine("default", members, inter, Y, route=True)
    assert routed.tolist() == [[0.0, 0.0], [4.0, 4.0], [1.0, 1.0], [0.0, 0.0]]
    kept = fm._combine("default", members, inter, Y, route=False)
    assert kept.tolist() == [[0.0, 0.0], [4.0, 4.0], [4.0, 4.0], [0.0, 0.0]]
    # single members are plain: no rules
    assert fm._combine("lgbm", members, np.ones(4, bool), Y).tolist() == [[4.0, 4.0]] * 4


def test_combine_floors_negative_forecasts_unless_the_series_nets_negative() -> None:
    Y = np.array([[5.0, -2, 3, 1, 2], [-5.0, -2, 1, -3, -1]])
    members = {name: np.array([[-1.0, 2.0], [-1.0, 2.0]]) for name in fm.MODELS["default"]}
    point = fm._combine("default", members, np.zeros(2, bool), Y, route=False)
    assert point.tolist() == [[0.0, 2.0], [-1.0, 2.0]]


@pytest.mark.slow
def test_default_forecasts_zero_for_a_series_that_stopped_selling() -> None:
    df = _seasonal(6, 120, seed=4)
    dead = df["unique_id"].eq("s0") & (df["ds"] > df["ds"].max() - pd.Timedelta(weeks=6))
    df.loc[dead, "y"] = 0.0
    out = Forecaster(freq="W", model="default").fit(df).predict(6, levels=(80,))
    s0 = out[out["unique_id"] == "s0"]
    assert (s0["y_hat"] == 0.0).all() and (s0["lo_80"] == 0.0).all()
    others = out[out["unique_id"] != "s0"]
    assert (others["y_hat"] > 15).all()


def _mixed(seasonal_intermittent: bool, seed: int) -> pd.DataFrame:
    """Smooth seasonal series plus intermittent ones: i.i.d. Bernoulli demand, or demand that only
    occurs in the same 12 weeks of every year (ADI >= 1.32 too, but seasonal naive knows when)."""
    rng = np.random.default_rng(seed)
    n = 170  # the 26 weeks after the end hold the selling weeks; the 26 before it do not
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI")
    frames = [_seasonal(8, n, seed)]
    t = np.arange(n)
    for i in range(12):
        if seasonal_intermittent:
            y = np.where((t % M >= 30) & (t % M < 42), 30 + rng.normal(0, 2, n), 0.0)
        else:
            y = (rng.random(n) < 0.2) * (rng.poisson(2, n) + 1.0)
        frames.append(pd.DataFrame({"unique_id": f"i{i}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
@pytest.mark.parametrize(("seasonal_intermittent", "expect_route"), [(False, True), (True, False)])
def test_intermittent_routing_is_decided_on_the_calibration_refit(
    seasonal_intermittent: bool, expect_route: bool
) -> None:
    df = _mixed(seasonal_intermittent, seed=7)
    fc = Forecaster(freq="W", model="default").fit(df)
    panel, ctx = fc._panel, fc._ctx
    is_i = np.char.startswith(panel.uids.astype(str), "i")
    assert fm._intermittent_mask(panel.Y)[is_i].all() and not fm._intermittent_mask(panel.Y)[~is_i].any()
    _, route = fm.calibrate(panel, 26, ctx, ["default"], [80.0])
    assert route is expect_route
    out = fc.predict(26, levels=())
    inter = out[out["unique_id"].str.startswith("i")].pivot(index="unique_id", columns="ds", values="y_hat")
    if expect_route:  # Croston-type: flat, near the mean demand 0.2 * 3
        assert (
            np.allclose(inter.to_numpy(), inter.to_numpy()[:, :1])
            and abs(inter.to_numpy().mean() - 0.6) < 0.3
        )
    else:  # the ensemble follows the selling season (weeks 30-41 of the cycle)
        assert inter.to_numpy().max(axis=1).min() > 15


@pytest.mark.parametrize("trend_model", ["ZNN", "ZZN"])
def test_the_array_mstl_gives_statsforecasts_numbers(trend_model: str) -> None:
    """The MSTL member computed on arrays equals StatsForecast's MSTL(AutoETS) bit for bit, on
    seasonal, flat, zero, trending, short (the naive fallback) and late-starting series, in one
    process and split over two."""
    import dataclasses

    rng = np.random.default_rng(3)
    ds = pd.date_range("2020-01-03", periods=130, freq="W-FRI")
    k = np.arange(130)
    rows = {
        "season": 50 + 10 * np.sin(k * 2 * np.pi / 52) + rng.normal(0, 2, 130),
        "trend": 20 + 0.3 * k + 5 * np.cos(k * 2 * np.pi / 52) + rng.normal(0, 1, 130),
        "flat": np.full(130, 7.0),
        "zeros": np.zeros(130),
        "lumpy": rng.poisson(0.4, 130).astype(float) * 5,
    }
    frames = [pd.DataFrame({"unique_id": u, "ds": ds, "y": y}) for u, y in rows.items()]
    frames.append(pd.DataFrame({"unique_id": "short", "ds": ds[-60:], "y": rng.normal(10, 1, 60)}))
    frames.append(pd.DataFrame({"unique_id": "late", "ds": ds[-110:], "y": 30 + rng.normal(0, 3, 110)}))
    fc = Forecaster(freq="W", season_length=52).fit(pd.concat(frames, ignore_index=True))
    panel, ctx = fc._panel, fc._ctx
    ref = km.mstl_ets(panel, 39, dataclasses.replace(ctx, statsforecast_mstl=True), trend_model)
    assert np.isfinite(ref).all()
    assert np.array_equal(km.mstl_ets(panel, 39, ctx, trend_model), ref)
    big = panel.subset(np.repeat(np.arange(panel.n), 16))  # 112 rows: split over 2 processes
    assert np.array_equal(km.mstl_ets(big, 39, dataclasses.replace(ctx, n_jobs=2), trend_model),
                          np.repeat(ref, 16, axis=0))


@pytest.mark.slow
def test_lightgbm_threads_and_histogram_layout_leave_the_forecasts_unchanged() -> None:
    """The LightGBM member's threads follow the idle cores (``lgbm_threads``): that is only safe
    because they never change the model. 1 and 2 threads, row- and column-wise histograms: the same
    forecasts, bit for bit."""
    import dataclasses

    df, _ = product_panel(n_products=3, n_sites=12, n=120, noise=0.3, seed=4)
    ds = np.sort(df["ds"].unique())
    ds = np.concatenate([ds, ds[-1] + np.arange(1, 14) * np.timedelta64(7, "D")])
    rng = np.random.default_rng(9)
    exog = pd.concat(
        pd.DataFrame({"unique_id": u, "ds": ds, "x_promo": (rng.random(len(ds)) < 0.2).astype(float)})
        for u in df["unique_id"].unique()
    )
    fc = Forecaster(freq="W", model="lgbm", n_jobs=2).fit(df, exog)
    panel, ctx = fc._panel, fc._ctx
    layouts = ({"n_jobs": 1}, {"n_jobs": 2}, {"n_jobs": 2, "force_row_wise": False, "force_col_wise": True})
    runs = [  # fewer trees than the member's 250 keep the test short; the claim holds for any number
        km.lightgbm_global(panel, 13, dataclasses.replace(ctx, lgbm_params={**params, "n_estimators": 60}))
        for params in layouts
    ]
    assert np.isfinite(runs[0]).all()
    for other in runs[1:]:
        assert np.array_equal(other, runs[0])


@pytest.mark.parametrize(
    ("cores", "load", "n_jobs", "threads"),
    [
        (2, 0.0, 2, 1),  # 2 cores: one spare, so one thread however quiet the machine
        (2, 7.5, 2, 1),
        (16, 0.5, 8, 8),
        (16, 1.0, 32, 15),
        (16, 10.0, 8, 6),  # 9 cores busy besides this process: 7 idle, one kept spare
        (16, 30.0, 8, 1),
        (16, 0.0, 1, 1),
    ],
)
def test_lightgbm_threads_are_the_idle_cores_less_one_at_most_n_jobs(
    monkeypatch: pytest.MonkeyPatch, cores: int, load: float, n_jobs: int, threads: int
) -> None:
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert km.lgbm_threads(n_jobs) == threads


def test_the_svd_members_share_one_denoised_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    """``mstl_ses_svd`` and ``snaive_svd`` are their raw members on the group-denoised histories of
    their rows; the SVD pass runs once for both (it was run per member)."""
    import dataclasses

    df, _ = product_panel(n_products=2, n_sites=15, n=120, seed=2)
    fc = Forecaster(freq="W", model="default").fit(df)
    panel, ctx = fc._panel, fc._ctx
    orig = km.svd_denoise
    calls: list[int] = []

    def counting(Y: np.ndarray, groups: np.ndarray | None, rank: int = 12) -> np.ndarray:
        calls.append(len(Y))
        return orig(Y, groups, rank)

    monkeypatch.setattr(km, "svd_denoise", counting)
    inter = np.zeros(panel.n, bool)
    inter[[0, 7, 20]] = True  # served by the intermittent member: the smooth ones see the others
    members = fm._member_forecasts(
        panel, 13, ctx, {"mstl_ses_svd", "snaive_svd"}, inter, None, smooth_all=False
    )
    assert calls == [panel.n - 3]
    sub = panel.subset(~inter)
    den = dataclasses.replace(sub, Y=orig(sub.Y, sub.groups, fm.SVD_RANK))
    assert np.isnan(members["snaive_svd"][inter]).all() and np.isnan(members["mstl_ses_svd"][inter]).all()
    assert np.array_equal(members["snaive_svd"][~inter], km.smoothed_seasonal_naive(den.Y, 13, M))
    assert np.array_equal(members["mstl_ses_svd"][~inter], km.mstl_ets(den, 13, ctx, trend_model="ZNN"))
