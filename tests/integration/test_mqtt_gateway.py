"""The MQTT gateway against the real Mosquitto broker at 127.0.0.1:1883."""

from __future__ import annotations

import pytest

from supplynet.ingest.gate import Gate, GateConfig
from supplynet.ingest.mqtt import DeviceClient, GatewayWorker
from supplynet.store import open_store

from .mqtt_helpers import PrivateBroker, broker, uid, wait_until

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
    """The log commits slowly: the worker holds at most its queue (20), the batches its two committers
    are writing (10 each) and the one message its network thread is waiting to queue, measured as
    deliveries not yet acknowledged (not read off the queue, whose own bound says nothing); the
    backlog waits at the broker, and every message arrives and is acknowledged once.

    (Mosquitto 2.0.11 keeps to the worker's Receive Maximum only until the first acknowledgements,
    then sends past it: the network thread blocking on the full queue is what bounds the worker.
    test_receive_maximum_caps_what_a_stalled_worker_is_sent checks the Receive Maximum itself.)"""
    import threading
    import time

    broker = PrivateBroker(tmp_path).start()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        slow = store.log.append_wire_batches

        def slow_append(runs):
            time.sleep(0.05)
            return slow(runs)

        store.log.append_wire_batches = slow_append
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1")
        worker = GatewayWorker(gate, host="127.0.0.1", port=broker.port, client_id=f"gw-{tag}", shared_group=None,
                               queue_size=20, batch_max=10, session_expiry_s=60)
        # count deliveries as they arrive and acknowledgements before they are sent: received - acked
        # is then never more than what the broker has in flight to the worker
        lock = threading.Lock()
        seen = {"received": 0, "acked": 0, "peak": 0}
        on_message, ack_all = worker.client.on_message, worker._ack_all

        def counting_on_message(client, userdata, msg):
            with lock:
                seen["received"] += 1
                seen["peak"] = max(seen["peak"], seen["received"] - seen["acked"])
            on_message(client, userdata, msg)

        def counting_ack_all(batch):
            with lock:
                seen["acked"] += sum(1 for m in batch if m.qos == 1)
            ack_all(batch)

        worker.client.on_message, worker._ack_all = counting_on_message, counting_ack_all
        worker.start()
        assert worker.subscribed.wait(10)
        dev = DeviceClient(cred, host="127.0.0.1", port=broker.port, session_expiry_s=60, max_unacked=2000,
                           resend_after_s=3600).connect()  # no device resend inside the test: it counts deliveries
        try:
            for _ in range(600):
                dev.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            assert dev.wait_acked(120)
            assert store.log.count() == 600
            # the queue filled (backpressure engaged) and the worker never held more than its bound
            assert 20 <= seen["peak"] <= 20 + worker.committers * 10 + 1, seen
            # every delivery acknowledged after its commit; at least once each (QoS 1 allows the broker a
            # redelivery, seen once in 10 runs on a loaded machine), and the log above holds each exactly once
            assert seen["received"] == seen["acked"] == worker.committed >= 600
            assert worker.refused_unread == 0
        finally:
            dev.close()
            worker.stop()
            broker.stop()


def test_receive_maximum_caps_what_a_stalled_worker_is_sent(tmp_path):
    """A worker whose commits stall is sent no more than its Receive Maximum (its queue size) of
    unacknowledged messages, by a broker that would send 1,000 (max_inflight_messages); the rest wait
    at the broker and reach the next worker of that session."""
    broker = PrivateBroker(tmp_path).start()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1")
        w1 = GatewayWorker(gate, host="127.0.0.1", port=broker.port, client_id=f"gw-{tag}", shared_group=None,
                           queue_size=20, batch_max=10, session_expiry_s=60)
        held: list = []
        w1._process = held.extend  # takes batches off the queue but never commits nor acknowledges
        w1.start()
        assert w1.subscribed.wait(10)
        dev = DeviceClient(cred, host="127.0.0.1", port=broker.port, session_expiry_s=60, resend_after_s=3600,
                           max_unacked=2000).connect()
        try:
            for _ in range(200):
                dev.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            assert wait_until(lambda: len(held) >= 20, 10), len(held)
            # its queue is empty (held took everything): only the Receive Maximum stops more coming
            assert not wait_until(lambda: len(held) > 20, 1.0), len(held)
            assert len(held) == 20 and w1._q.qsize() == 0
            w1.stop(drain=False)
            w2 = GatewayWorker(gate, host="127.0.0.1", port=broker.port, client_id=f"gw-{tag}", shared_group=None,
                               session_expiry_s=60).start()
            try:
                assert dev.wait_acked(60), f"acked {dev.acked}, log {store.log.count()}"
                assert store.log.count() == 200
            finally:
                w2.stop()
        finally:
            dev.close()
            broker.stop()


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
        for w in workers:  # both in the shared group before the first message: each takes a share
            assert w.subscribed.wait(10)
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


@pytest.mark.parametrize("reseal", [True, False])
def test_a_buffer_held_through_a_long_outage_is_sealed_again_and_stored(tmp_path, reseal):
    """The gateway is down for an hour; the broker keeps the devices' messages for its persistent
    session. Delivered an hour late, their envelope time is off the gateway clock: quarantined as
    clock skew, but not final, so the device is not acknowledged and keeps them. Resent, the device
    client seals them again (each reading keeps its own time) and every one is stored once; a
    client that does not reseal still keeps them (nothing lost, nothing stored)."""
    from datetime import UTC, datetime, timedelta

    host, port = broker()
    tag = uid()
    clock = [datetime(2026, 3, 1, 8, 0, tzinfo=UTC).timestamp()]
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, clock=lambda: clock[0], config=GateConfig(rate_per_s=1e6, burst=1e6))
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1",
                                       now_us=int(clock[0] * 1e6) - 10**6)

        def worker() -> GatewayWorker:
            w = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=None,
                              session_expiry_s=600).start()
            assert w.subscribed.wait(10)
            return w

        worker().stop()  # its persistent session stays with the broker, which keeps what arrives for it
        dev = DeviceClient(cred, host=host, port=port, session_expiry_s=60, resend_after_s=3600,
                           clock=lambda: clock[0], reseal_after_s=120.0 if reseal else float("inf")).connect()
        w = None
        try:
            assert dev.connected.wait(10)
            t0 = clock[0]
            for k in range(20):
                dev.send([{"kind": "condition", "temperature": 3.0 + k % 4, "dt": -k}], {"temperature": "degC"})
            clock[0] += 3600  # an hour later the gateway is back: the broker delivers the hour-old envelopes
            w = worker()
            assert wait_until(lambda: gate.counters["clock_skew"] == 20, 20), dict(gate.counters)
            assert store.log.count() == 0 and dev.unacked == 20  # not acknowledged: the device keeps them
            assert dev.resend(older_than_s=0.0) == 20
            assert wait_until(lambda: w.committed >= 20, 20)
            if not reseal:
                assert wait_until(lambda: gate.counters["clock_skew"] == 40, 20), dict(gate.counters)
                assert store.log.count() == 0 and dev.unacked == 20  # refused again, still kept
                return
            assert dev.wait_acked(20), dict(gate.counters)
            assert dev.resealed == 20 and gate.counters["stored"] == 20 and gate.counters["clock_skew"] == 20
            events = sorted((r.event for r in store.log.read()), key=lambda e: e.seq)
            assert [e.seq for e in events] == list(range(20))
            expected = [datetime.fromtimestamp(t0, UTC) - timedelta(seconds=k) for k in range(20)]
            assert [e.ts for e in events] == expected  # each reading at its own time, not the resend's
            acc = gate.accounting[dev.device]  # received = stored + quarantined, message by message
            assert (acc["received"], acc["stored"], acc["quarantined"]) == (40, 20, 20)
        finally:
            dev.close()
            if w is not None:
                w.stop()
