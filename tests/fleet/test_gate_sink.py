"""The fleet's devices through the real gate: signed, checked, stored exactly like direct appends."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from supplynet.events import dumps, ts_to_us
from supplynet.fleet import Fleet, LogSink
from supplynet.fleet._gate import GateSink, provision_fleet
from supplynet.ingest.gate import Gate
from supplynet.model import example_path, load_network
from supplynet.security.devices import DeviceRegistry
from supplynet.store import open_store

START = datetime(2026, 1, 5, tzinfo=UTC)


def _run(store, *, via_gate, tamper=None, hours=60):
    net = load_network(example_path("tiny"))
    fleet = Fleet(net, seed=2, start=START, sink=LogSink(store), cover_days=3)
    if via_gate:
        reg = DeviceRegistry(store.devices)
        creds = provision_fleet(reg, net, ts_to_us(START))
        if tamper:
            creds = tamper(reg, creds)
        fleet.sink = GateSink(Gate(store, reg, clock=lambda: fleet.now.timestamp()), creds, LogSink(store),
                              clock=lambda: fleet.now)
    fleet.start()
    for _ in range(hours):
        fleet.step()
    return fleet


def _events(store):
    return sorted(dumps(r.event) for r in store.log.read())


def test_gate_path_stores_exactly_what_the_devices_reported(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as a, open_store(f"sqlite:///{tmp_path / 'b.db'}") as b:
        fleet = _run(a, via_gate=True)
        _run(b, via_gate=False)
        assert fleet.sink.outcomes["stored"] > 0 and set(fleet.sink.outcomes) == {"stored"}
        assert _events(a) == _events(b)
        kinds = Counter(r.event.kind for r in a.log.read())
        assert kinds["machine_reading"] > 0 and kinds["sale"] > 0


def test_a_device_with_a_foreign_key_is_quarantined_and_nothing_of_it_stored(tmp_path):
    def swap(reg, creds):  # the oven's sensor signs with the truck tracker's key
        creds = dict(creds)
        creds["SENS-OVEN-1"] = creds["GPS-TRUCK-1"].__class__(
            "SENS-OVEN-1", creds["GPS-TRUCK-1"].kid, creds["GPS-TRUCK-1"].private_key,
            creds["GPS-TRUCK-1"].public_key)
        return creds

    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as a:
        fleet = _run(a, via_gate=True, tamper=swap, hours=12)
        assert fleet.sink.outcomes["quarantined"] > 0
        assert fleet.sink.reasons.keys() <= {"bad_signature", "unknown_device"}
        assert not any(r.event.source == "SENS-OVEN-1" for r in a.log.read())


@pytest.mark.parametrize("hours", [30])
def test_revoked_device_is_refused_from_its_next_message(tmp_path, hours):
    def revoke(reg, creds):
        reg.revoke("POS-STORE-1", now_us=ts_to_us(START))
        return creds

    with open_store(f"sqlite:///{tmp_path / 'a.db'}") as a:
        fleet = _run(a, via_gate=True, tamper=revoke, hours=hours)
        assert fleet.sink.reasons["revoked_device"] >= 1
        assert not any(r.event.source == "POS-STORE-1" for r in a.log.read())
        assert any(r.event.source == "POS-STORE-2" for r in a.log.read())
