"""``supplynet tokens``: create (shown once), list and revoke API tokens."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from ..config import Settings
from ..errors import DataError
from .options import StoreOpt

__all__ = ["app"]

app = typer.Typer(help="API tokens for people and programs: roles viewer, planner, admin.", no_args_is_help=True)


#: the longest lifetime a token may be given (days); 0 means it never expires
MAX_EXPIRES_DAYS = 3650


def _url(store: str | None) -> str:
    return store or Settings().resolved_store_url()


def cli_actor() -> str:
    """Who acts from the command line, as the audit chain records it: ``cli:<login name>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def _us(v: int | None) -> str | None:
    from ..events import us_to_ts

    return None if v is None else us_to_ts(v).isoformat()


@app.command()
def create(role: Annotated[str, typer.Option(help="viewer | planner | admin")],
           person: Annotated[str | None, typer.Option(help="the person it belongs to (the two-person rule "
                                                           "compares people, not tokens); default: --name")] = None,
           name: Annotated[str | None, typer.Option(help="a label for the token (default: the person)")] = None,
           expires: Annotated[float, typer.Option("--expires", help="days until it expires; 0 for never")] = 90.0,
           store: StoreOpt = None) -> None:
    """Create a token for a person; it is printed once (only its hash is kept)."""
    import math

    from ..security.tokens import TokenService
    from ..store import open_store

    if not (math.isfinite(expires) and 0 <= expires <= MAX_EXPIRES_DAYS):
        raise DataError(f"--expires {expires:g}: days until the token expires, 0..{MAX_EXPIRES_DAYS} (0 for never)")
    if not person and not name:
        raise DataError("give --person NAME (who the token belongs to)")
    with open_store(_url(store)) as st:
        token, row = TokenService(st).create(role=role, name=name, person=person,
                                             expires_in_s=expires * 86400 if expires else None, created_by=cli_actor())
    typer.echo(json.dumps({"token": token, "id": row.id, "name": row.name, "person": row.holder, "role": row.role,
                           "expires_at": _us(row.expires_at), "note": "shown once: store it now"}, indent=2))


@app.command("list")
def list_(store: StoreOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="a JSON array of the tokens")] = False) -> None:
    """Tokens (never their secrets): a table, or JSON with --json."""
    from ..security.tokens import TokenService
    from ..store import open_store

    with open_store(_url(store), readonly=True) as st:
        rows = TokenService(st).list()
    docs = [{"id": r.id, "name": r.name, "person": r.holder, "role": r.role, "created_at": _us(r.created_at),
             "expires_at": _us(r.expires_at), "revoked_at": _us(r.revoked_at), "created_by": r.created_by}
            for r in rows]
    if as_json:
        typer.echo(json.dumps(docs, indent=2))
        return
    if not docs:
        typer.echo("no tokens (create one with supplynet tokens create)")
        return
    from .tables import Col, cell, make_table

    body = [[r.id, r.holder or "", r.role, cell(_us(r.created_at)), cell(_us(r.expires_at)) or "never",
             cell(_us(r.revoked_at))] for r in rows]
    cols = [Col("id", fold=False), Col("person"), Col("role"), Col("created (UTC)", fold=False),
            Col("expires (UTC)", fold=False), Col("revoked (UTC)", fold=False)]
    _console().print(make_table(cols, body, title=f"tokens: {len(docs)}"))


@app.command()
def people(store: StoreOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="a JSON object: person -> roles")] = False) -> None:
    """People and the roles their tokens give them: a table, or JSON with --json."""
    from ..security.tokens import TokenService
    from ..store import open_store

    with open_store(_url(store), readonly=True) as st:
        found = TokenService(st).table.people()
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    if not found:
        typer.echo("no people (tokens create --person NAME gives one a role)")
        return
    from .tables import Col, make_table

    _console().print(make_table([Col("person"), Col("roles")], [[n, ", ".join(r)] for n, r in found.items()],
                                title=f"people: {len(found)}"))


def _console() -> Any:
    from rich.console import Console

    return Console(soft_wrap=False)


@app.command()
def revoke(token_id: Annotated[str, typer.Argument(help="the token's id (tokens list)")], store: StoreOpt = None) -> None:
    """Revoke a token: it stops working at once."""
    from ..security.tokens import TokenService
    from ..store import open_store

    with open_store(_url(store)) as st:
        TokenService(st).revoke(token_id, by=cli_actor())
    typer.echo(json.dumps({"revoked": token_id}))
