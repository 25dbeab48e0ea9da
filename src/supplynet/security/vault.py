"""The platform's vault key: encrypts device secrets at rest (symmetric ``hmac-sha256`` devices), and
is the one secret the platform's other keys derive from (:meth:`Vault.derive`: the key that signs
device acknowledgements, :mod:`.acks`; broker passwords, :mod:`.broker`).

An Ed25519 device leaves only its public key with the platform. A device on the symmetric scheme
(HMAC-SHA256, for high-rate or constrained devices: a few µs to verify against ~60 µs for
Ed25519) shares a secret with it, and the platform must be able to recompute each MAC, so it keeps
the secret -- never in plain: the registry stores it sealed with XSalsa20-Poly1305 (libsodium's
``secretbox``) under the vault key, and the sealing is bound to the device id and key id (a sealed
secret copied onto another device's record does not open). A copy of the device table or of a
database backup therefore holds nothing usable without the vault key, which lives outside the store:

1. ``SUPPLYNET_VAULT_KEY``: the key itself (32 bytes, URL-safe base64), e.g. from a secrets manager;
2. ``SUPPLYNET_VAULT_KEY_FILE``: a file holding it;
3. otherwise ``vault.key`` in the supplynet home folder (``SUPPLYNET_HOME``, default ``.supplynet``),
   made with mode 600 the first time a device is provisioned.

Every gateway worker needs the same vault key (the same environment or file): a worker with another
key refuses symmetric devices' messages as ``bad_signature`` and says why, and signs acknowledgements
that no device accepts (the devices keep their data and send it again).

>>> v = Vault(Vault.generate_key())
>>> sealed = v.seal(b"s" * 32, "trk-1", "k1")
>>> v.open(sealed, "trk-1", "k1") == b"s" * 32
True
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import SecurityError
from .signing import b64u_decode, b64u_encode

__all__ = ["Vault", "default_vault"]

KEY_BYTES = 32


def _box(key: bytes, device_id: str, kid: str):  # noqa: ANN202 - nacl's SecretBox
    from nacl.secret import SecretBox

    # a per-record subkey: the sealed secret opens only on the record (device, key id) it was made for
    sub = hashlib.blake2b(f"{device_id}\x00{kid}".encode(), key=key, digest_size=KEY_BYTES,
                          person=b"supplynet-vault").digest()
    return SecretBox(sub)


class Vault:
    """Seals and opens device secrets under one 32-byte key."""

    def __init__(self, key_b64u: str, *, source: str = "given"):
        try:
            key = b64u_decode(key_b64u.strip())
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise SecurityError(f"the vault key ({source}) must be {KEY_BYTES} bytes in URL-safe base64 "
                                f"(make one with: python -c 'import secrets,base64;"
                                f"print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')")
        self._key = key
        self.source = source

    @staticmethod
    def generate_key() -> str:
        return b64u_encode(os.urandom(KEY_BYTES))

    @property
    def key_id(self) -> str:
        """A short id of the key (not the key): shows which vault key sealed a record."""
        return b64u_encode(hashlib.sha256(b"supplynet-vault-id" + self._key).digest())[:8]

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for one ``purpose`` (the platform's acknowledgement key, broker passwords):
        BLAKE2b keyed with the vault key, personalised apart from the sealing subkeys, so neither
        tells anything of the vault key or of each other."""
        return hashlib.blake2b(purpose.encode(), key=self._key, digest_size=KEY_BYTES,
                               person=b"supplynet-derive").digest()

    def seal(self, secret: bytes, device_id: str, kid: str) -> str:
        return b64u_encode(bytes(_box(self._key, device_id, kid).encrypt(secret)))

    def open(self, sealed_b64u: str, device_id: str, kid: str) -> bytes:
        from nacl.exceptions import CryptoError

        try:
            return bytes(_box(self._key, device_id, kid).decrypt(b64u_decode(sealed_b64u)))
        except (CryptoError, ValueError) as exc:
            raise SecurityError(f"device {device_id!r} key {kid!r}: its sealed secret does not open with this "
                                f"vault key ({self.source}); every gateway needs the vault key that sealed it") \
                from exc


def default_vault(*, create: bool = False, home: str | Path | None = None) -> Vault:
    """The vault key from the environment or the home folder (``home``, default the settings'; see
    the module docstring); ``create``: make the home folder's key file when there is none yet."""
    from ..config import vault_key_text

    text, source = vault_key_text(create=create, home=home)
    return Vault(text, source=source)
