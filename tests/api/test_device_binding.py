"""``POST /v1/devices`` requires a binding like ``supplynet devices add`` (issue 15, item 9)."""

from __future__ import annotations


def test_post_device_without_binding_is_a_4xx_problem(api):
    r = api.client.post("/v1/devices", json={"device_id": "pos-1", "measures": ["stock_count", "sale"]},
                        headers=api.h("admin"))
    assert r.status_code == 422 and "bound to nothing" in r.json()["detail"]
    assert api.client.get("/v1/devices/pos-1", headers=api.h("admin")).status_code == 404
    r = api.client.post("/v1/devices", json={"device_id": "pos-1", "measures": ["sale"], "site": "S1"},
                        headers=api.h("admin"))
    assert r.status_code == 201 and r.json()["device"]["site"] == "S1" and not r.json()["device"]["any_site"]
    r = api.client.post("/v1/devices", json={"device_id": "gw-1", "measures": ["sale"], "any_site": True},
                        headers=api.h("admin"))
    assert r.status_code == 201 and r.json()["device"]["any_site"]
