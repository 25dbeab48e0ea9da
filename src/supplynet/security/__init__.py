"""Device identity: the registry (provision, rotate, revoke) and Ed25519 message signing."""

from .devices import Credential, DeviceRecord, DeviceRegistry
from .signing import OperatorKey, generate_keypair, sign, verify

__all__ = ["Credential", "DeviceRecord", "DeviceRegistry", "OperatorKey", "generate_keypair", "sign", "verify"]
