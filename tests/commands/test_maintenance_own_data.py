"""``supplynet maintenance train|evaluate`` on a company's own log (one CSV: unit, time, sensors)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.datasets.cmapss import generate_wear_fleet, load_cmapss, truncate_units
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")) / "cmapss"
runner = CliRunner()


def _json(res) -> dict:
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.data
def test_cmapss_as_plain_csv_reproduces_the_preset(tmp_path: Path) -> None:
    if not (DATA / "train_FD001.txt").exists():
        require_or_skip(f"C-MAPSS not found at {DATA}", "data")
    ds = load_cmapss(DATA, "FD001")
    ds.train.rename(columns={"unit": "engine"}).to_csv(tmp_path / "train.csv", index=False)
    ds.test.rename(columns={"unit": "engine"}).to_csv(tmp_path / "test.csv", sep=";", index=False)
    pd.DataFrame({"unit": ds.test_units, "rul": ds.rul}).sample(frac=1, random_state=1).to_csv(
        tmp_path / "truth.csv", index=False)  # any order: matched by unit
    small = ["--trees", "30", "--folds", "2", "--seed", "3"]
    preset = _json(runner.invoke(app, ["maintenance", "train", "--data", str(DATA), "--subset", "FD001",
                                       "--out", str(tmp_path / "a.pkl"), *small]))
    own = _json(runner.invoke(app, ["maintenance", "train", "--data", str(tmp_path / "train.csv"),
                                    "--unit-col", "engine", "--time-col", "cycle",
                                    "--setting-cols", "setting_1,setting_2", "--setting-cols", "setting_3",
                                    "--out", str(tmp_path / "b.pkl"), *small]))
    assert own["sensors"] == preset["sensors"] and own["n_units"] == 100 and own["time_unit"] == "cycles"
    a = _json(runner.invoke(app, ["maintenance", "evaluate", "--model", str(tmp_path / "a.pkl"), "--data",
                                  str(DATA), "--subset", "FD001"]))
    b = _json(runner.invoke(app, ["maintenance", "evaluate", "--model", str(tmp_path / "b.pkl"), "--data",
                                  str(tmp_path / "test.csv"), "--truth", str(tmp_path / "truth.csv")]))
    for key in ("rmse", "rmse_capped", "phm08_score", "interval_coverage", "n_units"):
        assert b[key] == a[key], key
    assert a["n_units"] == 100 and a["rmse_capped"] < 30


def test_timestamps_and_chosen_sensors(tmp_path: Path) -> None:
    fleet = generate_wear_fleet(14, seed=4, life_range=(90, 140))
    fleet = fleet.assign(machine="M" + fleet["unit"].astype(str),
                         when=pd.Timestamp("2025-01-01") + pd.to_timedelta(fleet["cycle"] * 6, unit="h"),
                         note="ok")
    sensors = ["s_2", "s_3", "s_4", "s_7", "s_11", "s_12"]
    fleet.drop(columns=["unit", "cycle"]).to_csv(tmp_path / "log.csv", index=False)
    test, rul = truncate_units(generate_wear_fleet(6, seed=5, life_range=(90, 140)), seed=6)
    test = test.assign(machine="M" + test["unit"].astype(str),
                       when=pd.Timestamp("2025-06-01") + pd.to_timedelta(test["cycle"] * 6, unit="h"))
    test.drop(columns=["unit", "cycle"]).to_csv(tmp_path / "held_out.csv", index=False)
    units = sorted(test["machine"].unique())
    pd.DataFrame({"unit": units, "rul": [r * 6 for r in rul]}).to_csv(tmp_path / "truth.csv", index=False)
    trained = _json(runner.invoke(app, ["maintenance", "train", "--data", str(tmp_path / "log.csv"), "--unit-col",
                                        "machine", "--time-col", "when", "--sensor-cols", ",".join(sensors),
                                        "--cap", "750", "--trees", "40", "--folds", "2",
                                        "--out", str(tmp_path / "m.pkl")]))
    assert trained["time_unit"] == "hours" and set(trained["sensors"]) <= set(sensors)
    ev = _json(runner.invoke(app, ["maintenance", "evaluate", "--model", str(tmp_path / "m.pkl"), "--data",
                                   str(tmp_path / "held_out.csv"), "--truth", str(tmp_path / "truth.csv")]))
    assert ev["n_units"] == 6 and list(ev)[2:7] == ["rmse", "rmse_capped", "phm08_score", "phm08_score_raw",
                                                    "interval_coverage"]
    assert ev["rmse_capped"] < 250  # hours; lives are 540-840 hours


def test_own_data_errors_are_one_line(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("unit,t,a\n1,1,0.5\n1,2,x\n")
    res = runner.invoke(app, ["maintenance", "train", "--data", str(f), "--out", str(tmp_path / "m.pkl")])
    assert res.exit_code == 2 and "name its --unit-col and --time-col" in res.stderr
    res = runner.invoke(app, ["maintenance", "train", "--data", str(f), "--unit-col", "unit", "--time-col", "t",
                              "--out", str(tmp_path / "m.pkl")])
    assert res.exit_code == 2 and "no numeric sensor column" in res.stderr
    res = runner.invoke(app, ["maintenance", "train", "--data", str(f), "--unit-col", "unit", "--time-col", "t",
                              "--sensor-cols", "a", "--out", str(tmp_path / "m.pkl")])
    assert res.exit_code == 2 and "column 'a' row 3: 'x' is not a number" in res.stderr
    res = runner.invoke(app, ["maintenance", "train", "--data", str(f), "--unit-col", "engine", "--time-col", "t",
                              "--out", str(tmp_path / "m.pkl")])
    assert res.exit_code == 2 and "no column 'engine'" in res.stderr
