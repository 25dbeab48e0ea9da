"""What keeps state reads cheap: the live twin catches up at most every ``refresh_s``, pages are cached per
twin offset and rows per record, and API tokens are cached briefly (a local revocation applies at once)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from supplynet.api.service import TwinService, dump, row_dict
from supplynet.errors import SecurityError
from supplynet.events import Sale, StockCount
from supplynet.security.tokens import TokenService, Unauthenticated
from supplynet.store import open_store

T = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _page(twin, row):
    st = twin.state
    return b"[" + b",".join(row("inventory", k, r) for k, r in st.inventory.items()) + b"]"


@pytest.fixture
def store(tmp_path):
    st = open_store(tmp_path / "svc.db")
    yield st
    st.close()


def _count(seq, site, qty):
    return StockCount(source="rfid-1", seq=seq, ts=T + timedelta(minutes=seq), site=site, sku="MILK-2L",
                      quantity=qty, method="manual")


def test_pages_are_served_per_offset_and_refresh_is_rate_limited(store, tiny):
    store.log.append([_count(1, "STORE-1", 40), _count(2, "DC-1", 500)])
    svc = TwinService(store, tiny, refresh_s=3600.0)
    first = svc.page(("inv",), _page)
    assert {(r["site"], r["on_hand"]) for r in orjson.loads(first)} == {("STORE-1", 40.0), ("DC-1", 500.0)}
    assert svc.cached(("inv",)) is first  # current: no lock, no rebuild
    store.log.append([Sale(source="till-1", seq=1, ts=T + timedelta(hours=1), site="STORE-1", sku="MILK-2L",
                           quantity=5)])
    assert svc.page(("inv",), _page) is first  # not due yet: the published page stands
    svc.invalidate()
    assert svc.cached(("inv",)) is None  # a catch-up is due: the fast path declines
    after = orjson.loads(svc.page(("inv",), _page))
    assert {(r["site"], r["on_hand"]) for r in after} == {("STORE-1", 35.0), ("DC-1", 500.0)}
    assert svc.published == svc.twin.offset == 3


def test_rows_are_serialized_once_per_record(store, tiny):
    store.log.append([_count(1, "STORE-1", 40), _count(2, "DC-1", 500)])
    svc = TwinService(store, tiny, refresh_s=0.0)
    svc.page(("inv",), _page)
    rows = {k: v for k, v in svc._rows["inventory"].items()}
    store.log.append([Sale(source="till-1", seq=1, ts=T + timedelta(hours=1), site="STORE-1", sku="MILK-2L",
                           quantity=5)])
    svc.page(("inv",), _page)
    now = svc._rows["inventory"]
    assert now[("DC-1", "MILK-2L")][1] is rows[("DC-1", "MILK-2L")][1]  # unchanged record: same bytes
    assert now[("STORE-1", "MILK-2L")][1] is not rows[("STORE-1", "MILK-2L")][1]
    rec = svc.twin.state.inventory[("STORE-1", "MILK-2L")]
    assert orjson.loads(now[("STORE-1", "MILK-2L")][1]) == orjson.loads(dump(row_dict(rec)))
    assert orjson.loads(now[("STORE-1", "MILK-2L")][1])["position"] == 35.0


def test_service_writes_are_seen_by_the_next_read(api):
    """The app catches up at most every refresh_s, but a write through the API invalidates it."""
    api.client.app.state.control.twins.refresh_s = 3600.0
    from .test_routes import _proposal

    did = _proposal(api)
    assert api.client.get("/v1/state/orders", headers=api.h("viewer")).json()["total"] == 0
    r = api.client.post(f"/v1/decisions/{did}/approve", json={"note": "ok"}, headers=api.h("planner"))
    assert r.status_code == 200, r.text
    rows = api.client.get("/v1/state/orders", headers=api.h("viewer")).json()["rows"]
    assert [o["decision_id"] for o in rows] == [did]


def test_token_cache_keeps_local_revocation_immediate(store, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("supplynet.security.tokens.time.monotonic", lambda: clock[0])
    svc = TokenService(store, cache_s=1.0)
    other = TokenService(store)  # the CLI, another worker
    tok, row = svc.create(role="viewer", name="v")
    assert svc.authenticate(tok).role == "viewer"
    other.revoke(row.id)
    assert svc.authenticate(tok).role == "viewer"  # revoked elsewhere: honoured within cache_s
    clock[0] += 1.01
    with pytest.raises(Unauthenticated, match="revoked"):
        svc.authenticate(tok)
    tok2, row2 = svc.create(role="planner", name="p")
    assert svc.authenticate(tok2).role == "planner"
    svc.revoke(row2.id)
    with pytest.raises(Unauthenticated, match="revoked"):  # revoked here: at once
        svc.authenticate(tok2)
    with pytest.raises(SecurityError, match="cache_s"):
        TokenService(store, cache_s=-1)
