"""Features: learned operating regimes, per-regime normalization, window and waveform features."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from supplynet.sense.health.features import (
    BearingGeometry,
    ConditionNormalizer,
    OperatingConditions,
    WindowFeatures,
    WindowSpec,
    waveform_features,
    window_feature_names,
    window_features,
)
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "data")) / "cmapss"


def _regime_settings(rng: np.random.Generator, k: int, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.uniform([0, 0, 60], [40, 0.8, 100], size=(k, 3))
    lab = rng.integers(0, k, size=n)
    return centers[lab] + rng.normal(0, 0.003, size=(n, 3)) * [40, 0.8, 1], lab


@pytest.mark.parametrize("k", [3, 5])
def test_conditions_learns_the_number_of_regimes(k: int) -> None:
    rng = np.random.default_rng(k)
    x, lab = _regime_settings(rng, k)
    oc = OperatingConditions(seed=0).fit(x)
    assert oc.k == k
    pred = oc.predict(x)
    # same partition as the truth (labels may be permuted)
    for c in range(k):
        assert len(np.unique(pred[lab == c])) == 1


def test_conditions_noise_is_one_regime_and_no_settings_is_one_regime() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(0, 0.002, 800), rng.normal(0, 0.0003, 800), np.full(800, 100.0)])
    assert OperatingConditions().fit(x).k == 1
    oc = OperatingConditions().fit(np.zeros((50, 0)))
    assert oc.k == 1 and (oc.predict(np.zeros((4, 0))) == 0).all()


def test_normalizer_standardizes_per_regime_and_drops_constant_sensors() -> None:
    rng = np.random.default_rng(1)
    x, lab = _regime_settings(rng, 3)
    offsets = np.array([0.0, 50.0, -30.0])
    sensors = np.column_stack([
        100 + offsets[lab] + rng.normal(0, 1, len(lab)),  # regime-dependent, informative
        np.full(len(lab), 7.0),  # constant: dropped
        5 + offsets[lab] * 0.1,  # constant within each regime: dropped
    ])
    nz = ConditionNormalizer().fit(x, sensors, ["a", "const", "regime_only"])
    assert nz.kept == ["a"]
    z = nz.transform(x, sensors)
    assert z.shape == (len(lab), 1)
    pred = nz.conditions.predict(x)
    for c in range(3):
        assert abs(z[pred == c, 0].mean()) < 1e-9
        assert abs(z[pred == c, 0].std() - 1) < 1e-9


def test_window_features_on_a_ramp_are_exact() -> None:
    n = 50
    x = np.column_stack([2.0 * np.arange(n) + 3, np.ones(n)])
    groups = np.zeros(n, dtype=int)
    spec = WindowSpec(windows=(5,), slope_windows=(10,), spans=(4,), start=3)
    f = window_features(x, groups, spec)
    names = window_feature_names(["a", "b"], spec)
    assert f.shape == (n, len(names))
    col = {nm: f[:, i] for i, nm in enumerate(names)}
    assert col["age"][-1] == n
    assert col["a__last"][-1] == x[-1, 0]
    assert col["a__mean5"][-1] == pytest.approx(x[-5:, 0].mean())
    assert col["a__slope10"][-1] == pytest.approx(2.0)
    assert col["a__slope10"][0] == 0.0  # one point: no slope
    assert col["b__slope10"][-1] == pytest.approx(0.0)
    assert col["a__drift"][-1] > 0


def test_window_features_do_not_look_ahead_or_across_units() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 3))
    groups = np.repeat([1, 2], 30)
    f = window_features(x, groups)
    x2 = x.copy()
    x2[20:30] += 100.0  # change the future of unit 1
    f2 = window_features(x2, groups)
    assert np.allclose(f[:20], f2[:20])
    assert np.allclose(f[30:], f2[30:])  # unit 2 is unaffected
    alone = window_features(x[30:], groups[30:])
    assert np.allclose(f[30:], alone)


def test_incremental_features_equal_batch_features() -> None:
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=(80, 4)), axis=0)
    batch = window_features(x, np.zeros(80, dtype=int))
    inc = WindowFeatures(4)
    for i in range(80):
        assert np.allclose(inc.update(x[i]).get(), batch[i], atol=1e-9)
    inc.reset()
    assert np.allclose(inc.update(x[0]).get(), batch[0])
    with pytest.raises(ValueError, match="expected 4"):
        inc.update([1.0, 2.0])


def test_waveform_features_of_a_sine() -> None:
    fs, f0, a = 10_000.0, 1_250.0, 2.0
    t = np.arange(4096) / fs
    f = waveform_features(a * np.sin(2 * np.pi * f0 * t), fs, n_bands=4)
    assert f["rms"][0] == pytest.approx(a / np.sqrt(2), rel=1e-3)
    assert f["crest"][0] == pytest.approx(np.sqrt(2), rel=1e-2)
    assert f["kurtosis"][0] == pytest.approx(1.5, rel=1e-2)
    bands = np.array([f[f"band_{i}"][0] for i in range(4)])
    assert bands.argmax() == 1 and bands[1] > 0.99  # 1250 Hz lies in 1250-2500 Hz
    assert bands.sum() == pytest.approx(1.0)


def test_bearing_fault_bands_find_an_outer_race_defect() -> None:
    geo = BearingGeometry(n_elements=13, element_diameter=3.5, pitch_diameter=25.6)
    ff = geo.fault_frequencies(25.0)
    assert ff["bpfi"] > ff["bpfo"] > ff["ftf"] and ff["bpfo"] + ff["bpfi"] == pytest.approx(13 * 25.0)
    fs, n = 25_600.0, 25_600
    rng = np.random.default_rng(4)
    t = np.arange(n) / fs
    carrier = np.sin(2 * np.pi * 3_000 * t)
    impacts = (np.sin(2 * np.pi * ff["bpfo"] * t) > 0.95).astype(float)  # one burst per BPFO period
    healthy = rng.normal(0, 0.1, n)
    faulty = healthy + carrier * impacts
    f = waveform_features(np.vstack([healthy, faulty]), fs, shaft_hz=25.0, geometry=geo)
    assert f["env_bpfo"][1] > 5 * f["env_bpfo"][0]
    assert f["env_bpfo"][1] > 3 * f["env_bpfi"][1]
    assert f["kurtosis"][1] > f["kurtosis"][0]
    with pytest.raises(ValueError, match="pitch_diameter"):
        BearingGeometry(8, 10.0, 5.0)


@pytest.mark.data
@pytest.mark.slow
def test_cmapss_regimes_are_learned_six_for_fd002_one_for_fd001() -> None:
    if not DATA.is_dir():
        require_or_skip(f"C-MAPSS data not found at {DATA}", "data")
    from supplynet.datasets.cmapss import SETTING_COLUMNS, load_cmapss

    for subset, k in (("FD002", 6), ("FD001", 1)):
        train = load_cmapss(DATA, subset, test=False).train
        assert OperatingConditions().fit(train[SETTING_COLUMNS].to_numpy()).k == k
