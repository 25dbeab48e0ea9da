"""The dashboard: static files from :mod:`supplynet.web`, served by the app (no CDN, no map tiles)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)

@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/")
