"""Device registry: provision, rotate, revoke, look up.

Provisioning makes a fresh Ed25519 key pair and returns the private key once (a
:class:`Credential`); the registry keeps only the public key (see :mod:`.signing` for why). A device
on the symmetric scheme (``scheme="hmac-sha256"``) gets a fresh 32-byte secret instead, shown once as
well; the registry keeps it only sealed under the vault key (:mod:`.vault`) and opens it in memory
when the gate first needs it.
Rotation adds a new key and lets the old one expire after an overlap, so a device that has not
switched yet keeps working. Revocation takes effect on the next message: the gate calls
:meth:`DeviceRegistry.refresh` before each batch, which re-reads the registry when its generation
counter moved (one integer query).

The registry persists through a small backend (:class:`RegistryBackend`): in memory for tests, or
the store's ``devices`` table (:mod:`supplynet.store.devices`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from ..errors import SecurityError
from .acks import PlatformKey
from .signing import (
    ED25519,
    HMAC_SHA256,
    SCHEMES,
    b64u_encode,
    fingerprint,
    generate_keypair,
    generate_secret,
)
from .vault import Vault, default_vault

__all__ = [
    "DEFAULT_OVERLAP_S",
    "OPERATOR",
    "Credential",
    "DeviceRecord",
    "DeviceRegistry",
    "InMemoryRegistryBackend",
    "KeyRecord",
    "RegistryBackend",
    "kinds_for_measures",
]

DEFAULT_OVERLAP_S = 24 * 3600.0
#: the ``kind`` of registry records that are operators (they sign imports; they do not report)
OPERATOR = "operator"
_REF = re.compile(r"^[A-Za-z0-9_.:@/\-]{1,128}$")
_ID = re.compile(r"^[A-Za-z0-9_.:@\-]{1,128}$")  # no '/', '+', '#': it is also an MQTT topic level

# quantity a device measures -> canonical event kinds it may report
_MEASURE_KINDS: dict[str, tuple[str, ...]] = {
    "position": ("position",),
    "temperature": ("condition",),
    "humidity": ("condition",),
    "shock": ("condition",),
    "machine": ("machine_reading",),
    "vibration": ("machine_reading",),
    "stock_count": ("stock_count",),
    "sale": ("sale",),
}


def kinds_for_measures(measures: Iterable[str]) -> frozenset[str]:
    """Event kinds a device measuring ``measures`` may report (unknown measures allow nothing)."""
    out: set[str] = set()
    for m in measures:
        out.update(_MEASURE_KINDS.get(m, ()))
    return frozenset(out)


@lru_cache(maxsize=1024)
def _kinds_of(measures: tuple[str, ...]) -> frozenset[str]:
    """:func:`kinds_for_measures` of a record's measures, made once per set (the gate asks per message)."""
    return kinds_for_measures(measures)


def _now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True)
class KeyRecord:
    kid: str
    public: str  # Ed25519 public key (b64u); "" for a symmetric key
    not_before_us: int
    not_after_us: int | None = None  # None: valid until rotated or revoked
    scheme: str = ED25519
    sealed: str | None = None  # hmac-sha256: the secret sealed under the vault key (never in plain)

    def valid_at(self, t_us: int) -> bool:
        return self.not_before_us <= t_us and (self.not_after_us is None or t_us < self.not_after_us)


@dataclass(frozen=True)
class DeviceRecord:
    """What the platform knows about a device: its verification keys and its binding."""

    device_id: str
    kind: str | None = None
    measures: tuple[str, ...] = ()
    asset: str | None = None
    site: str | None = None
    report_interval_s: float | None = None
    keys: tuple[KeyRecord, ...] = ()
    revoked_at_us: int | None = None
    created_at_us: int = 0
    #: registered without a binding on purpose (a gateway relaying for several sites): its readings
    #: name their asset or site themselves; every other device reports only about its own
    any_site: bool = False

    @property
    def allowed_kinds(self) -> frozenset[str]:
        return _kinds_of(self.measures)

    def key(self, kid: str, t_us: int) -> KeyRecord | None:
        for k in self.keys:
            if k.kid == kid and k.valid_at(t_us):
                return k
        return None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["measures"] = list(self.measures)
        d["keys"] = [asdict(k) for k in self.keys]
        return d

    def public_dict(self) -> dict[str, Any]:
        """:meth:`to_dict` without the sealed secrets (what the API and the CLI show)."""
        d = self.to_dict()
        d["keys"] = [{k: v for k, v in key.items() if k != "sealed"} for key in d["keys"]]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceRecord:
        d = dict(d)
        d["measures"] = tuple(d.get("measures") or ())
        d["keys"] = tuple(KeyRecord(**k) for k in d.get("keys") or ())
        return cls(**d)


@dataclass(frozen=True)
class Credential:
    """Shown to the operator once at provisioning/rotation; the platform does not keep ``private_key``."""

    device_id: str
    kid: str
    private_key: str  # Ed25519 private key, or ``hmac-sha256:<secret>`` for a symmetric device
    public_key: str  # "" for a symmetric device
    scheme: str = ED25519
    #: the platform's public key (Ed25519): the device verifies its acknowledgements with it
    #: (:mod:`.acks`); "" for an operator
    platform_key: str = ""
    #: the device's broker password (MQTT user name: its id), derived from the vault key
    #: (:mod:`.broker`); "" for an operator
    mqtt_password: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class RegistryBackend(Protocol):
    def get_device(self, device_id: str) -> dict[str, Any] | None: ...
    def put_device(self, device_id: str, record: dict[str, Any]) -> None: ...
    def all_devices(self) -> list[dict[str, Any]]: ...
    def devices_generation(self) -> int: ...


@dataclass
class InMemoryRegistryBackend:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    generation: int = 0

    def get_device(self, device_id: str) -> dict[str, Any] | None:
        return self.rows.get(device_id)

    def put_device(self, device_id: str, record: dict[str, Any]) -> None:
        self.rows[device_id] = record
        self.generation += 1

    def all_devices(self) -> list[dict[str, Any]]:
        return [self.rows[k] for k in sorted(self.rows)]

    def devices_generation(self) -> int:
        return self.generation


class DeviceRegistry:
    """Provision, rotate, revoke and look up devices; lookups are served from a cache that
    :meth:`refresh` keeps in step with the backend."""

    def __init__(self, backend: RegistryBackend | None = None, *, vault: Vault | None = None,
                 home: str | Path | None = None):
        self.records: RegistryBackend = backend if backend is not None else InMemoryRegistryBackend()
        self._vault = vault  # loaded on first use (only symmetric devices need it): see default_vault
        self._home = home
        self._secrets: dict[tuple[str, str, str], bytes] = {}  # (device, kid, sealed) -> opened secret
        self._cache: dict[str, DeviceRecord] = {}
        self._generation = -1
        self.refresh()

    # -- reads -------------------------------------------------------------------------------------
    def refresh(self) -> bool:
        """Reload the cache if the registry changed since the last load; True when it reloaded."""
        gen = self.records.devices_generation()
        if gen == self._generation:
            return False
        self._cache = {d["device_id"]: DeviceRecord.from_dict(d) for d in self.records.all_devices()}
        self._generation = gen
        return True

    def get(self, device_id: str) -> DeviceRecord | None:
        return self._cache.get(device_id)

    def list(self) -> list[DeviceRecord]:
        self.refresh()
        return [self._cache[k] for k in sorted(self._cache)]

    def operators(self, t_us: int) -> dict[str, str]:
        """Operator keys valid at ``t_us`` (key id -> public key): they sign trusted file imports."""
        return {k.kid: k.public for r in self._cache.values() if r.kind == OPERATOR and r.revoked_at_us is None
                for k in r.keys if k.valid_at(t_us)}

    def platform_key(self, *, create: bool = False) -> PlatformKey:
        """The platform's acknowledgement key, derived from the vault key (``create``: make the home
        folder's vault key if there is none yet, as provisioning does)."""
        return PlatformKey.from_vault(self.vault(create=create))

    def vault(self, *, create: bool = False) -> Vault:
        if self._vault is None:
            self._vault = default_vault(create=create, home=self._home)
        return self._vault

    def secret(self, device_id: str, key: KeyRecord) -> bytes:
        """The opened secret of a symmetric key (kept in memory after the first use); raises
        :class:`SecurityError` when this process's vault key does not open it."""
        if key.sealed is None:
            raise SecurityError(f"device {device_id!r} key {key.kid!r} has no sealed secret")
        k = (device_id, key.kid, key.sealed)
        out = self._secrets.get(k)
        if out is None:
            out = self._secrets[k] = self.vault().open(key.sealed, device_id, key.kid)
        return out

    def _new_key(self, device_id: str, scheme: str, now: int, kind: str | None) -> tuple[KeyRecord, Credential]:
        if kind == OPERATOR and scheme != ED25519:
            raise SecurityError(f"operator {device_id!r}: operators sign with Ed25519 keys only")
        if scheme == ED25519:
            priv, pub = generate_keypair()
            key = KeyRecord(fingerprint(pub), pub, now)
            return key, Credential(device_id, key.kid, priv, pub, ED25519, *self._platform_material(device_id, kind))
        if scheme == HMAC_SHA256:
            text, raw = generate_secret()
            kid = b64u_encode(os.urandom(9))  # random: a kid derived from the secret would say something of it
            key = KeyRecord(kid, "", now, scheme=HMAC_SHA256,
                            sealed=self.vault(create=True).seal(raw, device_id, kid))
            return key, Credential(device_id, kid, text, "", HMAC_SHA256, *self._platform_material(device_id, kind))
        raise SecurityError(f"device {device_id!r}: unknown key scheme {scheme!r}; use one of {', '.join(SCHEMES)}")

    def _platform_material(self, device_id: str, kind: str | None) -> tuple[str, str]:
        """What a device gets with its credential: the platform's public key and its broker password."""
        if kind == OPERATOR:
            return "", ""
        from .broker import mqtt_password

        return self.platform_key(create=True).public, mqtt_password(self.vault(), device_id)

    def _require(self, device_id: str) -> DeviceRecord:
        d = self.records.get_device(device_id)
        if d is None:
            raise SecurityError(f"device {device_id!r} is not registered (supplynet devices add {device_id})")
        return DeviceRecord.from_dict(d)

    # -- writes ------------------------------------------------------------------------------------
    def _save(self, rec: DeviceRecord) -> None:
        self.records.put_device(rec.device_id, rec.to_dict())
        self.refresh()

    def provision(self, device_id: str, *, kind: str | None = None, measures: Iterable[str] = (),
                  asset: str | None = None, site: str | None = None, report_interval_s: float | None = None,
                  now_us: int | None = None, scheme: str = ED25519, any_site: bool = False) -> Credential:
        """Register a device with a fresh key; returns its credential (shown once, not stored).
        ``scheme``: ``ed25519`` (default) or ``hmac-sha256`` (symmetric; needs the vault key).
        A device is bound to one ``asset`` or one ``site`` and reports only about it; ``any_site``
        registers one that may report for any (a gateway relaying for several sites), which must be
        asked for explicitly. Operators (``kind="operator"``) report nothing and take no binding."""
        if not isinstance(device_id, str) or not _ID.match(device_id):
            raise SecurityError(f"device id {device_id!r}: use 1-128 letters, digits or _ . : @ - (no '/')")
        if self.records.get_device(device_id) is not None:
            raise SecurityError(f"device {device_id!r} is already registered (use rotate for a new key)")
        for name, v in (("asset", asset), ("site", site)):
            if v is not None and not _REF.match(v):
                raise SecurityError(f"device {device_id!r}: {name} {v!r} is not an identifier")
        if asset and site:
            raise SecurityError(f"device {device_id!r}: bind it to an asset or a site, not both")
        if kind != OPERATOR and not (asset or site or any_site):
            raise SecurityError(f"device {device_id!r} is bound to nothing: give the asset or site it reports "
                                f"about (--asset / --site), or --any-site for a gateway that reports for several")
        if any_site and (asset or site or kind == OPERATOR):
            raise SecurityError(f"device {device_id!r}: --any-site is for a device bound to no asset or site "
                                f"(and not for an operator)")
        if report_interval_s is not None and not report_interval_s > 0:
            raise SecurityError(f"device {device_id!r}: report_interval_s must be > 0, got {report_interval_s}")
        now = _now_us() if now_us is None else now_us
        key, cred = self._new_key(device_id, scheme, now, kind)
        self._save(DeviceRecord(device_id, kind, tuple(measures), asset, site, report_interval_s, (key,),
                                None, now, any_site))
        return cred

    def rotate(self, device_id: str, *, overlap_s: float = DEFAULT_OVERLAP_S, now_us: int | None = None,
               scheme: str | None = None) -> Credential:
        """A new key; keys valid now stay valid for ``overlap_s`` more seconds, then expire.
        ``scheme``: the new key's scheme (default: that of the device's newest key)."""
        if overlap_s < 0:
            raise SecurityError(f"overlap_s must be >= 0, got {overlap_s}")
        rec = self._require(device_id)
        if rec.revoked_at_us is not None:
            raise SecurityError(f"device {device_id!r} is revoked; provision a new device id instead")
        now = _now_us() if now_us is None else now_us
        end = now + int(overlap_s * 1e6)
        old = tuple(replace(k, not_after_us=min(k.not_after_us, end) if k.not_after_us is not None else end)
                    for k in rec.keys if k.not_after_us is None or k.not_after_us > now)
        scheme = scheme or (rec.keys[-1].scheme if rec.keys else ED25519)
        key, cred = self._new_key(device_id, scheme, now, rec.kind)
        self._save(replace(rec, keys=(*old, key)))
        return cred

    def revoke(self, device_id: str, *, now_us: int | None = None) -> DeviceRecord:
        """Refuse every message of the device from now on."""
        rec = self._require(device_id)
        if rec.revoked_at_us is None:
            rec = replace(rec, revoked_at_us=_now_us() if now_us is None else now_us)
            self._save(rec)
        return rec
