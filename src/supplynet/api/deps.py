"""Dependencies as ``Annotated`` aliases: ``StateDep``, ``Viewer``, ``Planner``, ``Admin``, ``IdemKey``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..security.tokens import Principal, Unauthenticated
from .service import ControlState

__all__ = ["Admin", "IdemKey", "IdemKeyRequired", "Planner", "StateDep", "Viewer", "current_principal"]

_bearer = HTTPBearer(auto_error=False, description="API token: snt_<id>_<secret> (supplynet tokens create)")


# The dependencies are coroutines: each is cheap (the token check is cached), and a sync dependency would
# cost a trip through the thread pool per request.
async def get_state(request: Request) -> ControlState:
    return request.app.state.control


StateDep = Annotated[ControlState, Depends(get_state)]


async def current_principal(state: StateDep,
                      creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthenticated("no API token: send 'Authorization: Bearer snt_...'")
    return state.tokens.authenticate(creds.credentials)


async def _viewer(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return p.require("viewer")


async def _planner(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return p.require("planner")


async def _admin(p: Annotated[Principal, Depends(current_principal)]) -> Principal:
    return p.require("admin")


Viewer = Annotated[Principal, Depends(_viewer)]
Planner = Annotated[Principal, Depends(_planner)]
Admin = Annotated[Principal, Depends(_admin)]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=8, max_length=128,
                                       pattern=r"^[A-Za-z0-9_.:\-]+$",
                                       description="a repeated key returns the first answer and changes nothing")]
IdemKeyRequired = Annotated[str, Header(alias="Idempotency-Key", min_length=8, max_length=128,
                                        pattern=r"^[A-Za-z0-9_.:\-]+$",
                                        description="required: a repeated key returns the first answer and "
                                                    "makes one order, not two")]
