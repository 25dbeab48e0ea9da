"""The whole role x endpoint matrix: every role allowed where it should be and refused elsewhere;
no token, a malformed one, a revoked or expired one, and a device credential are refused everywhere."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supplynet.decide.autonomy import parse_policy
from supplynet.decide.decision import Decision, OrderAction, submit
from supplynet.security.devices import DeviceRegistry
from supplynet.security.tokens import TokenService, Unauthenticated

from .conftest import POLICY

RANK = {None: -1, "device": -1, "viewer": 0, "planner": 1, "admin": 2}


def _proposal(api, qty: float = 5000.0) -> str:
    """A decision the autonomy policy turns into a proposal (max_quantity 1000 is broken)."""
    d = Decision(kind="replenish", created_at=datetime(2026, 1, 5, 12, tzinfo=UTC), trigger_event_ids=["pos-1:1", "till-1:2"],
                 action=OrderAction(site="STORE-1", sku="MILK-2L", quantity=qty, origin="DC-1", lane_id="L-DC-STORE-1",
                                    order_type="transfer"), cost=1500.0)
    return submit(api.store, d, parse_policy(POLICY)).decision.id


def _matrix(api):
    dec_id = _proposal(api)
    dec2 = _proposal(api)
    reg = DeviceRegistry(api.store.devices)
    reg.provision("probe-1", measures=["temperature"], asset="R1")
    tok_id = TokenService(api.store).create(role="viewer", name="victim")[1].id
    return [
        ("GET", "/v1/network", None, "viewer"),
        ("GET", "/v1/state/inventory", None, "viewer"),
        ("GET", "/v1/state/orders?as_of=2026-01-05T00:00:00Z", None, "viewer"),
        ("GET", "/v1/kpis", None, "viewer"),
        ("GET", "/v1/inventory/forecast", None, "viewer"),
        ("GET", "/v1/assets/health", None, "viewer"),
        ("GET", "/v1/events?limit=5", None, "viewer"),
        ("GET", "/v1/decisions", None, "viewer"),
        ("GET", f"/v1/decisions/{dec_id}", None, "viewer"),
        ("GET", "/v1/orders", None, "viewer"),
        ("GET", "/v1/work-orders", None, "viewer"),
        ("GET", "/v1/scenarios", None, "viewer"),
        ("GET", "/v1/scenarios/library", None, "viewer"),
        ("GET", "/v1/quarantine", None, "viewer"),
        ("GET", "/v1/audit", None, "viewer"),
        ("GET", "/v1/policies/autonomy", None, "viewer"),
        ("GET", "/v1/me", None, "viewer"),
        ("GET", "/metrics", None, "viewer"),
        ("GET", "/v1/stream?max_messages=1", None, "viewer"),
        ("POST", f"/v1/decisions/{dec_id}/approve", {}, "planner"),
        ("POST", f"/v1/decisions/{dec2}/reject", {"reason": "too much"}, "planner"),
        ("POST", "/v1/orders", {"site": "STORE-1", "sku": "MILK-2L", "quantity": 3}, "planner"),
        ("POST", "/v1/work-orders", {"asset_id": "OVEN-1", "detail": "bearing noise"}, "planner"),
        ("POST", "/v1/scenarios", {"scenario": "supplier_fire", "replications": 2, "horizon": 14}, "planner"),
        ("GET", "/v1/devices", None, "admin"),
        ("GET", "/v1/devices/probe-1", None, "admin"),
        ("POST", "/v1/devices", {"device_id": "new-dev", "measures": ["temperature"], "asset": "R1"}, "admin"),
        ("POST", "/v1/devices/probe-1/revoke", None, "admin"),
        ("GET", "/v1/tokens", None, "admin"),
        ("POST", "/v1/tokens", {"name": "bot", "role": "viewer"}, "admin"),
        ("POST", f"/v1/tokens/{tok_id}/revoke", None, "admin"),
        ("GET", "/v1/audit/verify", None, "admin"),
        ("PUT", "/v1/policies/autonomy", {"high_impact_cost": 40000, "kinds": {"replenish": {"level": "propose"}}}, "admin"),
    ]


def test_role_endpoint_matrix(api):
    cred = DeviceRegistry(api.store.devices).provision("gps-9", measures=["position"], asset="TRUCK-1")
    matrix = _matrix(api)
    checked = 0
    for role in (None, "device", "viewer", "planner", "admin"):
        for i, (method, path, body, needed) in enumerate(matrix):
            if role is None:
                headers = {}
            elif role == "device":  # a device's own key material is never an API credential
                headers = {"Authorization": f"Bearer {cred.private_key}"}
            else:
                headers = api.h(role)
            headers["Idempotency-Key"] = f"matrix-{role}-{i}"
            r = api.client.request(method, path, json=body, headers=headers)
            allowed = RANK[role] >= RANK[needed]
            if allowed:
                assert r.status_code not in (401, 403), (role, method, path, r.status_code, r.text)
                assert r.status_code < 500, (role, method, path, r.text)
            else:
                want = 401 if role in (None, "device") else 403
                assert r.status_code == want, (role, method, path, r.status_code, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
            checked += 1
    assert checked == 5 * len(matrix)


def test_health_needs_no_token_and_says_only_ok(api):
    r = api.client.get("/v1/health")
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert api.client.get("/v1/status").status_code == 401  # the store, schema and version need a token


@pytest.mark.parametrize("bad", ["", "Bearer", "Bearer snt_short", "Basic dXNlcjpwYXNz",
                                 "Bearer snt_000000000000_" + "A" * 43])
def test_bad_tokens_are_401(api, bad):
    r = api.client.get("/v1/me", headers={"Authorization": bad} if bad else {})
    assert r.status_code == 401
    assert r.json()["status"] == 401 and "Traceback" not in r.text


def test_revoked_and_expired_tokens_stop_working(api):
    svc = TokenService(api.store)
    tok, row = svc.create(role="planner", name="temp", expires_in_s=60)
    assert api.client.get("/v1/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    r = api.client.post(f"/v1/tokens/{row.id}/revoke", headers=api.h("admin"))
    assert r.status_code == 200 and r.json()["revoked_at_us"] is not None
    r = api.client.get("/v1/me", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    tok2, row2 = svc.create(role="viewer", name="short", expires_in_s=1)
    with pytest.raises(Unauthenticated, match=rf"^API token {row2.id} expired$"):
        svc.authenticate(tok2, now_us=row2.expires_at + 1)
    assert svc.authenticate(tok2, now_us=row2.expires_at - 1).token_id == row2.id  # valid up to its expiry


def test_token_is_stored_hashed_and_shown_once(api):
    r = api.client.post("/v1/tokens", json={"name": "robot", "role": "planner"}, headers=api.h("admin"))
    assert r.status_code == 201
    token = r.json()["token"]
    secret = token.split("_", 2)[2]
    rows = api.store.backend.query("SELECT hash FROM api_tokens WHERE id = ?", (r.json()["info"]["id"],))
    assert rows and secret not in rows[0][0] and len(rows[0][0]) == 64
    listed = api.client.get("/v1/tokens", headers=api.h("admin")).text
    assert secret not in listed and "token" not in api.client.get("/v1/tokens", headers=api.h("admin")).json()[0]


def test_admin_cannot_grant_unknown_role(api):
    r = api.client.post("/v1/tokens", json={"name": "x", "role": "root"}, headers=api.h("admin"))
    assert r.status_code == 422
