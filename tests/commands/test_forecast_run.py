"""``supplynet forecast run``: forecasts out, in Nixtla long format, from a file or the log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.sense.demand.forecast import Forecaster
from supplynet.sense.demand.forecast_run import run_forecast

runner = CliRunner()


def _history(n: int = 104) -> pd.DataFrame:
    """Four smooth seasonal series and three intermittent ones (a sale every ~4 weeks)."""
    rng = np.random.default_rng(3)
    ds = pd.date_range("2023-01-06", periods=n, freq="W-FRI")
    t = np.arange(n)
    frames = [pd.DataFrame({"unique_id": f"S{i}/SMOOTH", "ds": ds,
                            "y": 50 + 10 * i + 12 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 3, n)})
              for i in range(4)]
    frames += [pd.DataFrame({"unique_id": f"S{i}/SPARE-PART", "ds": ds,
                             "y": np.where(rng.random(n) < 0.25, rng.integers(1, 6, n), 0).astype(float)})
               for i in range(3)]
    return pd.concat(frames, ignore_index=True)


def _ordered(frame: pd.DataFrame) -> bool:
    cols = ["lo-95", "lo-80", "mean", "hi-80", "hi-95"]
    v = frame[cols].to_numpy()
    return bool((np.diff(v, axis=1) >= -1e-9).all())


def test_run_writes_nixtla_columns_ordered_bands_and_routes_intermittent_series(tmp_path: Path) -> None:
    data = tmp_path / "demand.csv"
    hist = _history()
    hist.to_csv(data, index=False)
    out = tmp_path / "fc.parquet"
    res = runner.invoke(app, ["forecast", "run", "--data", str(data), "--horizon", "6", "--freq", "W",
                              "--levels", "80,95", "--out", str(out)])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert info["series"] == 7 and info["rows"] == 42 and info["intermittent_series"] == 3
    fc = pd.read_parquet(out)
    assert list(fc.columns) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert _ordered(fc) and (fc["hi-95"] > fc["lo-95"]).all()
    last = pd.Timestamp(hist["ds"].max())
    assert fc.groupby("unique_id")["ds"].min().eq(last + pd.Timedelta(weeks=1)).all()
    assert fc.groupby("unique_id")["ds"].max().eq(last + pd.Timedelta(weeks=6)).all()
    # the intermittent series get the Croston-type models' forecasts when the calibration block says so
    spare = fc[fc["unique_id"].str.endswith("SPARE-PART")].sort_values(["unique_id", "ds"])
    if info["intermittent_routed"]:
        croston = Forecaster(freq="W", model="intermittent").fit(hist[hist["unique_id"].str.endswith("PART")])
        ref = croston.predict(6, levels=()).sort_values(["unique_id", "ds"])
        np.testing.assert_allclose(spare["mean"].to_numpy(), ref["y_hat"].to_numpy(), rtol=1e-9)
    assert (spare["mean"] < 3).all() and (spare["lo-80"] >= 0).all()  # a rate, not a spike; never negative
    smooth = fc[fc["unique_id"].str.endswith("SMOOTH")]
    assert smooth.groupby("unique_id")["mean"].mean().is_monotonic_increasing  # levels 50, 60, 70, 80


def test_run_to_csv_and_the_simulator_reads_it(tmp_path: Path) -> None:
    hist = _history(80)
    hist = hist[hist["unique_id"].str.endswith("SMOOTH")]
    out = tmp_path / "fc.csv"
    frame, info = run_forecast(hist, 4, freq="W", levels=(90,), model="snaive_smooth")
    assert list(frame.columns) == ["unique_id", "ds", "mean", "lo-90", "hi-90"] and not info["intermittent_routed"]
    frame.to_csv(out, index=False)
    from supplynet.sim.demand import forecast_to_daily

    daily = forecast_to_daily(pd.read_csv(out))
    assert len(daily) == 16 and np.allclose(daily["mean"].to_numpy() * 7, frame["mean"].to_numpy())


def test_run_from_the_log_sales_per_site_and_sku(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    key = tmp_path / "op.key"
    assert runner.invoke(app, ["devices", "add", "operator:me", "--operator", "--key-out", str(key),
                               "--store", url]).exit_code == 0
    rng = np.random.default_rng(1)
    days = pd.date_range("2024-01-01", periods=400, freq="D")
    rows = [(d.strftime("%Y-%m-%d"), site, sku, int(rng.poisson(lam)))
            for d in days for site, sku, lam in (("STORE-1", "BREAD-800G", 60), ("STORE-2", "MILK-2L", 70))]
    sales = tmp_path / "sales.csv"
    pd.DataFrame(rows, columns=["date", "store", "item", "units"]).to_csv(sales, index=False)
    res = runner.invoke(app, ["import", "sales", str(sales), "--store", url, "--operator-key", str(key)])
    assert res.exit_code == 0 and json.loads(res.stdout)["stored"] == 800, res.output
    out = tmp_path / "fc.csv"
    res = runner.invoke(app, ["forecast", "run", "--store", url, "--horizon", "4", "--freq", "W",
                              "--model", "snaive_smooth", "--levels", "80", "--out", str(out)])
    assert res.exit_code == 0, res.output
    fc = pd.read_csv(out)
    assert sorted(fc["unique_id"].unique()) == ["STORE-1/BREAD-800G", "STORE-2/MILK-2L"]
    weekly = fc.groupby("unique_id")["mean"].mean()
    assert weekly["STORE-1/BREAD-800G"] == pytest.approx(7 * 60, rel=0.1)
    assert weekly["STORE-2/MILK-2L"] == pytest.approx(7 * 70, rel=0.1)


@pytest.mark.parametrize("args, message", [
    (["--horizon", "4", "--out", "x.csv"], "give exactly one of --data FILE or --store URL"),
    (["--horizon", "4", "--data", "d.csv", "--out", "x.xlsx"], "use a .parquet or .csv file"),
    (["--horizon", "4", "--data", "d.csv", "--out", "x.csv", "--levels", "80,abc"], "expected numbers"),
    (["--horizon", "4", "--data", "d.csv", "--out", "x.csv", "--levels", "100"], "between 0 and 100"),
    (["--horizon", "4", "--data", "missing.csv", "--out", "x.csv"], "file not found"),
])
def test_run_refuses_bad_arguments_with_one_line(tmp_path: Path, monkeypatch, args, message) -> None:
    monkeypatch.chdir(tmp_path)
    _history(60).to_csv(tmp_path / "d.csv", index=False)
    res = runner.invoke(app, ["forecast", "run", *args])
    assert res.exit_code == 2 and message in res.stderr and "Traceback" not in res.output
