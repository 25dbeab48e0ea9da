"""Ed25519 signing, constant-time comparison, and the device registry (provision, rotate, revoke)."""

from __future__ import annotations

import pytest

from supplynet.errors import SecurityError
from supplynet.security.devices import DeviceRegistry, InMemoryRegistryBackend, kinds_for_measures
from supplynet.security.signing import (
    OperatorKey,
    b64u_decode,
    b64u_encode,
    constant_time_equal,
    fingerprint,
    generate_keypair,
    public_from_private,
    sign,
    sign_file,
    verify,
    verify_file,
)


def test_sign_verify_every_single_bit_flip_fails():
    priv, pub = generate_keypair()
    msg = b'{"v":1,"device":"d","seq":1}'
    sig = sign(priv, msg)
    assert verify(pub, msg, sig) and public_from_private(priv) == pub
    for i in range(len(msg)):
        for bit in range(8):
            m = bytearray(msg)
            m[i] ^= 1 << bit
            assert not verify(pub, bytes(m), sig)
    for i in range(len(sig)):
        s = bytearray(sig)
        s[i] ^= 0x80
        assert not verify(pub, msg, bytes(s))
    assert not verify(pub, msg, sig[:-1]) and not verify(generate_keypair()[1], msg, sig)


def test_canonical_base64_only():
    raw = bytes(range(64))
    text = b64u_encode(raw)
    assert b64u_decode(text, canonical=True) == raw
    alt = text[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(text[-1]) ^ 1]
    assert b64u_decode(alt) == raw  # a lenient decoder maps both spellings to one value
    with pytest.raises(ValueError):
        b64u_decode(alt, canonical=True)
    with pytest.raises(ValueError):
        b64u_decode("***")


def test_constant_time_equal_uses_compare_digest():
    assert constant_time_equal(b"abc", "abc") and not constant_time_equal("abc", "abd")


def test_provision_stores_only_public_material():
    backend = InMemoryRegistryBackend()
    reg = DeviceRegistry(backend)
    cred = reg.provision("rf-1", measures=["temperature"], asset="R1", report_interval_s=60)
    stored = repr(backend.rows)
    assert cred.private_key not in stored and cred.public_key in stored
    assert reg.get("rf-1").key(cred.kid, 10**18) is not None and cred.kid == fingerprint(cred.public_key)
    with pytest.raises(SecurityError, match="already registered"):
        reg.provision("rf-1")
    for bad in ["", "a/b", "a+b", "#", "x" * 200]:
        with pytest.raises(SecurityError):
            reg.provision(bad)
    with pytest.raises(SecurityError, match="not both"):
        reg.provision("x-1", asset="A", site="S")


def test_rotation_overlap_and_revocation():
    reg = DeviceRegistry()
    t0 = 1_700_000_000_000_000
    old = reg.provision("rf-1", asset="R1", now_us=t0)
    new = reg.rotate("rf-1", overlap_s=60, now_us=t0 + 10**6)
    rec = reg.get("rf-1")
    assert rec.key(old.kid, t0 + 30 * 10**6) and rec.key(new.kid, t0 + 30 * 10**6)
    assert rec.key(old.kid, t0 + 62 * 10**6) is None and rec.key(new.kid, t0 + 62 * 10**6)
    newer = reg.rotate("rf-1", overlap_s=3600, now_us=t0 + 2 * 10**6)  # cannot extend the first overlap
    rec = reg.get("rf-1")
    assert rec.key(old.kid, t0 + 62 * 10**6) is None and rec.key(newer.kid, t0 + 10**9)
    reg.revoke("rf-1", now_us=t0 + 3 * 10**6)
    assert reg.get("rf-1").revoked_at_us == t0 + 3 * 10**6
    with pytest.raises(SecurityError, match="revoked"):
        reg.rotate("rf-1")


def test_registry_refresh_sees_other_writers():
    backend = InMemoryRegistryBackend()
    a, b = DeviceRegistry(backend), DeviceRegistry(backend)
    a.provision("rf-1", asset="R1")
    assert b.get("rf-1") is None and b.refresh() and b.get("rf-1") is not None
    assert not b.refresh()


def test_measures_to_kinds():
    assert kinds_for_measures(["temperature", "humidity"]) == {"condition"}
    assert kinds_for_measures(["position", "sale"]) == {"position", "sale"}
    assert kinds_for_measures(["unknown"]) == frozenset()


def test_operator_file_signature(tmp_path):
    key = OperatorKey.generate()
    f = tmp_path / "history.csv"
    f.write_bytes(b"a,b\n1,2\n")
    sign_file(key, f)
    assert verify_file(f, {key.public}) == key.public
    with pytest.raises(SecurityError, match="not a trusted operator key"):
        verify_file(f, {OperatorKey.generate().public})
    f.write_bytes(b"a,b\n1,3\n")
    with pytest.raises(SecurityError, match="does not match"):
        verify_file(f, {key.public})
    path = tmp_path / "op.key"
    key.save(path)
    assert OperatorKey.load(path) == key and oct(path.stat().st_mode & 0o777) == "0o600"
