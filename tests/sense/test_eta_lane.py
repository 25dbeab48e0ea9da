"""ETA on a company's own trips: delimiter sniffed, unrelated trips get the lane-level model (JSON)."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from supplynet.cli import app
from supplynet.sense.eta_lane import LaneEtaModel, lane_backtest, load_eta_models, repeated_route
from supplynet.sense.geo import haversine_m
from supplynet.sense.trips import load_trips
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))
runner = CliRunner()


def unrelated_trips(n: int = 10, seed: int = 0) -> pd.DataFrame:
    """Trips between unrelated places: slow in town (the first and last 4 km), fast on the main road
    between, slower in the morning rush; a fix a minute."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        a = np.array([52.0, -1.5]) + rng.uniform(-1.0, 1.0, 2)
        b = np.array([52.0, -1.5]) + rng.uniform(-1.0, 1.0, 2)
        total = float(haversine_m(a[0], a[1], b[0], b[1]))
        t0 = 1_767_600_000.0 + k * 86_400.0 + rng.uniform(5, 18) * 3600.0
        t, s = t0, 0.0
        rush = 0.7 if 7 <= (t0 % 86_400) / 3600 <= 9.5 else 1.0
        road = rng.uniform(0.8, 1.2)  # this trip's roads
        while True:
            f = s / total
            rows.append((f"T{k}", datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                         a[0] + (b[0] - a[0]) * f + rng.normal(0, 2e-5), a[1] + (b[1] - a[1]) * f))
            if s >= total:
                break
            town = s < 4_000 or total - s < 4_000
            v = (7.0 if town else 24.0) * rush * road * rng.uniform(0.85, 1.15)
            s = min(total, s + v * 60.0)
            t += 60.0
    return pd.DataFrame(rows, columns=["trip_id", "timestamp", "latitude", "longitude"])


def test_unrelated_trips_are_told_and_the_lane_model_beats_the_naive(tmp_path: Path) -> None:
    f = tmp_path / "trips.csv"
    unrelated_trips().to_csv(f, sep=";", index=False)  # a ';'-separated GPS file
    trips = load_trips(f)
    assert len(trips) == 10 and not repeated_route(trips)
    res = runner.invoke(app, ["eta", "backtest", "--data", str(f), "--cuts-per-trip", "15"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["mode"] == "lane" and "not repeats of one route" in out["note"]
    assert out["model"]["mae_min"] <= out["naive"]["mae_min"]
    model, naive = [], []
    for seed in (1, 2, 3, 4, 5):  # over several sets of trips and cuts, not one
        r = lane_backtest(load_trips_frame(tmp_path, unrelated_trips(seed=seed)), seed=seed, cuts_per_trip=15)
        assert r["model"]["mae_min"] <= r["naive"]["mae_min"] * 1.02, r  # never clearly worse
        model.append(r["model"]["mae_min"])
        naive.append(r["naive"]["mae_min"])
    assert np.mean(model) <= 0.9 * np.mean(naive)  # and better on the whole


def load_trips_frame(tmp_path: Path, frame: pd.DataFrame) -> list:
    p = tmp_path / "t.csv"
    frame.to_csv(p, index=False)
    return load_trips(p)


def test_bus_route_file_with_semicolons_stays_on_the_route_model(tmp_path: Path) -> None:
    src = DATA / "gps-trajectories" / "liverpool_bus_route14_outbound.csv"
    if not src.exists():
        require_or_skip("bus trace not found", "data")
    f = tmp_path / "bus.csv"
    pd.read_csv(src).to_csv(f, sep=";", index=False)
    trips = load_trips(f)
    assert repeated_route(trips) and len(trips) == len(load_trips(src))


def test_fit_writes_json_the_live_delay_detector_loads_per_lane(tmp_path: Path) -> None:
    from supplynet.model import example_path, load_network
    from supplynet.sense.delay import DelayDetector

    f = tmp_path / "trips.csv"
    frame = unrelated_trips(8)
    frame["lane"] = np.where(frame["trip_id"].isin(["T0", "T1", "T2", "T3"]), "L-DC-STORE-1", "other")
    frame.to_csv(f, index=False)
    res = runner.invoke(app, ["eta", "fit", "--data", str(f), "--out", str(tmp_path / "eta.json")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["lanes"] == ["*", "L-DC-STORE-1", "other"] and out["n_trips"] == 8
    doc = json.loads((tmp_path / "eta.json").read_text())  # JSON, no pickle
    assert doc["kind"] == "supplynet.lane_eta"
    net = load_network(example_path("tiny"))
    models = load_eta_models(tmp_path / "eta.json", net)
    assert set(models) == {ln.id for ln in net.lanes}
    assert models["L-DC-STORE-1"].n_trips == 4 and models["L-SUP-DC"].n_trips == 8
    det = DelayDetector(net, eta_models=models)
    t0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    lane = net.lane("L-DC-STORE-1")
    a, b = net.site(lane.origin).location, net.site(lane.destination).location
    det.observe_status("SH1", "departed", lane.id, t0)
    fc, _ = det.observe_position("SH1", lane.id, a.lat + 0.3 * (b.lat - a.lat), a.lon + 0.3 * (b.lon - a.lon),
                                 datetime(2026, 1, 5, 9, 0, tzinfo=UTC), None)
    assert fc is not None and fc.method == "lane_pace"
    assert fc.p10 <= fc.p50 <= fc.p90 and fc.p50 > datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()
    # a model round-trips through JSON unchanged
    m = LaneEtaModel.from_dict(doc["lanes"]["*"])
    assert m.predict_remaining(1_767_600_000.0, 30_000.0) == models["L-SUP-DC"].predict_remaining(
        1_767_600_000.0, 30_000.0)
    assert math.isfinite(m.predict_remaining(1_767_600_000.0, 30_000.0)[1])


def test_eta_errors_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["eta", "fit", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "m.pkl")])
    assert res.exit_code == 2 and "JSON" in res.stderr
    res = runner.invoke(app, ["eta", "backtest", "--data", str(tmp_path / "x.csv"), "--mode", "fast"])
    assert res.exit_code == 2 and "--mode 'fast'" in res.stderr
