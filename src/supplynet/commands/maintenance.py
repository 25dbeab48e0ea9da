"""``supplynet maintenance``: train and evaluate the remaining-useful-life model on C-MAPSS.

    supplynet maintenance train --data DIR --subset FD001 --out model.json
    supplynet maintenance evaluate --model model.json --data DIR --subset FD001

``DIR`` is a folder in the NASA C-MAPSS format (``train_FD00x.txt``, ``test_FD00x.txt``,
``RUL_FD00x.txt``, each optionally gzipped). ``train`` prints ``{"subset", "out", "train_seconds",
"n_units", "regimes", "sensors"}``; ``evaluate`` prints ``{"rmse", "rmse_capped", "phm08_score",
"interval_coverage", "n_units", ...}`` on the test units' last cycles (see
:func:`supplynet.sense.rul.evaluate_last_cycle`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

app = typer.Typer(help="Predictive maintenance: train and evaluate the RUL model on NASA C-MAPSS data.",
                  no_args_is_help=True)
_err = Console(stderr=True)


@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="C-MAPSS folder (train_FD00x.txt[.gz] ...)")],
    subset: Annotated[str, typer.Option("--subset", help="subset name, e.g. FD001")],
    out: Annotated[Path, typer.Option("--out", help="where to write the model file (JSON with LightGBM's "
                                                                      "text model format)")],
    seed: Annotated[int, typer.Option(help="seed of folds, cuts and trees")] = 0,
    cap: Annotated[float, typer.Option(help="RUL cap of the training target (cycles)")] = 125.0,
    trees: Annotated[int, typer.Option(min=10, help="boosting rounds per fold model")] = 400,
    folds: Annotated[int, typer.Option(min=2, help="cross-conformal folds (= models in the ensemble)")] = 5,
) -> None:
    """Fit the RUL model with conformal intervals on the subset's training units. Prints JSON."""
    from supplynet.sense.cmapss import load_cmapss
    from supplynet.sense.rul import RulModel

    ds = load_cmapss(data, subset.upper(), test=False)
    t0 = time.perf_counter()
    model = RulModel(cap=cap, seed=seed, n_estimators=trees, n_folds=folds)
    with Progress(console=_err, transient=True) as bar:
        task = bar.add_task(f"training {subset.upper()}", total=model.n_folds)
        model.fit(ds.train, progress=lambda done, total: bar.update(task, completed=done, total=total))
    seconds = time.perf_counter() - t0
    model.save(out)
    typer.echo(json.dumps({
        "subset": subset.upper(), "out": str(out), "train_seconds": round(seconds, 2),
        "n_units": int(ds.train["unit"].nunique()), "regimes": model.normalizer_.conditions.k,
        "sensors": model.normalizer_.kept}))


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", help="model file written by `train`")],
    data: Annotated[Path, typer.Option("--data", help="C-MAPSS folder (test_FD00x.txt[.gz], RUL_FD00x.txt[.gz])")],
    subset: Annotated[str, typer.Option("--subset", help="subset name, e.g. FD001")],
    level: Annotated[float, typer.Option(help="coverage of the RUL interval", min=0.01, max=0.99)] = 0.8,
) -> None:
    """Score the model on the test units' last cycles. Prints JSON."""
    from supplynet.sense.cmapss import load_cmapss
    from supplynet.sense.rul import RulModel, evaluate_last_cycle

    m = RulModel.load(model)
    ds = load_cmapss(data, subset.upper())
    with _err.status(f"evaluating on {subset.upper()}"):
        res = evaluate_last_cycle(m, ds.test, ds.rul, level=level)
    res = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in res.items()}
    typer.echo(json.dumps({"subset": subset.upper(), "level": level, **res}))
