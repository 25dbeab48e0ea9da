"""RUL model with conformal intervals, PHM08 score, and the C-MAPSS loader."""

from __future__ import annotations

import gzip
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from supplynet.datasets.cmapss import (
    CMAPSS_COLUMNS,
    generate_wear_fleet,
    load_cmapss,
    truncate_units,
    write_cmapss_folder,
)
from supplynet.errors import DataError, ModelError
from supplynet.sense.health.rul import (
    RulDistribution,
    RulModel,
    evaluate_last_cycle,
    phm08_score,
    rul_targets,
)
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "data")) / "cmapss"
FAST = dict(n_estimators=60, n_folds=3)


@pytest.fixture(scope="module")
def fleet() -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    train = generate_wear_fleet(24, seed=1, regimes=3)
    test, rul = truncate_units(generate_wear_fleet(30, seed=2, regimes=3), seed=3)
    return train, test, rul


@pytest.fixture(scope="module")
def model(fleet: tuple[pd.DataFrame, pd.DataFrame, np.ndarray]) -> RulModel:
    return RulModel(**FAST).fit(fleet[0])


def test_phm08_score_penalizes_late_more_than_early() -> None:
    assert phm08_score(np.array([10.0]), np.array([10.0])) == 0.0
    early = phm08_score(np.array([0.0]), np.array([13.0]))
    late = phm08_score(np.array([23.0]), np.array([13.0]))
    assert early == pytest.approx(np.e - 1) and late == pytest.approx(np.e - 1)
    assert phm08_score(np.array([20.0]), np.array([10.0])) > phm08_score(np.array([0.0]), np.array([10.0]))


def test_rul_targets_are_capped_countdowns() -> None:
    units = np.array([1, 1, 1, 2, 2])
    cycles = np.array([1, 2, 3, 1, 2])
    assert rul_targets(units, cycles, None).tolist() == [2, 1, 0, 1, 0]
    assert rul_targets(units, cycles, 1.0).tolist() == [1, 1, 0, 1, 0]


def test_model_learns_the_regimes_and_beats_the_mean(model: RulModel, fleet) -> None:
    _, test, rul = fleet
    assert model.normalizer_.conditions.k == 3
    assert "s_1" not in model.normalizer_.kept  # constant sensor dropped
    res = evaluate_last_cycle(model, test, rul)
    capped = np.minimum(rul, 125)
    baseline = float(np.sqrt(np.mean((capped - capped.mean()) ** 2)))
    assert res["rmse_capped"] < 0.6 * baseline
    assert res["n_units"] == 30
    assert 0.5 <= res["interval_coverage"] <= 1.0
    assert res["rmse"] >= res["rmse_capped"] - 1e-9


def test_distribution_is_consistent_with_intervals(model: RulModel) -> None:
    d = model.distribution(40.0)
    assert isinstance(d, RulDistribution)
    lo, hi = d.interval(0.8)
    lo95, hi95 = d.interval(0.95)
    assert lo95 <= lo < 40.0 < hi <= hi95
    probs = [d.prob_fail_before(h) for h in (0, lo, 40, hi, 1e9)]
    assert probs == sorted(probs) and probs[-1] == 1.0
    vec = model.prob_fail_before(np.array([40.0, 40.0]), np.array([lo, hi]))
    assert vec[0] == pytest.approx(d.prob_fail_before(lo)) and vec[1] == pytest.approx(d.prob_fail_before(hi))
    assert (d.samples >= 0).all()


def test_failing_units_have_lower_rul_and_driving_sensors(model: RulModel, fleet) -> None:
    _, test, _ = fleet
    x, units, _ = model.features(test)
    p = model.predict_features(x)
    last = np.r_[np.flatnonzero(units[1:] != units[:-1]), len(units) - 1]
    worst = last[np.argmin(p[last])]
    drivers = model.driving_sensors(x[worst], top=3)
    assert 1 <= len(drivers) <= 3 and all(c < 0 for _, c in drivers)
    wear_sensors = {"s_2", "s_3", "s_4", "s_7", "s_11", "s_12", "s_15", "s_20"}
    assert drivers[0][0] in wear_sensors


def test_save_load_roundtrip(model: RulModel, fleet, tmp_path: Path) -> None:
    _, test, _ = fleet
    path = model.save(tmp_path / "m" / "rul.json")
    body = json.loads(path.read_text())  # data, not code: JSON with LightGBM's own text model format
    assert body["format"] == "supplynet.rul/2" and body["lightgbm_models"][0].startswith("tree\nversion=")
    again = RulModel.load(path)
    pd.testing.assert_frame_equal(model.predict_last(test), again.predict_last(test))
    x, _, _ = model.features(test)
    assert np.array_equal(model.predict_features(x), again.predict_features(x))
    a, b = model.driving_sensors(x[-1]), again.driving_sensors(x[-1])
    assert [n for n, _ in a] == [n for n, _ in b] and [c for _, c in a] == pytest.approx([c for _, c in b])
    assert again.save(tmp_path / "again.json").read_text() == path.read_text()
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="not a supplynet RUL model"):
        RulModel.load(tmp_path / "junk.pkl")
    with pytest.raises(DataError, match="not found"):
        RulModel.load(tmp_path / "missing.pkl")


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('ran')",))


def test_pickled_models_are_refused_never_unpickled(model: RulModel, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, obj in (("old.pkl", {"format": "supplynet.rul/1", "model": model}), ("evil.pkl", _Boom())):
        (tmp_path / name).write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
        with pytest.raises(ModelError, match="pickled model .* is refused"):
            RulModel.load(tmp_path / name)
    assert not (tmp_path / "PWNED").exists()
    (tmp_path / "other.json").write_text('{"format": "supplynet.rul/2", "params": {}}')
    with pytest.raises(ModelError, match="damaged"):
        RulModel.load(tmp_path / "other.json")


def test_model_errors(fleet) -> None:
    train = fleet[0]
    with pytest.raises(ModelError, match="not fitted"):
        RulModel().distribution(3.0)
    with pytest.raises(DataError, match="missing columns"):
        RulModel(**FAST).fit(train.drop(columns=["s_3"]))
    with pytest.raises(DataError, match="at least n_folds"):
        RulModel(**FAST).fit(train[train["unit"] <= 2])
    with pytest.raises(ValueError, match="cap"):
        RulModel(cap=-1)


def test_cmapss_loader_plain_and_gzipped(fleet, tmp_path: Path) -> None:
    train, test, rul = fleet
    for gz in (False, True):
        folder = write_cmapss_folder(tmp_path / str(gz), "FD009", train, test, rul, gz=gz)
        ds = load_cmapss(folder, "FD009")
        assert list(ds.train.columns) == CMAPSS_COLUMNS
        assert len(ds.train) == len(train) and len(ds.test) == len(test)
        assert np.allclose(ds.rul, rul) and ds.test_units.tolist() == sorted(test["unit"].unique())


def test_cmapss_loader_errors(fleet, tmp_path: Path) -> None:
    train, test, rul = fleet
    folder = write_cmapss_folder(tmp_path / "d", "FD001", train, test, rul)
    with pytest.raises(DataError, match="RUL_FD001"):
        (folder / "RUL_FD001.txt").unlink()
        load_cmapss(folder, "FD001")
    with gzip.open(folder / "RUL_FD001.txt.gz", "wt") as fh:
        fh.write("1\n2\n")
    with pytest.raises(DataError, match="2 RUL values for 30 test units"):
        load_cmapss(folder, "FD001")
    (folder / "train_FD001.txt").write_text("1 1 0.1 0.2\n")
    with pytest.raises(DataError, match="line 1 has 4 columns, expected 26"):
        load_cmapss(folder, "FD001")
    with pytest.raises(DataError, match="subset"):
        load_cmapss(folder, "X1")
    with pytest.raises(DataError, match="folder not found"):
        load_cmapss(tmp_path / "none", "FD001")


@pytest.mark.data
@pytest.mark.slow
def test_fd001_small_model_is_accurate_and_calibrated() -> None:
    if not DATA.is_dir():
        require_or_skip(f"C-MAPSS data not found at {DATA}", "data")
    ds = load_cmapss(DATA, "FD001")
    # the claim (bench/maintenance.py): rmse_capped <= 11.5 on FD001 and 80% intervals covering
    # 0.75-0.85. This smaller model (a third of the time) measured 10.99-11.22 and 0.78-0.82 on seeds
    # 0-2; the guard is the claim itself on every seed, no tolerance added
    for seed in (0, 1, 2):
        m = RulModel(n_estimators=150, learning_rate=0.08, n_folds=3, max_rows=6000, seed=seed).fit(ds.train)
        res = evaluate_last_cycle(m, ds.test, ds.rul)
        assert res["rmse_capped"] <= 11.5, (seed, res["rmse_capped"])
        assert 0.75 <= res["interval_coverage"] <= 0.85, (seed, res["interval_coverage"])


def test_tracker_follows_a_unit_reading_by_reading(model: RulModel, fleet) -> None:
    from supplynet.datasets.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
    from supplynet.sense.health.rul import RulTracker

    _, test, _ = fleet
    unit = test[test["unit"] == test["unit"].iloc[-1]]
    tracker = RulTracker(model)
    for _, row in unit.iterrows():
        d = tracker.update(row[SETTING_COLUMNS].to_numpy(float), row[SENSOR_COLUMNS].to_numpy(float))
    batch = model.predict_last(unit)
    assert d.point == pytest.approx(float(batch["rul"].iloc[0]))
    assert d.interval(0.8) == pytest.approx((float(batch["lo"].iloc[0]), float(batch["hi"].iloc[0])))
    assert all(c < 0 for _, c in tracker.driving_sensors())
    with pytest.raises(DataError, match="expected 3 and 21"):
        tracker.update([0.0], [1.0])
    tracker.reset()
    assert tracker.driving_sensors() == []


def test_demo_model_cache_is_json_and_reused(fleet, tmp_path: Path, monkeypatch) -> None:
    from supplynet import demo

    train = fleet[0]
    first = demo.rul_model(tmp_path, train, "generated wear")
    cached = list(tmp_path.glob("rul-*"))
    assert len(cached) == 1 and cached[0].suffix == ".json" and cached[0].read_bytes()[:1] == b"{"

    def no_training(*a, **k):
        raise AssertionError("the cached model should have been loaded, not trained again")

    monkeypatch.setattr(RulModel, "fit", no_training)
    again = demo.rul_model(tmp_path, train, "generated wear")
    x, _, _ = first.features(fleet[1])
    assert np.array_equal(first.predict_features(x), again.predict_features(x))
