"""GET /v1/outbox (viewer) and POST /v1/outbox/{action_id}/resend (admin)."""

from __future__ import annotations

from supplynet.store.outbox import OutboxTable


def _rows(api) -> OutboxTable:
    box = api.store.outbox
    box.enqueue(action_id="D7:order", action="order", body={"site": "ST1"}, sinks=["erp", "wms"], decision_id="D7",
                at_us=1_000)
    box.enqueue(action_id="D8:wo", action="work_order", body={"asset_id": "M1"}, sinks=["cmms"], decision_id="D8",
                at_us=2_000)
    [erp] = box.list(sink="erp")
    [wms] = box.list(sink="wms")
    box.settle(now_us=3_000, dead=[(erp.id, "HTTP 410")], delivered=[wms.id])
    return box


def test_viewer_lists_with_counts_and_filters(api) -> None:
    _rows(api)
    r = api.client.get("/v1/outbox", headers=api.h("viewer"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"] == {"dead": 1, "delivered": 1, "pending": 1}
    assert [(x["action_id"], x["sink"], x["status"], x["attempts"]) for x in body["items"]] == [
        ("D8:wo", "cmms", "pending", 0), ("D7:order", "wms", "delivered", 1), ("D7:order", "erp", "dead", 1)]
    r = api.client.get("/v1/outbox?status=dead", headers=api.h("viewer"))
    assert [(x["sink"], x["last_error"]) for x in r.json()["items"]] == [("erp", "HTTP 410")]
    assert api.client.get("/v1/outbox?status=lost", headers=api.h("viewer")).status_code == 422
    assert api.client.get("/v1/outbox").status_code == 401


def test_only_an_admin_resends_a_dead_letter(api) -> None:
    box = _rows(api)
    for role in ("viewer", "planner"):
        r = api.client.post("/v1/outbox/D7:order/resend", headers=api.h(role))
        assert r.status_code == 403 and r.headers["content-type"].startswith("application/problem+json")
    assert box.counts()["dead"] == 1
    r = api.client.post("/v1/outbox/D7:order/resend", headers=api.h("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["resent"] == 1
    assert {(x["sink"], x["status"], x["attempts"]) for x in r.json()["items"]} == {
        ("erp", "pending", 0), ("wms", "delivered", 1)}
    assert "dead" not in box.counts()
    [entry] = [e for e in api.store.audit.entries(limit=1000) if e.action == "outbox.resend"]
    assert (entry.actor, entry.subject) == ("admin:admin-1", "D7:order")
    again = api.client.post("/v1/outbox/D7:order/resend", headers=api.h("admin"))
    assert again.status_code == 409 and "not a dead letter (erp: pending, wms: delivered)" in again.json()["detail"]
    assert api.client.post("/v1/outbox/nope/resend", headers=api.h("admin")).status_code == 404


def test_metrics_show_pending_and_dead_letters(api) -> None:
    _rows(api)
    r = api.client.get("/metrics", headers=api.h("viewer"))
    assert r.status_code == 200
    lines = set(r.text.splitlines())
    for status, n in (("pending", 1), ("delivered", 1), ("dead", 1)):
        assert f'supplynet_outbox_rows{{status="{status}"}} {n}.0' in lines
