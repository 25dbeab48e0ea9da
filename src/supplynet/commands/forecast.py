"""``supplynet forecast``: forecasts out (``run``) and rolling-origin backtests on long-format files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from supplynet.commands.options import check_store
from supplynet.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(help="Demand forecasts: forecasts out (run) and rolling-origin backtests against seasonal "
                       "baselines.")


@app.callback()
def _group() -> None:
    """Demand forecasts: forecasts out (run) and rolling-origin backtests against seasonal baselines."""


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise DataError(f"{what} file not found: {path}")
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV ({exc})") from exc


@app.command("backtest")
def backtest_cmd(
    data: Path = typer.Option(
        ...,
        "--data",
        help="long-format CSV: unique_id, ds, y [, weight] [, group (product pooled across sites)]",
    ),
    horizon: int = typer.Option(..., "--horizon", "-h", min=1, max=100_000, help="periods held out per window"),
    freq: str = typer.Option("W", "--freq", help="pandas frequency: W, D, H, M, Q ..."),
    exog: Path | None = typer.Option(None, "--exog", help="CSV: unique_id, ds and regressors"),
    model: str = typer.Option(
        "default", "--model", help="default, lgbm, mstl_ses_svd, snaive_svd, mstl_ets, theta, ..."
    ),
    n_windows: int = typer.Option(1, "--n-windows", min=1, max=10_000, help="rolling origins (blocks of --horizon)"),
    season_length: int | None = typer.Option(None, "--season-length", min=1, max=100_000, help="default: from --freq"),
    n_jobs: int = typer.Option(1, "--n-jobs", min=-1, max=256, help="worker processes / threads"),
) -> None:
    """Backtest MODEL against seasonal naive and seasonal ETS; print the metrics as JSON."""
    from rich.console import Console

    from supplynet.sense.demand.forecast import backtest

    df = _read_csv(data, "--data")
    ex = _read_csv(exog, "--exog") if exog is not None else None
    console = Console(stderr=True)
    with console.status("backtest") as status:
        result = backtest(
            df,
            horizon,
            freq=freq,
            exog=ex,
            model=model,
            n_windows=n_windows,
            season_length=season_length,
            n_jobs=n_jobs,
            progress=lambda step: status.update(f"backtest: {step}"),
        )
    typer.echo(json.dumps(result))


@app.command("run")
def run_cmd(
    horizon: int = typer.Option(..., "--horizon", "-h", help="periods to forecast past each series' end"),
    out: Path = typer.Option(..., "--out", help="FILE.parquet or FILE.csv (Nixtla long format)"),
    data: Path | None = typer.Option(None, "--data", help="long-format CSV/Parquet: unique_id, ds, y "
                                                          "[, weight] [, group]"),
    store: str | None = typer.Option(None, "--store", callback=check_store, help="store URL: forecast the log's sales per site/sku "
                                                           "instead of --data"),
    network: Path | None = typer.Option(None, "--network", help="with --store: only the network's SKU-sites"),
    freq: str = typer.Option("W", "--freq", help="pandas frequency: W, D, H, M, Q ..."),
    exog: Path | None = typer.Option(None, "--exog", help="CSV/Parquet: unique_id, ds and regressors "
                                                          "(future values included)"),
    levels: str = typer.Option("80,95", "--levels", help="central interval levels, e.g. 80,95"),
    model: str = typer.Option("default", "--model", help="default (routes intermittent series), lgbm, theta, ..."),
    season_length: int | None = typer.Option(None, "--season-length", help="default: from --freq"),
    n_jobs: int = typer.Option(1, "--n-jobs", help="worker processes / threads"),
) -> None:
    """Forecast the next HORIZON periods with intervals; write unique_id, ds, mean, lo-80, hi-80, ..."""
    from rich.console import Console

    from supplynet.sense.demand.forecast_run import parse_levels, read_frame, run_forecast, sales_history

    if (data is None) == (store is None):
        raise DataError("give exactly one of --data FILE or --store URL")
    suffix = out.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise DataError(f"--out {out}: use a .parquet or .csv file")
    lv = parse_levels(levels)
    if data is not None:
        df = read_frame(data, "--data")
    else:
        from supplynet.model import load_network
        from supplynet.store import open_store

        net = load_network(network) if network is not None else None
        with open_store(store, readonly=True) as st:
            df = sales_history(st, freq, net)
    ex = read_frame(exog, "--exog") if exog is not None else None
    console = Console(stderr=True)
    with console.status("forecast") as status:
        frame, info = run_forecast(df, horizon, freq=freq, levels=lv, exog=ex, model=model,
                                   season_length=season_length, n_jobs=n_jobs,
                                   progress=lambda step: status.update(f"forecast: {step}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.to_parquet(out, index=False)
    else:
        frame.to_csv(out, index=False, date_format="%Y-%m-%d %H:%M:%S" if freq.upper().startswith("H")
                     else "%Y-%m-%d")
    typer.echo(json.dumps({**info, "out": str(out)}))
