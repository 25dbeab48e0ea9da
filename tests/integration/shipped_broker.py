"""The project's shipped Mosquitto config (src/supplynet/ingest/mosquitto/mosquitto.conf), run by a
test on free ports: ACL and password file generated from the test's registry
(:func:`supplynet.security.broker.render_broker_files`), certificates from
:func:`supplynet.security.certs.init_certs`, persistence in the test's folder. Only the paths and the
two listeners' ports differ from what ships."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

import supplynet.ingest as ingest_pkg
from supplynet.security.broker import GATEWAY_USER, mqtt_password, render_broker_files
from supplynet.security.certs import init_certs
from supplynet.testing.require import require_or_skip
from supplynet.testing.services import wait_for_port

from .mqtt_helpers import free_port

SHIPPED = Path(ingest_pkg.__file__).parent / "mosquitto" / "mosquitto.conf"


class ShippedBroker:
    """Mosquitto with the shipped config; ``port`` is the loopback listener (1883 in the shipped
    file), ``tls_port`` the TLS one (8883)."""

    def __init__(self, folder: Path, registry):
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(exe):
            require_or_skip("mosquitto is not installed", "service")
        self.exe, self.folder, self.registry = exe, folder, registry
        folder.mkdir(parents=True, exist_ok=True)
        self.certs = init_certs(folder / "certs")
        self.port, self.tls_port = free_port(), free_port()
        (folder / "data").mkdir(exist_ok=True)
        conf = SHIPPED.read_text()
        for old, new in [("/etc/mosquitto/supplynet/certs", str(self.certs.folder)),
                         ("/etc/mosquitto/supplynet", str(folder)),
                         ("/var/lib/mosquitto/", f"{folder / 'data'}/"),
                         ("listener 1883 127.0.0.1", f"listener {self.port} 127.0.0.1"),
                         ("listener 8883", f"listener {self.tls_port} 127.0.0.1")]:
            assert old in conf, old  # the shipped file still has what this helper rewrites
            conf = conf.replace(old, new)
        if os.geteuid() == 0:  # started as root Mosquitto drops to user mosquitto, who cannot read tmp files
            conf += "user root\n"
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(conf)
        self.log = folder / "mosquitto.log"
        self.proc: subprocess.Popen | None = None
        self.write_access_files()

    @property
    def gateway_password(self) -> str:
        return mqtt_password(self.registry.vault(), GATEWAY_USER)

    def write_access_files(self) -> None:
        files = render_broker_files(self.registry.list(), self.registry.vault())
        (self.folder / "acl").write_text(files.acl)
        (self.folder / "passwd").write_text(files.passwd)

    def reload(self) -> None:
        """Generate the ACL and password file again and have the broker read them (SIGHUP)."""
        self.write_access_files()
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)

    def start(self) -> ShippedBroker:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT)
        if not (wait_for_port("127.0.0.1", self.port, 10) and wait_for_port("127.0.0.1", self.tls_port, 10)):
            self.stop()
            raise RuntimeError(f"shipped mosquitto config did not start: {self.log.read_text()[-800:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Probe:
    """A plain paho MQTT 5 client that records CONNACK, SUBACK and PUBACK reason codes."""

    def __init__(self, port: int, user: str | None, password: str | None, cid: str, *, tls_ca: Path | None = None):
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        if user:
            self.c.username_pw_set(user, password)
        if tls_ca is not None:
            self.c.tls_set(ca_certs=str(tls_ca))
        self.connack = threading.Event()
        self.reason = None
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.messages: list[tuple[str, bytes]] = []
        self._cv = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.connack.wait(10), "no CONNACK"

    def _on_connect(self, c, u, flags, reason, props):
        self.reason = reason
        self.connack.set()

    def _on_publish(self, c, u, mid, reason, props):
        with self._cv:
            self.pubacks[mid] = reason.value
            self._cv.notify_all()

    def _on_subscribe(self, c, u, mid, reasons, props):
        with self._cv:
            self.subacks[mid] = [r.value for r in reasons]
            self._cv.notify_all()

    def publish(self, topic: str, payload: bytes) -> int:
        """PUBLISH at QoS 1 and wait for the broker's PUBACK; its reason code."""
        mid = self.c.publish(topic, payload, qos=1).mid
        with self._cv:
            assert self._cv.wait_for(lambda: mid in self.pubacks, 10), f"no PUBACK for {topic}"
            return self.pubacks[mid]

    def subscribe(self, topic: str) -> list[int]:
        """SUBSCRIBE at QoS 1 and wait for the SUBACK; its reason codes."""
        _, mid = self.c.subscribe(topic, qos=1)
        with self._cv:
            assert self._cv.wait_for(lambda: mid in self.subacks, 10), f"no SUBACK for {topic}"
            return self.subacks[mid]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
