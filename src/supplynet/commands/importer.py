"""``supplynet import KIND FILE``: a company's own history (CSV, Parquet, Excel) into the log.

    supplynet import sales sales.csv --operator-key .supplynet/operator.key
    supplynet import stock stock.xlsx --mapping stock.yaml --dry-run

KIND is one of sales, stock, purchase-orders, shipments, sensor-log, maintenance-history. The rows
enter through the gate as events signed by an operator key (``supplynet devices add operator:NAME
--operator --key-out .supplynet/operator.key``; default: SUPPLYNET_OPERATOR_KEY, else
.supplynet/operator.key). ``--dry-run`` writes nothing and lists every problem as
``file:row:column: reason`` (exit code 1 when there is one); a run stores the good rows and prints a JSON report (rows read, stored, duplicate, refused).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from supplynet.commands.options import check_store
from supplynet.errors import DataError

__all__ = ["import_cmd"]

_KINDS = "sales | stock | purchase-orders | shipments | sensor-log | maintenance-history"


def _operator_key(path: Path | None) -> Path:
    if path is not None:
        return path
    env = os.environ.get("SUPPLYNET_OPERATOR_KEY")
    if env:
        return Path(env)
    from supplynet.config import Settings

    default = Settings().home / "operator.key"
    if not default.is_file():
        raise DataError(f"no operator key: give --operator-key FILE, or create {default} with "
                        f"'supplynet devices add operator:NAME --operator --key-out {default}'")
    return default


def import_cmd(kind: Annotated[str, typer.Argument(help=_KINDS)],
               file: Annotated[Path, typer.Argument(help="CSV (any delimiter/encoding), Parquet or Excel .xlsx")],
               store: Annotated[str | None, typer.Option("--store", callback=check_store, help="store URL (default: SUPPLYNET_STORE_URL "
                                                                         "or .supplynet/supplynet.db)")] = None,
               mapping: Annotated[Path | None, typer.Option("--mapping", help="YAML: columns (file column -> "
                                                                                "field), units, timezone, "
                                                                                "date_format, defaults")] = None,
               dry_run: Annotated[bool, typer.Option("--dry-run", help="check every row, write nothing")] = False,
               operator_key: Annotated[Path | None, typer.Option(help="operator private key file (default "
                                                                      "SUPPLYNET_OPERATOR_KEY or "
                                                                      ".supplynet/operator.key)")] = None) -> None:
    """Import a company's history file as canonical events, through the gate, signed by an operator."""
    from supplynet.ingest.importers import HISTORY, KINDS, Mapping, check_file, import_file

    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    m = Mapping.load(mapping)
    if dry_run:
        rep = check_file(kind, file, m)
        for line in rep.problems:
            typer.echo(line)
        summary = rep.to_dict(max_problems=0)
        summary.pop("problems", None)
        summary.pop("more_problems", None)
        typer.echo(json.dumps(summary), err=True)
        if rep.problems:
            raise typer.Exit(code=1)
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from supplynet.config import Settings
    from supplynet.ingest.gate import Gate
    from supplynet.security.signing import OperatorKey
    from supplynet.store import open_store

    key = OperatorKey.load(_operator_key(operator_key))
    with open_store(store or Settings().resolved_store_url()) as st, \
            Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(f"importing {file.name}", total=None)
        rep = import_file(kind, file, Gate(st, config=HISTORY), key, mapping=m,
                          progress=lambda done, total: bar.update(task, completed=done, total=total))
    sys.stdout.write(json.dumps(rep.to_dict(), indent=2) + "\n")  # the first 50 problems (--dry-run: all)
