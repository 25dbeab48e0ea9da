"""The mqtt sink: commands on a topic per site, QoS 1, signed with the platform key (real Mosquitto)."""

from __future__ import annotations

import threading
import time

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from supplynet.decide.outbox import Dispatcher
from supplynet.decide.sinks import parse_sinks
from supplynet.errors import ConfigError, SecurityError
from supplynet.security.platform import open_command
from supplynet.security.signing import OperatorKey
from supplynet.store import open_store

from .mqtt_helpers import PrivateBroker, wait_until

pytestmark = [pytest.mark.integration]


def test_mqtt_commands_qos1_per_site_and_signed(tmp_path) -> None:
    broker = PrivateBroker(tmp_path).start()
    got: list[mqtt.MQTTMessage] = []
    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plant-st1", protocol=mqtt.MQTTv5)
    sub.on_connect = lambda c, u, f, r, p: c.subscribe("supplynet/commands/#", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.append(m)
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()
    key, stranger = OperatorKey.generate(), OperatorKey.generate()
    try:
        assert subscribed.wait(10)
        cfg = parse_sinks(f"sinks:\n  - name: plant\n    kind: mqtt\n    topic: supplynet/commands/{{site}}\n"
                          f"    broker: mqtt://127.0.0.1:{broker.port}\n    timeout_s: 5\n"
                          f"    actions: [work_order, order]\n", "s.yaml")
        with open_store(tmp_path / "s.db") as store:
            box = store.outbox
            box.enqueue(action_id="d1:wo", action="work_order", body={"event": {"asset_id": "M1", "site": "PL1"}},
                        sinks=["plant"], decision_id="d1", at_us=0)
            box.enqueue(action_id="d2:po", action="order", body={"site": "ST1", "sku": "A", "quantity": 5},
                        sinks=["plant"], decision_id="d2", at_us=0)
            box.enqueue(action_id="d3:po", action="order", body={"sku": "A"}, sinks=["plant"], decision_id="d3",
                        at_us=0)
            with Dispatcher(store, cfg, key=key) as d:
                counts = d.run_once()
            assert (counts["delivered"], counts["dead"]) == (2, 1)
            rows = {r.action_id: r for r in box.list()}
            assert "needs {site}" in rows["d3:po"].last_error
            assert wait_until(lambda: len(got) == 2, 10)
            by_topic = {m.topic: m for m in got}
            assert set(by_topic) == {"supplynet/commands/PL1", "supplynet/commands/ST1"}
            assert all(m.qos == 1 for m in got)
            body = open_command(by_topic["supplynet/commands/ST1"].payload, [key.public])
            assert body == rows["d2:po"].payload()
            assert orjson.loads(body)["body"] == {"site": "ST1", "sku": "A", "quantity": 5}
            with pytest.raises(SecurityError, match="does not verify"):
                open_command(by_topic["supplynet/commands/ST1"].payload, [stranger.public])
            tampered = orjson.loads(by_topic["supplynet/commands/PL1"].payload)
            tampered["body"] = tampered["body"].replace("M1", "M2")
            with pytest.raises(SecurityError):
                open_command(orjson.dumps(tampered), [key.public])
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.stop()


def test_mqtt_broker_down_is_retried(tmp_path) -> None:
    from .mqtt_helpers import free_port

    port = free_port()
    cfg = parse_sinks(f"sinks:\n  - {{name: plant, kind: mqtt, topic: 'c/{{asset}}', broker: 'mqtt://127.0.0.1:{port}',"
                      f" timeout_s: 0.5, actions: [work_order]}}\n", "s.yaml")
    with open_store(tmp_path / "s.db") as store:
        store.outbox.enqueue(action_id="d1:wo", action="work_order", body={"asset_id": "M1"},
                                           sinks=["plant"], decision_id="d1", at_us=0)
        with Dispatcher(store, cfg, key=OperatorKey.generate()) as d:
            assert d.run_once()["retried"] == 1
            broker = PrivateBroker(tmp_path, port=port).start()
            clock = iter(range(int(time.time()) + 3600, 10**11, 3600))  # an hour later each round: past any backoff
            try:
                assert wait_until(lambda: d.run_once(next(clock))["delivered"] == 1, 15, step=0.3)
            finally:
                broker.stop()


def test_mqtt_sink_logs_in_to_a_broker_that_refuses_anonymous_clients(tmp_path, monkeypatch) -> None:
    import shutil
    import subprocess

    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed")
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pw), "supplynet", "right-password"], check=True)
    broker = PrivateBroker(tmp_path, extra=f"allow_anonymous false\npassword_file {pw}\n").start()
    try:
        text = (f"sinks:\n  - {{name: plant, kind: mqtt, topic: 'c/{{asset}}', broker: 'mqtt://127.0.0.1:{broker.port}',"
                f" username: supplynet, password_env: PLANT_MQTT_PW, timeout_s: 2, actions: [work_order]}}\n")
        cfg = parse_sinks(text, "s.yaml")
        with open_store(tmp_path / "s.db") as store:
            box = store.outbox
            box.enqueue(action_id="d1:wo", action="work_order", body={"asset_id": "M1"}, sinks=["plant"],
                        decision_id="d1", at_us=0)
            monkeypatch.setenv("PLANT_MQTT_PW", "wrong")
            with Dispatcher(store, cfg, key=OperatorKey.generate()) as d:
                assert d.run_once()["retried"] == 1
            assert "refused the connection" in box.list()[0].last_error
            monkeypatch.setenv("PLANT_MQTT_PW", "right-password")
            with Dispatcher(store, cfg, key=OperatorKey.generate()) as d:
                assert d.run_once(time.time() + 3600)["delivered"] == 1
            monkeypatch.delenv("PLANT_MQTT_PW")
            with pytest.raises(ConfigError, match="sink plant: password_env PLANT_MQTT_PW is not set"):
                Dispatcher(store, cfg, key=OperatorKey.generate())
    finally:
        broker.stop()
