"""The platform's own signing key: what supplynet says to the world (MQTT commands) is signed with it.

An Ed25519 key (:class:`~supplynet.security.signing.OperatorKey`), found like the vault key:

1. ``SUPPLYNET_PLATFORM_KEY``: the private key itself (32 bytes, URL-safe base64);
2. ``SUPPLYNET_PLATFORM_KEY_FILE``: a file holding it;
3. otherwise derived from the vault key: the platform key that also signs the devices'
   acknowledgements (:mod:`supplynet.security.acks`).

Receivers keep only the public key (``supplynet outbox key`` prints it) and check each command with
:func:`open_command`. A command travels as the house's sealed envelope (the same shape devices use)::

    {"sender":"supplynet","kid":"<key fingerprint>","sig":"<Ed25519 over body, b64u>","body":"<JSON text>"}

>>> key = OperatorKey.generate()
>>> env = seal_command(key, b'{"action":"order"}')
>>> open_command(env, [key.public])
b'{"action":"order"}'
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from ..errors import SecurityError
from .signing import OperatorKey, b64u_decode, b64u_encode, fingerprint, sign, verify

__all__ = ["open_command", "platform_key", "seal_command"]

SENDER = "supplynet"


def platform_key(*, create: bool = True, home: str | Path | None = None) -> OperatorKey:
    """The platform key from the environment or the home folder (see the module docstring)."""
    env = os.environ.get("SUPPLYNET_PLATFORM_KEY")
    if env:
        key = OperatorKey(env.strip())
        try:
            _ = key.public  # validates the key
        except SecurityError as exc:
            raise SecurityError(f"SUPPLYNET_PLATFORM_KEY: {exc}") from exc
        return key
    path_s = os.environ.get("SUPPLYNET_PLATFORM_KEY_FILE")
    if path_s:
        return OperatorKey.load(Path(path_s))
    # the deployment's one platform key: derived from the vault key, the same key that signs the devices'
    # acknowledgements (security/acks.py), so every process with the vault key signs alike and there is
    # no second secret file to keep
    from .acks import PURPOSE
    from .vault import default_vault

    return OperatorKey(b64u_encode(default_vault(create=create, home=home).derive(PURPOSE)))


def seal_command(key: OperatorKey, body: bytes) -> bytes:
    """The signed envelope of ``body`` (its exact bytes are what the signature covers)."""
    return orjson.dumps({"sender": SENDER, "kid": fingerprint(key.public),
                         "sig": b64u_encode(sign(key.private_b64u, body)), "body": body.decode()})


def open_command(envelope: bytes, trusted_public_keys: list[str] | set[str]) -> bytes:
    """The body of a command envelope signed by one of ``trusted_public_keys`` (else :class:`SecurityError`)."""
    try:
        d = orjson.loads(envelope)
        body, kid, sig = d["body"].encode(), d["kid"], b64u_decode(d["sig"], canonical=True)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise SecurityError("not a signed supplynet command envelope") from exc
    for pub in trusted_public_keys:
        if fingerprint(pub) == kid and verify(pub, body, sig):
            return body
    raise SecurityError(f"the command's signature (key {kid}) does not verify with a trusted platform key")
