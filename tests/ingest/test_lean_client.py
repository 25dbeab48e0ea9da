"""The gateway's MQTT client: buffered reads and direct PUBLISH decoding give what paho gives."""

from __future__ import annotations

import socket
import struct

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from supplynet.ingest.mqtt import _LeanClient


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, mid: int, qos: int = 1, props: bytes = b"") -> bytes:
    t = topic.encode()
    var = struct.pack("!H", len(t)) + t + (struct.pack("!H", mid) if qos else b"") + _varint(len(props)) + props
    body = var + payload
    return bytes([0x30 | (qos << 1)]) + _varint(len(body)) + body


def _client(cls):
    c = cls(CallbackAPIVersion.VERSION2, client_id="t", protocol=mqtt.MQTTv5, manual_ack=True)
    got = []
    c.on_message = lambda cl, ud, m: got.append((m.topic, m.mid, m.qos, bytes(m.payload)))
    return c, got


def test_buffered_reads_and_publish_decoding_match_paho():
    expiry = b"\x02" + struct.pack("!I", 60)  # message expiry interval property
    user = b"\x26" + struct.pack("!H", 1) + b"k" + struct.pack("!H", 1) + b"v"  # a user property
    big = b"x" * 200_000  # longer than one buffered read
    wire = (publish("devices/a/up", b'{"n":1}', 7) + publish("devices/b/up", b"", 8, props=expiry + user)
            + publish("devices/c/up", big, 9) + publish("devices/d/up", b"q0", 0, qos=0))
    results = []
    for cls in (mqtt.Client, _LeanClient):
        c, got = _client(cls)
        a, b = socket.socketpair()
        a.setblocking(False)
        c._sock = a
        for k in range(0, len(wire), 70_001):  # arrives in pieces, cutting packets anywhere
            b.sendall(wire[k : k + 70_001])
            for _ in range(200):
                if c.loop_read() != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
                    break
        results.append(got)
        a.close()
        b.close()
    paho, lean = results
    assert [g[:3] for g in paho] == [("devices/a/up", 7, 1), ("devices/b/up", 8, 1), ("devices/c/up", 9, 1),
                                     ("devices/d/up", 0, 0)]
    assert lean == paho and lean[2][3] == big


def test_the_lean_client_is_used_only_on_the_paho_it_was_tested_on():
    import paho.mqtt

    from supplynet.ingest.mqtt import LEAN_PAHO_RANGE, lean_client_refusal, subscriber_client

    installed = tuple(int(x) for x in paho.mqtt.__version__.split(".")[:2])
    assert LEAN_PAHO_RANGE[0] <= installed < LEAN_PAHO_RANGE[1]
    assert lean_client_refusal() is None and type(subscriber_client("g")) is _LeanClient
    assert "outside the releases" in lean_client_refusal("3.0.0")
    assert "outside the releases" in lean_client_refusal("1.6.1")
    assert "not a release number" in lean_client_refusal("dev")

    class Renamed(mqtt.Client):  # a 2.x release that renamed a private method it overrides
        _packet_read = None

    assert "_packet_read" in lean_client_refusal("2.9.0", Renamed)


def test_off_the_tested_releases_the_gateway_gets_paho_s_own_client(caplog):
    from supplynet.ingest.mqtt import subscriber_client

    with caplog.at_level("WARNING", logger="supplynet.ingest.mqtt"):
        c = subscriber_client("g", version="3.1.0")
    assert type(c) is mqtt.Client and "standard receive path" in caplog.text
    # and it decodes what the lean client decodes (the slow, supported way)
    got = []
    c.on_message = lambda cl, ud, m: got.append((m.topic, m.mid, bytes(m.payload)))
    a, b = socket.socketpair()
    a.setblocking(False)
    c._sock = a
    b.sendall(publish("devices/a/up", b'{"n":1}', 7))
    for _ in range(10):
        if c.loop_read() != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS:
            break
    a.close()
    b.close()
    assert got == [("devices/a/up", 7, b'{"n":1}')]
