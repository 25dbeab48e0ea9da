"""Crash proof with plain paho QoS 1 publishers (not the project's device client, so no end-to-end
acks and no resends) through 5 gateway SIGKILLs on the shipped broker config (issue 15, target), on
SQLite and on PostgreSQL: every message is in the log exactly once.

Plain publishers get no signed acks: what makes them lossless is the broker's persistent session
for the gateway's shared subscription (clean_start false + session expiry, persistence on, a queue
that holds the outage: see the shipped mosquitto.conf), QoS 1, and the gateway's PUBACK only after
the log committed the message (a message committed but not yet acknowledged is delivered again and
stored once by the log's deduplication).

Scale: 5,000 messages by default; the full 50,000 run under the ``slow`` marker
(``SUPPLYNET_CRASH_PLAIN_N`` sets its count).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from supplynet.ingest.envelope import seal, utcnow
from supplynet.ingest.mqtt import up_topic
from supplynet.security.broker import GATEWAY_USER
from supplynet.security.devices import DeviceRegistry
from supplynet.store import open_store

from .mqtt_helpers import uid, wait_until
from .shipped_broker import ShippedBroker

pytestmark = pytest.mark.integration

DEVICES = 10
KILLS = 5


class Gateway:
    """``python -m supplynet.ingest.mqtt`` as the broker's ``gateway`` user, on a shared subscription."""

    def __init__(self, url: str, port: int, client_id: str, log_path):
        self.cmd = [sys.executable, "-m", "supplynet.ingest.mqtt", "--store", url, "--port", str(port),
                    "--client-id", client_id, "--group", "gw", "--username", GATEWAY_USER, "--rate", "1e6",
                    "--no-monitor"]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)

    def subscribed_times(self) -> int:
        return self.log_path.read_text().count("\nsubscribed\n") if self.log_path.exists() else 0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _publish(cred, port: int, n: int, duration_s: float, errors: list) -> None:
    """One plain paho client: ``n`` signed envelopes at QoS 1, paced over ``duration_s``; waits for
    every PUBACK from the broker (which is all a plain publisher ever learns)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"plain-{cred.device_id}", protocol=mqtt.MQTTv5)
    c.username_pw_set(cred.device_id, cred.mqtt_password)
    c.max_inflight_messages_set(100)
    refused = []
    c.on_publish = lambda cl, u, mid, reason, props: refused.append(reason.value) if reason.is_failure else None
    try:
        c.connect("127.0.0.1", port)
        c.loop_start()
        infos = []
        t0 = time.monotonic()
        for k in range(n):
            payload = seal(cred.device_id, cred.kid, cred.private_key, k, utcnow(),
                           [{"kind": "condition", "temperature": 2.0 + k % 7}], {"temperature": "degC"})
            infos.append(c.publish(up_topic(cred.device_id), payload, qos=1))
            ahead = t0 + duration_s * (k + 1) / n - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        for info in infos:
            info.wait_for_publish(60)
            assert info.is_published()
        assert not refused, refused[:5]
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)
    finally:
        c.disconnect()
        c.loop_stop()


def _run(tmp_path, n: int, duration_s: float, url: str | None = None) -> Gateway:
    url = url or f"sqlite:///{tmp_path / 'crash.db'}"
    tag = uid()
    with open_store(url) as st:
        reg = DeviceRegistry(st.devices)
        creds = [reg.provision(f"plain-{tag}-{i}", measures=("temperature",), asset="R1") for i in range(DEVICES)]
        broker = ShippedBroker(tmp_path / "broker", reg).start()
    gw = Gateway(url, broker.port, f"gw-plain-{tag}", tmp_path / "gateway.log")
    per_dev = n // DEVICES
    errors: list = []
    pubs = [threading.Thread(target=_publish, args=(c, broker.port, per_dev, duration_s, errors), daemon=True)
            for c in creds]
    try:
        gw.start()
        assert wait_until(lambda: gw.subscribed_times() == 1, 60), gw.log_path.read_text()[-2000:]
        for p in pubs:
            p.start()
        with open_store(url) as st:
            step = n // (2 * (KILLS + 1))
            for k in range(KILLS):
                before = st.log.count()
                # let the (restarted) gateway commit something, then kill it mid-stream
                assert wait_until(lambda b=before: st.log.count() >= b + step, 120), (k, before, st.log.count())
                gw.kill()
                time.sleep(0.2 * (k % 3))  # outages of different lengths: the broker queues meanwhile
                gw.start()
                assert wait_until(lambda k=k: gw.subscribed_times() == k + 2, 60), gw.log_path.read_text()[-2000:]
            for p in pubs:
                p.join(600)
            assert not errors, errors
            assert wait_until(lambda: st.log.count() >= n, max(90.0, n / 500)), (st.log.count(), n)
    finally:
        gw.stop()
        broker.stop()
    with open_store(url) as st:
        assert st.log.count() == n  # nothing lost, nothing stored twice
        seen: dict[str, list[int]] = {}
        for rec in st.log.read(sources=[c.device_id for c in creds]):
            seen.setdefault(rec.event.source, []).append(rec.event.seq)
        for c in creds:
            assert sorted(seen[c.device_id]) == list(range(per_dev)), c.device_id
    return gw


def test_plain_qos1_publishers_through_five_gateway_kills_exactly_once(tmp_path):
    gw = _run(tmp_path, 5000, duration_s=15.0)
    assert gw.kills == KILLS


def test_plain_qos1_publishers_through_five_gateway_kills_exactly_once_postgres(tmp_path, pg_url):
    gw = _run(tmp_path, 5000, duration_s=15.0, url=pg_url)
    assert gw.kills == KILLS


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_plain_qos1_publishers_50k_through_five_gateway_kills_exactly_once(tmp_path):
    n = int(os.environ.get("SUPPLYNET_CRASH_PLAIN_N", "50000"))
    gw = _run(tmp_path, n, duration_s=max(15.0, n / 800))
    assert gw.kills == KILLS
