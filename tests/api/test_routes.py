"""Routes through TestClient: decisions, orders with idempotency keys, refused fields, limits, problem
details, time travel, event paging, live updates, metrics, scenarios, forecast bands."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi.testclient import TestClient

from supplynet.api import create_app
from supplynet.api.middleware import Limits
from supplynet.config import Settings
from supplynet.decide.autonomy import parse_policy
from supplynet.decide.decision import Decision, OrderAction, submit
from supplynet.events import Sale, ShipmentStatus, StockCount
from supplynet.security.tokens import TokenService

from .conftest import POLICY

T = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _seed(store):
    store.log.append([
        StockCount(source="rfid-1", seq=1, ts=T, site="STORE-1", sku="MILK-2L", quantity=40, method="manual"),
        Sale(source="till-1", seq=1, ts=datetime(2026, 1, 5, 10, tzinfo=UTC), site="STORE-1", sku="MILK-2L", quantity=5),
        Sale(source="till-1", seq=2, ts=datetime(2026, 1, 6, 10, tzinfo=UTC), site="STORE-1", sku="MILK-2L", quantity=7),
        ShipmentStatus(source="tms", seq=1, ts=datetime(2026, 1, 6, 11, tzinfo=UTC), shipment_id="SH1",
                       status="departed", origin="DC-1", destination="STORE-1", lane_id="L-DC-STORE-1",
                       lines=[{"sku": "MILK-2L", "quantity": 20}]),
    ])


def _proposal(api, qty=5000.0):
    d = Decision(kind="replenish", created_at=T, trigger_event_ids=["till-1:1", "rfid-1:1"], cost=900.0,
                 action=OrderAction(site="STORE-1", sku="MILK-2L", quantity=qty, origin="DC-1", lane_id="L-DC-STORE-1",
                                    order_type="transfer"))
    return submit(api.store, d, parse_policy(POLICY)).decision.id


def test_approve_via_api_executes_and_the_order_reaches_the_twin(api):
    did = _proposal(api)
    q = api.client.get("/v1/decisions?status=proposed", headers=api.h("viewer")).json()["items"]
    assert [d["id"] for d in q] == [did] and "max_quantity" in q[0]["autonomy"]["reason"]
    r = api.client.post(f"/v1/decisions/{did}/approve", json={"note": "ok"}, headers=api.h("planner"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["decision"]["status"] == "executed" and body["events"][0]["order_id"] == f"PO-{did}"
    orders = api.client.get("/v1/orders", headers=api.h("viewer")).json()
    assert [(o["order_id"], o["decision_id"], o["open_quantity"]) for o in orders] == [(f"PO-{did}", did, 5000.0)]
    again = api.client.post(f"/v1/decisions/{did}/approve", json={}, headers=api.h("planner2"))
    assert again.status_code == 409 and again.json()["code"] == "decision"


def test_reject_needs_a_reason(api):
    did = _proposal(api)
    r = api.client.post(f"/v1/decisions/{did}/reject", json={}, headers=api.h("planner"))
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", "reason"]
    r = api.client.post(f"/v1/decisions/{did}/reject", json={"reason": "lane closed"}, headers=api.h("planner"))
    assert r.status_code == 200 and r.json()["rejection"]["reason"] == "lane closed"


def test_repeated_idempotency_key_makes_one_order(api):
    body = {"site": "STORE-1", "sku": "MILK-2L", "quantity": 12}
    h = api.h("planner", **{"Idempotency-Key": "order-key-0001"})
    first = api.client.post("/v1/orders", json=body, headers=h)
    second = api.client.post("/v1/orders", json=body, headers=h)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers.get("Idempotent-Replayed") == "true"
    assert len(api.client.get("/v1/orders", headers=api.h("viewer")).json()) == 1
    other = api.client.post("/v1/orders", json={**body, "quantity": 13}, headers=h)
    assert other.status_code == 409
    missing = api.client.post("/v1/orders", json=body, headers=api.h("planner"))
    assert missing.status_code == 422 and "Idempotency-Key" in missing.text


def test_fields_a_role_may_not_set_are_refused_not_ignored(api):
    h = api.h("planner", **{"Idempotency-Key": "order-key-0002"})
    for field, value in (("approved", True), ("status", "executed"), ("approvals", [{"by": "x"}]), ("cost", 0)):
        r = api.client.post("/v1/orders", json={"site": "STORE-1", "sku": "MILK-2L", "quantity": 1, field: value},
                            headers=h)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["body", field], field
    r = api.client.post("/v1/tokens", json={"name": "x", "role": "viewer", "created_by": "admin:root"},
                        headers=api.h("admin"))
    assert r.status_code == 422
    assert api.client.get("/v1/orders", headers=api.h("viewer")).json() == []


def test_high_impact_order_needs_a_second_planner(api):
    h = api.h("planner", **{"Idempotency-Key": "big-order-01"})
    r = api.client.post("/v1/orders", json={"site": "STORE-1", "sku": "MILK-2L", "quantity": 60_000}, headers=h)
    assert r.status_code == 201 and r.json()["decision"]["status"] == "proposed"
    did = r.json()["decision"]["id"]
    own = api.client.post(f"/v1/decisions/{did}/approve", json={}, headers=api.h("planner"))
    assert own.status_code == 409 and "other than its proposer" in own.json()["detail"]
    ok = api.client.post(f"/v1/decisions/{did}/approve", json={}, headers=api.h("planner2"))
    assert ok.status_code == 200 and ok.json()["decision"]["status"] == "executed"


def test_request_size_limit(api):
    big = {"site": "STORE-1", "sku": "MILK-2L", "quantity": 1, "reason": "x" * (70 * 1024)}
    r = api.client.post("/v1/orders", json=big, headers=api.h("planner", **{"Idempotency-Key": "big-body-01"}))
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"

    def chunks():
        yield b'{"name": "a", "role": "viewer", "pad": "'
        for _ in range(80):
            yield b"y" * 1024
        yield b'"}'

    r = api.client.post("/v1/tokens", content=chunks(), headers=api.h("admin", **{"Content-Type": "application/json"}))
    assert r.status_code == 413


def test_rate_limit_answers_429_with_retry_after(tmp_path, tiny):
    from supplynet.store import open_store

    with open_store(tmp_path / "r.db") as store:
        tok = TokenService(store).create(role="viewer", name="v")[0]
        app = create_app(Settings(environment="test"), store=store, network=tiny,
                         limits=Limits(rate_per_s=0.5, burst=3))
        with TestClient(app) as c:
            codes = [c.get("/v1/me", headers={"Authorization": f"Bearer {tok}"}).status_code for _ in range(5)]
            assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
            r = c.get("/v1/me", headers={"Authorization": f"Bearer {tok}"})
            assert int(r.headers["Retry-After"]) >= 1 and r.json()["status"] == 429


def test_errors_are_problem_details_never_tracebacks(api, monkeypatch):
    r = api.client.get("/v1/nowhere", headers=api.h("viewer"))
    assert r.status_code == 404 and r.json()["title"] == "Not Found"
    r = api.client.get("/v1/decisions/D9999999", headers=api.h("viewer"))
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = api.client.get("/v1/events?kind=teleport", headers=api.h("viewer"))
    assert r.status_code == 422 and "teleport" in r.json()["detail"]
    from supplynet.api import service

    monkeypatch.setattr(service.TwinService, "page", lambda *a, **k: 1 / 0)
    r = api.client.get("/v1/kpis", headers=api.h("viewer"))
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in r.text and "ZeroDivision" not in r.text


def test_state_time_travel_and_event_paging(api):
    _seed(api.store)
    now = api.client.get("/v1/state/inventory?site=STORE-1", headers=api.h("viewer")).json()
    then = api.client.get("/v1/state/inventory?site=STORE-1&as_of=2026-01-05T12:00:00Z", headers=api.h("viewer")).json()
    assert now["rows"][0]["on_hand"] == 28 and now["rows"][0]["in_transit"] == 20
    assert then["rows"][0]["on_hand"] == 35 and then["rows"][0]["in_transit"] == 0
    ships = api.client.get("/v1/state/shipments", headers=api.h("viewer")).json()["rows"]
    assert ships[0]["units"] == 20 and ships[0]["lines"][0]["sku"] == "MILK-2L"
    seen, after = [], None
    while True:
        url = "/v1/events?limit=3" + (f"&after_offset={after}" if after else "")
        page = api.client.get(url, headers=api.h("viewer")).json()
        seen += [i["offset"] for i in page["items"]]
        after = page["next_after_offset"]
        if after is None:
            break
    assert seen == [1, 2, 3, 4]
    sales = api.client.get("/v1/events?kind=sale&source=till-1&since=2026-01-06T00:00:00Z",
                           headers=api.h("viewer")).json()["items"]
    assert [e["event"]["seq"] for e in sales] == [2]
    k = api.client.get("/v1/kpis", headers=api.h("viewer")).json()
    assert k["sold"] == 12 and k["shipments_open"] == 1
    bands = api.client.get("/v1/inventory/forecast?site=STORE-1&sku=MILK-2L&days=7", headers=api.h("viewer")).json()
    b = bands[0]
    assert len(b["p50"]) == 8 and all(lo <= m <= hi for lo, m, hi in zip(b["p10"], b["p50"], b["p90"], strict=True))
    assert b["p50"][-1] < b["p50"][0]  # demand draws the stock down


def test_live_updates_over_sse(api):
    with api.client.stream("GET", "/v1/stream?max_messages=2&interval=0.2", headers=api.h("viewer")) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in r.iter_lines():
            lines.append(line)
            if sum(x.startswith("data:") for x in lines) == 1:
                _seed(api.store)
        data = [x for x in lines if x.startswith("data:")]
    assert len(data) == 2 and '"log_offset": 4' in data[1] and "log_offset" in data[1].split("changed")[1]


def test_metrics_expose_ingest_decisions_and_latency(api):
    _proposal(api)
    api.client.get("/v1/kpis", headers=api.h("viewer"))
    text = api.client.get("/metrics", headers=api.h("viewer")).text
    assert 'supplynet_decisions{kind="replenish",status="proposed"} 1.0' in text
    assert 'supplynet_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/v1/kpis"}' in text
    assert "supplynet_log_events" in text


def test_scenario_runs_in_the_background(api):
    r = api.client.post("/v1/scenarios", json={"scenario": "supplier_fire", "replications": 4, "horizon": 21, "seed": 3},
                        headers=api.h("planner"))
    assert r.status_code == 202, r.text
    job = r.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        st = api.client.get(f"/v1/scenarios/{job}", headers=api.h("viewer")).json()
        if st["status"] in ("done", "failed"):
            break
        time.sleep(0.2)
    assert st["status"] == "done", st
    res = api.client.get(f"/v1/scenarios/{job}/results", headers=api.h("viewer")).json()
    assert {"baseline:fill_rate", "supplier_fire:fill_rate"} <= set(res["daily"])
    assert len(res["daily"]["baseline:fill_rate"]["p50"]) == 21
    assert {r["scenario"] for r in res["network"]} == {"baseline", "supplier_fire"}
    bad = api.client.post("/v1/scenarios", json={"scenario": "alien_invasion"}, headers=api.h("planner"))
    assert bad.status_code == 422 and "alien_invasion" in bad.json()["detail"]
    # kept in the store: a restarted service lists the run and serves its results
    from supplynet.store.scenarios import ScenarioRow

    api.store.scenarios.insert(ScenarioRow(id="abc123", status="running", params={"scenario": "x"},
                                                        requested_by="planner:gone", created_at=1, started_at=2,
                                                        finished_at=None, error=None))
    app = create_app(Settings(environment="test"), store=api.store, network=api.network,
                     limits=Limits(rate_per_s=1e6, burst=1e6))
    with TestClient(app) as c:
        runs = {r["id"]: r for r in c.get("/v1/scenarios", headers=api.h("viewer")).json()}
        assert runs[job]["status"] == "done" and runs[job]["params"]["replications"] == 4
        assert runs[job]["requested_by"] == "planner:planner-1" and runs[job]["progress"] == 1.0
        again = c.get(f"/v1/scenarios/{job}/results", headers=api.h("viewer")).json()
        assert again["daily"] == res["daily"] and again["network"] == res["network"]
        assert runs["abc123"]["status"] == "failed" and "interrupted" in runs["abc123"]["error"]
        r = c.get("/v1/scenarios/abc123/results", headers=api.h("viewer"))
        assert r.status_code == 409 and "interrupted" in r.json()["detail"]
    audit = api.client.get("/v1/audit?limit=50", headers=api.h("viewer")).json()["items"]
    assert [(e["action"], e["actor"]) for e in audit if e["subject"] == job] == [("scenario.run", "planner:planner-1")]


def test_device_routes_use_the_registry(api):
    r = api.client.post("/v1/devices", json={"device_id": "temp-7", "measures": ["temperature"], "asset": "REEFER-1"},
                        headers=api.h("admin"))
    assert r.status_code == 201 and r.json()["credential"]["private_key"]
    assert api.client.post("/v1/devices", json={"device_id": "temp-7"}, headers=api.h("admin")).status_code == 409
    listed = api.client.get("/v1/devices", headers=api.h("admin")).json()
    assert [d["device_id"] for d in listed] == ["temp-7"] and "private_key" not in str(listed)
    assert api.client.post("/v1/devices/temp-7/revoke", headers=api.h("admin")).json()["revoked_at_us"]
    assert api.client.get("/v1/devices/nope", headers=api.h("admin")).status_code == 404


def test_forecast_bands_rank_positions_by_days_of_cover(api):
    _seed(api.store)
    api.store.log.append([StockCount(source="rfid-1", seq=2, ts=T, site="DC-1", sku="MILK-2L", quantity=900,
                                     method="manual")])
    bands = api.client.get("/v1/inventory/forecast?order=cover&days=3", headers=api.h("viewer")).json()
    covers = [b["days_of_cover"] for b in bands]
    assert covers == sorted(covers) and None not in covers and len(bands) >= 2
    store = next(b for b in bands if b["site"] == "STORE-1")
    assert store["days_of_cover"] == round(store["position"] / store["demand_mean_per_day"], 2)
    assert store["in_transit"] == 20 and store["p50"][0] == store["on_hand"]
    assert api.client.get("/v1/kpis", headers=api.h("viewer")).json()["last_event_at"].startswith("2026-01-06T11:00")
    # stock on order arrives within the lane's lead time (L-DC-STORE-1: 1 day): the projection counts it
    from supplynet.events import OrderEvent

    api.store.log.append([OrderEvent(source="erp", seq=1, ts=datetime(2026, 1, 6, 12, tzinfo=UTC), order_id="TO-1",
                                     order_type="transfer", status="created", site="STORE-1", sku="MILK-2L",
                                     quantity=100, origin="DC-1")])
    after = api.client.get("/v1/inventory/forecast?site=STORE-1&sku=MILK-2L&days=3", headers=api.h("viewer")).json()[0]
    assert after["position"] == store["position"] + 100
    assert [round(a - b, 2) for a, b in zip(after["p50"], store["p50"], strict=True)] == [0, 100, 100, 100]


def test_symmetric_devices_through_the_api_keep_their_secret_sealed(api, tmp_path, monkeypatch):
    import os

    # the deployment's vault key (it keys the audit chain the fixture already wrote to) now lives in the
    # service's home folder only, not in the environment nor in the working folder
    key = os.environ["SUPPLYNET_VAULT_KEY"]
    monkeypatch.delenv("SUPPLYNET_VAULT_KEY", raising=False)
    monkeypatch.delenv("SUPPLYNET_VAULT_KEY_FILE", raising=False)
    (tmp_path / "vault.key").write_text(key)
    (tmp_path / "vault.key").chmod(0o600)
    monkeypatch.setenv("SUPPLYNET_HOME", str(tmp_path))  # the service's home, as `supplynet serve` runs it
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    r = api.client.post("/v1/devices", json={"device_id": "pos-9", "measures": ["sale"], "site": "STORE-1",
                                             "scheme": "hmac-sha256"}, headers=api.h("admin"))
    assert r.status_code == 201, r.text
    cred = r.json()["credential"]
    assert cred["scheme"] == "hmac-sha256" and cred["private_key"].startswith("hmac-sha256:")
    assert not list((tmp_path / "cwd").rglob("vault.key"))  # the service's home (its settings), not the working folder
    shown = api.client.get("/v1/devices/pos-9", headers=api.h("admin")).json()
    assert shown["keys"][0]["scheme"] == "hmac-sha256" and "sealed" not in shown["keys"][0]
    # the service's own gate verifies it: an NDJSON post of a sealed sale is stored
    from supplynet.ingest.envelope import seal

    msg = seal("pos-9", cred["kid"], cred["private_key"], 0, datetime.now(UTC),
               [{"kind": "sale", "sku": "MILK-2L", "quantity": 2}])
    out = api.client.post("/v1/ingest", content=msg, headers={**api.h("admin"), "content-type": "application/x-ndjson"})
    assert out.status_code == 200 and out.json()["stored"] == 1, out.text
    bad = api.client.post("/v1/devices", json={"device_id": "x-1", "scheme": "rsa"}, headers=api.h("admin"))
    assert bad.status_code in (400, 422)
