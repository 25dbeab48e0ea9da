"""``supplynet eta``: backtest the ETA model on a trip file; lead-time and late-delivery report.

    supplynet eta backtest --data trips.csv [--format csv|gpx] [--seed 0] [--cuts-per-trip 20] [--model tod|gp]
    supplynet eta fit --data trips.csv --out eta.json
    supplynet eta leadtime --data ../shared/data/scms-delivery

Both print JSON to stdout. ``backtest`` prints ``{"n_trips", "n_cuts", "model": {"mae_min",
"p90_coverage", ...}, "naive": {"mae_min", ...}, ...}`` (see :func:`supplynet.sense.eta.eta_backtest.backtest`):
leave-one-trip-out, the default model (:class:`supplynet.sense.eta.eta_tod.TodEtaModel`: segment times by
time of day with a trip random effect whose loading varies along the route; bandwidth, loading slope
and variances fitted on each fold's training trips),
the naive the stronger of remaining distance over the speed since departure and over the training
trips' median speed, trips without an observed end excluded and counted. When the trips are not repeats of one route
(``--mode auto``), it says so and backtests the lane-level model learned across all trips instead
(:mod:`supplynet.sense.eta.eta_lane`). ``fit`` writes that model as JSON, per lane.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from supplynet.errors import DataError

app = typer.Typer(help="Shipment visibility: ETA backtest from GPS trips, lead times and late-delivery risk.",
                  no_args_is_help=True)
_err = Console(stderr=True)


@app.command()
def backtest(
    data: Annotated[Path, typer.Option("--data", help="trip file: timestamped GPS fixes (CSV or GPX)")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv or gpx (default: from the suffix)")] = None,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="seed of the random cut points")] = 0,
    cuts_per_trip: Annotated[int, typer.Option("--cuts-per-trip", min=1, max=10_000, help="random cuts per trip")] = 20,
    trip_col: Annotated[str | None, typer.Option(help="CSV column holding the trip id")] = None,
    time_col: Annotated[str | None, typer.Option(help="CSV column holding the timestamp")] = None,
    lat_col: Annotated[str | None, typer.Option(help="CSV column holding the latitude")] = None,
    lon_col: Annotated[str | None, typer.Option(help="CSV column holding the longitude")] = None,
    origin_radius_m: Annotated[float, typer.Option(min=0, max=1e6, help="origin geofence radius (m)")] = 300.0,
    dest_radius_m: Annotated[float, typer.Option(min=0, max=1e6, help="destination geofence radius (m)")] = 150.0,
    model: Annotated[str, typer.Option(help="tod (time-of-day segments, default) or gp (segment GP)")] = "tod",
    mode: Annotated[str, typer.Option(help="auto (default: route when the trips repeat one route, else lane), "
                                           "route, or lane (one model learned across all trips)")] = "auto",
) -> None:
    """Leave-one-trip-out ETA backtest: cut each trip at random fixes, forecast the remaining time,
    compare with the stronger naive baseline. Prints JSON."""
    from supplynet.sense.eta.eta_backtest import backtest as run_backtest
    from supplynet.sense.eta.eta_tod import ETA_MODELS
    from supplynet.sense.eta.trips import load_trips

    if model not in ETA_MODELS:
        raise DataError(f"--model {model!r}: use tod or gp")
    if fmt is not None and fmt.lower() not in ("csv", "gpx"):
        raise DataError(f"--format {fmt!r}: use csv or gpx")
    opts = {k: v for k, v in dict(trip_col=trip_col, time_col=time_col, lat_col=lat_col, lon_col=lon_col).items()
            if v is not None}
    if opts and (fmt or data.suffix.lstrip(".")).lower() == "gpx":
        raise DataError("--trip-col/--time-col/--lat-col/--lon-col apply to CSV files only")
    if mode not in ("auto", "route", "lane"):
        raise DataError(f"--mode {mode!r}: use auto, route or lane")
    from supplynet.sense.eta.eta_lane import lane_backtest, repeated_route

    with _err.status(f"backtesting ETA on {data.name}"):
        trips = load_trips(data, fmt, **opts)
        repeats = repeated_route(trips)
        use = mode if mode != "auto" else ("route" if repeats else "lane")
        if use == "route":
            out = run_backtest(trips, seed=seed, cuts_per_trip=cuts_per_trip, origin_radius_m=origin_radius_m,
                               dest_radius_m=dest_radius_m, model=model).to_dict()  # type: ignore[arg-type]
        else:
            out = lane_backtest(trips, seed=seed, cuts_per_trip=cuts_per_trip)
    out["mode"] = use
    if not repeats:
        out["note"] = ("the trips are not repeats of one route (most do not share an origin and a destination): "
                       + ("the lane-level model learned across all trips is used (speed by distance band and time "
                          "of day and road/sea context)" if use == "lane" else "a route model was forced with --mode route"))
        _err.print(out["note"])
    out["data"] = str(data)
    out["seed"] = seed
    out["cuts_per_trip"] = cuts_per_trip
    typer.echo(json.dumps(out))


@app.command()
def fit(
    data: Annotated[Path, typer.Option("--data", help="trip file: timestamped GPS fixes (CSV or GPX)")],
    out: Annotated[Path, typer.Option("--out", help="model file (JSON)")],
    fmt: Annotated[str | None, typer.Option("--format", help="csv or gpx (default: from the suffix)")] = None,
    min_trips: Annotated[int, typer.Option(min=2, help="fewest trips for a lane of its own")] = 3,
) -> None:
    """Fit the lane-level ETA model on all trips (and per lane, from a lane/route column); write JSON
    that the live delay detector loads per lane. Prints JSON."""
    from supplynet.sense.eta.eta_lane import fit_lanes, save_models
    from supplynet.sense.eta.trips import load_trips

    if out.suffix.lower() != ".json":
        raise DataError(f"--out {out}: the model is written as JSON (name it .json)")
    trips = load_trips(data, fmt)
    models = fit_lanes(trips, min_trips=min_trips)
    save_models(models, out)
    typer.echo(json.dumps({"out": str(out), "n_trips": models["*"].n_trips, "lanes": sorted(models),
                           "median_speed_kmh": round(models["*"].median_speed_mps * 3.6, 2)}))


@app.command()
def leadtime(
    data: Annotated[Path, typer.Option("--data", help="shipment history: SCMS Delivery History CSV or its folder")],
    min_n: Annotated[int, typer.Option("--min-n", min=2, max=10_000_000, help="fewest shipments for a lane to be reported")] = 20,
    test_fraction: Annotated[float, typer.Option(min=0, max=1, help="share of the latest shipments held out")] = 0.2,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="seed of the classifier")] = 0,
    top: Annotated[int, typer.Option(min=0, max=1_000_000, help="lanes to list (largest first; 0 = all)")] = 20,
) -> None:
    """Lead-time distributions per lane and mode, late-delivery ROC AUC on a time-based split, and
    the data-quality report of the file. Prints JSON."""
    from supplynet.sense.leadtime.leadtime import leadtime_report

    if not 0 < test_fraction < 1:
        raise DataError(f"--test-fraction {test_fraction}: must be in (0, 1)")
    with _err.status(f"reading {data.name} and fitting the late-delivery classifier"):
        report = leadtime_report(data, min_n=min_n, test_fraction=test_fraction, seed=seed, top=top or None)
    typer.echo(json.dumps(report, default=str))
