"""Issue 15 (items 7, 9, 10) against the project's shipped Mosquitto config, started here on free
ports: the ACL generated from the registry (PUBACK / SUBACK reason codes, MQTT 5), junk on a victim's
topic, MQTT over TLS, platform-signed acknowledgements and a forged one, and the binding."""

from __future__ import annotations

import socket
import ssl

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from supplynet.ingest.envelope import seal, utcnow
from supplynet.ingest.gate import Gate, GateConfig
from supplynet.ingest.mqtt import DeviceClient, GatewayWorker, TlsOptions, ack_topic, up_topic
from supplynet.security.acks import PlatformKey
from supplynet.security.broker import GATEWAY_USER
from supplynet.store import open_store

from .mqtt_helpers import uid, wait_until
from .shipped_broker import Probe, ShippedBroker

pytestmark = pytest.mark.integration

SUCCESS, NO_SUBSCRIBERS, NOT_AUTHORIZED = 0x00, 0x10, 0x87


@pytest.fixture
def env(tmp_path):
    with open_store(tmp_path / "s.db") as store:
        gate = Gate(store, config=GateConfig(rate_per_s=50.0, burst=200.0))
        tag = uid()
        creds = {name: gate.registry.provision(f"{name}-{tag}", measures=("temperature",), asset="R1")
                 for name in ("a", "b")}
        creds["pos"] = gate.registry.provision(f"pos-{tag}", measures=("stock_count",), site="S1")
        broker = ShippedBroker(tmp_path / "broker", gate.registry).start()
        try:
            yield gate, creds, broker, tag
        finally:
            broker.stop()


def _gateway(gate, broker, tag, *, tls: bool = False) -> GatewayWorker:
    w = GatewayWorker(gate, port=broker.tls_port if tls else broker.port, client_id=f"gw-{tag}",
                      shared_group=f"g{tag}", username=GATEWAY_USER, password=broker.gateway_password,
                      session_expiry_s=120, tls=TlsOptions(broker.certs.ca_cert) if tls else None,
                      gil_switch_interval_s=None).start()
    assert w.subscribed.wait(10)
    return w


def _device(cred, broker, **kw) -> DeviceClient:
    d = DeviceClient(cred, port=broker.port, session_expiry_s=120, **kw).connect()
    assert d.connected.wait(10)
    return d


def _envelope(cred, seq: int, temp: float = 4.0) -> bytes:
    return seal(cred.device_id, cred.kid, cred.private_key, seq, utcnow(), [{"kind": "condition", "temperature": temp}],
                {"temperature": "degC"})


def test_acl_lets_a_device_publish_only_on_its_own_topic(env):
    gate, creds, broker, tag = env
    a, b = creds["a"], creds["b"]
    gw = Probe(broker.port, GATEWAY_USER, broker.gateway_password, f"gw-probe-{tag}")
    assert not gw.reason.is_failure
    assert gw.subscribe(f"$share/p{tag}/devices/+/up") == [1]  # granted QoS 1
    dev = Probe(broker.port, a.device_id, a.mqtt_password, f"dev-{tag}")
    assert not dev.reason.is_failure
    assert dev.publish(up_topic(a.device_id), b"mine") == SUCCESS
    assert dev.publish(up_topic(b.device_id), b"forged") == NOT_AUTHORIZED
    assert dev.publish(ack_topic(a.device_id), b'{"acked": 99}') == NOT_AUTHORIZED  # acks come from gateways
    assert dev.publish("elsewhere/x", b"other") == NOT_AUTHORIZED
    # Mosquitto 2.0 grants a SUBSCRIBE (SUBACK 0x01) and checks the read ACL on every delivery instead:
    # the snooping subscriptions below deliver nothing of another device (checked after the round trips)
    assert dev.subscribe("devices/+/up") == [1] and dev.subscribe("devices/#") == [1]
    assert dev.subscribe(ack_topic(a.device_id)) == [1]
    other = Probe(broker.port, b.device_id, b.mqtt_password, f"devb-{tag}")
    assert other.publish(up_topic(b.device_id), b"b-mine") == SUCCESS
    assert wait_until(lambda: len(gw.messages) == 2, 5)
    assert dev.publish(up_topic(a.device_id), b"mine-2") == SUCCESS  # a round trip after b's message was routed
    assert wait_until(lambda: len(gw.messages) == 3, 5)
    assert gw.messages == [(up_topic(a.device_id), b"mine"), (up_topic(b.device_id), b"b-mine"),
                           (up_topic(a.device_id), b"mine-2")]
    assert gw.publish(ack_topic(b.device_id), b"for b") == SUCCESS  # gateways may write acks
    assert gw.publish(ack_topic(a.device_id), b"for a") == SUCCESS
    assert wait_until(lambda: dev.messages, 5)
    # only its own (once per matching subscription), nothing of b's, which was sent before
    assert set(dev.messages) == {(ack_topic(a.device_id), b"for a")}
    for p in (gw, dev, other):
        p.close()


def test_anonymous_wrong_password_and_revoked_device_are_refused(env):
    gate, creds, broker, tag = env
    assert Probe(broker.port, None, None, f"anon-{tag}").reason.is_failure
    assert Probe(broker.port, creds["a"].device_id, "wrong", f"wrong-{tag}").reason.is_failure
    gate.registry.revoke(creds["b"].device_id)
    broker.reload()  # supplynet ingest acl again, then SIGHUP

    def refused() -> bool:
        p = Probe(broker.port, creds["b"].device_id, creds["b"].mqtt_password, f"rev-{tag}-{uid()}")
        p.close()
        return p.reason.is_failure

    assert wait_until(refused, 10, step=0.2)
    ok = Probe(broker.port, creds["a"].device_id, creds["a"].mqtt_password, f"still-{tag}")
    assert not ok.reason.is_failure
    ok.close()


def test_junk_on_a_victims_topic_no_longer_uses_its_quota(env):
    """3,000 junk messages aimed at the victim's topic are refused by the broker (PUBACK 0x87), so all
    of its next 20 valid messages are stored; junk on the attacker's own topic is charged to the attacker."""
    gate, creds, broker, tag = env
    victim, attacker = creds["a"], creds["b"]
    w = _gateway(gate, broker, tag)
    try:
        bad = Probe(broker.port, attacker.device_id, attacker.mqtt_password, f"attacker-{tag}")
        codes = [bad.publish(up_topic(victim.device_id), b'{"junk": %d}' % i) for i in range(3000)]
        assert set(codes) == {NOT_AUTHORIZED}
        own = [bad.publish(up_topic(attacker.device_id), b'{"junk": %d}' % i) for i in range(700)]
        assert set(own) == {SUCCESS}
        # envelopes claiming to be the victim, forged, on the attacker's own topic: charged to the
        # attacker's connection before they are read, and never to the victim's verified quota
        forged = [seal(victim.device_id, victim.kid, attacker.private_key, 10_000 + i, utcnow(),
                       [{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"}) for i in range(300)]
        assert {bad.publish(up_topic(attacker.device_id), f) for f in forged} == {SUCCESS}
        assert wait_until(lambda: w.committed >= 1000, 30)  # the gateway has dealt with all of them
        good = Probe(broker.port, victim.device_id, victim.mqtt_password, f"victim-{tag}")
        assert {good.publish(up_topic(victim.device_id), _envelope(victim, k)) for k in range(20)} == {SUCCESS}
        assert wait_until(lambda: gate.store.log.high_water(victim.device_id) == 19, 30)
        acc = gate.accounting
        assert acc[victim.device_id]["stored"] == 20 and acc[victim.device_id]["refused"] == 0
        assert acc[attacker.device_id]["refused"] > 0  # the pre-check refused the attacker's own flood
        assert acc[victim.device_id]["bad_signature"] > 0  # the forgeries that got past it were read and refused
        for p in (bad, good):
            p.close()
    finally:
        w.stop()


def test_tls_listener_works_and_plain_mqtt_to_it_fails(env):
    gate, creds, broker, tag = env
    w = _gateway(gate, broker, tag, tls=True)
    d = DeviceClient(creds["a"], port=broker.tls_port, session_expiry_s=120,
                     tls=TlsOptions(broker.certs.ca_cert)).connect()
    try:
        assert d.connected.wait(10)
        for k in range(10):
            d.send([{"kind": "condition", "temperature": 3.0 + k}], {"temperature": "degC"})
        assert d.wait_acked(30) and d.unacked == 0
        assert gate.store.log.high_water(creds["a"].device_id) == 9
    finally:
        d.close()
        w.stop()
    # plain MQTT to the TLS listener: the broker takes the CONNECT for a broken TLS handshake and
    # closes the connection (end of stream or a TLS alert), never a CONNACK (first byte 0x20)
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([5, 2, 0, 30, 0, 0, 0])  # MQTT 5 CONNECT, empty id
    reply = b""
    with socket.create_connection(("127.0.0.1", broker.tls_port), timeout=10) as sock:
        try:
            sock.sendall(connect)
            while chunk := sock.recv(4096):
                reply += chunk
        except ConnectionResetError:  # the broker dropped it mid-way: refused as well
            pass
    assert not reply.startswith(b"\x20"), reply
    # TLS with a CA that did not sign the broker's certificate fails the handshake
    from supplynet.security.certs import init_certs

    other = init_certs(broker.folder / "other-ca").ca_cert
    stranger = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"tls-{tag}", protocol=mqtt.MQTTv5)
    stranger.tls_set(ca_certs=str(other))
    with pytest.raises(ssl.SSLCertVerificationError):
        stranger.connect("127.0.0.1", broker.tls_port)


def test_device_keeps_data_on_a_forged_ack_and_drops_it_on_a_signed_one(env):
    gate, creds, broker, tag = env
    a = creds["a"]
    d = _device(a, broker, resend_after_s=1.0)
    try:
        for k in range(5):  # no gateway yet: nothing is stored, nothing acknowledged
            d.send([{"kind": "condition", "temperature": 3.0 + k}], {"temperature": "degC"})
        hostile = Probe(broker.port, GATEWAY_USER, broker.gateway_password, f"hostile-{tag}")  # what a broker could send
        forged = [orjson.dumps({"acked": 4, "ranges": [[0, 4]]}),  # the old unsigned format
                  PlatformKey(b"\x01" * 32).sign_ack(a.device_id, 4, [(0, 4)]),  # signed by another key
                  gate.registry.platform_key().sign_ack(creds["b"].device_id, 4, [(0, 4)])]  # another device's
        for payload in forged:
            assert hostile.publish(ack_topic(a.device_id), payload) == SUCCESS
        assert wait_until(lambda: d.forged_acks >= 3, 10)
        assert d.unacked == 5 and d.acked == -1 and gate.store.log.count() == 0
        hostile.close()
        w = _gateway(gate, broker, tag)  # the platform comes: the kept envelopes are resent, stored, acked
        try:
            assert d.wait_acked(30) and d.unacked == 0 and d.acked == 4
            assert gate.store.log.high_water(a.device_id) == 4 and gate.store.log.count() == 5
        finally:
            w.stop()
    finally:
        d.close()


def test_binding_refused_over_mqtt(env):
    gate, creds, broker, tag = env
    pos = creds["pos"]
    w = _gateway(gate, broker, tag)
    d = _device(pos, broker)
    try:
        d.send([{"kind": "stock_count", "sku": "BREAD", "quantity": 40}])  # its own site, S1
        d.send([{"kind": "stock_count", "site": "S2", "sku": "BREAD", "quantity": 0}])  # another site
        d.send([{"kind": "sale", "site": "S1", "sku": "BREAD", "quantity": 5000}])  # not what it measures
        assert d.wait_acked(30)  # refusals are final outcomes: acknowledged, not resent
        assert gate.store.log.count() == 1
        acc = gate.accounting[pos.device_id]
        assert acc["stored"] == 1 and acc["binding"] == 2, acc
    finally:
        d.close()
        w.stop()
