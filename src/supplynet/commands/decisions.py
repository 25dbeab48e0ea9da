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
        cur = _currency(st) if rows and not as_json else ""
    if as_json:
        for r in rows:
            rec = r.record
            typer.echo(json.dumps({"id": r.id, "no": r.no, "kind": r.kind, "status": r.status,
                                   "dedupe_key": r.dedupe_key, "cost": r.cost, "created_at": rec.get("created_at"),
                                   "action": rec.get("action", {}), "why": rec.get("why", "")}))
        return
    if not rows:
        typer.echo("no decisions" + "".join(f" {k} {v}" for k, v in (("with status", status), ("of kind", kind)) if v))
        return
    from rich.console import Console

    from ._tables import Col, cell, make_table

    console = Console(soft_wrap=False)
    cols = [Col("id"), Col("kind"), Col("status"), Col(f"cost {cur}", numeric=True), Col("created (UTC)", fold=False),
            Col("action")]
    body = [[r.id, r.kind, r.status, cell(r.cost, 2), cell(r.record.get("created_at")),
             action_text(r.record.get("action", {}))] for r in rows]
    console.print(make_table(cols, body, title=f"decisions: {len(rows)}, newest first"))


def _currency(st: object) -> str:
    """The currency of the network the store runs (see :func:`supplynet.model.currency.currency_of`)."""
    from ..errors import SupplynetError
    from ..model.currency import currency_of
    from ._netstore import store_network

    try:
        return currency_of(store_network(st, None, record=False, required=False))
    except SupplynetError:  # a stored network that no longer parses: still list the decisions
        return currency_of(None)


def action_text(a: dict) -> str:
    """What a decision does, in a few words (as the dashboard's queue says it)."""
    t = a.get("type")
    qty = a.get("quantity")
    if t == "order":
        return (f"{a.get('order_type', 'order')} {qty:,.0f} × {a.get('sku')} → {a.get('site')}"
                f" via {a.get('lane_id') or '?'}") if isinstance(qty, int | float) else f"order for {a.get('site')}"
    if t == "work_order":
        return f"work order on {a.get('asset_id')}"
    if t == "reroute":
        return f"reroute {a.get('shipment_id')} to {a.get('to_lane')}"
    if t == "quality":
        return f"{'write off' if a.get('option') == 'write_off' else 'inspect'} {', '.join(a.get('skus') or [])} " \
               f"on {a.get('shipment_id')}"
    return " ".join(f"{k}={v}" for k, v in a.items() if k != "type" and v not in (None, [], ""))
