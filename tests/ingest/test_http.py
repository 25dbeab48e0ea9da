"""POST /v1/ingest: JSON and NDJSON through the same gate; 2xx only after commit; 429 under overload."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient

from supplynet.api import create_app
from supplynet.config import Settings
from supplynet.ingest.gate import GateConfig

from .conftest import Dev


@pytest.fixture
def client(store):
    app = create_app(Settings(environment="test"), store=store, gate_config=GateConfig(rate_per_s=1e6, burst=1e6))
    with TestClient(app) as c:
        yield c


def _dev(client) -> Dev:
    from .conftest import Clock

    gate = client.app.state.ingest.gate
    cred = gate.registry.provision("rf-1", measures=("temperature",), asset="R1")
    import time

    clock = Clock()
    clock.t = time.time()
    return Dev(cred, clock, units={"temperature": "degC"})


def test_json_array_and_ndjson_are_stored_after_commit(client, store):
    d = _dev(client)
    arr = [orjson.loads(d.msg({"kind": "condition", "temperature": 3.0 + i})) for i in range(5)]
    r = client.post("/v1/ingest", content=orjson.dumps(arr), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 5 and r.json()["acked"] == {"rf-1": 4}
    assert store.log.count() == 5  # committed before the answer
    nd = b"\n".join(d.msg(*[{"kind": "condition", "temperature": 4.0, "dt": -k} for k in range(100)])
                    for _ in range(3)) + b"\n"
    r = client.post("/v1/ingest", content=nd, headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["stored"] == 3
    assert store.log.count() == 305


def test_bad_messages_are_quarantined_not_refused(client, store):
    d = _dev(client)
    forged = orjson.loads(d.msg())
    forged["sig"] = forged["sig"][:-4] + "AAAA"
    r = client.post("/v1/ingest", content=orjson.dumps(forged) + b"\n" + d.msg(),
                    headers={"content-type": "application/x-ndjson"})
    body = r.json()
    assert r.status_code == 200 and body["quarantined"] == 1 and body["stored"] == 1
    assert [x["reason"] for x in body["results"]] == ["bad_signature", None]
    assert client.post("/v1/ingest", content=b"{trunc", headers={"content-type": "application/json"}).status_code == 400


def test_junk_that_is_not_an_envelope_is_one_400_naming_it(client, store):
    d = _dev(client)
    r = client.post("/v1/ingest", content=d.msg() + b'\n{"device":"x"}\nnot json\n',
                    headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 400 and "line 2 is not a sealed envelope" in r.json()["detail"]
    assert store.log.count() == 0 and client.app.state.ingest.gate.tables.quarantine_counts() == {}


def test_overload_answers_429_with_retry_after(client, store):
    d = _dev(client)
    svc = client.app.state.ingest
    held = [svc.try_enter(f"10.0.0.{k}") for k in range(svc.max_admitted)]
    assert all(held)
    r = client.post("/v1/ingest", content=d.msg(), headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert store.log.count() == 0
    for k in range(svc.max_admitted):
        svc.leave(f"10.0.0.{k}")
    r = client.post("/v1/ingest", content=d.msg(seq=0), headers={"content-type": "application/x-ndjson"})
    assert r.status_code == 200 and store.log.count() == 1


def test_rate_limited_device_gets_429(store):
    app = create_app(Settings(environment="test"), store=store, gate_config=GateConfig(rate_per_s=1, burst=2))
    with TestClient(app) as client:
        d = _dev(client)
        r = client.post("/v1/ingest", content=b"\n".join(d.msg() for _ in range(3)),
                        headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 200 and r.json()["refused"] == 1 and "retry-after" in r.headers
        r = client.post("/v1/ingest", content=d.msg(), headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_oversized_request_is_413(store):
    app = create_app(Settings(environment="test"), store=store)
    with TestClient(app) as client:
        client.app.state.ingest.max_request_bytes = 1 << 20
        r = client.post("/v1/ingest", content=b"x" * (10 << 20), headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 413
