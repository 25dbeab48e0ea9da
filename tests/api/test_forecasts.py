"""``POST /v1/forecasts``: the log's sales of the network's SKU-sites, forecast with intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from supplynet.events import Sale


def _sales(api, days: int = 300) -> None:
    rng = np.random.default_rng(5)
    t0 = datetime(2024, 1, 1, 12, tzinfo=UTC)
    events, seq = [], 0
    for d in range(days):
        for site, sku, lam in (("STORE-1", "BREAD-800G", 60), ("STORE-2", "MILK-2L", 70), ("STORE-9", "X", 5)):
            events.append(Sale(source="pos-hist", seq=seq, ts=t0 + timedelta(days=d), site=site, sku=sku,
                               quantity=float(rng.poisson(lam)), unfilled=2.0 if sku == "MILK-2L" else 0.0))
            seq += 1
    api.store.log.append(events)


def test_forecasts_of_the_network_sku_sites(api):
    _sales(api)
    body = {"horizon": 3, "freq": "W", "levels": [80, 95], "model": "snaive_smooth"}
    r = api.client.post("/v1/forecasts", json=body, headers=api.h("planner"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["columns"] == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert out["series"] == 2 and out["rows"] == 6  # STORE-9/X is not in the network
    rows = out["forecasts"]
    assert {x["unique_id"] for x in rows} == {"STORE-1/BREAD-800G", "STORE-2/MILK-2L"}
    for x in rows:
        assert x["lo-95"] <= x["lo-80"] <= x["mean"] <= x["hi-80"] <= x["hi-95"]
    milk = np.mean([x["mean"] for x in rows if x["unique_id"] == "STORE-2/MILK-2L"])
    assert abs(milk - 7 * 72) < 0.1 * 7 * 72  # demand: sold + unfilled
    every = api.client.post("/v1/forecasts", json={**body, "network_only": False}, headers=api.h("planner"))
    assert every.status_code == 200 and every.json()["series"] == 3


def test_forecasts_refuse_viewers_and_bad_requests(api):
    body = {"horizon": 3}
    assert api.client.post("/v1/forecasts", json=body, headers=api.h("viewer")).status_code == 403
    empty = api.client.post("/v1/forecasts", json=body, headers=api.h("planner"))
    assert empty.status_code == 422 and "no sales events" in empty.json()["detail"]
    _sales(api, 120)
    for bad, word in (({"horizon": 3, "levels": [120]}, "between 0 and 100"),
                      ({"horizon": 3, "freq": "F"}, "unknown freq"),
                      ({"horizon": 0}, "horizon"), ({"horizon": 3, "model": "magic"}, "unknown model")):
        r = api.client.post("/v1/forecasts", json=bad, headers=api.h("planner"))
        assert r.status_code == 422 and word in r.text, (bad, r.text)
