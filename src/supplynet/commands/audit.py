"""``supplynet audit``: read and verify the hash-chained audit log."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ..config import Settings
from ..errors import StoreError

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit log: verify the hash chain, list entries.", no_args_is_help=True)

StoreOpt = Annotated[str | None, typer.Option("--store", help="sqlite:///path or postgresql://... "
                                                              "(default: SUPPLYNET_STORE_URL or .supplynet/supplynet.db)")]


def _url(store: str | None) -> str:
    return store or Settings().resolved_store_url()


@app.command()
def verify(store: StoreOpt = None) -> None:
    """Recompute every hash and link; prints JSON and exits 1 if an entry was edited, deleted or reordered."""
    from ..store import open_store
    from ..store.audit import AuditLog

    with open_store(_url(store)) as st:
        res = AuditLog(st.backend).verify()
    typer.echo(json.dumps(res.to_dict(), indent=2))
    if not res.ok:
        raise typer.Exit(code=1)


@app.command("list")
def list_(store: StoreOpt = None, limit: Annotated[int, typer.Option(min=1, max=100000)] = 50,
          subject: Annotated[str | None, typer.Option(help="only entries about this subject")] = None) -> None:
    """The latest entries, newest first, one JSON object per line."""
    from ..store import open_store
    from ..store.audit import AuditLog

    with open_store(_url(store)) as st:
        if not st.backend.table_exists("audit"):
            raise StoreError("this store has no audit table (schema too old)")
        for e in AuditLog(st.backend).entries(limit=limit, subject=subject, newest_first=True):
            typer.echo(json.dumps(e.to_dict()))
