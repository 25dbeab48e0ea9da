"""MachineWatch: a machine's own readings raise a work order before it fails, not early in life."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from supplynet.datasets.cmapss import generate_wear_fleet
from supplynet.decide.autonomy import parse_policy
from supplynet.decide.machines import MachineWatch
from supplynet.events import MachineReading, Maintenance, Waveform
from supplynet.model import example_path, load_network
from supplynet.sense.health.rul import RulModel
from supplynet.store import open_store
from supplynet.testing.require import require_or_skip

T0 = datetime(2026, 1, 5, tzinfo=UTC)
POLICY = parse_policy({"high_impact_cost": 1e9, "costly_action_cost": 1e9,
                       "kinds": {"maintain": {"level": "auto"}}})


@pytest.fixture(scope="module")
def model_and_unit():
    fleet = generate_wear_fleet(36, seed=4)
    train = fleet[fleet["unit"] <= 30]
    model = RulModel(n_estimators=120, n_folds=3, seed=1).fit(train)
    unit = fleet[fleet["unit"] == 33].sort_values("cycle")
    return model, unit


def _readings(unit):
    sc = [c for c in unit.columns if c.startswith("setting")]
    sn = [c for c in unit.columns if c.startswith("s_")]
    for i, row in enumerate(unit.itertuples(index=False)):
        d = row._asdict()
        yield MachineReading(source="SENS-OVEN-1", seq=i + 1, ts=T0 + timedelta(hours=i), asset_id="OVEN-1",
                             cycle=i + 1, settings={c: d[c] for c in sc}, sensors={c: d[c] for c in sn})


def test_work_order_before_failure_and_not_in_the_first_half(tmp_path, model_and_unit):
    model, unit = model_and_unit
    net = load_network(example_path("tiny"))
    life = len(unit)
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        watch = MachineWatch(net, model, POLICY, store)
        opened_at = None
        for r in _readings(unit):
            watch.observe(r)
            out = watch.decide(None, r.ts)
            if out and opened_at is None:
                opened_at = r.cycle
                d = out[0].decision
                assert d.kind == "maintain" and d.status == "executed"
                assert d.model_output["failure_probability"] > d.model_output["threshold"]
                lo, hi = d.model_output["rul_interval"]
                assert lo <= hi and d.model_output["driving_sensors"]
                assert [e.kind for e in out[0].events] == ["maintenance"]
            elif out:
                pytest.fail("a second work order while one is open")
        assert opened_at is not None, "no work order before the end of life"
        assert life / 2 < opened_at < life
        # a completed work order renews the asset: its history starts again, a new order may follow
        watch.observe(Maintenance(source="cmms", seq=1, ts=T0, asset_id="OVEN-1", action="completed"))
        assert "OVEN-1" not in watch.state.open and watch.assets["OVEN-1"].cycle == 0
        assert any(a.code == "rul" for a in watch.alerts)
        # the health model learned the machine's own early readings and saw the wear begin
        onsets = [a for a in watch.alerts if a.code == "anomaly_onset"]
        assert len(onsets) == 1 and onsets[0].subject == "OVEN-1"
        logged = [r.event for r in store.log.read(kinds=["alert"]) if r.event.code == "anomaly_onset"]
        assert logged == onsets
        onset_cycle = (onsets[0].ts - T0) / timedelta(hours=1) + 1
        assert 30 < onset_cycle < life, (onset_cycle, life)


def test_readings_of_other_sensors_are_ignored(tmp_path, model_and_unit):
    model, _ = model_and_unit
    net = load_network(example_path("tiny"))
    with open_store(f"sqlite:///{tmp_path / 'm.db'}") as store:
        watch = MachineWatch(net, model, POLICY, store)
        watch.observe(MachineReading(source="x", seq=1, ts=T0, asset_id="OVEN-1", sensors={"temp": 1.0}))
        assert watch.assets["OVEN-1"].cycle == 0 and watch.decide(None, T0) == []


def _vibration_readings(snapshots, fs, asset="MIXER-LEI-1"):
    for i, snap in enumerate(snapshots):  # (n_samples, channels)
        yield MachineReading(source="VIB-1", seq=i + 1, ts=T0 + timedelta(seconds=10 * i), asset_id=asset,
                             waveform=Waveform(sample_rate_hz=fs, channels={
                                 ch: snap[:, c].tolist() for c, ch in enumerate(("h", "v"))}))


def _vibration_onsets(store, model, net, readings):
    watch = MachineWatch(net, model, POLICY, store)
    first = None
    for n, r in enumerate(readings):
        watch.observe(r)
        watch.decide(None, r.ts)
        if first is None and any(a.code == "anomaly_onset" for a in watch.alerts):
            first = n
    return watch, first


def test_a_bearing_wearing_out_raises_an_onset_from_its_waveforms(tmp_path, model_and_unit):
    """Synthetic snapshots: noise, then impacts at a defect frequency growing from snapshot 120 on."""
    model, _ = model_and_unit
    net = load_network(example_path("realistic"))
    rng = np.random.default_rng(3)
    fs, n = 25_600.0, 2_560
    t = np.arange(n) / fs
    snaps = []
    for i in range(200):
        x = rng.normal(0, 0.5, (n, 2))
        if i >= 120:
            impacts = (np.sin(2 * np.pi * 107.0 * t) > 0.995).astype(float) * 0.05 * (i - 119)
            x += impacts[:, None] * rng.normal(1, 0.1, (n, 2))
        snaps.append(x)
    with open_store(f"sqlite:///{tmp_path / 'v.db'}") as store:
        watch, first = _vibration_onsets(store, model, net, _vibration_readings(snaps, fs))
        assert first is not None and 120 <= first < 200, first
        onsets = [a for a in watch.alerts if a.code == "anomaly_onset"]
        assert len(onsets) == 1 and onsets[0].subject == "MIXER-LEI-1"
        assert set(onsets[0].data["features"]) <= {"h_rms", "h_peak", "v_rms", "v_peak"}
        logged = [r.event for r in store.log.read(kinds=["alert"]) if r.event.code == "anomaly_onset"]
        assert logged == onsets
        # a completed work order renews the bearing: a new baseline, no onset from the next healthy snapshots
        watch.observe(Maintenance(source="cmms", seq=1, ts=T0, asset_id="MIXER-LEI-1", action="completed"))
        assert watch.vibration["MIXER-LEI-1"].models["MIXER-LEI-1"].learning


@pytest.mark.data
@pytest.mark.slow
def test_femto_waveforms_through_the_machine_watch_raise_an_onset_late_in_life(tmp_path, model_and_unit):
    import os
    from pathlib import Path

    from supplynet.datasets.femto import FEMTO_FS_HZ, load_femto_run

    folder = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")) \
        / "femto-pronostia" / "Learning_set" / "Bearing3_1"
    if not folder.is_dir():
        require_or_skip(f"FEMTO data not found at {folder}", "data")
    run = load_femto_run(folder)
    model, _ = model_and_unit
    net = load_network(example_path("realistic"))
    with open_store(f"sqlite:///{tmp_path / 'f.db'}") as store:
        _, first = _vibration_onsets(store, model, net, _vibration_readings(run.acc, FEMTO_FS_HZ))
    assert first is not None, "no onset before the bearing failed"
    assert len(run.acc) // 2 <= first < len(run.acc)
