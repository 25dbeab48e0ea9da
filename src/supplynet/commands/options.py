"""Options the commands share, declared once (``Annotated`` aliases, as FastAPI's ``SessionDep``)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["StoreOpt", "check_store"]


def check_store(value: str | None) -> str | None:
    """``--store``'s check: an empty value is an error, not the default store."""
    if value is not None and not value.strip():
        raise typer.BadParameter("is empty: give sqlite:///path, postgresql://host/db or a file path "
                                 "(leave --store out for the default store)")
    return value


#: ``--store URL``: the store a command reads or writes (None: the settings' default)
StoreOpt = Annotated[str | None, typer.Option("--store", callback=check_store,
                                              help="sqlite:///path or postgresql://...; default: "
                                                   "SUPPLYNET_STORE_URL or .supplynet/supplynet.db")]
