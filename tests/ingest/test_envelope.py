"""The envelope: sealing, parsing, and the fast column path held to the canonical pydantic path."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from supplynet.errors import IngestError
from supplynet.events import parse_event, ts_to_us
from supplynet.ingest.envelope import (
    _fast_rows,
    open_outer,
    parse_body,
    readings_to_events,
    readings_to_rows,
    seal,
)
from supplynet.security.signing import b64u_decode, generate_keypair, verify

T = datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


def test_seal_signs_the_exact_body_bytes():
    priv, pub = generate_keypair()
    wire = seal("d-1", "k", priv, 5, T, [{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
    outer = open_outer(wire)
    assert verify(pub, outer.body, b64u_decode(outer.sig))
    body = parse_body(outer.body)
    assert (body.device, body.seq, body.last_seq, body.ts) == ("d-1", 5, 5, T)
    assert orjson.loads(wire)["body"].encode() == outer.body


def _body(readings, units=None):
    priv, _ = generate_keypair()
    return parse_body(open_outer(seal("d-1", "k", priv, 100, T, readings, units)).body)


units_c = st.sampled_from(["degC", "degF", "K", "degC", "degC"])
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
dt = st.one_of(st.integers(-86_400, 86_400), st.floats(-86_400, 86_400, allow_nan=False))


@st.composite
def condition_batches(draw):
    n = draw(st.integers(1, 30))
    fields = draw(st.sets(st.sampled_from(["temperature", "humidity", "shock"]), min_size=1))
    has_dt = draw(st.booleans())
    with_asset = draw(st.booleans())
    rows = []
    for _ in range(n):
        r = {"kind": "condition"}
        for f in sorted(fields):
            r[f] = draw(st.one_of(st.floats(0, 1), st.floats(0, 1), st.integers(0, 1), st.floats(-40, 60),
                                  finite, st.integers(-10**6, 10**6)))
        if has_dt:
            r["dt"] = draw(dt)
        if with_asset:
            r["asset_id"] = "R1"
        rows.append(r)
    units = {"temperature": draw(units_c)} if draw(st.booleans()) or "temperature" in fields else {}
    units = {k: v for k, v in units.items() if v}
    if "humidity" in fields and draw(st.booleans()):
        units["humidity"] = "%"
    return rows, units


@st.composite
def count_batches(draw):
    kind = draw(st.sampled_from(["stock_count", "sale", "position"]))
    n = draw(st.integers(1, 20))
    rows = []
    for i in range(n):
        if kind == "position":
            r = {"kind": kind, "lat": draw(st.floats(-95, 95)), "lon": draw(st.floats(-185, 185)),
                 "speed": draw(st.floats(0, 200)), "dt": i}
        else:
            r = {"kind": kind, "sku": draw(st.sampled_from(["A", "SKU-9", "x y"])),
                 "quantity": draw(st.one_of(st.integers(0, 1000), st.floats(0, 1e4), st.integers(-5, 10**8), finite))}
        rows.append(r)
    return rows, {"speed": "km/h"} if kind == "position" and draw(st.booleans()) else {}


def _outcome(fn):
    try:
        return "ok", fn()
    except IngestError as exc:
        return exc.reason, None


@given(batch=st.one_of(condition_batches(), count_batches()))
@settings(max_examples=300, deadline=None)
def test_fast_path_equals_the_canonical_path(batch):
    readings, units = batch
    body = _body(readings, units)
    kind = readings[0]["kind"]
    asset, site = ("R1", None) if kind in ("condition", "position") else (None, "S1")
    kinds = frozenset({kind})
    slow_status, slow = _outcome(lambda: readings_to_events("d-1", body, asset=asset, site=site, allowed_kinds=kinds))
    fast_status, fast = _outcome(lambda: _fast_rows("d-1", body, asset or site,
                                                     "asset_id" if asset else "site", kind))
    if fast_status == "ok" and fast is None:  # the fast path declined: nothing to compare
        event("fast path declined")
        return
    event(f"compared: {slow_status}")
    assert fast_status == slow_status
    if slow_status == "ok":
        assert [parse_event(r[3]) for r in fast] == slow
        assert [(r[0], r[1], r[2]) for r in fast] == [(e.seq, ts_to_us(e.ts), e.kind) for e in slow]
        assert readings_to_rows("d-1", body, asset=asset, site=site, allowed_kinds=kinds) == fast


def test_fast_path_is_taken_for_plain_telemetry():
    body = _body([{"kind": "condition", "temperature": 4.0, "dt": i} for i in range(100)], {"temperature": "degC"})
    rows = _fast_rows("d-1", body, "R1", "asset_id", "condition")
    assert rows is not None and len(rows) == 100 and rows[1][1] - rows[0][1] == 1_000_000


@pytest.mark.parametrize("readings,reason", [
    ([{"kind": "condition", "temperature": 280.0, "dt": 10**9}], "schema"),
    ([{"kind": "condition", "temperature": 280.0, "ts": "tomorrow"}], "schema"),
    ([{"kind": "position", "lat": 91.0, "lon": 0.0}], "implausible"),
    ([{"kind": "machine_reading", "sensors": {"t1": float("1e300")}}], "implausible"),
    ([{"kind": "machine_reading", "sensors": ["x"]}], "schema"),
])
def test_reading_errors(readings, reason):
    body = _body(readings)
    with pytest.raises(IngestError) as ei:
        readings_to_rows("d-1", body, asset="R1", site=None, allowed_kinds=None)
    assert ei.value.reason == reason


def test_body_schema_errors():
    for bad in [b"[]", b'{"v":2}', b'{"v":1,"device":"d","seq":-1,"ts":"2026-01-01T00:00:00Z","readings":[{}]}',
                b'{"v":1,"device":"d","seq":1,"ts":"2026-01-01T00:00:00","readings":[{}]}',
                b'{"v":1,"device":"d","seq":1,"ts":"2026-01-01T00:00:00Z","readings":[]}',
                b'{"v":1,"device":"d","seq":1,"ts":"2026-01-01T00:00:00Z","readings":[{}],"x":1}']:
        with pytest.raises(IngestError) as ei:
            parse_body(bad)
        assert ei.value.reason == "schema"
