"""The gate with symmetric (hmac-sha256) devices: the same attacks fail as for Ed25519 devices."""

from __future__ import annotations

import random

import pytest

from supplynet.ingest.gate import Gate, GateConfig
from supplynet.security.devices import DeviceRegistry
from supplynet.security.signing import HMAC_SHA256
from supplynet.security.vault import Vault

from .conftest import Dev
from .test_gate import _flip_all, statuses


@pytest.fixture
def vault(monkeypatch) -> Vault:
    key = Vault.generate_key()
    monkeypatch.setenv("SUPPLYNET_VAULT_KEY", key)  # what every gateway process of the deployment shares
    return Vault(key)


@pytest.fixture
def pos(gate, vault) -> Dev:
    cred = gate.registry.provision("pos-1", measures=("temperature",), asset="R1", report_interval_s=60,
                                   now_us=int(gate.clock() * 1e6), scheme=HMAC_SHA256)
    return Dev(cred, gate.clock, units={"temperature": "degC"})


def test_symmetric_device_message_is_stored(gate, pos, store):
    assert statuses(gate.submit([pos.msg(), pos.msg()])) == [("stored", None)] * 2
    assert [r.event.temperature_k for r in store.log.read()] == [pytest.approx(277.15)] * 2


@pytest.mark.parametrize("n", [300, pytest.param(10_000, marks=pytest.mark.slow)])
def test_a_byte_flipped_anywhere_is_rejected(gate, pos, store, n):
    rng = random.Random(n)
    msgs = [pos.msg({"kind": "condition", "temperature": 4.0 + (i % 7), "dt": 0}) for i in range(n)]
    outs = []
    for k in range(0, n, 1000):
        outs += gate.submit(_flip_all(msgs[k : k + 1000], rng))
    assert all(o.status == "quarantined" for o in outs) and store.log.count() == 0
    assert {o.reason for o in outs} <= {"bad_signature", "schema", "unknown_device", "payload_too_large"}
    assert sum(o.reason == "bad_signature" for o in outs) > n * 0.1
    assert all(o.status == "stored" for k in range(0, n, 1000) for o in gate.submit(msgs[k : k + 1000]))


def test_changed_body_character_and_foreign_tags_fail(gate, pos, store, vault):
    rng = random.Random(2)
    forged = []
    for i in range(200):
        b = bytearray(pos.msg({"kind": "condition", "temperature": 4.0 + i % 7, "dt": 0}))
        start = b.index(b'"body":"') + 8
        j = rng.choice([k for k in range(start, len(b) - 2) if chr(b[k]).isalnum()])
        b[j] = ord(rng.choice([c for c in "0123456789abcdefxyz" if c != chr(b[j])]))
        forged.append(bytes(b))
    assert {(o.status, o.reason) for o in gate.submit(forged)} == {("quarantined", "bad_signature")}
    # another symmetric device's secret, or a 64-byte tag, does not pass for pos-1's
    other = gate.registry.provision("pos-2", measures=("temperature",), asset="R1", scheme=HMAC_SHA256,
                                    now_us=int(gate.clock() * 1e6))
    assert statuses(gate.submit([pos.msg(cred=other)])) == [("quarantined", "bad_signature")]
    assert store.log.count() == 0


def test_replays_add_no_rows_and_revocation_applies_next_message(gate, pos, store):
    msgs = [pos.msg() for _ in range(300)]
    assert {o.status for o in gate.submit(msgs)} == {"stored"}
    assert {(o.status, o.reason) for o in gate.submit(msgs)} == {("quarantined", "replayed_sequence")}
    assert store.log.count() == 300
    DeviceRegistry(store.devices).revoke("pos-1", now_us=int(gate.clock() * 1e6))
    assert statuses(gate.submit([pos.msg()])) == [("quarantined", "revoked_device")]


def test_rotation_mid_stream_has_no_rejections_during_overlap(gate, pos, clock, store):
    outs = []
    for i in range(200):
        if i == 50:
            new = gate.registry.rotate("pos-1", overlap_s=600, now_us=int(clock() * 1e6))
        clock.advance(1)
        outs += gate.submit([pos.msg(cred=pos.cred if i < 150 else new)])
    assert new.scheme == HMAC_SHA256 and [o.status for o in outs] == ["stored"] * 200
    clock.advance(600)
    assert statuses(gate.submit([pos.msg()])) == [("quarantined", "bad_signature")]
    assert statuses(gate.submit([pos.msg(cred=new)])) == [("stored", None)]


def test_a_gateway_without_the_vault_key_refuses_and_says_why(store, clock, pos, vault, gate):
    msg = pos.msg()
    other = Gate(store, clock=clock, config=GateConfig(rate_per_s=1e6, burst=1e6),
                 registry=DeviceRegistry(store.devices, vault=Vault(Vault.generate_key())))
    (out,) = other.submit([msg])
    assert (out.status, out.reason) == ("quarantined", "bad_signature") and "vault key" in out.detail
    assert statuses(gate.submit([msg])) == [("stored", None)]  # nothing about it was spent
