"""Device identity: the registry (provision, rotate, revoke), message signing (Ed25519, or HMAC-SHA256 for
symmetric devices) and the vault key that seals symmetric secrets at rest."""

from .devices import Credential, DeviceRecord, DeviceRegistry
from .signing import OperatorKey, generate_keypair, sign, verify

__all__ = ["Credential", "DeviceRecord", "DeviceRegistry", "OperatorKey", "generate_keypair", "sign", "verify"]
