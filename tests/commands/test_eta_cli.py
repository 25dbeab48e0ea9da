"""``supplynet eta backtest`` and ``supplynet eta leadtime`` through Typer's CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gpxpy.gpx
import numpy as np
import pytest
from typer.testing import CliRunner

from supplynet.commands.eta import app
from supplynet.errors import DataError
from supplynet.sense.eta.trips import generate_trips
from supplynet.testing.require import require_or_skip

runner = CliRunner()
ROUTE = [(53.40, -2.98), (53.40, -2.935), (53.427, -2.935)]
DATA = Path(os.environ.get("SUPPLYNET_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(scope="module")
def trip_csv(tmp_path_factory) -> Path:
    trips = generate_trips(ROUTE, n_trips=8, seed=3, speeds_mps=[(0.0, 4.0), (2000.0, 9.0)],
                           stops=[(1500.0, 60.0)], silent_after_m={2: 3000.0})
    p = tmp_path_factory.mktemp("eta") / "trips.csv"
    lines = ["journey_id,recorded_at,lat,lng"]
    for tr in trips:
        for t, la, lo in zip(tr.t, tr.lat, tr.lon, strict=True):
            lines.append(f"{tr.trip_id},{t:.0f},{la:.6f},{lo:.6f}")
    p.write_text("\n".join(lines) + "\n")
    return p


def test_backtest_prints_the_promised_json(trip_csv):
    res = runner.invoke(app, ["backtest", "--data", str(trip_csv), "--seed", "4", "--cuts-per-trip", "5"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert {"n_trips", "n_cuts", "model", "naive"} <= set(out)
    assert {"mae_min", "p90_coverage"} <= set(out["model"]) and "mae_min" in out["naive"]
    assert out["n_trips"] == 7 and out["n_cuts"] == 35 and out["n_excluded_trips"] == 1
    assert out["model"]["mae_min"] < out["naive"]["mae_min"]
    again = json.loads(runner.invoke(app, ["backtest", "--data", str(trip_csv), "--seed", "4",
                                           "--cuts-per-trip", "5"]).stdout)
    assert again == out
    # the segment GP stays reachable: same cuts and naive, its own forecasts
    gp = json.loads(runner.invoke(app, ["backtest", "--data", str(trip_csv), "--seed", "4", "--cuts-per-trip", "5",
                                        "--model", "gp"]).stdout)
    assert gp["n_cuts"] == out["n_cuts"] and gp["naive"] == out["naive"]
    assert gp["model"] != out["model"] and gp["model"]["mae_min"] < gp["naive"]["mae_min"]
    res = runner.invoke(app, ["backtest", "--data", str(trip_csv), "--model", "analog"])
    assert isinstance(res.exception, DataError) and "--model" in str(res.exception)


def test_backtest_on_a_single_gpx_trip_is_a_clear_error(tmp_path):
    (tr,) = generate_trips(ROUTE, n_trips=1, seed=0)
    gpx = gpxpy.gpx.GPX()
    trk = gpxpy.gpx.GPXTrack(name="only")
    seg = gpxpy.gpx.GPXTrackSegment()
    seg.points += [gpxpy.gpx.GPXTrackPoint(a, o, time=np.datetime64(int(t), "s").item())
                   for t, a, o in zip(tr.t, tr.lat, tr.lon, strict=True)]
    trk.segments.append(seg)
    gpx.tracks.append(trk)
    p = tmp_path / "one.xml"
    p.write_text(gpx.to_xml())
    res = runner.invoke(app, ["backtest", "--data", str(p), "--format", "gpx"])
    assert res.exit_code != 0
    assert isinstance(res.exception, DataError) and "at least 2 trips" in str(res.exception)
    res = runner.invoke(app, ["backtest", "--data", str(p), "--format", "kml"])
    assert isinstance(res.exception, DataError) and "--format" in str(res.exception)


def test_leadtime_prints_report(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("_tl", Path(__file__).parents[1] / "sense" / "leadtime" / "test_leadtime.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    p = tmp_path / "scms.csv"
    injected = mod.make_scms(p, n=500)
    res = runner.invoke(app, ["leadtime", "--data", str(p), "--min-n", "10"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_shipments"] == 500
    assert out["data_quality"]["references_resolved"]["weight_kg"] == injected["resolvable"]
    assert 0.5 < out["late_delivery"]["roc_auc"] <= 1.0
    assert out["lead_time_by_lane"] and out["lead_time_by_mode"]


@pytest.mark.data
def test_backtest_cli_on_liverpool():
    f = DATA / "gps-trajectories" / "liverpool_bus_route14_outbound.csv"
    if not f.is_file():
        require_or_skip(f"{f} not found (set SUPPLYNET_DATA_DIR)", "data")
    res = runner.invoke(app, ["backtest", "--data", str(f), "--format", "csv"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["n_trips"] == 10 and out["n_excluded_trips"] == 6
    assert out["model"]["mae_min"] < out["naive"]["mae_min"]
