"""Platform-signed acknowledgements (issue 15, item 10): what a device accepts, without a broker."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from supplynet.errors import SecurityError
from supplynet.ingest.mqtt import DeviceClient
from supplynet.security.acks import PlatformKey, open_ack


def test_only_the_platform_key_opens_an_ack_for_this_device():
    key = PlatformKey(b"\x07" * 32)
    good = key.sign_ack("rf-1", 9, [(20, 29)])
    assert open_ack(key.public, "rf-1", good) == (9, [(20, 29)])
    outer = orjson.loads(good)
    tampered = orjson.dumps({**outer, "ack": outer["ack"].replace("29", "99")})
    for bad in (tampered, PlatformKey(b"\x08" * 32).sign_ack("rf-1", 9, []), b"not json", b"{}",
                orjson.dumps({"acked": 9, "ranges": []}), orjson.dumps({"ack": 5, "sig": "x"})):
        assert open_ack(key.public, "rf-1", bad) is None, bad
    assert open_ack(key.public, "rf-2", good) is None  # replayed on another device's topic


def test_registry_gives_each_device_the_key_every_gateway_signs_with(gate):
    cred = gate.registry.provision("rf-1", asset="R1")
    ack = gate.registry.platform_key().sign_ack("rf-1", 0, [])  # what a gateway worker signs with
    assert cred.platform_key and open_ack(cred.platform_key, "rf-1", ack) == (0, [])


def test_device_client_needs_the_platform_key(gate):
    cred = gate.registry.provision("rf-1", asset="R1")
    with pytest.raises(SecurityError, match="no platform key"):
        DeviceClient(replace(cred, platform_key=""))
    assert DeviceClient(cred).platform_key == cred.platform_key


def test_mqtt_commands_and_device_acks_are_signed_by_the_one_platform_key(monkeypatch, tmp_path):
    from supplynet.security.acks import PlatformKey
    from supplynet.security.platform import platform_key
    from supplynet.security.vault import default_vault

    monkeypatch.delenv("SUPPLYNET_PLATFORM_KEY", raising=False)
    monkeypatch.delenv("SUPPLYNET_PLATFORM_KEY_FILE", raising=False)
    assert platform_key(home=tmp_path).public == PlatformKey.from_vault(default_vault()).public
    assert not (tmp_path / "platform.key").exists()  # no second secret file to keep
