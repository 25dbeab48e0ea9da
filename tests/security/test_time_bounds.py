"""Every parsed time is bounded: poison times are quarantined with a reason, never an exception,
one bad envelope never fails its batch, and a reading from the future moves no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supplynet.errors import EventError
from supplynet.events import parse_event, parse_time, to_utc, us_to_ts
from supplynet.ingest.gate import EXPLAIN, REASONS

from .conftest import POISON_TIMES, ahead, make_dev


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_outside_utc_are_value_errors_not_overflow(text):
    with pytest.raises(ValueError, match="out of range"):
        to_utc(datetime.fromisoformat(text))
    with pytest.raises(ValueError):
        parse_time(text)
    with pytest.raises(EventError, match="ts"):
        parse_event({"kind": "sale", "source": "a", "seq": 1, "ts": text, "site": "S", "sku": "A", "quantity": 1})
    with pytest.raises(ValueError):
        us_to_ts(10**20)


@pytest.mark.parametrize("when", POISON_TIMES)
def test_poison_envelope_time_is_quarantined_and_its_batch_is_stored(gate, store, when):
    dev = make_dev(gate)
    good1 = dev.msg()
    poison = dev.msg(ts=when)
    good2 = dev.msg()
    out = gate.submit([good1, poison, good2], "http")
    assert [o.status for o in out] == ["stored", "quarantined", "stored"]
    assert out[1].reason in ("schema", "clock_skew")
    assert store.log.count() == 2


@pytest.mark.parametrize("when", POISON_TIMES)
def test_poison_reading_time_is_quarantined_as_time_out_of_range(gate, store, clock, when):
    dev = make_dev(gate)
    out = gate.submit([dev.msg({"kind": "condition", "temperature": 4.0, "ts": when}), dev.msg()], "mqtt")
    assert out[0].status == "quarantined" and out[1].status == "stored"
    assert out[0].reason in ("time_out_of_range", "schema")  # schema: a time that does not exist in UTC
    assert not out[0].retry  # final: acknowledged, the device lets it go
    assert gate.acked(dev.id) == 1
    assert store.log.count() == 1
    assert "time_out_of_range" in REASONS and "time_out_of_range" in EXPLAIN


def test_a_reading_dated_2999_moves_neither_the_twin_clock_nor_the_late_cut_off(gate, store, clock):
    from supplynet.twin import Twin

    dev = make_dev(gate)
    out = gate.submit([dev.msg({"kind": "condition", "temperature": 4.0, "ts": "2999-01-01T00:00:00Z"}),
                       dev.msg({"kind": "condition", "temperature": 4.0, "ts": ahead(clock, 6.9 * 86_400)})], "http")
    assert [o.reason for o in out] == ["time_out_of_range", "time_out_of_range"]
    # the next on-time readings are stored, not sent to the late table
    out = gate.submit([dev.msg() for _ in range(20)], "http")
    assert {o.status for o in out} == {"stored"}
    assert gate.tables.late_count() == 0
    twin = Twin.rebuild(store, None)
    assert twin.state.last_event_at == datetime.fromtimestamp(clock(), UTC)


def test_readings_within_the_skew_and_history_window_are_kept(gate, store, clock):
    dev = make_dev(gate)
    out = gate.submit([dev.msg({"kind": "condition", "temperature": 4.0, "ts": ahead(clock, 200)}),
                       dev.msg({"kind": "condition", "temperature": 4.0, "ts": ahead(clock, -20 * 86_400)})], "http")
    assert [o.status for o in out] == ["stored", "late"]
    out = gate.submit([dev.msg({"kind": "condition", "temperature": 4.0, "ts": ahead(clock, -40 * 86_400)})], "http")
    assert (out[0].status, out[0].reason) == ("quarantined", "time_out_of_range")


def test_an_unforeseen_error_on_one_message_quarantines_it_and_keeps_the_batch(gate, store, monkeypatch):
    from supplynet.ingest import gate as gate_mod

    dev = make_dev(gate)
    msgs = [dev.msg(), dev.msg(), dev.msg()]
    real = gate_mod.parse_body

    def flaky(body: bytes):
        if b'"seq":1,' in body:
            raise OverflowError("a check no one foresaw")
        return real(body)

    monkeypatch.setattr(gate_mod, "parse_body", flaky)
    out = gate.submit(msgs, "mqtt")
    assert [o.status for o in out] == ["stored", "quarantined", "stored"]
    assert out[1].reason == "schema" and "OverflowError" in out[1].detail


def test_http_batch_with_a_poison_envelope_answers_per_message(store):
    import orjson
    from fastapi.testclient import TestClient

    from supplynet.api import create_app
    from supplynet.config import Settings
    from supplynet.ingest.gate import GateConfig

    app = create_app(Settings(environment="test"), store=store, gate_config=GateConfig(rate_per_s=1e6, burst=1e6))
    with TestClient(app) as c:
        gate = c.app.state.ingest.gate
        dev = make_dev(gate)
        body = b"\n".join([dev.msg(), dev.msg(ts="0001-01-01T00:00:00+01:00"),
                           dev.msg({"kind": "condition", "temperature": 1.0, "ts": "9999-12-31T23:59:59-01:00"}),
                           dev.msg(ts=datetime.now(UTC) - timedelta(seconds=1))])
        r = c.post("/v1/ingest", content=body, headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == ["stored", "quarantined", "quarantined", "stored"]
        assert orjson.loads(r.content)["stored"] == 2


def test_the_api_clock_ignores_a_log_dated_centuries_ahead(store):
    from fastapi.testclient import TestClient

    from supplynet.api import create_app
    from supplynet.api.routes.decisions import sim_now
    from supplynet.config import Settings
    from supplynet.events import Sale

    store.log.append([Sale(source="pos-1", seq=0, ts="2999-01-01T00:00:00Z", site="S1", sku="A", quantity=1)])
    with TestClient(create_app(Settings(environment="test"), store=store, twin_refresh_s=0.0)) as c:
        now = sim_now(c.app.state.control)
    assert abs((now - datetime.now(UTC)).total_seconds()) < 60
