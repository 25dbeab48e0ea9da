"""Message signing: Ed25519 (RFC 8032) signatures over the exact bytes of a message, or, for devices
on the symmetric scheme, HMAC-SHA256 (RFC 2104) tags.

Why Ed25519 is the default and not a shared HMAC secret: the platform then stores only *public*
keys, so a copy of the device table (or of a database backup) lets nobody forge a device's
messages -- the zero-trust default. The symmetric scheme (``hmac-sha256``) is there for devices
that send many small messages or cannot afford Ed25519: its check costs a few µs instead of
~60 µs. Its secret is kept sealed under the vault key (:mod:`.vault`), never in the store in plain;
a device's credential carries it as ``hmac-sha256:<32 bytes, b64u>``, and :func:`sign` takes
either kind of credential.

Verification in OpenSSL recomputes the signature's ``R`` point and compares it in constant
time (``CRYPTO_memcmp``); every comparison of secrets or digests written here uses
:func:`hmac.compare_digest`.

Keys travel as URL-safe base64 without padding (``b64u``): a private key is 32 bytes (43
characters), a public key 32 bytes, a signature 64 bytes (86 characters).

>>> priv, pub = generate_keypair()
>>> sig = sign(priv, b"hello")
>>> verify(pub, b"hello", sig)
True
>>> verify(pub, b"hellp", sig)
False
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..errors import DataError, SecurityError

__all__ = [
    "ED25519",
    "HMAC_SHA256",
    "SCHEMES",
    "OperatorKey",
    "b64u_decode",
    "b64u_encode",
    "constant_time_equal",
    "fingerprint",
    "generate_keypair",
    "generate_secret",
    "public_from_private",
    "sign",
    "sign_file",
    "verify",
    "verify_file",
    "verify_mac",
]

ED25519 = "ed25519"
HMAC_SHA256 = "hmac-sha256"
SCHEMES = (ED25519, HMAC_SHA256)
SIGNATURE_LEN = 64
MAC_LEN = 32
_HMAC_PREFIX = HMAC_SHA256 + ":"
_URLSAFE = bytes.maketrans(b"-_+/", b"+/\x00\x00")  # '+' and '/' are not URL-safe: make them invalid


def b64u_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str | bytes, *, canonical: bool = False) -> bytes:
    """Decode URL-safe base64 with or without padding; raises ValueError on bad input.

    ``canonical``: refuse any text other than the one encoding of the result (no padding, unused
    low bits zero), so one value has exactly one spelling -- a signature whose last character was
    changed in bits the decoder ignores must not verify.
    """
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError as exc:
            raise DataError("not base64") from exc
    pad = (-len(text)) % 4
    try:
        raw = base64.b64decode((text + b"=" * pad).translate(_URLSAFE), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DataError("not base64") from exc
    if canonical and base64.urlsafe_b64encode(raw).rstrip(b"=") != text:
        raise DataError("not the canonical base64 encoding")
    return raw


def constant_time_equal(a: bytes | str, b: bytes | str) -> bool:
    """Compare two secrets/digests in time independent of where they differ."""
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair ``(private_b64u, public_b64u)``."""
    priv = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization as s

    raw_priv = priv.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    raw_pub = priv.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return b64u_encode(raw_priv), b64u_encode(raw_pub)


@lru_cache(maxsize=4096)
def _private(private_b64u: str) -> Ed25519PrivateKey:
    try:
        raw = b64u_decode(private_b64u)
        return Ed25519PrivateKey.from_private_bytes(raw)
    except ValueError as exc:
        raise SecurityError("not an Ed25519 private key (expected 32 bytes, URL-safe base64)") from exc


@lru_cache(maxsize=65536)
def _public(public_b64u: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(b64u_decode(public_b64u))
    except ValueError as exc:
        raise SecurityError("not an Ed25519 public key (expected 32 bytes, URL-safe base64)") from exc


def public_from_private(private_b64u: str) -> str:
    from cryptography.hazmat.primitives import serialization as s

    return b64u_encode(_private(private_b64u).public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))


def fingerprint(public_b64u: str) -> str:
    """Short key id: first 12 characters of the SHA-256 of the public key (URL-safe base64)."""
    return b64u_encode(hashlib.sha256(b64u_decode(public_b64u)).digest())[:12]


def generate_secret() -> tuple[str, bytes]:
    """A fresh 32-byte HMAC-SHA256 device secret: ``(credential text, raw secret)``."""
    raw = os.urandom(MAC_LEN)
    return _HMAC_PREFIX + b64u_encode(raw), raw


@lru_cache(maxsize=4096)
def _mac_secret(credential: str) -> bytes:
    try:
        raw = b64u_decode(credential[len(_HMAC_PREFIX):])
    except ValueError:
        raw = b""
    if len(raw) != MAC_LEN:
        raise SecurityError(f"not an {HMAC_SHA256} secret (expected {MAC_LEN} bytes, URL-safe base64)")
    return raw


def sign(private_b64u: str, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``message``, or its 32-byte HMAC-SHA256 tag when the
    credential is a symmetric one (``hmac-sha256:...``)."""
    if private_b64u.startswith(_HMAC_PREFIX):
        return hmac.digest(_mac_secret(private_b64u), message, "sha256")
    return _private(private_b64u).sign(message)


def verify_mac(secret: bytes, message: bytes, tag: bytes) -> bool:
    """True when ``tag`` is the HMAC-SHA256 of exactly ``message`` under ``secret`` (compared in
    constant time)."""
    return len(tag) == MAC_LEN and hmac.compare_digest(hmac.digest(secret, message, "sha256"), tag)


try:  # libsodium's Ed25519 verify through PyNaCl: ~2x cheaper per message than OpenSSL's here
    from nacl.bindings import crypto_sign_open as _sodium_open
    from nacl.exceptions import BadSignatureError as _SodiumBad
except ImportError:  # pragma: no cover - PyNaCl absent: OpenSSL through cryptography
    _sodium_open = None


@lru_cache(maxsize=65536)
def _public_raw(public_b64u: str) -> bytes:
    _public(public_b64u)  # validates the key (32 bytes, a point on the curve) with the same error
    return b64u_decode(public_b64u)


def verify(public_b64u: str, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid signature of exactly ``message`` by the key (libsodium's
    ``crypto_sign_open`` when PyNaCl is installed, else OpenSSL; same keys, same signatures: RFC 8032
    Ed25519, both reject non-canonical ``S``; neither compares secret data, so timing leaks nothing)."""
    if len(signature) != SIGNATURE_LEN:
        return False
    if _sodium_open is not None:
        try:
            _sodium_open(signature + message, _public_raw(public_b64u))
        except _SodiumBad:
            return False
        return True
    try:
        _public(public_b64u).verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class OperatorKey:
    """An operator's signing key, for trusted imports of history files (not a device key)."""

    private_b64u: str

    @classmethod
    def generate(cls) -> OperatorKey:
        return cls(generate_keypair()[0])

    @classmethod
    def load(cls, path: Path) -> OperatorKey:
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise SecurityError(f"{path}: cannot read the operator key ({exc.strerror})") from exc
        _private(text)
        return cls(text)

    @property
    def public(self) -> str:
        return public_from_private(self.private_b64u)

    def save(self, path: Path) -> None:
        p = Path(path)
        p.write_text(self.private_b64u + "\n")
        p.chmod(0o600)


def sign_file(key: OperatorKey, path: Path) -> Path:
    """Write ``PATH.sig`` holding the operator's signature over the file's exact bytes."""
    p = Path(path)
    sig = sign(key.private_b64u, p.read_bytes())
    out = p.with_name(p.name + ".sig")
    out.write_text(f"ed25519 {key.public} {b64u_encode(sig)}\n")
    return out


def verify_file(path: Path, trusted_public_keys: list[str] | set[str]) -> str:
    """Check ``PATH.sig`` against the file's exact bytes and a set of trusted operator public keys;
    returns the signer's public key or raises :class:`SecurityError`."""
    p = Path(path)
    sig_path = p.with_name(p.name + ".sig")
    if not sig_path.exists():
        raise SecurityError(f"{p}: no signature file {sig_path.name} (trusted imports must be signed "
                            f"by an operator key: supplynet ingest sign)")
    parts = sig_path.read_text().split()
    if len(parts) != 3 or parts[0] != "ed25519":
        raise SecurityError(f"{sig_path}: expected 'ed25519 PUBLIC_KEY SIGNATURE'")
    _, pub, sig_text = parts
    if not any(constant_time_equal(pub, k) for k in trusted_public_keys):
        raise SecurityError(f"{sig_path}: signed by key {fingerprint(pub)}, which is not a trusted operator key")
    try:
        sig = b64u_decode(sig_text)
    except ValueError as exc:
        raise SecurityError(f"{sig_path}: signature is not base64") from exc
    if not verify(pub, p.read_bytes(), sig):
        raise SecurityError(f"{p}: the operator signature does not match the file's bytes (modified?)")
    return pub
