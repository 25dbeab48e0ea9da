"""Forecast distributions (long format: unique_id, ds, y_hat, lo/hi) feed the engine's demand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from supplynet.errors import DataError
from supplynet.sim import _kernel as K
from supplynet.sim.demand import demand_from_forecast, forecast_to_daily
from supplynet.sim.engine import Simulation
from supplynet.sim.network import SimNetwork

Z80 = stats.norm.ppf(0.9)


def two_items() -> SimNetwork:
    return SimNetwork.build(items=[("dc", "a"), ("dc", "b")], lead_time=2, demand_mean=[4.0, 6.0], name="two")


def weekly() -> pd.DataFrame:
    ds = pd.to_datetime(["2026-01-05", "2026-01-12", "2026-01-19"])
    return pd.DataFrame({"unique_id": "dc/a", "ds": ds, "y_hat": [70.0, 140.0, 210.0],
                         "lo_80": [70 - 14 * Z80, 140 - 28 * Z80, 210 - 28 * Z80],
                         "hi_80": [70 + 14 * Z80, 140 + 28 * Z80, 210 + 28 * Z80]})


def test_weekly_forecast_becomes_per_day_mean_and_std():
    net = demand_from_forecast(two_items(), pd.concat([weekly(), pd.DataFrame(
        {"unique_id": ["elsewhere/x"], "ds": [pd.Timestamp("2026-01-05")], "y_hat": [1.0], "lo_80": [0.0],
         "hi_80": [2.0]})]))
    assert net.dem_mean.shape == (21, 2)
    np.testing.assert_allclose(net.dem_mean[:7, 0], 10.0)
    np.testing.assert_allclose(net.dem_mean[7:14, 0], 20.0)
    np.testing.assert_allclose(net.dem_mean[14:, 0], 30.0)
    np.testing.assert_allclose(net.dem_std[:7, 0], 14.0 / np.sqrt(7))   # weekly sigma 14 over 7 independent days
    np.testing.assert_allclose(net.dem_std[7:, 0], 28.0 / np.sqrt(7))
    np.testing.assert_allclose(net.dem_mean[:, 1], 6.0)                 # no forecast: the network's own demand
    assert net.dem_kind[0] == 2 and net.dem_kind[1] == 0
    assert net.meta["forecast_unmatched"] == ["elsewhere/x"]


def test_start_before_the_forecast_keeps_the_network_demand_then_follows_it():
    net = demand_from_forecast(two_items(), weekly(), start="2026-01-01")
    np.testing.assert_allclose(net.dem_mean[:4, 0], 4.0)
    np.testing.assert_allclose(net.dem_mean[4:11, 0], 10.0)


def test_simulated_weekly_demand_matches_the_forecast_distribution():
    net = demand_from_forecast(two_items(), weekly())
    net = net.replace(dem_kind=np.array([net.dem_kind[0], -1]))  # only the forecast item
    res = Simulation(net, horizon=28, replications=2000, seed=4).run().result()
    weeks = res.daily[:, :, K.D_DEMAND].reshape(2000, 4, 7).sum(axis=2)
    se = weeks.std(axis=0) / np.sqrt(2000)
    np.testing.assert_allclose(weeks.mean(axis=0), [70, 140, 210, 210], atol=4 * se.max() + 0.5)
    # weekly spread: the forecast's sigma (14, then 28); rounding adds about 1/12 per day
    np.testing.assert_allclose(weeks.std(axis=0), [14, 28, 28, 28], rtol=0.08)


def test_plain_lo_hi_columns_and_poisson_without_intervals():
    fc = weekly().rename(columns={"lo_80": "lo", "hi_80": "hi"})
    d = forecast_to_daily(fc, level=80)
    np.testing.assert_allclose(d["std"].iloc[0], 14.0 / np.sqrt(7))
    net = demand_from_forecast(two_items(), weekly()[["unique_id", "ds", "y_hat"]])
    assert net.dem_kind[0] == 0  # Poisson at the forecast mean
    np.testing.assert_allclose(net.dem_mean[:7, 0], 10.0)


def test_custom_keys_and_daily_forecaster_output():
    from supplynet.sense.demand.forecast import Forecaster

    ds = pd.date_range("2025-01-01", periods=84, freq="D")
    rng = np.random.default_rng(0)
    hist = pd.DataFrame({"unique_id": "A@DC", "ds": ds, "y": rng.poisson(12, 84).astype(float)})
    fc = Forecaster(freq="D", season_length=7, model="seasonal_naive").fit(hist).predict(14)
    net = demand_from_forecast(two_items(), fc, key={"A@DC": ("dc", "a")})
    assert net.dem_mean.shape == (14, 2)
    np.testing.assert_allclose(net.dem_mean[:, 0], fc["y_hat"].clip(lower=0).to_numpy())
    half = (fc["hi_80"] - fc["lo_80"]).to_numpy() / 2
    np.testing.assert_allclose(net.dem_std[:, 0], half / Z80)
    net2 = demand_from_forecast(two_items(), fc.assign(unique_id="dc:a"), key=lambda site, sku: f"{site}:{sku}")
    np.testing.assert_allclose(net2.dem_mean, net.dem_mean)


@pytest.mark.parametrize("frame, match", [
    (pd.DataFrame({"unique_id": ["dc/a"], "y_hat": [1.0]}), r"columns \['ds', 'unique_id', 'y_hat'\]"),
    (pd.DataFrame({"unique_id": ["dc/a"], "ds": ["2026-01-01"], "y_hat": ["many"]}), r"y_hat: not a number"),
    (pd.DataFrame({"unique_id": ["dc/a"], "ds": ["2026-01-01"], "y_hat": [3.0], "lo_80": [5.0],
                   "hi_80": [1.0]}), r"lo_80/hi_80: bad interval"),
    (pd.DataFrame({"unique_id": ["nowhere"], "ds": ["2026-01-01"], "y_hat": [3.0]}), r"no unique_id matches"),
])
def test_bad_forecast_frames_are_named(frame, match):
    with pytest.raises(DataError, match=match):
        demand_from_forecast(two_items(), frame)


def test_cli_reads_a_forecast_file(tmp_path):
    import json

    from typer.testing import CliRunner

    from supplynet.commands.simulate import app
    from supplynet.model import example_path

    fc = pd.DataFrame({"unique_id": "STORE-1/MILK-2L", "ds": pd.date_range("2026-01-05", periods=3, freq="W-MON"),
                       "y_hat": [7 * 400.0] * 3, "lo_80": [7 * 300.0] * 3, "hi_80": [7 * 500.0] * 3})
    fc.to_csv(tmp_path / "fc.csv", index=False)
    args = ["--network", str(example_path("tiny")), "--replications", "8", "--horizon", "14", "--no-baseline",
            "--scenario", "plant_breakdown"]
    plain = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "a")])
    surge = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "b"), "--forecast", str(tmp_path / "fc.csv")])
    assert plain.exit_code == 0 and surge.exit_code == 0, surge.output
    a = json.loads((tmp_path / "a" / "report.json").read_text())
    b = json.loads((tmp_path / "b" / "report.json").read_text())

    def store1_demand(doc):
        return next(r["mean"] for r in doc["sites"] if r["site"] == "STORE-1" and r["metric"] == "demand")

    # STORE-1 milk goes from 45 to 400 a day (bread stays at 60): 14 days x (60 + 45) -> 14 x (60 + 400)
    assert store1_demand(a) == pytest.approx(14 * 105, rel=0.1)
    assert store1_demand(b) == pytest.approx(14 * 460, rel=0.1)
