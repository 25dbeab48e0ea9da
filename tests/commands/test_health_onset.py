"""``supplynet health onset``: onset of degradation per channel in an unlabelled run-to-failure log."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.sense.health.onset_log import channel_onsets
from supplynet.testing.require import require_or_skip

FEMTO = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data")) \
    / "femto-pronostia" / "Learning_set" / "Bearing3_1"
runner = CliRunner()


def _onset(*args: str) -> dict:
    res = runner.invoke(app, ["health", "onset", *args])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_wide_log_one_channel_degrades_one_stays_healthy_and_a_spike_is_a_false_alarm(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    n = 600
    t = pd.date_range("2025-01-01", periods=n, freq="10min", tz="UTC")
    wear = rng.normal(1.0, 0.05, n)
    wear[150:156] += 1.5  # a transient disturbance: the indicator recovers
    wear[480:] += np.linspace(0.2, 3.0, n - 480)  # sustained degradation over the last 20 hours
    healthy = rng.normal(5.0, 0.2, n)
    f = tmp_path / "pump.csv"
    pd.DataFrame({"when": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "bearing_temp": wear, "motor_temp": healthy,
                  "site": "P1"}).to_csv(f, sep=";", index=False)
    png = tmp_path / "onset.png"
    out = _onset("--data", str(f), "--time-col", "when", "--png", str(png))
    assert out["end"] == "2025-01-05T03:50:00Z" and set(out["channels"]) == {"bearing_temp", "motor_temp"}
    bad, good = out["channels"]["bearing_temp"], out["channels"]["motor_temp"]
    onset = pd.Timestamp(bad["onset"])
    assert t[480] <= onset <= t[500]
    assert bad["hours_before_end"] == pytest.approx((t[-1] - onset).total_seconds() / 3600, abs=1e-3)
    assert bad["false_alarms"] == 1
    assert good == {"onset": None, "hours_before_end": 0.0, "false_alarms": 0}
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    only = _onset("--data", str(f), "--time-col", "when", "--columns", "motor_temp", "--png", str(png))
    assert list(only["channels"]) == ["motor_temp"]


def test_onset_errors_are_one_line(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("t,a\n2025-01-01,1\n2025-01-02,2\n")
    res = runner.invoke(app, ["health", "onset", "--data", str(f), "--time-col", "time"])
    assert res.exit_code == 2 and "no column 'time'" in res.stderr
    res = runner.invoke(app, ["health", "onset", "--data", str(f), "--time-col", "t"])
    assert res.exit_code == 2 and "too few to learn a baseline" in res.stderr
    res = runner.invoke(app, ["health", "onset", "--data", str(f), "--time-col", "t", "--baseline", "2"])
    assert res.exit_code == 2 and "--baseline must be a fraction" in res.stderr


@pytest.mark.data
def test_femto_bearing_onset_before_failure_and_no_alarm_in_the_first_half(tmp_path: Path) -> None:
    if not FEMTO.is_dir():
        require_or_skip(f"FEMTO data not found at {FEMTO}", "data")
    from supplynet.datasets.femto import FEMTO_FS_HZ, load_femto_run

    run = load_femto_run(FEMTO)
    n, m, _ = run.acc.shape
    secs = (run.times_s[:, None] + np.arange(m)[None, :] / FEMTO_FS_HZ).ravel()
    start = pd.Timestamp("2012-03-01T09:10:39Z")
    f = tmp_path / "bearing3_1.parquet"  # the raw vibration, one column per channel
    pd.DataFrame({"time": start + pd.to_timedelta(secs, unit="s"), "horizontal": run.acc[:, :, 0].ravel(),
                  "vertical": run.acc[:, :, 1].ravel()}).to_parquet(f)
    out = _onset("--data", str(f), "--time-col", "time")
    end = pd.Timestamp(out["end"])
    half = start + (end - start) / 2
    for ch in ("horizontal", "vertical"):
        r = out["channels"][ch]
        assert r["onset"] is not None and half < pd.Timestamp(r["onset"]) < end
        assert r["hours_before_end"] > 0
    assert (tmp_path / "bearing3_1.parquet.onset.png").is_file()
    # no alarm at all, false or not, in the first half of the run
    results = channel_onsets(secs, {"h": run.acc[:, :, 0].ravel(), "v": run.acc[:, :, 1].ravel()})
    for r in results:
        first_half = r.times_s <= r.times_s[0] + (r.times_s[-1] - r.times_s[0]) / 2
        assert not any(first_half[k] for k in [*r.false_alarms, r.onset])
        assert len(r.times_s) == n  # one window per snapshot
