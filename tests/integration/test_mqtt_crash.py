"""Crash tests: the gateway process SIGKILLed and restarted >= 10 times, and the broker killed and
restarted, while devices publish at QoS 1; afterwards every message is in the log exactly once.

Scale: 5,000 messages in the everyday suite; the claim's 50,000 under the ``slow`` marker. Every
kill is mid-stream by construction: the publisher is released one segment at a time, and a kill
waits (asserted, with a deadline) until the restarted gateway has committed half of the newest
segment, so the stream is never finished when it lands.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest

from supplynet.ingest.mqtt import DeviceClient
from supplynet.security.devices import DeviceRegistry
from supplynet.store import open_store

from .mqtt_helpers import PrivateBroker, uid, wait_until

pytestmark = pytest.mark.integration

DEVICES = 10


class Gateway:
    def __init__(self, url: str, port: int, client_id: str, log_path):
        self.cmd = [sys.executable, "-m", "supplynet.ingest.mqtt", "--store", url, "--port", str(port),
                    "--client-id", client_id, "--group", ""]
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(self.cmd, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT)

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


def _setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    tag = uid()
    with open_store(url) as st:
        reg = DeviceRegistry(st.devices)
        creds = [reg.provision(f"rf-{tag}-{i}", measures=("temperature",), asset="R1") for i in range(DEVICES)]
    return url, tag, creds


class Publisher(threading.Thread):
    """Sends ``n`` messages round-robin over the devices, never beyond what ``release`` allowed."""

    def __init__(self, devices: list[DeviceClient], n: int):
        super().__init__(daemon=True)
        self.devices, self.n = devices, n
        self.allowed = 0
        self.cond = threading.Condition()
        self.errors: list[BaseException] = []

    def release(self, upto: int) -> None:
        with self.cond:
            self.allowed = min(self.n, upto)
            self.cond.notify_all()

    def run(self) -> None:
        try:
            for k in range(self.n):
                with self.cond:
                    self.cond.wait_for(lambda k=k: k < self.allowed)
                self.devices[k % len(self.devices)].send([{"kind": "condition", "temperature": 2.0 + k % 7}],
                                                         {"temperature": "degC"})
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)


def _check_exactly_once(url: str, creds, n: int) -> None:
    with open_store(url) as st:
        per_dev = n // DEVICES
        assert st.log.count() == n
        seen: dict[str, list[int]] = {}
        for rec in st.log.read(sources=[c.device_id for c in creds]):
            seen.setdefault(rec.event.source, []).append(rec.event.seq)
        for c in creds:
            seqs = seen[c.device_id]
            assert len(seqs) == per_dev and sorted(seqs) == list(range(per_dev)), c.device_id


def _run(tmp_path, n: int, kill_gateway: int, kill_broker: int) -> dict:
    url, tag, creds = _setup(tmp_path)
    broker = PrivateBroker(tmp_path).start()
    gw = Gateway(url, broker.port, f"gw-crash-{tag}", tmp_path / "gateway.log")
    gw.start()
    devices = [DeviceClient(c, port=broker.port, resend_after_s=3.0, max_unacked=200).connect() for c in creds]
    kills = kill_gateway + kill_broker
    segment = n // (kills + 1)  # the publisher is released one segment more before each kill
    pub = Publisher(devices, n)
    at_kill: list[int] = []
    try:
        pub.start()
        with open_store(url) as st:
            kills_left, broker_kills_left = kill_gateway, kill_broker
            for i in range(kills):
                pub.release((i + 1) * segment)
                # the (restarted) gateway commits half of the newest segment, published after the last
                # kill: it is up and working, and the stream (released only to here) is not finished
                goal = i * segment + segment // 2
                assert wait_until(lambda g=goal: st.log.count() > g, 120), \
                    f"kill {i + 1}: the log stayed at {st.log.count()} (wanted > {goal}); {gw.log_path.read_text()[-800:]}"
                at_kill.append(st.log.count())
                if broker_kills_left and (kills_left % 4 == 0 or not kills_left):
                    broker.kill()
                    time.sleep(0.3)  # the port free again before the restart
                    broker.start()
                    broker_kills_left -= 1
                else:
                    gw.kill()
                    gw.start()
                    kills_left -= 1
        pub.release(n)
        pub.join(600)
        assert not pub.is_alive() and not pub.errors, pub.errors
        assert all(d.wait_acked(300) for d in devices), [(d.device, d.acked, d.unacked) for d in devices]
    finally:
        pub.release(n)
        for d in devices:
            d.close()
        gw.stop()
        broker.stop()
    _check_exactly_once(url, creds, n)
    assert all(c < n for c in at_kill) and at_kill == sorted(at_kill), at_kill  # every kill mid-stream
    return {"kills": gw.kills, "broker_kills": kill_broker - broker_kills_left, "at_kill": at_kill,
            "resent": sum(d.resent for d in devices)}


@pytest.mark.parametrize("n", [5000, pytest.param(50_000, marks=[pytest.mark.slow, pytest.mark.timeout(1500)])])
def test_gateway_sigkilled_ten_times_every_message_exactly_once(tmp_path, n):
    res = _run(tmp_path, n, kill_gateway=10, kill_broker=0)
    assert res["kills"] == 10 and len(res["at_kill"]) == 10


def test_broker_killed_mid_stream_end_to_end_ack_recovers(tmp_path):
    res = _run(tmp_path, 5000, kill_gateway=2, kill_broker=2)
    assert res["kills"] == 2 and res["broker_kills"] == 2
    assert res["resent"] > 0  # the broker lost what it held; the devices' resends filled it in
