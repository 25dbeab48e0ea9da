"""libsodium (PyNaCl) and OpenSSL (cryptography) verification agree: same keys, same signatures."""

from __future__ import annotations

import numpy as np

from supplynet.security import signing
from supplynet.security.signing import generate_keypair, sign, verify
from supplynet.testing.require import require_or_skip


def _openssl_verify(pub: str, msg: bytes, sig: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature

    if len(sig) != signing.SIGNATURE_LEN:
        return False
    try:
        signing._public(pub).verify(sig, msg)
    except InvalidSignature:
        return False
    return True


def test_sodium_and_openssl_agree_on_valid_and_flipped_signatures():
    if signing._sodium_open is None:
        require_or_skip("PyNaCl (a dependency) is not installed: verify() uses OpenSSL only", "dependency")
    rng = np.random.default_rng(7)
    priv, pub = generate_keypair()
    _, other = generate_keypair()
    for _ in range(200):
        msg = rng.bytes(int(rng.integers(1, 300)))
        sig = sign(priv, msg)
        assert verify(pub, msg, sig) and _openssl_verify(pub, msg, sig)
        assert not verify(other, msg, sig)
        blob = bytearray(sig + msg)
        k = int(rng.integers(len(blob)))
        blob[k] ^= 1 << int(rng.integers(8))
        s2, m2 = bytes(blob[:64]), bytes(blob[64:])
        assert verify(pub, m2, s2) is False
        assert _openssl_verify(pub, m2, s2) is False
    assert not verify(pub, b"x", b"\0" * 63)
