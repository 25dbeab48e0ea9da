"""Bad input through the API: every refusal is ``application/problem+json`` with a 4xx status, a
detail naming the value, and never a ``ValueError`` or a traceback (the error tree is mapped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.api.problems import status_for
from supplynet.errors import (
    ConfigError,
    DataError,
    EventError,
    ParameterError,
    SecurityError,
    StoreUnavailable,
    SupplynetError,
)
from supplynet.events import Sale


def _problem(r, status, needle):
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and needle in body["detail"], body
    assert "Traceback" not in r.text and "ValueError" not in r.text


@pytest.mark.parametrize("path,status,needle", [
    ("/v1/events?since=2026-01-05T12:00:00", 422, "timezone"),       # a naive time: events.to_utc
    ("/v1/events?since=not-a-time", 422, "since"),
    ("/v1/events?kind=sales", 422, "kind 'sales'"),
    ("/v1/state/warehouses", 422, "table"),
    ("/v1/state/inventory?as_of=2026-01-05T12:00:00", 422, "as_of"),
    ("/v1/events?limit=0", 422, "limit"),
    ("/v1/scenarios/abc/results", 404, "no scenario run"),
])
def test_bad_queries_are_problems(api, path, status, needle):
    _problem(api.client.get(path, headers=api.h("viewer")), status, needle)


@pytest.mark.parametrize("body,needle", [
    ({"horizon": 0}, "horizon"),
    ({"horizon": 4, "levels": [150]}, "level 150"),
    ({"horizon": 4, "freq": "fortnightly"}, "freq"),
    ({"horizon": 4, "model": "crystal_ball"}, "crystal_ball"),
])
def test_bad_forecast_requests_are_problems(api, body, needle):
    t0 = datetime(2024, 1, 1, 12, tzinfo=UTC)
    api.store.log.append([Sale(source="pos-hist", seq=d, ts=t0 + timedelta(days=d), site="STORE-1", sku="BREAD-800G",
                               quantity=float(d % 7)) for d in range(120)])
    r = api.client.post("/v1/forecasts", json=body, headers=api.h("planner"))
    assert 400 <= r.status_code < 500, r.text
    _problem(r, r.status_code, needle)


def test_the_tree_maps_to_statuses():
    assert status_for(ParameterError("x")) == 422
    assert status_for(DataError("x")) == 422 and status_for(EventError("x")) == 422
    assert status_for(SecurityError("x")) == 403 and status_for(StoreUnavailable("x")) == 503
    assert status_for(ConfigError("x")) == 500
    # every class of the tree has a mapping of its own (none falls through to the generic 400)
    import supplynet.errors as errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, SupplynetError) and cls is not SupplynetError:
            assert status_for(cls.__new__(cls)) != 400, name
