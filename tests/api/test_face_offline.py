"""The face works offline: /docs and the dashboard reference only this server (vendored Swagger UI,
Leaflet, topojson-client and a Natural Earth basemap in the package); costs carry the network's currency."""

from __future__ import annotations

import json
import re
from datetime import datetime
from types import SimpleNamespace

import pytest

from supplynet.errors import DataError
from supplynet.model.currency import DEFAULT_CURRENCY, currency_of, money

_OUTSIDE = re.compile(r"""(?:src|href)\s*=\s*["'](?!/|data:)""")  # a script or stylesheet not from this server


def test_docs_is_swagger_ui_from_the_package_with_a_strict_policy(api):
    r = api.client.get("/docs")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    assert not _OUTSIDE.search(html), "a reference that leaves the server"
    assert "cdn" not in html.lower() and "http" not in html.lower()
    assets = re.findall(r"""(?:src|href)="(/[^"]+)\"""", html)
    assert "/ui/vendor/swagger-ui/swagger-ui-bundle.js" in assets and "/ui/docs.js" in assets
    for path in assets:  # every asset is served from the package, with its content type
        a = api.client.get(path)
        assert a.status_code == 200 and len(a.content) > 100, path
    assert "SwaggerUIBundle" in api.client.get("/ui/vendor/swagger-ui/swagger-ui-bundle.js").text[:200_000]
    init = api.client.get("/ui/docs.js").text
    assert '"/openapi.json"' in init and "validatorUrl: null" in init  # the default validator is an outside call
    csp = r.headers["content-security-policy"]
    assert "http" not in csp and "script-src 'self';" in csp  # no CDN, no inline script
    assert api.client.get("/openapi.json").json()["info"]["title"] == "supplynet control tower"
    old = api.client.get("/redoc", follow_redirects=False)
    assert old.status_code in (302, 307) and old.headers["location"] == "/docs"


def test_dashboard_assets_and_basemap_are_local(api):
    html = api.client.get("/ui/").text
    assert not _OUTSIDE.search(html) and "http" not in html.lower()
    for path in re.findall(r"""(?:src|href)="(/ui/[^"]+)\"""", html):
        assert api.client.get(path).status_code == 200, path
    topo = api.client.get("/ui/basemap/countries-50m.json").json()
    assert topo["type"] == "Topology" and len(topo["objects"]["countries"]["geometries"]) == 241
    js = api.client.get("/ui/app.js").text
    # the dashboard fetches only relative paths (its API and its own files)
    assert not re.findall(r"""fetch\(\s*["'`]https?:""", js)
    assert "/ui/basemap/countries-50m.json" in js


def test_network_route_names_the_currency(api):
    net = api.client.get("/v1/network", headers=api.h("viewer")).json()
    assert net["currency"] == "GBP"  # the tiny example's


def test_currency_comes_from_the_cost_model_then_the_network_then_the_default():
    assert currency_of(None) == DEFAULT_CURRENCY == "USD"
    assert currency_of(SimpleNamespace(currency="GBP")) == "GBP"
    assert currency_of(SimpleNamespace(currency="GBP", costs=SimpleNamespace(currency="EUR"))) == "EUR"
    assert currency_of(SimpleNamespace(currency="GBP", costs={"currency": "JPY"})) == "JPY"
    assert currency_of(SimpleNamespace(currency="GBP", costs=SimpleNamespace(currency=None))) == "GBP"
    assert currency_of(SimpleNamespace(costs={"currency": "euro"})) == "USD"  # not an ISO code: not shown
    assert currency_of(SimpleNamespace(), default="CHF") == "CHF"
    assert money(14183.92, "GBP") == "14,184 GBP" and money(None, "GBP") == "–"
    assert money(float("nan"), "EUR") == "–" and money(2.5, "EUR", 2) == "2.50 EUR"


def test_rebuild_as_of_a_naive_datetime_says_what_to_pass(tmp_path):
    from supplynet.store import open_store
    from supplynet.twin import Twin

    with open_store(tmp_path / "t.db") as st:
        with pytest.raises(DataError) as e:
            Twin.rebuild(st, as_of=datetime(2026, 1, 5, 12))
        msg = str(e.value)
        assert "as_of" in msg and "time zone" in msg and "tzinfo=UTC" in msg and "until" not in msg
        with pytest.raises(DataError, match="pass a datetime"):
            Twin.rebuild(st, as_of="2026-01-05")  # type: ignore[arg-type]
        assert Twin.rebuild(st, as_of=datetime.fromisoformat("2026-01-05T12:00:00Z")).offset == 0


def test_vendored_licenses_ship_beside_the_assets():
    from importlib import resources

    web = resources.files("supplynet") / "web"
    for lic in ("vendor/leaflet/LICENSE", "vendor/swagger-ui/LICENSE", "vendor/swagger-ui/NOTICE",
                "vendor/topojson-client/LICENSE", "basemap/LICENSE.world-atlas", "vendor/README.md"):
        assert (web / lic).is_file(), lic
    readme = (web / "vendor/README.md").read_text()
    for name, version in (("leaflet", "1.9.4"), ("swagger-ui-dist", "5.32.6"), ("fastapi-offline", "1.7.7"), ("topojson-client", "3.1.0"),
                          ("world-atlas", "2.0.2")):
        assert name in readme and version in readme
    assert json.loads((web / "basemap/countries-50m.json").read_text())["type"] == "Topology"
