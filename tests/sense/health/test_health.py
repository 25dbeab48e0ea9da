"""Health indicator, anomaly score and onset detection; the FEMTO loader."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from supplynet.datasets.femto import load_femto_run
from supplynet.errors import DataError
from supplynet.events import Alert
from supplynet.sense.health.features import snapshot_features
from supplynet.sense.health.health import Cusum, HealthModel, HealthMonitor, detect_onset
from supplynet.testing.require import require_or_skip

FEMTO = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "data")) / "femto-pronostia" / "Learning_set" / "Bearing3_1"


def _wear_run(rng: np.random.Generator, n: int = 400, change: int = 300) -> np.ndarray:
    """Three features: healthy noise, then exponential wear in two of them from ``change``."""
    x = rng.normal(0, 1, size=(n, 3))
    t = np.arange(n)
    wear = np.where(t >= change, np.expm1((t - change) / 20.0), 0.0)
    x[:, 0] += wear
    x[:, 1] += 0.5 * wear
    return x


def test_onset_fires_after_the_wear_starts_and_not_before() -> None:
    for seed in range(5):
        x = _wear_run(np.random.default_rng(seed))
        onset, scores = detect_onset(x, n_baseline=50)
        assert onset is not None and 300 <= onset < 360, (seed, onset)
        assert np.median(scores[60:300]) < 2.0
        assert scores[-1] > 50


def test_single_spike_does_not_fire_but_a_sustained_rise_does() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0, 1, size=(200, 2))
    x[120] += 40.0
    assert detect_onset(x, n_baseline=50)[0] is None
    x[150:] += 6.0
    assert detect_onset(x, n_baseline=50)[0] is not None


def test_streaming_verbs_and_reset() -> None:
    rng = np.random.default_rng(1)
    m = HealthModel(n_baseline=30)
    with pytest.raises(ValueError, match="baseline not complete"):
        m.score_one([0.0, 0.0])
    for _ in range(30):
        m.learn_one(rng.normal(size=2))
    assert not m.learning
    healthy, sick = m.score_one([0.0, 0.0]), m.score_one([8.0, 8.0])
    assert healthy < 1.0 < sick
    assert m.health(healthy) == 1.0 and 0 < m.health(sick) < 0.5
    m.reset()
    assert m.learning
    for _ in range(30):
        m.learn_one(rng.normal(loc=8.0, size=2))  # new baseline after maintenance
    assert m.score_one([8.0, 8.0]) < 1.0


def test_one_sided_score_ignores_falling_features() -> None:
    rng = np.random.default_rng(2)
    two, one = HealthModel(n_baseline=40), HealthModel(n_baseline=40, one_sided=True)
    for _ in range(40):
        v = rng.normal(size=2)
        two.learn_one(v)
        one.learn_one(v)
    assert two.score_one([-6.0, -6.0]) > 10
    assert one.score_one([-6.0, -6.0]) == 0.0
    assert one.score_one([6.0, 6.0]) > 10


def test_cusum_and_validation() -> None:
    c = Cusum(reference=1.0, threshold=3.0, clip=1.0)
    assert not c.update(100.0)  # clipped to +1
    assert not c.update(100.0)
    assert c.update(100.0)
    with pytest.raises(ValueError, match="threshold"):
        Cusum(threshold=0)
    with pytest.raises(ValueError, match="n_baseline"):
        HealthModel(n_baseline=1)


def test_monitor_raises_one_onset_per_asset_as_an_alert_event() -> None:
    rng = np.random.default_rng(3)
    mon = HealthMonitor(["temp", "vib", "noise"], n_baseline=50)
    sick, well = _wear_run(rng), rng.normal(size=(400, 3))
    onsets = []
    for i in range(400):
        for asset, x in (("M1", sick[i]), ("M2", well[i])):
            o = mon.update(asset, float(i), x)
            if o is not None:
                onsets.append(o)
    assert [o.asset for o in onsets] == ["M1"]
    assert onsets[0].features[0] == "temp"
    alert = onsets[0].to_alert("health", 1, datetime(2026, 1, 1, tzinfo=UTC))
    assert isinstance(alert, Alert) and alert.code == "anomaly_onset" and alert.subject == "M1"
    mon.reset("M1")
    assert mon.models["M1"].learning


def _write_snapshots(folder: Path, n: int, sep: str = ",") -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(1, n + 1):
        sec = 10 * i
        rows = [f"9{sep}{sec // 60}{sep}{sec % 60}{sep}{j * 39}{sep}{rng.normal():.3f}{sep}{rng.normal():.3f}"
                for j in range(64)]
        (folder / f"acc_{i:05d}.csv").write_text("\n".join(rows) + "\n")
    (folder / "temp_00001.csv").write_text("9,0,0,0,30.1\n")


@pytest.mark.parametrize("sep", [",", ";"])
def test_femto_loader_reads_snapshots_in_order(tmp_path: Path, sep: str) -> None:
    _write_snapshots(tmp_path / "Bearing9_9", 5, sep)
    run = load_femto_run(tmp_path / "Bearing9_9")
    assert run.acc.shape == (5, 64, 2)
    assert np.allclose(run.times_s, [0, 10, 20, 30, 40])
    feats, names = snapshot_features(run)
    assert feats.shape[0] == 5 and "h_rms" in names and "v_kurtosis" in names


def test_femto_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        load_femto_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no acc_"):
        load_femto_run(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "acc_00001.csv").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DataError, match="expected 6"):
        load_femto_run(bad)


@pytest.mark.data
@pytest.mark.slow
def test_femto_bearing3_1_onset_before_failure_and_not_in_first_half() -> None:
    if not FEMTO.is_dir():
        require_or_skip(f"FEMTO data not found at {FEMTO}", "data")
    run = load_femto_run(FEMTO)
    feats, names = snapshot_features(run)
    cols = [names.index(n) for n in ("h_rms", "h_peak", "v_rms", "v_peak")]
    onset, _ = detect_onset(feats[:, cols], n_baseline=50, one_sided=True)
    assert onset is not None
    assert onset >= len(run.times_s) // 2
    assert run.times_s[-1] - run.times_s[onset] > 0
