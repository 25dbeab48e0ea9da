"""`supplynet maintenance train|evaluate` on a generated C-MAPSS folder (and the real one, if present)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supplynet.commands.maintenance import app
from supplynet.datasets.cmapss import generate_wear_fleet, truncate_units, write_cmapss_folder
from supplynet.errors import DataError
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")) / "cmapss"
runner = CliRunner()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    train = generate_wear_fleet(15, seed=1, life_range=(100, 160))
    test, rul = truncate_units(generate_wear_fleet(12, seed=2, life_range=(100, 160)), seed=3)
    return write_cmapss_folder(tmp_path_factory.mktemp("cmapss"), "FD001", train, test, rul, gz=True)


def test_train_then_evaluate_prints_json(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    res = runner.invoke(app, ["train", "--data", str(folder), "--subset", "FD001", "--out", str(out),
                              "--trees", "60", "--folds", "3"])
    assert res.exit_code == 0, res.output
    trained = json.loads(res.stdout.strip().splitlines()[-1])
    assert trained["n_units"] == 15 and trained["regimes"] == 1 and out.is_file()
    res = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(folder), "--subset", "fd001"])
    assert res.exit_code == 0, res.output
    ev = json.loads(res.stdout.strip().splitlines()[-1])
    for key in ("rmse", "rmse_capped", "phm08_score", "interval_coverage", "n_units"):
        assert key in ev
    assert ev["n_units"] == 12
    assert 0 <= ev["interval_coverage"] <= 1 and ev["rmse_capped"] <= ev["rmse"] + 1e-9
    assert ev["rmse_capped"] < 40


def test_missing_file_raises_data_error(folder: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["train", "--data", str(folder), "--subset", "FD002", "--out", str(tmp_path / "m")])
    assert res.exit_code != 0
    assert isinstance(res.exception, DataError) and "train_FD002" in str(res.exception)


def test_wrong_column_count_raises_data_error(tmp_path: Path) -> None:
    (tmp_path / "train_FD001.txt").write_text("1 1 0.0 0.0 100 1 2 3\n")
    res = runner.invoke(app, ["train", "--data", str(tmp_path), "--subset", "FD001", "--out", str(tmp_path / "m")])
    assert isinstance(res.exception, DataError) and "expected 26" in str(res.exception)


def test_evaluate_needs_a_model_file(folder: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["evaluate", "--model", str(tmp_path / "none.pkl"), "--data", str(folder),
                              "--subset", "FD001"])
    assert isinstance(res.exception, DataError)


@pytest.mark.data
@pytest.mark.slow
def test_cli_on_real_fd003(tmp_path: Path) -> None:
    if not DATA.is_dir():
        require_or_skip(f"C-MAPSS data not found at {DATA}", "data")
    out = tmp_path / "fd3.pkl"
    res = runner.invoke(app, ["train", "--data", str(DATA), "--subset", "FD003", "--out", str(out)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["evaluate", "--model", str(out), "--data", str(DATA), "--subset", "FD003"])
    ev = json.loads(res.stdout.strip().splitlines()[-1])
    assert ev["n_units"] == 100 and ev["rmse_capped"] < 13.0
