"""Options the commands share, declared once (``Annotated`` aliases, as FastAPI's ``SessionDep``)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["StoreOpt"]

#: ``--store URL``: the store a command reads or writes (None: the settings' default)
StoreOpt = Annotated[str | None, typer.Option("--store", help="sqlite:///path or postgresql://...; default: "
                                                                "SUPPLYNET_STORE_URL or .supplynet/supplynet.db")]
