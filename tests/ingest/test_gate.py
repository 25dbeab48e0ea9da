"""The gate's checks, one reason code each, and the attack suite of issue 3."""

from __future__ import annotations

import random

import pytest

from supplynet.ingest.gate import Gate, GateConfig
from supplynet.security.devices import DeviceRegistry

from .conftest import Clock, make_dev


def statuses(outs):
    return [(o.status, o.reason) for o in outs]


def test_valid_message_is_stored_in_si_with_binding_filled(gate, reefer, store):
    reefer.units["humidity"] = "%"
    out = gate.submit([reefer.msg({"kind": "condition", "temperature": 4.5, "humidity": 80, "dt": -2},
                                  {"kind": "condition", "temperature": 40.1, "dt": -1})])
    assert statuses(out) == [("stored", None)]
    events = [r.event for r in store.log.read()]
    assert [e.seq for e in events] == [0, 1]
    assert events[0].temperature_k == pytest.approx(277.65) and events[0].humidity == pytest.approx(0.8)
    assert events[0].asset_id == "R1" and events[1].temperature_k == pytest.approx(313.25)
    assert (events[1].ts - events[0].ts).total_seconds() == 1.0
    assert gate.acked("rf-1") == 1


def test_units_are_converted_and_unknown_units_quarantined(gate, reefer, store):
    reefer.units = {"temperature": "degF", "humidity": "%"}
    out = gate.submit([reefer.msg({"kind": "condition", "temperature": 41.0, "humidity": 55})])
    assert statuses(out) == [("stored", None)]
    e = next(iter(store.log.read())).event
    assert e.temperature_k == pytest.approx(278.15) and e.humidity == pytest.approx(0.55)
    reefer.units = {"temperature": "furlongs"}
    out = gate.submit([reefer.msg({"kind": "condition", "temperature": 41.0})])
    assert statuses(out) == [("quarantined", "unit")]


@pytest.mark.parametrize("reading,reason", [
    ({"kind": "condition", "temperature": 500.0}, "implausible"),          # 500 degC
    ({"kind": "condition", "temperature": -150.0}, "implausible"),
    ({"kind": "condition", "temperature": "warm"}, "schema"),
    ({"kind": "condition", "temperature": 4.0, "colour": "red"}, "schema"),
    ({"kind": "teleport"}, "schema"),
    ({"kind": "stock_count", "sku": "A", "quantity": 3}, "binding"),       # a reefer logger counting stock
    ({"kind": "condition", "asset_id": "TRUCK-9", "temperature": 4.0}, "binding"),
])
def test_each_check_has_its_reason(gate, reefer, store, reading, reason):
    out = gate.submit([reefer.msg(reading)])
    assert statuses(out) == [("quarantined", reason)]
    assert store.log.count() == 0
    q = gate.tables.quarantined()
    assert [r.reason for r in q] == [reason] and q[0].device == "rf-1" and q[0].raw


def test_truck_tracker_cannot_post_stock_counts_for_a_store(gate, store):
    tracker = make_dev(gate, "gps-7", measures=("position",), asset="TRUCK-1")
    shelf = make_dev(gate, "shelf-3", measures=("stock_count",), asset=None, site="STORE-1")
    out = gate.submit([tracker.msg({"kind": "stock_count", "site": "STORE-1", "sku": "A", "quantity": 5}),
                       tracker.msg({"kind": "position", "lat": 53.4, "lon": -2.9}),
                       shelf.msg({"kind": "stock_count", "sku": "A", "quantity": 5}),
                       shelf.msg({"kind": "stock_count", "site": "STORE-2", "sku": "A", "quantity": 5})])
    assert statuses(out) == [("quarantined", "binding"), ("stored", None), ("stored", None),
                             ("quarantined", "binding")]


def test_device_posting_for_another_device_is_refused(gate, store):
    a = make_dev(gate, "rf-a")
    b = make_dev(gate, "rf-b")
    forged_body = a.msg(device="rf-b")        # signed by a's key, outer and body say rf-b
    speaks_for_other = _respeak(a, "rf-b")    # outer says a (a's valid signature), body says rf-b
    out = gate.submit([forged_body, speaks_for_other, b.msg()])
    assert statuses(out) == [("quarantined", "bad_signature"), ("quarantined", "binding"), ("stored", None)]
    assert [e.event.source for e in store.log.read()] == ["rf-b"]


def _respeak(dev, other: str) -> bytes:
    import orjson

    from supplynet.security.signing import b64u_encode, sign

    body = orjson.dumps({"v": 1, "device": other, "seq": 0, "ts": dev.clock.now.isoformat(),
                         "readings": [{"kind": "condition", "temperature": 280.0}]})
    return orjson.dumps({"device": dev.id, "kid": dev.cred.kid, "body": body.decode(),
                         "sig": b64u_encode(sign(dev.cred.private_key, body))})


def test_unknown_device_and_bad_json_are_quarantined(gate, reefer):
    stranger = make_dev(Gate(gate.store.__class__(gate.store.url.removeprefix("sqlite:///").replace("s.db", "o.db")),
                             clock=gate.clock), "ghost")
    out = gate.submit([stranger.msg(), b"{not json", b"\xff\xfe", b"[]"])
    assert statuses(out) == [("quarantined", "unknown_device"), ("quarantined", "schema"),
                             ("quarantined", "schema"), ("quarantined", "schema")]
    assert out[0].device == "ghost" and out[1].device == "?"


@pytest.mark.parametrize("skew,ok", [(299, True), (-299, True), (301, False), (-301, False), (300, True)])
def test_clock_skew_299_accepted_301_refused(gate, reefer, skew, ok):
    out = gate.submit([reefer.msg(skew_s=skew)])
    assert statuses(out) == ([("stored", None)] if ok else [("quarantined", "clock_skew")])


def test_clock_skew_is_not_final_the_same_sequence_sealed_again_is_stored(gate, reefer, store):
    """An envelope an hour old (held through an outage) is quarantined but its sequence numbers stay
    open: not acknowledged, so the device keeps it and can seal it again with a fresh time."""
    old = reefer.msg({"kind": "condition", "temperature": 5.0, "dt": 0}, skew_s=-3600, seq=0)
    (out,) = gate.submit([old])
    assert (out.status, out.reason, out.retry) == ("quarantined", "clock_skew", True)
    assert gate.acked("rf-1") is None and store.log.count() == 0  # nothing acknowledged
    again = reefer.msg({"kind": "condition", "temperature": 5.0, "ts": (reefer.clock.now.replace(microsecond=0)
                        .isoformat().replace("+00:00", "Z"))}, seq=0)
    (out,) = gate.submit([again])
    assert (out.status, out.retry) == ("stored", False) and gate.acked("rf-1") == 0
    (out,) = gate.submit([old])  # the stale copy once more: its sequence is done now, so it is final
    assert (out.status, out.reason, out.retry) == ("quarantined", "clock_skew", False)
    assert store.log.count() == 1


def test_revoked_device_refused_on_its_next_message(gate, reefer, store):
    assert statuses(gate.submit([reefer.msg()])) == [("stored", None)]
    other_process = DeviceRegistry(store.devices)  # e.g. `supplynet devices revoke`
    other_process.revoke("rf-1", now_us=int(gate.clock() * 1e6))
    assert statuses(gate.submit([reefer.msg()])) == [("quarantined", "revoked_device")]
    assert store.log.count() == 1


def test_key_rotation_mid_stream_has_no_rejections_during_overlap(gate, reefer, clock, store):
    outs = []
    for i in range(200):
        if i == 50:
            new = gate.registry.rotate("rf-1", overlap_s=600, now_us=int(clock() * 1e6))
        cred = reefer.cred if i < 150 else new  # the device switches to the new key late
        clock.advance(1)
        outs += gate.submit([reefer.msg(cred=cred)])
    assert [o.status for o in outs] == ["stored"] * 200
    clock.advance(600)  # overlap over: the old key no longer verifies
    assert statuses(gate.submit([reefer.msg()])) == [("quarantined", "bad_signature")]
    assert statuses(gate.submit([reefer.msg(cred=new)])) == [("stored", None)]
    assert store.log.count() == 201


def test_flooding_device_is_throttled_and_others_unaffected(store):
    clock = Clock()
    gate = Gate(store, clock=clock, config=GateConfig(rate_per_s=10, burst=20))
    flood = make_dev(gate, "rf-flood")
    calm = [make_dev(gate, f"rf-{i}") for i in range(5)]
    outs = {d.id: [] for d in [flood, *calm]}
    for _ in range(10):  # 10 seconds: the flooder sends 100x its quota (1000 msg/s), the others 1 msg/s
        batch = [flood.msg() for _ in range(1000)] + [d.msg() for d in calm]
        for o in gate.submit(batch):
            outs[o.device].append(o)
        clock.advance(1)
    fl = outs["rf-flood"]
    stored = sum(o.status == "stored" for o in fl)
    assert 20 + 10 * 9 <= stored <= 20 + 10 * 10 + 1
    assert {o.reason for o in fl if o.status != "stored"} == {"rate_limited"}
    for d in calm:
        assert [o.status for o in outs[d.id]] == ["stored"] * 10
    acc = gate.accounting["rf-flood"]
    assert acc["received"] == 10_000 == acc["stored"] + acc["refused"] and acc["quarantined"] == 0


def _flip_all(messages, rng):
    out = []
    for m in messages:
        b = bytearray(m)
        i = rng.randrange(len(b))
        b[i] ^= rng.randrange(1, 256)
        out.append(bytes(b))
    return out


@pytest.mark.parametrize("n", [300, pytest.param(10_000, marks=pytest.mark.slow)])
def test_a_byte_flipped_anywhere_is_rejected(gate, reefer, store, n):
    rng = random.Random(n)
    msgs = [reefer.msg({"kind": "condition", "temperature": 4.0 + (i % 7), "dt": 0}) for i in range(n)]
    outs = []
    flipped = _flip_all(msgs, rng)
    for k in range(0, n, 1000):
        outs += gate.submit(flipped[k : k + 1000])
    assert all(o.status == "quarantined" for o in outs)
    assert store.log.count() == 0
    reasons = {o.reason for o in outs}
    assert reasons <= {"bad_signature", "schema", "unknown_device", "payload_too_large"}
    assert sum(o.reason == "bad_signature" for o in outs) > n * 0.1
    # the originals still go through: nothing about them was spent by the forgeries
    assert all(o.status == "stored" for k in range(0, n, 1000) for o in gate.submit(msgs[k : k + 1000]))


def test_a_changed_character_in_the_signed_body_fails_the_signature(gate, reefer, store):
    """Changes that keep the JSON valid (a digit or letter of the body) reach the signature check."""
    rng = random.Random(1)
    msgs = [reefer.msg({"kind": "condition", "temperature": 4.0 + i % 7, "dt": 0}) for i in range(300)]
    forged = []
    for m in msgs:
        b = bytearray(m)
        start = m.index(b'"body":"') + 8
        spots = [i for i in range(start, len(b) - 2) if chr(b[i]).isalnum()]
        i = rng.choice(spots)
        b[i] = ord(rng.choice([c for c in "0123456789abcdefxyz" if c != chr(b[i])]))
        forged.append(bytes(b))
    outs = gate.submit(forged)
    assert {(o.status, o.reason) for o in outs} == {("quarantined", "bad_signature")}
    assert store.log.count() == 0


@pytest.mark.parametrize("n", [300, pytest.param(10_000, marks=pytest.mark.slow)])
def test_replayed_captured_messages_add_no_rows(gate, reefer, store, clock, n):
    msgs = [reefer.msg() for _ in range(n)]
    for k in range(0, n, 1000):
        gate.submit(msgs[k : k + 1000])
    assert store.log.count() == n
    # replayed to the same gate, and to a restarted one (state from the store)
    for g in (gate, Gate(store, clock=clock, config=gate.config)):
        outs = []
        for k in range(0, n, 1000):
            outs += g.submit(msgs[k : k + 1000])
        assert store.log.count() == n
        assert {(o.status, o.reason) for o in outs} == {("quarantined", "replayed_sequence")}


def test_duplicates_in_one_batch_and_after_lost_acks_are_stored_once(gate, reefer, store, clock):
    m = [reefer.msg() for _ in range(3)]
    outs = gate.submit([m[0], m[0], m[2], m[1]])
    assert statuses(outs) == [("stored", None), ("quarantined", "replayed_sequence"), ("stored", None),
                              ("stored", None)]
    # a gateway that lost its in-memory state (crash before it recorded acks) sees resends: the
    # log's own deduplication classifies them
    fresh = Gate(store, clock=clock, config=gate.config)
    fresh._trackers.clear()
    assert [o.reason for o in fresh.submit(m)] == ["replayed_sequence"] * 3
    assert store.log.count() == 3


def test_out_of_order_envelopes_are_applied_in_event_time_order_and_acked_contiguously(gate, reefer, store, clock):
    a = reefer.msg(seq=0, skew_s=-30)
    b = reefer.msg(seq=1, skew_s=-20)
    c = reefer.msg(seq=2, skew_s=-10)
    gate.submit([c])
    assert gate.acked("rf-1") is None  # seq 0 and 1 are still missing
    gate.submit([b, a])
    assert gate.acked("rf-1") == 2
    assert [r.event.seq for r in store.log.read(order="time")] == [0, 1, 2]
    assert [r.event.seq for r in store.log.read(order="offset")][1:] == [0, 1]  # within the batch: by time


def test_data_later_than_allowed_lateness_goes_to_the_late_table(store, clock):
    gate = Gate(store, clock=clock, config=GateConfig(allowed_lateness_s=60, rate_per_s=1e6, burst=1e6))
    d = make_dev(gate, "rf-1")
    gate.submit([d.msg({"kind": "condition", "temperature": 5.0, "dt": 0})])
    out = gate.submit([d.msg({"kind": "condition", "temperature": 5.0, "dt": -3600},
                             {"kind": "condition", "temperature": 5.0, "dt": -30})])
    assert out[0].status == "stored" and out[0].events == 2
    assert store.log.count() == 2
    late = gate.tables.late()
    assert [(s, q) for s, q, *_ in late] == [("rf-1", 1)]
    out = gate.submit([d.msg({"kind": "condition", "temperature": 5.0, "dt": -7200})])
    assert out[0].status == "late" and gate.tables.late_count() == 2
    assert gate.acked("rf-1") == 3


def test_payload_too_large_is_refused_unread_and_raw_is_capped(store, clock):
    gate = Gate(store, clock=clock, config=GateConfig(max_bytes=1 << 16, quarantine_raw_cap=1024))
    d = make_dev(gate, "rf-1")
    big = d.msg(*[{"kind": "condition", "temperature": 4.0}] * 3000)
    huge = b'{"device":"rf-1",' + b" " * (10 << 20) + b"}"
    outs = gate.submit([big, huge])
    assert statuses(outs) == [("quarantined", "payload_too_large")] * 2
    rows = gate.tables.quarantined()
    assert {r.size for r in rows} == {len(big), len(huge)} and all(len(r.raw) <= 1024 for r in rows)


def test_out_of_window_sequence(store, clock):
    gate = Gate(store, clock=clock, config=GateConfig(seq_window=1000))
    d = make_dev(gate, "rf-1")
    assert statuses(gate.submit([d.msg(), d.msg(seq=5000)])) == [("stored", None),
                                                                 ("quarantined", "out_of_window_sequence")]


def test_exact_accounting_per_device_and_persisted_counters(store, clock):
    gate = Gate(store, clock=clock, config=GateConfig(rate_per_s=5, burst=5))
    devs = [make_dev(gate, f"rf-{i}") for i in range(3)]
    rng = random.Random(3)
    sent = {d.id: 0 for d in devs}
    sent["?"] = 0
    for _ in range(8):
        batch = []
        for d in devs:
            for _ in range(rng.randrange(1, 9)):
                kind = rng.random()
                if kind < 0.6:
                    m = d.msg({"kind": "condition", "temperature": rng.uniform(-5, 30)})
                elif kind < 0.7:
                    m = d.msg({"kind": "condition", "temperature": 900.0})
                elif kind < 0.8:
                    m = bytearray(d.msg())
                    m[-20] ^= 0x01
                    m = bytes(m)
                elif kind < 0.9 and batch:
                    m = batch[rng.randrange(len(batch))]  # replay
                    sent[_owner(m)] += 1
                    batch.append(m)
                    continue
                else:
                    m = d.msg(skew_s=1000)
                sent[d.id] += 1
                batch.append(m)
        batch.append(b"garbage")
        sent["?"] += 1
        gate.submit(batch)
        clock.advance(1)
    persisted = gate.tables.counters()
    for dev, n in sent.items():
        acc = gate.accounting[dev]
        assert acc["received"] == n == acc["stored"] + acc["late"] + acc["quarantined"] + acc["refused"]
        assert sum(persisted[dev].values()) == n
    assert store.log.count() == sum(gate.accounting[d]["stored"] for d in sent)  # single-reading messages
    assert len(gate.tables.quarantined(limit=10_000)) == sum(gate.accounting[d]["quarantined"] for d in sent)
    assert gate.counters["rate_limited"] > 0


def _owner(m: bytes) -> str:
    import orjson

    return orjson.loads(m)["device"]


def test_signature_spelled_differently_in_ignored_base64_bits_is_rejected(gate, reefer, store):
    """The 86th base64 character carries 2 unused bits: a lenient decoder would map a changed
    character to the same signature. Only the canonical spelling verifies."""
    import orjson

    m = orjson.loads(reefer.msg())
    sig = m["sig"]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    v = alphabet.index(sig[-1])
    m["sig"] = sig[:-1] + alphabet[v ^ 0b01]
    assert statuses(gate.submit([orjson.dumps(m)])) == [("quarantined", "bad_signature")]
    assert store.log.count() == 0


def test_flood_is_refused_before_the_costly_signature_check(store, monkeypatch):
    import supplynet.ingest.gate as gate_mod

    clock = Clock()
    gate = Gate(store, clock=clock, config=GateConfig(rate_per_s=10, burst=20, pre_verify_factor=3))
    flood = make_dev(gate, "rf-flood")
    calls = []
    real = gate_mod.verify
    monkeypatch.setattr(gate_mod, "verify", lambda *a: calls.append(1) or real(*a))
    outs = gate.submit([flood.msg() for _ in range(1000)])
    assert sum(o.status == "stored" for o in outs) == 20
    assert {o.reason for o in outs if o.status == "refused"} == {"rate_limited"}
    assert len(calls) == 60  # the pre-verify burst (3 x 20), not 1000 verifications


def test_invented_device_ids_share_one_counter(gate, reefer):
    import orjson

    base = orjson.loads(reefer.msg())
    forged = [orjson.dumps({**base, "device": f"ghost-{i}"}) for i in range(200)]
    outs = gate.submit(forged)
    assert {o.reason for o in outs} == {"unknown_device"} and outs[7].device == "ghost-7"
    assert gate.accounting["?"]["unknown_device"] == 200 and not any(k.startswith("ghost") for k in gate.accounting)
    assert set(gate.tables.counters()) == {"?"}
    assert {r.device for r in gate.tables.quarantined(limit=300)} == {f"ghost-{i}" for i in range(200)}


def test_admit_refuses_unread_and_accounts_for_it(store):
    """Gate.admit: the adapter's sender (MQTT topic) is charged before anything is read; over
    pre_verify_factor x the quota the message is refused, counted (received = stored + refused) and
    persisted with the next batch; admitted messages are not charged a second time."""
    clock = Clock()
    gate = Gate(store, clock=clock, config=GateConfig(rate_per_s=10, burst=10, pre_verify_factor=2.0))
    d = make_dev(gate, "rf-adm")
    admitted = [m for m in (d.msg() for _ in range(50)) if gate.admit(d.id)]
    assert len(admitted) == 20  # the pre-verification bucket: 2 x burst
    assert gate.admit("nobody") is True  # unknown senders are the checks' to reject
    outs = gate.submit(admitted, "mqtt", admitted=True)
    assert [o.status for o in outs] == ["stored"] * 10 + ["refused"] * 10  # the quota after verification
    acc = gate.accounting[d.id]
    assert acc["received"] == 50 and acc["stored"] == 10 and acc["refused"] == 40 == acc["rate_limited"]
    assert gate.counters["rate_limited"] == 40
    assert gate.tables.counters()[d.id] == {"stored": 10, "rate_limited": 40}
    assert gate.acked(d.id) == 9


def test_acked_reports_only_committed_batches(store, clock):
    gate = Gate(store, clock=clock)
    d = make_dev(gate, "rf-ack")
    assert gate.acked(d.id) is None
    gate.submit([d.msg() for _ in range(3)])
    assert gate.acked(d.id) == 2
    gate._trackers[d.id].mark(3, 3)  # marked by a batch whose transaction has not committed
    assert gate.acked(d.id) == 2
    assert Gate(store, clock=clock).acked(d.id) == 2  # what a restarted gate reads back


def test_token_bucket_ignores_a_clock_that_runs_backwards():
    """Two committing threads may check batches stamped with slightly different clocks: an older
    ``now`` must not take tokens away (with a high rate it used to refuse a device for seconds)."""
    from supplynet.ingest.gate import TokenBucket

    b = TokenBucket(rate=1e6, capacity=1e6, now=100.0)
    assert b.take(100.5)
    assert all(b.take(100.49) for _ in range(1000))  # 10 ms older: still full, nothing refused
    b = TokenBucket(rate=1.0, capacity=2.0, now=10.0)
    assert b.take(10.0) and b.take(10.0) and not b.take(9.0) and not b.take(10.5) and b.take(11.0)
