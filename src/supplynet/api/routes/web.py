"""The dashboard and the API reference: static files from :mod:`supplynet.web`, served by the app.

No CDN and no map tiles: the map's basemap (Natural Earth countries) and the scripts (Leaflet, Swagger UI)
are vendored in the package (``web/vendor/README.md`` names versions and licenses), so ``/ui/`` and
``/docs`` work without internet access.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/docs")
def docs() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, from the package's own copy (``web/vendor/swagger-ui``)."""
    return HTMLResponse((resources.files("supplynet") / "web" / "docs.html").read_text("utf-8"))


@router.get("/redoc")
def redoc() -> RedirectResponse:
    """The one API reference is ``/docs`` (ReDoc is not vendored); old links land there."""
    return RedirectResponse("/docs")
