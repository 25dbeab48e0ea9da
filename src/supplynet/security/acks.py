"""Signed end-to-end acknowledgements: the platform's word to a device that its data is stored.

A device lets go of a buffered envelope only when the platform acknowledges it. Over MQTT the
acknowledgement travels through the broker, which is not trusted: a broker (or anyone allowed to
publish on a device's ack topic) that could forge one would make the device drop data that was
never stored. So every acknowledgement is signed with the **platform key**, an Ed25519 key derived
from the vault key (:meth:`supplynet.security.vault.Vault.derive`: every gateway worker that has the
vault key signs with the same key; nothing else to distribute), and the device verifies it with the
platform's public key, which it gets with its credential at provisioning (``platform_key``).

Wire format (JSON): ``{"ack": "<body>", "sig": "<b64u Ed25519 signature of the body's bytes>"}``
with body ``{"device": <id>, "acked": <seq>, "ranges": [[lo, hi], ...]}``. The body names the device,
so one device's acknowledgement replayed on another's topic is refused; an old acknowledgement
replayed on the same topic says only what was already true (seqs are stored once and for good).

>>> key = PlatformKey(bytes(32))
>>> wire = key.sign_ack("rf-1", 41, [(50, 59)])
>>> open_ack(key.public, "rf-1", wire)
(41, [(50, 59)])
>>> open_ack(key.public, "rf-2", wire) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..errors import ParameterError
from .signing import b64u_decode, b64u_encode, public_from_private, sign, verify

__all__ = ["PURPOSE", "PlatformKey", "open_ack"]

#: what the vault derives the platform key for (changing it changes the key)
PURPOSE = "platform-ack-key/ed25519/v1"


class PlatformKey:
    """The platform's Ed25519 signing key (from a 32-byte seed): signs device acknowledgements."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise ParameterError(f"an Ed25519 seed is 32 bytes, got {len(seed)}")
        self._private = b64u_encode(seed)
        self.public = public_from_private(self._private)

    @classmethod
    def from_vault(cls, vault: Any) -> PlatformKey:
        """The deployment's platform key: the same on every gateway with the same vault key."""
        return cls(vault.derive(PURPOSE))

    def sign_ack(self, device: str, acked: int, ranges: Iterable[tuple[int, int]]) -> bytes:
        body = orjson.dumps({"device": device, "acked": int(acked), "ranges": [[int(lo), int(hi)] for lo, hi in ranges]})
        return orjson.dumps({"ack": body.decode(), "sig": b64u_encode(sign(self._private, body))})


def open_ack(public: str, device: str, payload: bytes) -> tuple[int, list[tuple[int, int]]] | None:
    """``(acked, ranges)`` of an acknowledgement for ``device`` signed by the platform key ``public``;
    None for anything else (unsigned, forged, malformed, or meant for another device)."""
    try:
        outer = orjson.loads(payload)
        body = outer["ack"].encode()
        sig = b64u_decode(outer["sig"], canonical=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError):
        return None
    if not verify(public, body, sig):
        return None
    try:
        doc = orjson.loads(body)
        if doc["device"] != device:
            return None
        return int(doc["acked"]), [(int(lo), int(hi)) for lo, hi in doc.get("ranges", ())]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
