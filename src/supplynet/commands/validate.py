"""``supplynet validate FILE``: check a network file and name every problem with file, line and field.

On success prints ``OK: <name>: 29 sites (4 supplier, ...), 50 products, ...`` and exits 0; on
failure prints each issue on its own line (``network.yaml:41 sites[3].location.lat: must be
between -90 and 90, got 95``), a count on stderr, and exits 2. ``--json`` prints one JSON
object instead. Mount either ``app`` (a one-command Typer app) or the ``validate`` function
itself as a top-level command.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import typer

from supplynet.errors import ModelValidationError
from supplynet.model import Network, load_network

__all__ = ["app", "describe", "validate"]

app = typer.Typer(help="Check a network YAML file.", add_completion=False)

_KIND_ORDER = ("supplier", "plant", "dc", "store")


def describe(net: Network) -> dict[str, object]:
    """Counts of every part of ``net``, sites also by kind."""
    kinds = {k: len(net.sites_of_kind(k)) for k in _KIND_ORDER}
    return {"name": net.name, "sites": len(net.sites), "sites_by_kind": kinds, "products": len(net.products),
            "lanes": len(net.lanes), "boms": len(net.boms), "demand": len(net.demand),
            "assets": len(net.assets), "devices": len(net.devices), "policies": len(net.policies)}


@app.command("validate")
def validate(
    file: Annotated[Path, typer.Argument(help="network YAML file", show_default=False)],
    json_output: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Check a network file; every problem is named with file, line and field (exit code 2)."""
    try:
        net = load_network(file)
    except ModelValidationError as exc:
        if json_output:
            issues = [{"file": i.file, "line": i.line, "field": i.field, "message": i.message} for i in exc.issues]
            typer.echo(json.dumps({"ok": False, "file": str(file), "issues": issues}))
        else:
            for issue in exc.issues:
                typer.echo(str(issue))
            n = len(exc.issues)
            typer.echo(f"{n} issue{'s' if n != 1 else ''} in {file}", err=True)
        raise typer.Exit(2) from None
    info = describe(net)
    if json_output:
        typer.echo(json.dumps({"ok": True, "file": str(file), **info}))
        return
    by_kind = cast("dict[str, int]", info["sites_by_kind"])
    kinds = ", ".join(f"{n} {k}" for k, n in by_kind.items() if n)
    typer.echo(f"OK: {net.name}: {len(net.sites)} sites ({kinds}), {len(net.products)} products, "
               f"{len(net.lanes)} lanes, {len(net.boms)} BOMs, {len(net.demand)} demand entries, "
               f"{len(net.assets)} assets, {len(net.devices)} devices, {len(net.policies)} policies")
