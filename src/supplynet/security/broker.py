"""The MQTT broker's access control, generated from the device registry.

The broker is not trusted with the data (every envelope is signed by its device and every
acknowledgement by the platform), but it decides who may publish where: without an ACL any client
can publish on a victim device's topic and use up the victim's quota, or read other devices'
traffic. :func:`render_acl` grants each registered, unrevoked device exactly its own uplink (write
``devices/<id>/up``) and acknowledgements (read ``devices/<id>/ack``), and the gateway user the
uplink of every device and the acknowledgements' topics; Mosquitto denies everything else.

Broker passwords are derived, not stored: :func:`mqtt_password` is a keyed hash of the user name
under the vault key, so ``supplynet devices add`` can show a device its password once, the
gateway computes its own, and ``supplynet ingest acl`` writes the password file (Mosquitto's PBKDF2
format, :func:`mosquitto_hash`) again at any time from the registry alone. A revoked device is left
out of both files: after the broker reloads them (``SIGHUP``) it can no longer connect.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from .devices import OPERATOR, DeviceRecord
from .signing import b64u_encode

__all__ = ["GATEWAY_USER", "BrokerFiles", "mosquitto_hash", "mqtt_password", "render_broker_files"]

#: the MQTT user name of gateway workers in the generated files
GATEWAY_USER = "gateway"
_PBKDF2_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes (format $7$)


def mqtt_password(vault: object, user: str) -> str:
    """The broker password of ``user`` (a device id, or :data:`GATEWAY_USER`), derived from the vault key."""
    return b64u_encode(vault.derive(f"mqtt-password/{user}"))  # type: ignore[attr-defined]


def mosquitto_hash(password: str, *, salt: bytes | None = None) -> str:
    """A Mosquitto 2 password file hash (``$7$``: PBKDF2-HMAC-SHA512, 12-byte salt)."""
    salt = os.urandom(12) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return f"$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


@dataclass
class BrokerFiles:
    """The text of the ACL and password files, and the devices left out (and why)."""

    acl: str
    passwd: str
    devices: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def render_broker_files(records: Iterable[DeviceRecord], vault: object, *, gateway_user: str = GATEWAY_USER,
                        generated_at: str = "") -> BrokerFiles:
    """ACL and password file for the registry's devices (see the module docstring)."""
    acl = [f"# supplynet broker ACL, generated from the device registry{' at ' + generated_at if generated_at else ''}",
           "# by `supplynet ingest acl`: do not edit, generate it again (and send the broker SIGHUP).",
           "# Mosquitto denies everything not granted here.", "",
           "# gateway workers: read every device's uplink (also as $share/<group>/devices/+/up), write the",
           "# platform-signed acknowledgements",
           f"user {gateway_user}", "topic read devices/+/up", "topic write devices/+/ack", ""]
    pw = [f"{gateway_user}:{mosquitto_hash(mqtt_password(vault, gateway_user))}"]
    out = BrokerFiles("", "")
    for rec in records:
        d = rec.device_id
        if rec.kind == OPERATOR:
            continue  # operators sign imports; they do not connect to the broker
        if rec.revoked_at_us is not None:
            out.skipped[d] = "revoked"
            continue
        if ":" in d or d == gateway_user:  # ':' ends the user name in Mosquitto's password file
            out.skipped[d] = "its id cannot be a broker user name (':' or the gateway's name)"
            continue
        acl += [f"user {d}", f"topic write devices/{d}/up", f"topic read devices/{d}/ack", ""]
        pw.append(f"{d}:{mosquitto_hash(mqtt_password(vault, d))}")
        out.devices.append(d)
    out.acl = "\n".join(acl) + "\n"
    out.passwd = "\n".join(pw) + "\n"
    return out
