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
from supplynet.sense.eta.eta_lane import LaneEtaModel, lane_backtest, load_eta_models, repeated_route
from supplynet.sense.eta.geo import haversine_m
from supplynet.sense.eta.trips import load_trips
from supplynet.testing.require import require_or_skip

DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[4] / "shared" / "data"))
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
    from supplynet.sense.eta.delay import DelayDetector

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


def ferry_and_road_trips(n: int = 12, seed: int = 0, declare: bool = True) -> pd.DataFrame:
    """Unrelated trips, half of them ferry crossings (a steady 7 m/s on a straight course; the pace
    of a road trip's open stretch is 24 m/s, 4 m/s in town): the distance bands overlap, the context tells them apart."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n):
        sea = k % 2 == 1
        a = np.array([53.5, -4.0]) + rng.uniform(-0.6, 0.6, 2)
        b = np.array([53.5, -4.0]) + rng.uniform(-0.6, 0.6, 2)
        total = float(haversine_m(a[0], a[1], b[0], b[1]))
        t, s = 1_767_600_000.0 + k * 86_400.0 + rng.uniform(8, 16) * 3600.0, 0.0
        while True:
            f = s / total
            rows.append((f"T{k}", datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                         a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, "sea" if sea and declare else "road"))
            if s >= total:
                break
            if sea:
                v = 7.0 * rng.uniform(0.97, 1.03)
            else:
                v = (4.0 if s < 4_000 or total - s < 4_000 else 24.0) * rng.uniform(0.85, 1.15)
            s = min(total, s + v * 60.0)
            t += 60.0
    return pd.DataFrame(rows, columns=["trip_id", "timestamp", "latitude", "longitude", "mode"])


def test_the_road_sea_context_is_derived_and_sharpens_the_lane_model(tmp_path: Path) -> None:
    from supplynet.sense.eta.eta_lane import CONTEXTS, contexts

    trips = load_trips_frame(tmp_path, ferry_and_road_trips())
    assert [tr.meta["mode"] for tr in trips[:2]] == ["road", "sea"]
    # declared: every fix of a ferry is at sea; the road trips are urban at the ends, open between
    ferry, road = trips[1], trips[0]
    assert set(contexts(ferry.t, ferry.lat, ferry.lon, sea=True)) == {CONTEXTS.index("sea")}
    c = contexts(road.t, road.lat, road.lon)
    assert c[3] == CONTEXTS.index("urban") and CONTEXTS.index("open") in set(c) and CONTEXTS.index("sea") not in set(c)
    # not declared: the steady, straight regime of a ferry is recognised as sea after 20 minutes
    undeclared = load_trips_frame(tmp_path, ferry_and_road_trips(declare=False))
    c = contexts(undeclared[1].t, undeclared[1].lat, undeclared[1].lon)
    assert c[5] != 2 and np.mean(c[25:] == CONTEXTS.index("sea")) > 0.9
    # held-out trips: the model with the context beats the same model blind to it, and the naive
    with_ctx, blind, naive = [], [], []
    for seed in (0, 1, 2):
        trips = load_trips_frame(tmp_path, ferry_and_road_trips(seed=seed))
        model = LaneEtaModel().fit(trips[2:])
        for tr in trips[:2]:
            ctx = contexts(tr.t, tr.lat, tr.lon, sea=tr.meta["mode"] == "sea")
            d = haversine_m(tr.lat, tr.lon, tr.lat[-1], tr.lon[-1])
            for c_ in range(5, tr.n - 5, 7):
                el, prog, truth = tr.t[c_] - tr.t[0], d[0] - d[c_], tr.t[-1] - tr.t[c_]
                with_ctx.append(abs(model.predict_remaining(tr.t[c_], d[c_], el, prog, int(ctx[c_]))[1] - truth))
                blind.append(abs(model.predict_remaining(tr.t[c_], d[c_], el, prog)[1] - truth))
                naive.append(abs(d[c_] / model.median_speed_mps - truth))
        r = lane_backtest(trips, seed=seed, cuts_per_trip=10)
        assert r["model"]["mae_min"] <= r["naive"]["mae_min"], r
        assert r["contexts"]["sea"] > 0 and r["contexts"]["open"] > 0
    assert np.mean(with_ctx) < 0.9 * np.mean(blind) and np.mean(with_ctx) < np.mean(naive)


def test_context_in_the_model_file_and_older_files_still_load(tmp_path: Path) -> None:
    from supplynet.sense.eta.eta_lane import CONTEXTS

    model = LaneEtaModel().fit(load_trips_frame(tmp_path, ferry_and_road_trips()))
    doc = json.loads(json.dumps(model.to_dict()))
    assert doc["contexts"] == list(CONTEXTS) and len(doc["context_pace"]) == 3
    back = LaneEtaModel.from_dict(doc)
    for ctx in (None, 0, 1, 2, "sea"):
        assert back.predict_remaining(1_767_600_000.0, 20_000.0, 600.0, 5_000.0, ctx) == \
            model.predict_remaining(1_767_600_000.0, 20_000.0, 600.0, 5_000.0, ctx)
    old = {k: v for k, v in doc.items() if k not in ("contexts", "context_pace")}
    assert LaneEtaModel.from_dict(old).ctx_pace_ is None  # a file from before the context
    assert math.isfinite(LaneEtaModel.from_dict(old).predict_remaining(1_767_600_000.0, 20_000.0, context=2)[1])
    import pytest

    from supplynet.errors import DataError

    for bad in ({**doc, "context_pace": [[1.0]]}, {**doc, "contexts": ["road", "sea", "air"]},
                {**doc, "pace": [1.0, 2.0]}):
        with pytest.raises(DataError, match="not a lane ETA model"):
            LaneEtaModel.from_dict(bad)
    with pytest.raises(DataError, match="unknown ETA context"):
        model.predict_remaining(1_767_600_000.0, 1_000.0, context="river")


def test_on_the_real_trips_the_lane_model_is_at_least_as_good_as_the_naive(tmp_path: Path) -> None:
    """The shared GPS files as a company's file of trips that are not all one route: the 16 Liverpool
    bus trips and the Limerick GPX journey, backtested by the lane model (leave one trip out)."""
    d = DATA / "gps-trajectories"
    if not (d / "liverpool_bus_route14_outbound.csv").exists() or not (d / "304_to_UL_2019-02-18_0745.gpx").exists():
        require_or_skip("gps-trajectories not found", "data")
    bus = load_trips(d / "liverpool_bus_route14_outbound.csv")
    gpx = load_trips(d / "304_to_UL_2019-02-18_0745.gpx")
    for trips in (bus, bus + gpx):
        for seed in (0, 1, 2):
            r = lane_backtest(trips, seed=seed, cuts_per_trip=20)
            assert r["model"]["mae_min"] <= r["naive"]["mae_min"], (len(trips), seed, r)
