"""``supplynet outbox``: the actions waiting for, delivered to, or refused by the sinks.

    supplynet outbox list [--status pending|delivered|dead] [--sink erp] [--json]
    supplynet outbox resend ACTION_ID [--sink erp]          # a dead letter goes out again
    supplynet outbox dispatch --sinks sinks.yaml [--once]   # a dispatcher on its own (run hosts one too)
    supplynet outbox secret erp --sinks sinks.yaml          # the webhook secret to give the receiver
    supplynet outbox key                                    # the platform's public key (MQTT commands)

``list --json`` prints one JSON object per line (``action_id``, ``sink``, ``status``, ``attempts``,
``action``, ``decision_id``, ``last_error`` ...).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supplynet.errors import DataError

from .options import StoreOpt

if TYPE_CHECKING:
    from supplynet.store import Store

app = typer.Typer(help="Outbox of actions for the sinks: list, re-send dead letters, dispatch.",
                  no_args_is_help=True)

SinksOpt = Annotated[Path, typer.Option("--sinks", help="the sinks file (YAML)")]


def _open(store_url: str | None, *, readonly: bool = False) -> Store:
    from supplynet.config import Settings
    from supplynet.store import open_store

    return open_store(store_url or Settings().resolved_store_url(), readonly=readonly)


def _when(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")


@app.command("list")
def list_(status: Annotated[str | None, typer.Option(help="pending | delivered | dead")] = None,
          sink: Annotated[str | None, typer.Option(help="only this sink")] = None,
          limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="newest first, at most this many")] = 1000,
          as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
          store: StoreOpt = None) -> None:
    """Outbox rows, newest first."""
    from supplynet.store.outbox import STATUSES

    if status is not None and status not in STATUSES:
        raise DataError(f"--status {status!r}: use one of {', '.join(STATUSES)}")
    with _open(store, readonly=True) as st:
        rows = st.outbox.list(status=status, sink=sink, limit=limit)
    if as_json:
        sys.stdout.write("".join(json.dumps(r.to_json()) + "\n" for r in rows))
        return
    if not rows:
        sys.stdout.write("no outbox rows" + (f" with status {status}" if status else "") + "\n")
        return
    from rich.console import Console

    console = Console(soft_wrap=False)
    table, notes = outbox_table(rows, status=status)
    console.print(table)
    for note in notes:
        console.print(note, overflow="fold", highlight=False)


def outbox_table(rows: list[Any], *, status: str | None = None) -> tuple[Any, list[str]]:
    """Outbox rows as a table that reads at 80 columns, and the notes under it: the action id folds (an
    alert's id names its device and can be long; ``outbox resend`` takes it whole), the action is named
    only where the id does not say it, and each last error is a numbered note below rather than a column."""
    from .tables import Col, make_table

    notes: list[str] = []
    body = []
    for r in rows:
        shown = r.action_id if r.action in r.action_id else f"{r.action_id} ({r.action})"
        mark = ""
        if r.last_error:
            notes.append(f"[{len(notes) + 1}] {r.action_id} to {r.sink}: {' '.join(r.last_error.split())[:300]}")
            mark = f"[{len(notes)}]"
        body.append([shown, r.sink, r.status, f"{r.attempts:,}", _when(r.updated_at_us)[5:16], mark])
    cols = [Col("action"), Col("sink"), Col("status", fold=False), Col("tries", numeric=True),
            Col("updated", fold=False), Col("error", fold=False)]
    if not notes:
        cols.pop()
        body = [b[:-1] for b in body]
    title = f"outbox: {len(rows)} rows{' ' + status if status else ''}, newest first (times UTC)"
    return make_table(cols, body, title=title), notes


@app.command()
def resend(action_id: Annotated[str, typer.Argument(help="the action id of a dead letter (see outbox list)")],
           sink: Annotated[str | None, typer.Option(help="only to this sink (default: every sink it died at)")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="print the rows as JSON lines")] = False,
           store: StoreOpt = None) -> None:
    """Send a dead letter again: back to pending, due now, attempts reset."""

    with _open(store) as st:
        box = st.outbox
        n = box.resend(action_id, sink, actor="cli")
        if n == 0:
            rows = box.list(action_id=action_id, sink=sink)
            if not rows:
                raise DataError(f"no outbox row for action {action_id!r}" + (f" and sink {sink!r}" if sink else ""))
            raise DataError(f"action {action_id!r} is not a dead letter (" + ", ".join(
                f"{r.sink}: {r.status}" for r in sorted(rows, key=lambda r: r.sink)) + "); only dead letters are re-sent")
        rows = box.list(action_id=action_id, sink=sink)
    if as_json:
        sys.stdout.write("".join(json.dumps(r.to_json()) + "\n" for r in rows))
    else:
        sys.stdout.write(f"re-sending {action_id} to {n} sink{'s' if n != 1 else ''}: "
                         f"{', '.join(r.sink for r in rows if r.status == 'pending')}\n")


@app.command()
def dispatch(sinks: SinksOpt, once: Annotated[bool, typer.Option(help="one round, then exit")] = False,
             store: StoreOpt = None) -> None:
    """Deliver the outbox to the sinks until Ctrl-C or SIGTERM (``supplynet run`` hosts the same)."""
    import signal
    import threading

    from supplynet.decide.outbox import Dispatcher
    from supplynet.decide.sinks import load_sinks

    cfg = load_sinks(sinks)
    with _open(store) as st, Dispatcher(st, cfg) as d:
        if once:
            sys.stdout.write(json.dumps(d.run_once()) + "\n")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        sys.stderr.write(f"dispatching {st.safe_url} to "
                         f"{', '.join(s.name for s in cfg.sinks)} (Ctrl-C to stop)\n")
        d.run_forever(stop)
        sys.stdout.write(json.dumps(dict(d.totals)) + "\n")


@app.command()
def secret(name: Annotated[str, typer.Argument(help="a webhook sink of the sinks file")], sinks: SinksOpt,
           store: StoreOpt = None) -> None:
    """Print a webhook sink's HMAC secret, for the receiver to check ``X-Supplynet-Signature``
    (made and sealed in the vault on first use when the sink has no ``secret_env``)."""
    from supplynet.decide.outbox import sink_secret
    from supplynet.decide.sinks import load_sinks

    spec = load_sinks(sinks).get(name)
    if spec is None or spec.kind != "webhook":
        raise DataError(f"{sinks}: no webhook sink named {name!r}")
    with _open(store) as st:
        value = sink_secret(st, spec)
    sys.stdout.write(value.decode() + "\n")


@app.command()
def key() -> None:
    """Print the platform's public key (receivers of MQTT commands check signatures with it)."""
    from supplynet.security.platform import platform_key
    from supplynet.security.signing import fingerprint

    k = platform_key()
    sys.stdout.write(json.dumps({"public_key": k.public, "kid": fingerprint(k.public)}) + "\n")
