"""``supplynet forecast``: rolling-origin backtests of the demand forecasts on long-format CSVs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from supplynet.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

app = typer.Typer(help="Demand forecasts: rolling-origin backtests against seasonal baselines.")


@app.callback()
def _group() -> None:
    """Demand forecasts: rolling-origin backtests against seasonal baselines."""


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

    from supplynet.sense.forecast import backtest

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
