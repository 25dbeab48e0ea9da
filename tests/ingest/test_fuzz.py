"""Hypothesis-generated hostile messages: each is quarantined with the right reason, the gate stays
up, nothing reaches the log, and memory stays bounded."""

from __future__ import annotations

import json
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supplynet.ingest.gate import Gate, GateConfig
from supplynet.security.signing import b64u_encode, sign
from supplynet.store import open_store

from .conftest import Clock, make_dev

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def w() -> Iterator[World]:
    """A world of its own for each test, so no test depends on which ran before it (all examples of
    one test share it: hypothesis runs them inside one call of the test function)."""
    world = World()
    try:
        yield world
    finally:
        world.close()


class World:
    """One store, gate and device shared by one test's examples (a fresh one for each test)."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.store = open_store(Path(self.dir.name) / "s.db")
        self.clock = Clock()
        self.gate = Gate(self.store, clock=self.clock, config=GateConfig(max_bytes=1 << 20, rate_per_s=1e9,
                                                                         burst=1e9))
        self.dev = make_dev(self.gate, "rf-1")
        self.seq = 0
        self.captured: list[bytes] = []  # messages stored once, replayed by test_replays_are_replayed_sequence

    def signed_body(self, body_text: str) -> bytes:
        """An envelope whose (hostile) body is correctly signed by the registered device."""
        b = body_text.encode("utf-8", "surrogatepass")
        sig = sign(self.dev.cred.private_key, b)
        return orjson.dumps({"device": "rf-1", "kid": self.dev.cred.kid, "sig": b64u_encode(sig),
                             "body": b.decode("utf-8", "replace")}) if _utf8(b) else (
            b'{"device":"rf-1","kid":"' + self.dev.cred.kid.encode() + b'","sig":"' + b64u_encode(sig).encode()
            + b'","body":"' + b + b'"}')

    def body(self, readings_json: str) -> str:
        self.seq += 1
        return (f'{{"v":1,"device":"rf-1","seq":{self.seq},"ts":"{self.clock.now.isoformat()}",'
                f'"units":{{"temperature":"degC"}},"readings":{readings_json}}}')

    def close(self):
        self.store.close()
        self.dir.cleanup()


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def _one(world: World, msg: bytes, allowed: set[str]) -> None:
    before = world.store.log.count()
    (out,) = world.gate.submit([msg])
    assert out.status == "quarantined" and out.reason in allowed, (out, msg[:300])
    assert world.store.log.count() == before


json_scalars = st.one_of(st.none(), st.booleans(), st.text(max_size=20), st.lists(st.integers(), max_size=3),
                         st.dictionaries(st.text(max_size=5), st.integers(), max_size=3))


@given(raw=st.binary(max_size=3000))
@SETTINGS
def test_random_bytes_are_schema_errors(w, raw):
    _one(w, raw, {"schema"})


@given(value=json_scalars)
@SETTINGS
def test_wrong_types_in_readings_are_schema(w, value):
    _one(w, w.signed_body(w.body(json.dumps([{"kind": "condition", "temperature": value}]))), {"schema"})


@given(literal=st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "nan"]))
@SETTINGS
def test_nan_and_infinities_are_refused(w, literal):
    _one(w, w.signed_body(w.body('[{"kind":"condition","temperature":' + literal + "}]")), {"schema"})


@given(x=st.one_of(st.floats(min_value=1e6, max_value=1e308), st.floats(max_value=-1e6, min_value=-1e308),
                   st.integers(min_value=10**6, max_value=10**30)))
@SETTINGS
def test_huge_numbers_are_implausible(w, x):
    _one(w, w.signed_body(w.body(json.dumps([{"kind": "condition", "temperature": x}]))),
         {"implausible"})


@given(depth=st.integers(min_value=200, max_value=50_000))
@SETTINGS
def test_deep_nesting_is_schema(w, depth):
    _one(w, w.signed_body(w.body("[" * depth + "]" * depth)), {"schema"})
    _one(w, b'{"device":' + b"[" * depth + b"]" * depth + b"}", {"schema"})


@given(junk=st.binary(min_size=1, max_size=40).filter(lambda b: not _utf8(b)))
@SETTINGS
def test_invalid_utf8_is_schema(w, junk):
    _one(w, b'{"device":"rf-1","kid":"x","sig":"y","body":"' + junk + b'"}', {"schema"})
    _one(w, w.signed_body(w.body('[{"kind":"condition","note":"') + "\udcff" + '"}]'), {"schema"})


@given(cut=st.floats(min_value=0.0, max_value=0.999))
@SETTINGS
def test_truncated_json_is_schema(w, cut):
    msg = w.dev.msg(seq=10**6)
    _one(w, msg[: int(len(msg) * cut)], {"schema"})


@given(device=st.text(min_size=1, max_size=40).filter(lambda s: s != "rf-1"))
@SETTINGS
def test_forged_device_ids_are_unknown(w, device):
    forged = orjson.loads(w.dev.msg(seq=2 * 10**6))
    forged["device"] = device
    _one(w, orjson.dumps(forged), {"unknown_device"})


@given(k=st.integers(min_value=0, max_value=19))
@SETTINGS
def test_replays_are_replayed_sequence(w, k):
    if not w.captured:  # the first example stores 20 messages; every example then replays one of them
        w.captured = [w.dev.msg(seq=3 * 10**6 + i) for i in range(20)]
        assert [o.status for o in w.gate.submit(w.captured)] == ["stored"] * 20
    _one(w, w.captured[k], {"replayed_sequence"})


def test_ten_megabyte_payloads_are_refused_with_bounded_memory(w):
    payloads = [b'{"device":"rf-1","body":"' + b"A" * (10 << 20) + b'"}', b"[" * (10 << 20),
                w.signed_body(w.body('[{"kind":"condition","temperature":1.0,"pad":"' + "x" * (10 << 20) + '"}]'))]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for p in payloads:
            _one(w, p, {"payload_too_large"})
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak < 2 << 20, f"gate allocated {peak / 1e6:.1f} MB for 10 MB payloads"
    assert max(len(r.raw) for r in w.gate.tables.quarantined(reason="payload_too_large")) <= 4096


@given(raw=st.lists(st.binary(max_size=200), min_size=1, max_size=20))
@SETTINGS
def test_gate_stays_up_and_accounts_for_everything(w, raw):
    """Hostile bytes between good messages and replays: every message is accounted for (received =
    stored + late + quarantined + refused, per device) and a good message after them is stored."""
    before = w.store.log.count()
    good = [w.dev.msg(), w.dev.msg()]
    outs = w.gate.submit([good[0], *raw, good[1], good[0]])
    assert [o.status for o in outs] == ["stored", *["quarantined"] * len(raw), "stored", "quarantined"]
    assert outs[-1].reason == "replayed_sequence" and w.store.log.count() == before + 2
    for dev, c in w.gate.accounting.items():
        assert c["received"] == c["stored"] + c["late"] + c["quarantined"] + c["refused"], (dev, c)
    assert sum(c["received"] for c in w.gate.accounting.values()) == sum(w.gate.counters.values())
    assert w.gate.accounting["rf-1"]["stored"] == w.gate.counters["stored"] == w.store.log.count()


