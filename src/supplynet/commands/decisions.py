"""``supplynet decisions``: what the platform decided, for an operator at a terminal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from ..config import Settings
from ..errors import DataError
from .options import check_store

if TYPE_CHECKING:
    from ..store import Store

__all__ = ["app"]

app = typer.Typer(help="The decisions the platform made or proposed.", no_args_is_help=True)

_STATUSES = ("proposed", "approved", "rejected", "executed", "noted")
_KINDS = ("replenish", "rebalance", "maintain", "reroute")


@app.command("list")
def list_(store: Annotated[str | None, typer.Option("--store", callback=check_store, help="sqlite:///path or postgresql://... "
                                                                    "(default: SUPPLYNET_STORE_URL)")] = None,
          status: Annotated[str | None, typer.Option(help=f"only this status: {', '.join(_STATUSES)}")] = None,
          kind: Annotated[str | None, typer.Option(help=f"only this kind: {', '.join(_KINDS)}")] = None,
          limit: Annotated[int, typer.Option(min=1, max=10_000_000, help="newest first, at most this many")] = 100,
          as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False) -> None:
    """Decisions, newest first: a table, or with --json one object per line (id, kind, status, dedupe_key ...)."""
    from ..store import open_store

    if status is not None and status not in _STATUSES:
        raise DataError(f"--status {status!r}: use one of {', '.join(_STATUSES)}")
    if kind is not None and kind not in _KINDS:
        raise DataError(f"--kind {kind!r}: use one of {', '.join(_KINDS)}")
    with open_store(store or Settings().resolved_store_url(), readonly=True) as st:
        rows = st.decisions.list(status=status, kind=kind, limit=limit)
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

    from .tables import Col, cell, make_table

    console = Console(soft_wrap=False)
    cols = [Col("id"), Col("kind"), Col("status"), Col(f"cost {cur}", numeric=True), Col("created (UTC)", fold=False),
            Col("action")]
    body = [[r.id, r.kind, r.status, cell(r.cost, 2), cell(r.record.get("created_at")),
             action_text(r.record.get("action", {}))] for r in rows]
    console.print(make_table(cols, body, title=f"decisions: {len(rows)}, newest first"))


def _currency(st: Store) -> str:
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


def _network_of(st: Store) -> object | None:
    """The network the store records (sites of work orders, the currency); None without one."""
    from ._netstore import store_network

    return store_network(st, None, record=False, required=False)


def _policy_of(st: Store) -> object:
    """The autonomy policy the store records (what the API enforces), else the packaged default."""
    from ..decide.autonomy import parse_policy

    raw = st.decisions.setting("autonomy_policy")
    if raw:
        return parse_policy(json.loads(raw), "stored autonomy policy")
    from ..loop import default_policy

    return default_policy()  # the API's default too (supplynet/examples/autonomy.yaml)


def _answer(action: str, ids: list[str], group: str | None, note: str, store: str | None, as_json: bool) -> None:
    from ..decide import groups as grp
    from ..security.tokens import person_of
    from ..store import open_store
    from .tokens import cli_actor

    if bool(group) == bool(ids):
        raise DataError(f"decisions {action}: give either --group SITE|KIND|DAY or decision ids, not both or neither")
    for i in ids:
        if not (2 <= len(i) <= 32 and i[:1] == "D" and i[1:].isdigit()):
            raise DataError(f"{i!r} is not a decision id (D followed by digits, as 'decisions list' shows)")
    if group is not None:
        grp.parse_group_key(group)
    with open_store(store or Settings().resolved_store_url()) as st:
        table = st.decisions
        if group is not None:
            ids = grp.ids_of_group(table.list(status="proposed", limit=100_000), group, _network_of(st))
            if not ids:
                raise DataError(f"no proposal waits in group {group!r} (see 'decisions groups')")
        from ..security.tokens import TokenService

        tokens = TokenService(st).table
        results = grp.bulk(st, ids, action, cli_actor(), note=note, policy=_policy_of(st),
                           proposer_sponsors=lambda p: tokens.sponsors(person=person_of(p)))
    failed = 0
    for r in results:
        failed += r["error"] is not None
        if as_json:
            typer.echo(json.dumps(r))
        else:
            typer.echo(f"{r['id']}  {r['status'] or '?':<9} {r['error'] or ''}".rstrip())
    if failed:
        raise typer.Exit(1)


_GROUP = typer.Option("--group", help="every proposal of one group: SITE|KIND|YYYY-MM-DD ('decisions groups')")
_IDS = typer.Argument(help="decision ids (D...), or use --group")
_STORE = typer.Option("--store", callback=check_store, help="sqlite:///path or postgresql://... (default: SUPPLYNET_STORE_URL)")


@app.command("approve")
def approve_(ids: Annotated[list[str] | None, _IDS] = None, group: Annotated[str | None, _GROUP] = None,
             note: Annotated[str, typer.Option(help="a note kept with each approval")] = "",
             store: Annotated[str | None, _STORE] = None,
             as_json: Annotated[bool, typer.Option("--json", help="one JSON result per line")] = False) -> None:
    """Approve proposals (executed at once) by id or a whole group; the two-person rule holds per decision."""
    _answer("approve", list(ids or []), group, note, store, as_json)


@app.command("reject")
def reject_(ids: Annotated[list[str] | None, _IDS] = None, group: Annotated[str | None, _GROUP] = None,
            note: Annotated[str, typer.Option(help="the reason (required)")] = "",
            store: Annotated[str | None, _STORE] = None,
            as_json: Annotated[bool, typer.Option("--json", help="one JSON result per line")] = False) -> None:
    """Reject proposals by id or a whole group, with a reason (--note)."""
    if not note.strip():
        raise DataError("decisions reject: give the reason with --note")
    _answer("reject", list(ids or []), group, note, store, as_json)


@app.command("groups")
def groups_(store: Annotated[str | None, _STORE] = None,
            status: Annotated[str, typer.Option(help=f"decisions of this status: {', '.join(_STATUSES)}")] = "proposed",
            as_json: Annotated[bool, typer.Option("--json", help="the API's JSON: {\"groups\": [...]}")] = False) -> None:
    """Proposals grouped per site, kind and day, most money at stake first."""
    from ..decide import groups as grp
    from ..store import open_store

    if status not in _STATUSES:
        raise DataError(f"--status {status!r}: use one of {', '.join(_STATUSES)}")
    with open_store(store or Settings().resolved_store_url(), readonly=True) as st:
        out = grp.groups(st.decisions.list(status=status, limit=100_000), _network_of(st))
    if as_json:
        typer.echo(json.dumps({"groups": out}))
        return
    if not out:
        typer.echo(f"no {status} decisions")
        return
    from rich.console import Console

    from .tables import Col, make_table

    cur = str(out[0]["currency"])
    body = [[str(g["site"] or "-"), str(g["kind"]), str(g["day"]), f"{g['count']:,}", f"{g['money_at_stake']:,.2f}"]
            for g in out]
    cols = [Col("site"), Col("kind", fold=False), Col("day", fold=False), Col("decisions", numeric=True),
            Col(f"at stake ({cur})", numeric=True)]
    Console(soft_wrap=False).print(make_table(
        cols, body, title=f"{status}: {len(out)} group{'s' if len(out) != 1 else ''}, most at stake first",
        caption="approve or reject a group with --group SITE|KIND|DAY"))
