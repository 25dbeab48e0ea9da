"""``supplynet health onset``: when did degradation start, in an unlabelled run-to-failure log.

    supplynet health onset --data bearing.parquet --time-col time --columns horiz,vert --png onset.png

The log is one CSV/Parquet table: a time column (timestamps, or seconds since the epoch) and one
column per channel (default: every other numeric column). Prints JSON::

    {"channels": {NAME: {"onset": ISO time or null, "hours_before_end": float, "false_alarms": int}},
     "end": ISO time}

``hours_before_end`` is 0 when no onset was found; ``false_alarms`` counts alarms that did not
persist (see :mod:`supplynet.sense.health.onset_log`). The PNG shows each channel's health indicator.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from supplynet.errors import DataError

app = typer.Typer(help="Asset health: onset of degradation in run-to-failure logs.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Asset health: onset of degradation in run-to-failure logs."""


@app.command("onset")
def onset(data: Annotated[Path, typer.Option("--data", help="CSV/Parquet log: a time column and channels")],
          time_col: Annotated[str, typer.Option("--time-col", help="timestamps, or seconds since the epoch")],
          columns: Annotated[list[str] | None, typer.Option("--columns", help="channels (repeat, or comma-separate; "
                                                                              "default: every numeric column)")]
          = None,
          baseline: Annotated[float, typer.Option("--baseline", help="fraction of the run that is the healthy "
                                                                     "baseline")] = 0.1,
          window: Annotated[float | None, typer.Option("--window", help="window length in seconds (default: "
                                                                        "bursts of samples, else single rows)")]
          = None,
          png: Annotated[Path | None, typer.Option("--png", help="plot (default: DATA.onset.png beside the data)")]
          = None) -> None:
    """Learn a baseline from the early part of the run and find each channel's onset. Prints JSON."""
    import numpy as np
    import pandas as pd

    from supplynet.sense.health.onset_log import channel_onsets, plot_onsets
    from supplynet.sense.health.runlog import read_any

    frame = read_any(data)
    if time_col not in frame.columns:
        raise DataError(f"{data}: no column {time_col!r} (columns: {', '.join(map(str, frame.columns[:20]))})")
    names = [c.strip() for v in columns or [] for c in v.split(",") if c.strip()] or [
        c for c in frame.columns if c != time_col and pd.api.types.is_numeric_dtype(frame[c])]
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"{data}: no column {missing[0]!r}")
    if not names:
        raise DataError(f"{data}: no numeric channel column (name them with --columns)")
    raw = frame[time_col]
    if pd.api.types.is_numeric_dtype(raw):
        ts = pd.to_datetime(raw.astype(float), unit="s", utc=True)
    else:
        ts = pd.to_datetime(raw, errors="coerce", utc=True, format="mixed")
        if ts.isna().any():
            raise DataError(f"{data}: column {time_col!r}: {raw[ts.isna()].iloc[0]!r} is not a date/time")
    order = np.argsort(ts.to_numpy(), kind="stable")
    secs = ts.iloc[order].astype("int64").to_numpy() / 1e9  # seconds since the epoch
    chans = {}
    for c in names:
        v = pd.to_numeric(frame[c], errors="coerce").to_numpy(float)[order]
        if np.isnan(v).any():
            raise DataError(f"{data}: column {c!r} has missing or non-numeric values")
        chans[str(c)] = v
    results = channel_onsets(secs, chans, baseline_fraction=baseline, window_s=window)
    end = float(secs[-1])

    def iso(s: float) -> str:
        return pd.Timestamp(s, unit="s", tz="UTC").isoformat().replace("+00:00", "Z")

    out = {"channels": {r.name: {"onset": iso(r.times_s[r.onset]) if r.onset is not None else None,
                                 "hours_before_end": round((end - r.times_s[r.onset]) / 3600.0, 4)
                                 if r.onset is not None else 0.0,
                                 "false_alarms": len(r.false_alarms)} for r in results},
           "end": iso(end)}
    target = png or data.with_name(data.name + ".onset.png")
    plot_onsets(results, target, title=data.name)
    typer.echo(json.dumps(out))
    typer.echo(f"plot: {target}", err=True)
