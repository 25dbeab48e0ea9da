"""The MQTT gateway against the real Mosquitto broker at 127.0.0.1:1883."""

from __future__ import annotations

import pytest

from supplynet.ingest.gate import Gate, GateConfig
from supplynet.ingest.mqtt import DeviceClient, GatewayWorker
from supplynet.store import open_store

from .mqtt_helpers import broker, uid, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("scheme", ["ed25519", "hmac-sha256"])
def test_devices_publish_gateway_commits_then_acks_end_to_end(tmp_path, monkeypatch, scheme):
    from supplynet.security.vault import Vault

    monkeypatch.setenv("SUPPLYNET_VAULT_KEY", Vault.generate_key())  # used by the symmetric devices only
    host, port = broker()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        creds = [gate.registry.provision(f"rf-{tag}-{i}", measures=("temperature",), asset="R1", scheme=scheme)
                 for i in range(3)]
        worker = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=f"g{tag}",
                               session_expiry_s=60).start()
        assert worker.connected.wait(10)
        devices = [DeviceClient(c, host=host, port=port, session_expiry_s=60).connect() for c in creds]
        try:
            for d in devices:
                assert d.connected.wait(10)
            for k in range(200):
                for d in devices:
                    d.send([{"kind": "condition", "temperature": 3.0 + k % 5}], {"temperature": "degC"})
            assert all(d.wait_acked(30) for d in devices)
            for d in devices:
                assert d.acked == 199 and d.unacked == 0
                assert store.log.high_water(d.device) == 199
            assert store.log.count() == 600
            # a device resending everything (it never saw acks) adds nothing
            for d in devices:
                d.client.publish(f"devices/{d.device}/up", _sealed_again(d, 0), qos=1)
            assert wait_until(lambda: gate.counters["replayed_sequence"] == 3, 10)
            assert store.log.count() == 600
        finally:
            for d in devices:
                d.close()
            worker.stop()


def _sealed_again(d: DeviceClient, seq: int) -> bytes:
    from datetime import UTC, datetime

    from supplynet.ingest.envelope import seal

    return seal(d.device, d.cred.kid, d.cred.private_key, seq, datetime.now(UTC),
                [{"kind": "condition", "temperature": 3.0}], {"temperature": "degC"})


def test_unacknowledged_messages_are_redelivered_to_a_restarted_worker(tmp_path):
    """The worker stops before committing (its queue is held): the broker keeps the messages for
    its persistent session and delivers them again on reconnect."""
    host, port = broker()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1")
        w1 = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=None, session_expiry_s=60)
        seen: list = []
        w1._process = seen.extend  # receives but never commits nor acknowledges
        w1.start()
        assert w1.connected.wait(10)
        dev = DeviceClient(cred, host=host, port=port, session_expiry_s=60, resend_after_s=3600).connect()
        try:
            for _ in range(50):
                dev.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            assert wait_until(lambda: len(seen) >= 50, 10)
            w1.stop(drain=False)
            assert store.log.count() == 0
            w2 = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=None,
                               session_expiry_s=60).start()
            try:
                assert dev.wait_acked(30), f"acked {dev.acked}, log {store.log.count()}"
                assert store.log.count() == 50
            finally:
                w2.stop()
        finally:
            dev.close()


def test_backpressure_slow_log_bounds_the_queue_and_loses_nothing(tmp_path):
    """The log commits slowly: the worker's queue never exceeds its bound (the broker keeps the
    rest, since Receive Maximum caps unacknowledged deliveries), and every message arrives once."""
    import threading
    import time

    host, port = broker()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        slow = store.log.append_wire_batches

        def slow_append(runs):
            time.sleep(0.05)
            return slow(runs)

        store.log.append_wire_batches = slow_append
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1")
        worker = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=None,
                               queue_size=20, batch_max=10, session_expiry_s=60).start()
        assert worker.connected.wait(10)
        dev = DeviceClient(cred, host=host, port=port, session_expiry_s=60, max_unacked=2000).connect()
        peak = [0]
        stop = threading.Event()

        def watch():
            while not stop.is_set():
                peak[0] = max(peak[0], worker._q.qsize())
                time.sleep(0.002)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            for _ in range(600):
                dev.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            assert dev.wait_acked(120)
            assert store.log.count() == 600
            assert 0 < peak[0] <= 20
            assert worker.batches >= 600 / 10  # at most batch_max per commit: intake followed the log
        finally:
            stop.set()
            dev.close()
            worker.stop()


def test_two_workers_share_the_subscription_exactly_once(tmp_path):
    host, port = broker()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gates = [Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6)) for _ in range(2)]
        creds = [gates[0].registry.provision(f"rf-{tag}-{i}", measures=("temperature",), asset="R1")
                 for i in range(4)]
        for g in gates:
            g.registry.refresh()
        workers = [GatewayWorker(g, host=host, port=port, client_id=f"gw-{tag}-{k}", shared_group=f"s{tag}",
                                 session_expiry_s=60).start() for k, g in enumerate(gates)]
        for w in workers:
            assert w.connected.wait(10)
        import time

        time.sleep(0.5)
        devices = [DeviceClient(c, host=host, port=port, session_expiry_s=60).connect() for c in creds]
        try:
            for _ in range(150):
                for d in devices:
                    d.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            assert all(d.wait_acked(60) for d in devices)
            assert store.log.count() == 600
            assert all(w.committed > 0 for w in workers)  # both took a share
            assert sum(w.committed for w in workers) >= 600
        finally:
            for d in devices:
                d.close()
            for w in workers:
                w.stop()
