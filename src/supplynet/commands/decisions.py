"""``supplynet decisions``: what the platform decided, for an operator at a terminal."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..config import Settings
from ..errors import DataError

__all__ = ["app"]

app = typer.Typer(help="The decisions the platform made or proposed.", no_args_is_help=True)

_STATUSES = ("proposed", "approved", "rejected", "executed", "noted")
_KINDS = ("replenish", "rebalance", "maintain", "reroute")


@app.command("list")
def list_(store: Annotated[str | None, typer.Option("--store", help="sqlite:///path or postgresql://... "
                                                                    "(default: SUPPLYNET_STORE_URL)")] = None,
          status: Annotated[str | None, typer.Option(help=f"only this status: {', '.join(_STATUSES)}")] = None,
          kind: Annotated[str | None, typer.Option(help=f"only this kind: {', '.join(_KINDS)}")] = None,
          limit: Annotated[int, typer.Option(min=1, max=10_000_000, help="newest first, at most this many")] = 100,
          as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False) -> None:
    """Decisions, newest first: a table, or with --json one object per line (id, kind, status, dedupe_key ...)."""
    from ..store import open_store
    from ..store.decisions import DecisionTable

    if status is not None and status not in _STATUSES:
        raise DataError(f"--status {status!r}: use one of {', '.join(_STATUSES)}")
    if kind is not None and kind not in _KINDS:
        raise DataError(f"--kind {kind!r}: use one of {', '.join(_KINDS)}")
    with open_store(store or Settings().resolved_store_url()) as st:
        rows = DecisionTable(st.backend).list(status=status, kind=kind, limit=limit)
    for r in rows:
        rec = r.record
        action = rec.get("action", {})
        out = {"id": r.id, "no": r.no, "kind": r.kind, "status": r.status, "dedupe_key": r.dedupe_key,
               "cost": r.cost, "created_at": rec.get("created_at"), "action": action, "why": rec.get("why", "")}
        if as_json:
            typer.echo(json.dumps(out))
        else:
            what = " ".join(f"{k}={v}" for k, v in action.items() if k != "type" and v not in (None, [], ""))
            typer.echo(f"{r.id}  {r.kind:<9} {r.status:<8} {r.cost:>12,.2f}  {out['created_at'] or ''}  {what}")
