"""The shipped Mosquitto ACL on a second broker: deny by default, a device publishes only under its
own topic, anonymous clients are refused."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import supplynet.ingest as ingest_pkg

from .mqtt_helpers import PrivateBroker, wait_until

pytestmark = pytest.mark.integration

ACL = Path(ingest_pkg.__file__).parent / "mosquitto" / "acl"


def _client(port: int, user: str | None, password: str | None, cid: str):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, password)
    got: list[tuple[str, bytes]] = []
    result: dict = {}
    ready = threading.Event()

    def on_connect(client, userdata, flags, reason, props):
        result["reason"] = reason
        ready.set()

    c.on_connect = on_connect
    c.on_message = lambda client, userdata, msg: got.append((msg.topic, msg.payload))
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert ready.wait(10)
    return c, got, result["reason"]


@pytest.fixture
def acl_broker(tmp_path):
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    pw = tmp_path / "passwd"
    for i, (user, secret) in enumerate([("gateway", "gw-secret"), ("dev-a", "a-secret"), ("dev-b", "b-secret")]):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(pw), user, secret], check=True)
    acl = tmp_path / "acl"
    acl.write_text(ACL.read_text())
    broker = PrivateBroker(tmp_path, extra=f"allow_anonymous false\npassword_file {pw}\nacl_file {acl}\n").start()
    yield broker
    broker.stop()


def test_device_publishes_only_under_its_own_topic(acl_broker):
    port = acl_broker.port
    gw, got, reason = _client(port, "gateway", "gw-secret", "gw")
    assert not reason.is_failure
    gw.subscribe("$share/gw/devices/+/up", qos=1)
    a, a_got, _ = _client(port, "dev-a", "a-secret", "dev-a")
    a.subscribe("devices/+/up", qos=1)  # snooping on other devices is not granted either
    b, _, _ = _client(port, "dev-b", "b-secret", "dev-b")
    import time

    time.sleep(0.5)
    a.publish("devices/dev-a/up", b"mine", qos=1).wait_for_publish(5)
    a.publish("devices/dev-b/up", b"forged", qos=1).wait_for_publish(5)
    a.publish("elsewhere/x", b"other", qos=1).wait_for_publish(5)
    b.publish("devices/dev-b/up", b"b-mine", qos=1).wait_for_publish(5)
    assert wait_until(lambda: len(got) >= 2, 5)
    time.sleep(0.5)
    assert sorted(got) == [("devices/dev-a/up", b"mine"), ("devices/dev-b/up", b"b-mine")]
    assert a_got == []
    for c in (gw, a, b):
        c.disconnect()
        c.loop_stop()


def test_anonymous_and_wrong_password_are_refused(acl_broker):
    _, _, reason = _client(acl_broker.port, None, None, "anon")
    assert reason.is_failure
    _, _, reason = _client(acl_broker.port, "dev-a", "wrong", "dev-a2")
    assert reason.is_failure


def test_shipped_config_loads(tmp_path):
    """The shipped mosquitto.conf is valid for this Mosquitto (paths pointed at the test's files)."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    import os

    from .mqtt_helpers import free_port

    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "gateway", "x"], check=True)
    port = free_port()
    from supplynet.security.certs import init_certs

    certs = init_certs(tmp_path / "certs").folder
    conf = (ACL.parent / "mosquitto.conf").read_text()
    conf = (conf.replace("/etc/mosquitto/supplynet/certs", str(certs))
            .replace("listener 8883", f"listener {free_port()} 127.0.0.1")
            .replace("/etc/mosquitto/supplynet/passwd", str(pw))
            .replace("/etc/mosquitto/supplynet/acl", str(ACL))
            .replace("listener 1883 127.0.0.1", f"listener {port} 127.0.0.1")
            .replace("persistence true", "persistence false"))
    conf = "\n".join(x for x in conf.splitlines() if not x.startswith("persistence_location"))
    if os.geteuid() == 0:
        conf += "\nuser root\n"
    path = tmp_path / "m.conf"
    path.write_text(conf)
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([exe, "-c", str(path)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        from supplynet.testing.services import wait_for_port

        assert wait_for_port("127.0.0.1", port, 10), proc.stdout.read1(4000) if proc.poll() is not None else ""
        _, _, reason = _client(port, None, None, "anon")
        assert reason.is_failure  # deny by default
    finally:
        proc.terminate()
        proc.wait(10)
