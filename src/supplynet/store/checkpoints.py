"""Signed checkpoints of the audit chain (``audit_checkpoints``): the head, signed by an operator.

An operator's Ed25519 key (RFC 8032) signs ``(seq, hash, at_us, key_id)`` of the chain's head: by
hand (``supplynet audit checkpoint``) and, when the platform holds a signing key, every
``SUPPLYNET_AUDIT_CHECKPOINT_EVERY`` entries (default 1,000) inside the transaction that appends the
entry. A checkpoint exported to a file kept elsewhere (``--out``) is an anchor: ``supplynet audit
verify --anchor FILE`` checks its signature and that the chain still holds that hash at that entry,
so even a writer who also holds the vault key cannot rewrite the history before the anchor
unnoticed.

The signing key is found in ``SUPPLYNET_AUDIT_SIGNING_KEY`` (the private key, 32 bytes in URL-safe
base64, as ``supplynet audit keygen`` or ``supplynet devices add operator:NAME --operator`` print it),
else the file ``SUPPLYNET_AUDIT_SIGNING_KEY_FILE``, else ``audit-signing.key`` in the home folder;
without one, no checkpoint is made automatically.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError, SecurityError
from ._sql import SqlBackend, Tx

__all__ = ["Checkpoint", "check_anchor", "checkpoint_every", "generate_signing_key", "latest_checkpoint",
           "make_checkpoint", "maybe_checkpoint_tx", "signing_key"]

_DOMAIN = b"supplynet audit checkpoint v1\n"
_COLS = "seq, hash, at_us, key_id, public_key, signature"


def _b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    t = text.strip()
    try:
        return base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SecurityError("not URL-safe base64") from exc


def _private(text: str, source: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        return Ed25519PrivateKey.from_private_bytes(_b64d(text))
    except (SecurityError, ValueError) as exc:
        raise SecurityError(f"{source}: not an Ed25519 private key (32 bytes, URL-safe base64)") from exc


def generate_signing_key() -> tuple[str, str]:
    """A fresh Ed25519 key pair ``(private, public)`` in URL-safe base64."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    k = Ed25519PrivateKey.generate()
    return (_b64e(k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())),
            _b64e(k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)))


def signing_key(path: str | Path | None = None) -> Any | None:
    """The operator's signing key (``path``, else the environment or the home folder), or None."""
    if path is None:
        env = os.environ.get("SUPPLYNET_AUDIT_SIGNING_KEY")
        if env:
            return _private(env, "SUPPLYNET_AUDIT_SIGNING_KEY")
        file = os.environ.get("SUPPLYNET_AUDIT_SIGNING_KEY_FILE")
        if file:
            path = Path(file)
            if not path.is_file():
                raise SecurityError(f"SUPPLYNET_AUDIT_SIGNING_KEY_FILE={path} does not exist")
        else:
            from ..config import Settings

            path = Path(os.environ.get("SUPPLYNET_HOME") or Settings().home) / "audit-signing.key"
            if not path.is_file():
                return None
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise SecurityError(f"cannot read the signing key {p}: {exc.strerror}") from exc
    return _private(text, str(p))


def checkpoint_every() -> int:
    text = os.environ.get("SUPPLYNET_AUDIT_CHECKPOINT_EVERY", "1000")
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise SecurityError(f"SUPPLYNET_AUDIT_CHECKPOINT_EVERY must be a whole number >= 1, not {text!r}")
    return n


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at entry ``seq`` signed by the operator key ``public_key``."""

    seq: int
    hash: str
    at_us: int
    key_id: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        return _DOMAIN + json.dumps([self.seq, self.hash, self.at_us, self.key_id], separators=(",", ":")).encode()

    @property
    def fingerprint(self) -> str:
        """The signing key's id (as :func:`supplynet.security.signing.fingerprint` gives it)."""
        return _b64e(hashlib.sha256(_b64d(self.public_key)).digest())[:12]

    def check_signature(self) -> None:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            Ed25519PublicKey.from_public_bytes(_b64d(self.public_key)).verify(_b64d(self.signature), self.message())
        except (InvalidSignature, ValueError, SecurityError) as exc:
            raise SecurityError(f"checkpoint at entry {self.seq}: its signature does not verify with the key "
                                f"it names") from exc

    def to_dict(self) -> dict[str, Any]:
        return {"format": "supplynet.audit-checkpoint/1", **asdict(self), "fingerprint": self.fingerprint}

    @classmethod
    def from_dict(cls, data: Any, source: str = "checkpoint") -> Checkpoint:
        if not isinstance(data, dict) or data.get("format") != "supplynet.audit-checkpoint/1":
            raise DataError(f"{source}: not a supplynet audit checkpoint (format supplynet.audit-checkpoint/1)")
        try:
            return cls(seq=int(data["seq"]), hash=str(data["hash"]), at_us=int(data["at_us"]),
                       key_id=str(data["key_id"]), public_key=str(data["public_key"]),
                       signature=str(data["signature"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source}: a checkpoint needs seq, hash, at_us, key_id, public_key and "
                            f"signature ({exc})") from exc

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        p = Path(path)
        try:
            data = json.loads(p.read_text())
        except OSError as exc:
            raise DataError(f"{p}: cannot read the checkpoint ({exc.strerror})") from exc
        except ValueError as exc:
            raise DataError(f"{p}: not JSON ({exc})") from exc
        return cls.from_dict(data, str(p))


def _sign(private: Any, seq: int, h: str, at_us: int, key_id: str) -> Checkpoint:
    from cryptography.hazmat.primitives import serialization as s

    pub = _b64e(private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw))
    unsigned = Checkpoint(seq, h, at_us, key_id, pub, "")
    return Checkpoint(seq, h, at_us, key_id, pub, _b64e(private.sign(unsigned.message())))


def _insert(tx: Tx, cp: Checkpoint) -> None:
    tx.execute(f"INSERT INTO audit_checkpoints ({_COLS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING",
               (cp.seq, cp.hash, cp.at_us, cp.key_id, cp.public_key, cp.signature))


def maybe_checkpoint_tx(tx: Tx, seq: int, h: str, at_us: int) -> Checkpoint | None:
    """Inside the append's transaction: sign entry ``seq`` when it is a multiple of the interval and
    this process holds a signing key."""
    if seq % checkpoint_every():
        return None
    private = signing_key()
    if private is None:
        return None
    key_id = tx.execute("SELECT key_id FROM audit_head WHERE id = 1")[0][0] or ""
    cp = _sign(private, seq, h, at_us, str(key_id))
    _insert(tx, cp)
    return cp


def make_checkpoint(backend: SqlBackend, private: Any, at_us: int) -> Checkpoint:
    """Sign the chain's current head now (stored beside the chain); refuses an empty chain."""
    with backend.write() as tx:
        rows = tx.execute("SELECT seq, hash, key_id FROM audit_head WHERE id = 1")
        if not rows or int(rows[0][0]) == 0:
            raise DataError("the audit chain is empty: nothing to sign yet")
        cp = _sign(private, int(rows[0][0]), str(rows[0][1]), at_us, str(rows[0][2] or ""))
        _insert(tx, cp)
    return cp


def latest_checkpoint(backend: SqlBackend) -> Checkpoint | None:
    rows = backend.query(f"SELECT {_COLS} FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
    if not rows:
        return None
    seq, h, at, kid, pub, sig = rows[0]
    return Checkpoint(int(seq), str(h), int(at), str(kid), str(pub), str(sig))


def check_anchor(backend: SqlBackend, anchor: Checkpoint, public_key: str | None = None) -> list[str]:
    """What is wrong with the chain against an exported checkpoint (empty: it holds)."""
    try:
        anchor.check_signature()
    except SecurityError as exc:
        return [str(exc)]
    if public_key is not None and public_key.strip() != anchor.public_key:
        return [f"the anchor is signed by key {anchor.fingerprint}, not by the key given"]
    rows = backend.query("SELECT hash FROM audit WHERE seq = ?", (anchor.seq,))
    if not rows:
        return [f"the anchor signs entry {anchor.seq}, which the chain no longer holds (entries cut off)"]
    if str(rows[0][0]) != anchor.hash:
        return [f"entry {anchor.seq} differs from the signed anchor: the history up to it was rewritten"]
    return []
