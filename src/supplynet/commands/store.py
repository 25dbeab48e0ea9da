"""``supplynet store check``: is the store intact?

    supplynet store check --store sqlite:///.supplynet/supplynet.db
    supplynet store migrate --store postgresql://...

Runs the database's own checks (SQLite ``PRAGMA integrity_check``; PostgreSQL ``amcheck`` where it is
installed, else catalogue sanity and a full read of each table), then the log's invariants and the
audit chain (see :mod:`supplynet.store.check`). Prints one line per problem and exits 2, or one ``ok``
line. Read-only: it never migrates or creates anything.
"""

from __future__ import annotations

import typer

from ..config import Settings
from .options import StoreOpt

__all__ = ["app"]

app = typer.Typer(help="The store itself: check its integrity, bring its schema up to date.", no_args_is_help=True)


@app.command()
def check(store: StoreOpt = None) -> None:
    """Check the database, the log's invariants and the audit chain; exit 2 with one line per problem."""
    from ..errors import StoreError, StoreUnavailable
    from ..store import open_store

    url = store or Settings().resolved_store_url()
    try:
        st = open_store(url, readonly=True)
    except StoreUnavailable:
        raise
    except StoreError as exc:  # a file too damaged to open is a finding, not a crash
        typer.echo(f"problem: cannot open the store: {exc}")
        raise typer.Exit(code=2) from exc
    with st:
        problems, notes = st.check()
    for n in notes:
        typer.echo(f"note: {n}")
    for p in problems:
        typer.echo(f"problem: {p}")
    if problems:
        raise typer.Exit(code=2)
    typer.echo(f"ok: {st.url}")


@app.command()
def migrate(store: StoreOpt = None) -> None:
    """Apply the schema migrations this version knows (commands that only read never do)."""
    from ..store import open_store

    url = store or Settings().resolved_store_url()
    with open_store(url, readonly=True) as st:
        before = st.schema_version()
        after = st.migrate()
    typer.echo(f"{st.url}: schema version {before} -> {after}")
