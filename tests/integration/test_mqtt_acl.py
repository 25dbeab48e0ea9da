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
from supplynet.testing.require import require_or_skip

from .mqtt_helpers import PrivateBroker

pytestmark = pytest.mark.integration

ACL = Path(ingest_pkg.__file__).parent / "mosquitto" / "acl"


class Probe:
    """An MQTT 5 client that waits on the broker's answers: CONNACK, SUBACK and PUBACK reason codes,
    and the messages it receives (a condition each wait blocks on, with a deadline, never a sleep)."""

    def __init__(self, port: int, user: str | None, password: str | None, cid: str):
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        if user:
            self.c.username_pw_set(user, password)
        self.cond = threading.Condition()
        self.connack = None
        self.subacks: dict[int, list] = {}
        self.pubacks: dict[int, object] = {}
        self.got: list[tuple[str, bytes]] = []
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda client, u, mid, codes, props: self._note(self.subacks, mid, list(codes))
        self.c.on_publish = lambda client, u, mid, code, props: self._note(self.pubacks, mid, code)
        self.c.on_message = lambda client, u, msg: self._note(None, None, (msg.topic, msg.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        self._wait(lambda: self.connack is not None, "CONNACK")
        self.reason = self.connack

    def _on_connect(self, client, userdata, flags, reason, props):
        with self.cond:
            self.connack = reason
            self.cond.notify_all()

    def _note(self, table, key, value) -> None:
        with self.cond:
            if table is None:
                self.got.append(value)
            else:
                table[key] = value
            self.cond.notify_all()

    def _wait(self, pred, what: str, timeout: float = 10.0) -> None:
        with self.cond:
            assert self.cond.wait_for(pred, timeout), f"no {what} within {timeout:.0f} s"

    def subscribe(self, topic: str) -> list[int]:
        """The SUBACK's reason codes for ``topic`` (1 = granted QoS 1, 135 = not authorized)."""
        rc, mid = self.c.subscribe(topic, qos=1)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        self._wait(lambda: mid in self.subacks, f"SUBACK for {topic}")
        return [int(code.value) for code in self.subacks[mid]]

    def publish(self, topic: str, payload: bytes) -> int:
        """The PUBACK's reason code for a QoS 1 publish (0 = success, 135 = not authorized)."""
        info = self.c.publish(topic, payload, qos=1)
        self._wait(lambda: info.mid in self.pubacks, f"PUBACK for {topic}")
        return int(self.pubacks[info.mid].value)

    def wait_for(self, message: tuple[str, bytes]) -> list[tuple[str, bytes]]:
        """Everything received up to and including ``message`` (which must arrive)."""
        self._wait(lambda: message in self.got, f"message on {message[0]}")
        with self.cond:
            return list(self.got)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


GRANTED_QOS1, SUCCESS, NOT_AUTHORIZED = 1, 0, 135  # MQTT 5 reason codes


@pytest.fixture
def acl_broker(tmp_path):
    if shutil.which("mosquitto_passwd") is None:
        require_or_skip("mosquitto_passwd is not installed (apt-get install mosquitto)", "service")
    pw = tmp_path / "passwd"
    for i, (user, secret) in enumerate([("gateway", "gw-secret"), ("dev-a", "a-secret"), ("dev-b", "b-secret")]):
        subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if i == 0 else []), str(pw), user, secret], check=True)
    acl = tmp_path / "acl"
    acl.write_text(ACL.read_text())
    broker = PrivateBroker(tmp_path, extra=f"allow_anonymous false\npassword_file {pw}\nacl_file {acl}\n").start()
    yield broker
    broker.stop()


def test_device_publishes_only_under_its_own_topic(acl_broker):
    """Every answer of the broker is checked: PUBACK "Not authorized" for a forged or foreign topic,
    "Success" for the device's own; the gateway receives exactly the granted messages. Mosquitto's
    ACL file grants any SUBSCRIBE and filters each message on delivery, so a snooping subscription is
    shown empty by a fence: a message published after everything else, on a topic the snooper may
    read, arrives after anything the broker would have let through."""
    port = acl_broker.port
    gw = Probe(port, "gateway", "gw-secret", "gw")
    a = Probe(port, "dev-a", "a-secret", "dev-a")
    b = Probe(port, "dev-b", "b-secret", "dev-b")
    try:
        assert [int(p.reason.value) for p in (gw, a, b)] == [SUCCESS] * 3
        assert gw.subscribe("$share/gw/devices/+/up") == [GRANTED_QOS1]
        assert a.subscribe("devices/+/up") == [GRANTED_QOS1]  # granted, but filtered on delivery (below)
        assert a.subscribe("devices/dev-b/ack") == [GRANTED_QOS1]  # another device's acknowledgements
        assert a.subscribe("devices/dev-a/ack") == [GRANTED_QOS1]
        assert a.publish("devices/dev-a/up", b"mine") == SUCCESS
        assert a.publish("devices/dev-b/up", b"forged") == NOT_AUTHORIZED
        assert a.publish("elsewhere/x", b"other") == NOT_AUTHORIZED
        assert a.publish("devices/dev-a/ack", b"self-acked") == NOT_AUTHORIZED  # only the gateway acknowledges
        assert b.publish("devices/dev-b/up", b"b-mine") == SUCCESS
        assert gw.wait_for(("devices/dev-b/up", b"b-mine")) == [("devices/dev-a/up", b"mine"),
                                                                 ("devices/dev-b/up", b"b-mine")]
        assert gw.publish("devices/dev-b/ack", b"ack-b") == SUCCESS
        assert gw.publish("devices/dev-a/ack", b"ack-a") == SUCCESS  # the fence
        assert gw.publish("devices/dev-a/up", b"gw-forged") == NOT_AUTHORIZED  # the gateway only reads uplinks
        assert a.wait_for(("devices/dev-a/ack", b"ack-a")) == [("devices/dev-a/ack", b"ack-a")]
    finally:
        for p in (gw, a, b):
            p.close()


def test_anonymous_and_wrong_password_are_refused(acl_broker):
    """CONNACK "Not authorized" (Mosquitto's code for a missing or wrong password alike)."""
    for user, password in [(None, None), ("dev-a", "wrong"), ("nobody", "x")]:
        p = Probe(acl_broker.port, user, password, f"probe-{user}")
        try:
            assert int(p.reason.value) == NOT_AUTHORIZED, (user, str(p.reason))
        finally:
            p.close()


def test_shipped_config_loads(tmp_path):
    """The shipped mosquitto.conf is valid for this Mosquitto (paths pointed at the test's files)."""
    if shutil.which("mosquitto_passwd") is None:
        require_or_skip("mosquitto_passwd is not installed (apt-get install mosquitto)", "service")
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
        anon = Probe(port, None, None, "anon")
        anon.close()
        assert int(anon.reason.value) == NOT_AUTHORIZED  # deny by default
    finally:
        proc.terminate()
        proc.wait(10)
