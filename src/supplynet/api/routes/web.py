"""The dashboard and the API reference: static files from :mod:`supplynet.web`, served by the app.

No CDN and no map tiles: the map's basemap (Natural Earth countries) and Leaflet are vendored in the
package (``web/vendor/README.md`` names versions and licenses); Swagger UI's two files come from the
installed ``fastapi-offline`` package (a dependency; its 1.5 MB bundle is not copied into this repository),
served under the same ``/ui/vendor/swagger-ui/`` paths. So ``/ui/`` and ``/docs`` work without internet
access.
"""

from __future__ import annotations

import functools
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

router = APIRouter(include_in_schema=False)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/")


@router.get("/docs")
def docs() -> HTMLResponse:
    """Swagger UI over ``/openapi.json``, from the package's own copy (``web/vendor/swagger-ui``)."""
    return HTMLResponse((resources.files("supplynet") / "web" / "docs.html").read_text("utf-8"))


@router.get("/ui/vendor/swagger-ui/swagger-ui-bundle.js")
def swagger_bundle() -> Response:
    """Swagger UI's bundle from the installed ``fastapi-offline`` package (the favicon and licenses in
    ``web/vendor/swagger-ui`` are served by the ``/ui`` mount)."""
    return _swagger("swagger-ui-bundle.js", "text/javascript; charset=utf-8")


@router.get("/ui/vendor/swagger-ui/swagger-ui.css")
def swagger_css() -> Response:
    return _swagger("swagger-ui.css", "text/css; charset=utf-8")


def _swagger(name: str, media: str) -> Response:
    return Response(_swagger_file(name), media_type=media, headers={"Cache-Control": "public, max-age=86400"})


@functools.cache
def _swagger_file(name: str) -> bytes:
    """A Swagger UI file of the package, read once per process."""
    return (resources.files("fastapi_offline") / "static" / name).read_bytes()


@router.get("/redoc")
def redoc() -> RedirectResponse:
    """The one API reference is ``/docs`` (ReDoc is not vendored); old links land there."""
    return RedirectResponse("/docs")
