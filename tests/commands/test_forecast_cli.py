"""`supplynet forecast backtest` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from supplynet.commands.forecast import app
from supplynet.errors import DataError


def write_series(path: Path, n_series: int = 6, n: int = 120) -> Path:
    rng = np.random.default_rng(7)
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI")
    t = np.arange(n)
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"sku{i}@site{i % 2}",
                "ds": ds.strftime("%Y-%m-%d"),
                "y": 40 + 5 * i + 8 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 4, n),
                "weight": np.where(t % 13 == 0, 5.0, 1.0),
            }
        )
        for i in range(n_series)
    ]
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_backtest_prints_the_metrics_json(tmp_path: Path) -> None:
    data = write_series(tmp_path / "demand.csv")
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(data), "--horizon", "8", "--model", "snaive_smooth", "--n-windows", "2"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert list(out) == ["n_series", "n_skipped", "seconds", "model", "seasonal_naive", "seasonal_ets"]
    assert out["n_series"] == 6 and out["n_skipped"] == 0
    for key in ("model", "seasonal_naive", "seasonal_ets"):
        assert list(out[key]) == ["mase", "rmsse", "wmae", "coverage_80"]
        assert 0.0 <= out[key]["coverage_80"] <= 1.0
    assert out["model"]["mase"] < out["seasonal_naive"]["mase"]


def test_backtest_pools_a_group_column(tmp_path: Path) -> None:
    # 16 sites selling one product with one seasonal shape: the denoised member beats seasonal naive
    rng = np.random.default_rng(11)
    n = 120
    ds = pd.date_range("2019-01-04", periods=n, freq="W-FRI").strftime("%Y-%m-%d")
    t = np.arange(n)
    shape = 1 + 0.4 * np.sin(2 * np.pi * t / 52)
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "unique_id": f"sku1@site{s}",
                    "ds": ds,
                    "y": (30 + 3 * s) * shape * (1 + rng.normal(0, 0.3, n)),
                }
            ).assign(group="sku1")
            for s in range(16)
        ]
    )
    frame.to_csv(tmp_path / "demand.csv", index=False)
    args = ["backtest", "--data", str(tmp_path / "demand.csv"), "--horizon", "8", "--model", "snaive_svd"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["n_series"] == 16
    assert out["model"]["mase"] < 0.8 * out["seasonal_naive"]["mase"]
    frame.loc[frame.index[0], "group"] = "other"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    args[2] = str(tmp_path / "bad.csv")
    with pytest.raises(DataError, match="'group' must be constant per series"):
        CliRunner().invoke(app, args, catch_exceptions=False)


def test_backtest_accepts_an_exog_file(tmp_path: Path) -> None:
    data = write_series(tmp_path / "demand.csv", n_series=3)
    frame = pd.read_csv(data)
    frame[["unique_id", "ds"]].assign(temperature=np.linspace(0, 30, len(frame))).to_csv(
        tmp_path / "exog.csv", index=False
    )
    result = CliRunner().invoke(
        app,
        [
            "backtest",
            "--data",
            str(data),
            "--horizon",
            "4",
            "--exog",
            str(tmp_path / "exog.csv"),
            "--model",
            "lgbm",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.strip().splitlines()[-1])["n_series"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--freq", "fortnight"], "unknown freq"),
        (["--model", "prophet"], "unknown model"),
    ],
)
def test_bad_options_raise_data_errors(tmp_path: Path, args: list[str], message: str) -> None:
    data = write_series(tmp_path / "demand.csv", n_series=2)
    result = CliRunner().invoke(app, ["backtest", "--data", str(data), "--horizon", "4", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, DataError) and message in str(result.exception)


def test_missing_column_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"unique_id": ["a"], "ds": ["2020-01-03"], "qty": [1]}).to_csv(bad, index=False)
    result = CliRunner().invoke(app, ["backtest", "--data", str(bad), "--horizon", "4"])
    assert isinstance(result.exception, DataError) and "missing column(s) ['y']" in str(result.exception)
    result = CliRunner().invoke(app, ["backtest", "--data", str(tmp_path / "nope.csv"), "--horizon", "4"])
    assert isinstance(result.exception, DataError) and "not found" in str(result.exception)
