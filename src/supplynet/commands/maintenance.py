"""``supplynet maintenance``: train and evaluate the remaining-useful-life model on your data.

    supplynet maintenance train --data log.csv --unit-col engine --time-col cycle --out model.json
    supplynet maintenance evaluate --model model.json --data held_out.csv --truth rul.csv
    supplynet maintenance train --data DIR --subset FD001 --out model.json        (C-MAPSS preset)
    supplynet maintenance evaluate --model model.json --data DIR --subset FD001

Your log: one CSV/Parquet table with a unit column, a time column (cycles, or timestamps: hours
since the unit's first row) and sensors (``--sensor-cols``, default every other numeric column;
``--setting-cols`` for operating settings); ``--truth`` is a CSV ``unit,rul``.

``DIR`` is a folder in the NASA C-MAPSS format (``train_FD00x.txt``, ``test_FD00x.txt``,
``RUL_FD00x.txt``, each optionally gzipped). ``train`` prints ``{"subset", "out", "train_seconds",
"n_units", "regimes", "sensors"}``; ``evaluate`` prints ``{"rmse", "rmse_capped", "phm08_score",
"interval_coverage", "n_units", ...}`` on the test units' last cycles (see
:func:`supplynet.sense.health.rul.evaluate_last_cycle`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress

from supplynet.errors import DataError

app = typer.Typer(help="Predictive maintenance: train and evaluate the RUL model on your log or NASA C-MAPSS.",
                  no_args_is_help=True)
_err = Console(stderr=True)


Cols = Annotated[list[str] | None, typer.Option(help="column names (repeat the option, or comma-separate)")]


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [c.strip() for v in values for c in v.split(",") if c.strip()]


def _own_data(data: Path, unit_col: str | None, time_col: str | None, sensor_cols: list[str] | None,
              setting_cols: list[str] | None) -> Any:
    from supplynet.sense.health.runlog import read_run_log

    if not unit_col or not time_col:
        raise DataError(f"--data {data} is a file: name its --unit-col and --time-col (or give a C-MAPSS folder "
                        "with --subset)")
    return read_run_log(data, unit_col, time_col, _split(sensor_cols), _split(setting_cols))


@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="a CSV/Parquet log (unit, time, sensors), or a C-MAPSS "
                                                      "folder with --subset")],
    out: Annotated[Path, typer.Option("--out", help="where to write the model file (JSON with LightGBM's "
                                                     "text model format)")],
    subset: Annotated[str | None, typer.Option("--subset", help="C-MAPSS preset: subset name, e.g. FD001")] = None,
    unit_col: Annotated[str | None, typer.Option("--unit-col", help="your log: the unit (engine, machine) column")]
    = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="your log: cycles or timestamps")] = None,
    sensor_cols: Cols = None,
    setting_cols: Cols = None,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="seed of folds, cuts and trees")] = 0,
    cap: Annotated[float, typer.Option(min=1, max=1e6, help="RUL cap of the training target (cycles)")] = 125.0,
    trees: Annotated[int, typer.Option(min=10, max=100_000, help="boosting rounds per fold model")] = 400,
    folds: Annotated[int, typer.Option(min=2, max=100, help="cross-conformal folds (= models in the ensemble)")] = 5,
) -> None:
    """Fit the RUL model with conformal intervals on run-to-failure units (each unit's last row is its
    failure). Prints JSON."""
    from supplynet.sense.health.rul import RulModel

    if subset is not None:
        from supplynet.datasets.cmapss import load_cmapss

        frame, name = load_cmapss(data, subset.upper(), test=False).train, subset.upper()
        model = RulModel(cap=cap, seed=seed, n_estimators=trees, n_folds=folds)
        extra: dict[str, Any] = {"subset": name}
    else:
        log = _own_data(data, unit_col, time_col, sensor_cols, setting_cols)
        frame, name = log.frame, data.name
        model = RulModel(cap=cap, seed=seed, n_estimators=trees, n_folds=folds, unit_col=log.unit_col,
                         time_col=log.time_col, sensor_cols=log.sensor_cols, setting_cols=log.setting_cols)
        extra = {"data": str(data), "time_unit": log.time_unit}
    t0 = time.perf_counter()
    with Progress(console=_err, transient=True) as bar:
        task = bar.add_task(f"training {name}", total=model.n_folds)
        model.fit(frame, progress=lambda done, total: bar.update(task, completed=done, total=total))
    seconds = time.perf_counter() - t0
    model.save(out)
    typer.echo(json.dumps({
        **extra, "out": str(out), "train_seconds": round(seconds, 2),
        "n_units": int(frame[model.unit_col].nunique()), "regimes": model.normalizer_.conditions.k,
        "sensors": model.normalizer_.kept}))


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", help="model file written by `train`")],
    data: Annotated[Path, typer.Option("--data", help="held-out units: a CSV/Parquet log with the training "
                                                      "columns, or a C-MAPSS folder with --subset")],
    subset: Annotated[str | None, typer.Option("--subset", help="C-MAPSS preset: subset name, e.g. FD001")] = None,
    truth: Annotated[Path | None, typer.Option("--truth", help="your log: CSV unit,rul (true remaining life "
                                                               "after each unit's last row)")] = None,
    level: Annotated[float, typer.Option(help="coverage of the RUL interval", min=0.01, max=0.99)] = 0.8,
) -> None:
    """Score the model on the held-out units' last rows. Prints JSON."""
    from supplynet.sense.health.rul import RulModel, evaluate_last_cycle

    m = RulModel.load(model)
    if subset is not None:
        from supplynet.datasets.cmapss import load_cmapss

        ds = load_cmapss(data, subset.upper())
        test, rul, head = ds.test, ds.rul, {"subset": subset.upper()}
    else:
        from supplynet.sense.health.runlog import read_run_log, read_truth

        if truth is None:
            raise DataError("--truth FILE (CSV unit,rul) is needed to evaluate on your own log")
        log = read_run_log(data, m.unit_col, m.time_col, list(m.sensor_cols), list(m.setting_cols))
        test = log.frame
        units = sorted(test[m.unit_col].unique())
        rul, head = read_truth(truth, units), {"data": str(data)}
    with _err.status("evaluating"):
        res = evaluate_last_cycle(m, test, rul, level=level)
    res = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()}
    typer.echo(json.dumps({**head, "level": level, **res}))
