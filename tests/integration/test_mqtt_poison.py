"""A hostile device's poison over the real broker: quarantined, acknowledged as final, the worker
goes on; a committing thread that dies ends the worker (exit 70), it never idles."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from supplynet.ingest.envelope import seal
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.ingest.mqtt import DeviceClient, GatewayWorker, up_topic
from supplynet.store import open_store

from .mqtt_helpers import broker, uid, wait_until

pytestmark = pytest.mark.integration


def test_poison_times_are_quarantined_acked_and_the_worker_keeps_going(tmp_path):
    host, port = broker()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1")
        worker = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=None,
                               session_expiry_s=60).start()
        assert worker.connected.wait(10) and worker.subscribed.wait(10)
        dev = DeviceClient(cred, host=host, port=port, session_expiry_s=60).connect()
        try:
            assert dev.connected.wait(10)
            for k, when in enumerate(("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")):
                raw = seal(cred.device_id, cred.kid, cred.private_key, 10_000 + k, datetime.now(UTC),
                           [{"kind": "condition", "temperature": 4.0, "ts": when}], {"temperature": "degC"})
                dev.client.publish(up_topic(cred.device_id), raw, qos=1)
            for _ in range(50):
                dev.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            assert dev.wait_acked(30), f"acked {dev.acked}"
            assert store.log.count() == 50
            assert wait_until(lambda: gate.counters["schema"] + gate.counters["time_out_of_range"] == 2, 10)
            assert all(t.is_alive() for t in worker._threads)
        finally:
            dev.close()
            worker.stop()


def test_a_committing_thread_that_dies_ends_the_worker(tmp_path, caplog):
    host, port = broker()
    tag = uid()
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=1e6, burst=1e6))
        cred = gate.registry.provision(f"rf-{tag}", measures=("temperature",), asset="R1")

        def broken(*a, **k):
            raise RuntimeError("disk on fire")

        gate.submit = broken
        worker = GatewayWorker(gate, host=host, port=port, client_id=f"gw-{tag}", shared_group=None,
                               session_expiry_s=60)
        ended: list[BaseException | None] = []

        def run() -> None:
            try:
                worker.run()
                ended.append(None)
            except BaseException as exc:
                ended.append(exc)

        t = threading.Thread(target=run, daemon=True)
        t.start()
        assert wait_until(lambda: worker.subscribed.is_set(), 10)
        dev = DeviceClient(cred, host=host, port=port, session_expiry_s=60).connect()
        try:
            assert dev.connected.wait(10)
            dev.send([{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            t.join(20)
            assert not t.is_alive(), "the worker kept running with a dead committing thread"
            assert isinstance(ended[0], SystemExit) and ended[0].code == 70
            assert worker.died is not None and "disk on fire" in str(worker.died[1])
            assert any("committing thread" in r.getMessage() and r.levelname == "CRITICAL" for r in caplog.records)
            assert store.log.count() == 0 and dev.acked < 0  # nothing acknowledged that was not committed
        finally:
            dev.close()
