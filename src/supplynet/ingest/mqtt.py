"""MQTT adapter (paho-mqtt 2.x, MQTT 5): the gateway worker and the device client.

Topics: a device publishes sealed envelopes on ``devices/<id>/up`` (QoS 1) and reads its end-to-end
acknowledgements on ``devices/<id>/ack``: retained, signed with the platform key
(:mod:`supplynet.security.acks`), saying ``{"device": <id>, "acked": <seq>, "ranges": [[lo, hi], ...]}``
-- the contiguous high water this worker knows, and the envelopes (first and last seq) that got a
final outcome in its last commit. With several workers each sees only its share of a device's
messages, so the ranges (a selective acknowledgement) are what lets the device let go. The device
client verifies the signature with the platform's public key from its credential and ignores
anything else (a hostile broker cannot make it drop data that was never stored).

**Gateway worker** (:class:`GatewayWorker`): a persistent session (``clean_start=False`` with a
session expiry), subscribed at QoS 1, optionally through the MQTT 5 shared subscription
``$share/<group>/devices/+/up`` so several workers split the load. Messages are acknowledged
manually (``manual_ack``), *after* the gate has committed them: if the worker dies first, the broker
delivers them again and the log's deduplication stores them once. A bounded queue between the
network thread and the committing threads, and the MQTT 5 *Receive Maximum* sent on connect, stop
intake when the log is slower than the broker (backpressure: the broker keeps the rest). Two
committing threads by default: one checks its batch while the other waits for its fsync, and the
log's group commit merges what they append. The PUBACKs of a committed batch go out in one write.
A message whose topic names a device over ``pre_verify_factor`` x its quota is refused before it
is queued or read (:meth:`Gate.admit`; the broker's ACL ties the topic to the publisher), so a
flooding device costs the others little. The worker's paho client reads the socket in 64 KiB
chunks and decodes PUBLISH packets directly (:class:`_LeanClient`, which overrides private paho
methods: :func:`subscriber_client` uses it only on the paho releases it is tested on, and paho's own
client on any other). The worker sets the process's
GIL switch interval to 1 ms (Python's default is 5 ms): a committing thread back from its fsync
otherwise waits up to 5 ms for the network thread busy reading a flood, which showed in the calm
devices' p99 (``gil_switch_interval_s=None`` leaves the interpreter's setting alone).

A broker's PUBACK covers one hop, and Mosquitto keeps queued messages in memory; so after every
commit the worker publishes each touched device's acknowledged high water back to it (at most every
``device_ack_every_s`` per device, and when idle), and the
**device client** (:class:`DeviceClient`) keeps every envelope above it and sends those again
(on reconnect and when they are older than ``resend_after_s``).

A committing thread that hits an unexpected error is not restarted in place ("let it crash"): it
logs one critical line and :meth:`GatewayWorker.run` ends the process with exit code 70 at once, so
the supervisor starts a fresh worker (the unacknowledged messages are delivered to it again). A
worker that stays up and commits nothing is never the outcome.
"""

from __future__ import annotations

import argparse
import logging
import queue
import socket
import struct
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..errors import ParameterError, SecurityError, StoreError
from ..events import iso_utc
from ..security.acks import PlatformKey, open_ack
from ..security.devices import Credential
from ..security.signing import fingerprint
from .envelope import seal
from .gate import Gate

__all__ = ["LEAN_PAHO_RANGE", "DeviceClient", "GatewayWorker", "TlsOptions", "ack_topic", "lean_client_refusal",
           "subscriber_client", "tcp_nodelay", "up_topic"]

log = logging.getLogger(__name__)

UP_FILTER = "devices/+/up"
_PUBACK = struct.Struct("!BBH").pack


def _topic_device(topic: str) -> str:
    """The device a message claims by its topic ``devices/<id>/up`` (the broker's ACL lets a device
    publish only under its own id); the queue's fairness key only, never trusted for authentication."""
    parts = topic.split("/", 2)
    return parts[1] if len(parts) == 3 else topic


def up_topic(device: str) -> str:
    return f"devices/{device}/up"


def ack_topic(device: str) -> str:
    return f"devices/{device}/ack"


class FairQueue:
    """A bounded queue that hands out items round-robin across keys (devices) instead of FIFO, so one
    device's backlog (a flood) cannot delay the others: each pass takes at most one item per key.
    ``put`` blocks while ``maxsize`` items wait (backpressure); ``get`` blocks until an item is there."""

    def __init__(self, maxsize: int):
        if maxsize <= 0:
            raise ParameterError(f"maxsize must be > 0, got {maxsize}")
        self.maxsize = maxsize
        self._by_key: OrderedDict[str, deque[Any]] = OrderedDict()
        self._n = 0
        self._lock = threading.Lock()
        self._not_empty = threading.Condition(self._lock)
        self._not_full = threading.Condition(self._lock)

    def qsize(self) -> int:
        return self._n

    def empty(self) -> bool:
        return self._n == 0

    def put(self, key: str, item: Any, timeout: float | None = None) -> None:
        with self._lock:
            if self._n >= self.maxsize and not self._not_full.wait_for(lambda: self._n < self.maxsize, timeout):
                raise queue.Full
            dq = self._by_key.get(key)
            if dq is None:
                dq = self._by_key[key] = deque()
            dq.append(item)
            self._n += 1
            self._not_empty.notify()

    def take(self, n: int, timeout: float | None = None) -> list[Any]:
        """Up to ``n`` items, one per key per round (keys in arrival order); [] after ``timeout``."""
        with self._lock:
            if self._n == 0 and not self._not_empty.wait_for(lambda: self._n > 0, timeout):
                return []
            was_full = self._n >= self.maxsize
            out: list[Any] = []
            while self._n and len(out) < n:
                for key in list(self._by_key):
                    dq = self._by_key[key]
                    out.append(dq.popleft())
                    self._n -= 1
                    if dq:
                        self._by_key.move_to_end(key)  # served: go to the back of the round
                    else:
                        del self._by_key[key]
                    if len(out) >= n:
                        break
            if was_full:
                self._not_full.notify_all()
            if self._n:
                self._not_empty.notify()  # another taker may serve the rest
            return out


class _Message:
    """An incoming PUBLISH as the gateway needs it (paho's ``MQTTMessage`` builds a condition
    variable per message for its ``info``, which a subscriber never uses)."""

    __slots__ = ("_topic", "dup", "mid", "payload", "qos", "retain")

    def __init__(self, mid: int, topic: bytes, payload: bytes, qos: int, dup: bool, retain: bool):
        self.mid, self._topic, self.payload, self.qos, self.dup, self.retain = mid, topic, payload, qos, dup, retain

    @property
    def topic(self) -> str:
        return self._topic.decode("utf-8")


class _LeanClient(mqtt.Client):
    """paho's client with a cheaper receive path for a subscriber at high message rates.

    * reads: paho reads each packet with three or more ``recv`` calls (the command byte, each byte
      of the remaining length, the rest) and one ``select`` per packet; here one ``recv`` of up to
      64 KiB is buffered and every complete packet in it is handled before the next ``select``;
    * PUBLISH: decoded directly (topic, packet id, payload; properties skipped: the gateway sets no
      topic alias maximum, so the broker sends none it would need) and handed to ``on_message``.
      Everything else (CONNACK, SUBACK, PUBACK of the device acks, PINGRESP, DISCONNECT) goes
      through paho unchanged.
    Only the transport read path differs; the MQTT session semantics are paho's."""

    _READ = 65536

    def __init__(self, *a: Any, **k: Any):
        super().__init__(*a, **k)
        self._rbuf = bytearray()
        self._acks_later: list[int] = []

    def ack_later(self, mid: int) -> None:
        """PUBACK ``mid`` (QoS 1) with the others of this read, in one write (network thread only)."""
        self._acks_later.append(mid)

    def _flush_acks(self) -> None:
        mids, self._acks_later = self._acks_later, []
        self._packet_queue(mqtt.PUBACK, b"".join([_PUBACK(0x40, 2, mid) for mid in mids]), 0, 0)

    def _sock_recv(self, bufsize: int) -> bytes:
        buf = self._rbuf
        if not buf:
            data = super()._sock_recv(self._READ)  # BlockingIOError when nothing is there
            if len(data) <= bufsize:
                return data
            buf += data
        out = bytes(buf[:bufsize])
        del buf[:bufsize]
        return out

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        try:
            rc = super().loop_read(max_packets)
            while rc == mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS and self._rbuf and self._sock is not None:
                rc = self._packet_read()  # what is already buffered: select() would not wake up for it
                if rc > 0:
                    return self._loop_rc_handle(rc)
                if rc == mqtt.MQTTErrorCode.MQTT_ERR_AGAIN:  # a partial packet: the rest comes with the next read
                    return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS
            return rc
        finally:
            if self._acks_later:
                self._flush_acks()

    def reconnect(self) -> mqtt.MQTTErrorCode:
        self._rbuf = bytearray()  # bytes of the old connection mean nothing on the new one
        return super().reconnect()

    def _handle_publish(self) -> mqtt.MQTTErrorCode:
        cb = self.on_message
        if self._protocol != mqtt.MQTTv5 or cb is None or self._on_message_filtered._root._children:
            return super()._handle_publish()
        cmd = self._in_packet["command"]
        pkt = self._in_packet["packet"]
        qos = (cmd & 0x06) >> 1
        if qos > 1:
            return super()._handle_publish()
        n = len(pkt)
        if n < 3:
            raise mqtt.MalformedPacket("PUBLISH too short")
        tlen = (pkt[0] << 8) | pkt[1]
        pos = 2 + tlen
        topic = bytes(pkt[2:pos])
        mid = 0
        if qos:
            if pos + 2 > n:
                raise mqtt.MalformedPacket("PUBLISH without packet id")
            mid = (pkt[pos] << 8) | pkt[pos + 1]
            pos += 2
        plen = mult = 0  # properties length: a variable byte integer
        for k in range(4):
            if pos >= n:
                raise mqtt.MalformedPacket("PUBLISH properties truncated")
            b = pkt[pos]
            pos += 1
            plen |= (b & 0x7F) << (7 * k)
            mult = b & 0x80
            if not mult:
                break
        if mult or pos + plen > n:
            raise mqtt.MalformedPacket("PUBLISH properties malformed")
        msg = _Message(mid, topic, bytes(pkt[pos + plen :]), qos, bool(cmd & 0x08), bool(cmd & 0x01))
        with self._in_callback_mutex:
            cb(self, self._userdata, msg)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


#: the paho-mqtt releases, [from, to), whose private receive path :class:`_LeanClient` overrides was
#: written against and is tested on (tests/ingest/test_lean_client.py compares it with paho's own)
LEAN_PAHO_RANGE = ((2, 0), (3, 0))
_LEAN_METHODS = ("_sock_recv", "_packet_read", "_loop_rc_handle", "_handle_publish", "_packet_queue", "_send_puback",
                 "loop_read", "reconnect")
_LEAN_STATE = ("_in_packet", "_sock", "_protocol", "_userdata", "_in_callback_mutex", "_manual_ack")


def lean_client_refusal(version: str | None = None, client_cls: type = mqtt.Client) -> str | None:
    """Why :class:`_LeanClient` must not be used with this paho (``version``, ``client_cls``: the
    installed one by default), or None when it may: the release is in :data:`LEAN_PAHO_RANGE` and
    the private methods and state it relies on are there."""
    if version is None:
        import paho.mqtt

        version = str(getattr(paho.mqtt, "__version__", "0"))
    try:
        release = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        return f"paho-mqtt version {version!r} is not a release number"
    lo, hi = LEAN_PAHO_RANGE
    if not lo <= release < hi:
        return f"paho-mqtt {version} is outside the releases the lean receive path was tested on ({lo} to {hi})"
    missing = [m for m in _LEAN_METHODS if not callable(getattr(client_cls, m, None))]
    if missing:
        return f"paho-mqtt {version} has no {', '.join(missing)}"
    probe = client_cls(CallbackAPIVersion.VERSION2, client_id="probe", protocol=mqtt.MQTTv5, manual_ack=True)
    missing = [a for a in _LEAN_STATE if not hasattr(probe, a)]
    try:
        probe._on_message_filtered._root._children  # noqa: B018 - the topic-callback tree it checks
    except AttributeError:
        missing.append("_on_message_filtered._root._children")
    return f"paho-mqtt {version}'s client has no {', '.join(missing)}" if missing else None


def subscriber_client(client_id: str, *, version: str | None = None) -> mqtt.Client:
    """The gateway's MQTT 5 client (manual acknowledgements): :class:`_LeanClient` where
    :func:`lean_client_refusal` allows it, else paho's own client, which receives the same messages
    more slowly (one warning says why). The one place the private-method override is chosen."""
    why = lean_client_refusal(version)
    kw: dict[str, Any] = {"client_id": client_id, "protocol": mqtt.MQTTv5, "manual_ack": True}
    if why is None:
        return _LeanClient(CallbackAPIVersion.VERSION2, **kw)
    log.warning("gateway: %s; using paho's standard receive path (slower under floods)", why)
    return mqtt.Client(CallbackAPIVersion.VERSION2, **kw)


def tcp_nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    """Small MQTT packets go out at once: with Nagle's algorithm a PUBACK or a lone reading can
    wait for the peer's delayed TCP acknowledgement (40 ms on Linux)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # pragma: no cover - not a TCP socket (unix socket, websockets)
        pass


@dataclass(frozen=True)
class TlsOptions:
    """MQTT over TLS (the shipped broker's listener 8883; ``supplynet certs init`` makes the files):
    the CA that signed the broker's certificate (the broker's name or address is checked against
    it), and optionally this client's own certificate and key (brokers with
    ``require_certificate true``)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None

    def __post_init__(self) -> None:
        for name in ("ca", "cert", "key"):
            p = getattr(self, name)
            if p is not None and not Path(p).is_file():
                raise SecurityError(f"TLS {name} file {p} not found (supplynet certs init makes them)")
        if (self.cert is None) != (self.key is None):
            raise SecurityError("a TLS client certificate needs its key, and a key its certificate")

    def apply(self, client: mqtt.Client) -> None:
        import ssl

        try:
            client.tls_set(ca_certs=str(self.ca), certfile=str(self.cert) if self.cert else None,
                           keyfile=str(self.key) if self.key else None, cert_reqs=ssl.CERT_REQUIRED,
                           tls_version=ssl.PROTOCOL_TLS_CLIENT)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise SecurityError(f"TLS files {self.ca}, {self.cert}, {self.key}: {exc}") from exc


def _connect_props(session_expiry_s: int, receive_maximum: int | None = None) -> Properties:
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        p.ReceiveMaximum = receive_maximum
    return p


class GatewayWorker:
    """Subscribe, run batches through the gate, acknowledge after commit, publish device acks.

    ``start()`` runs it in background threads; ``run()`` blocks until ``stop()``.
    """

    def __init__(self, gate: Gate, *, host: str = "127.0.0.1", port: int = 1883, client_id: str = "gw-0",
                 shared_group: str | None = "gw", username: str | None = None, password: str | None = None,
                 queue_size: int = 2000, batch_max: int = 1000, linger_s: float = 0.002,
                 session_expiry_s: int = 3600, monitor_every_s: float = 10.0, committers: int = 2,
                 device_ack_every_s: float = 0.05, gil_switch_interval_s: float | None = 0.001,
                 platform_key: PlatformKey | None = None, tls: TlsOptions | None = None):
        if queue_size <= 0 or batch_max <= 0 or committers <= 0:
            raise ParameterError("queue_size, batch_max and committers must be > 0")
        self.gate = gate
        #: signs the device acks: the deployment's key from the vault key (made in the home folder
        #: when there is none, as provisioning does; every worker of a deployment needs the same)
        self.platform_key = platform_key or gate.registry.platform_key(create=True)
        self.host, self.port = host, port
        self.topic = f"$share/{shared_group}/{UP_FILTER}" if shared_group else UP_FILTER
        self.batch_max, self.linger_s = batch_max, linger_s
        self.monitor_every_s = monitor_every_s
        self._q = FairQueue(queue_size)  # round-robin across devices: a flood cannot delay the others
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: set when a committing thread died: (thread name, the exception); run() then ends the process
        self.died: tuple[str, BaseException] | None = None
        self._dead = threading.Event()
        self.committers = committers
        self.gil_switch_interval_s = gil_switch_interval_s
        self._count_lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker granted the subscription (SUBACK)
        self.committed = 0  # messages with a durable outcome, or refused unread (acknowledged to the broker)
        self.refused_unread = 0  # of which refused by Gate.admit (the device over its quota)
        self.batches = 0
        self.device_ack_every_s = device_ack_every_s
        self._ranges: dict[str, list[tuple[int, int]]] = {}  # device acks not yet published
        self._ranges_lock = threading.Lock()
        self._ranges_sent = 0.0
        c = subscriber_client(client_id)
        if username:
            c.username_pw_set(username, password)
        if tls is not None:
            tls.apply(c)
        c.max_inflight_messages_set(1000)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(0.1, 2)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = lambda *a: self.subscribed.set()
        c.on_socket_open = tcp_nodelay
        c.on_disconnect = lambda *a: self.connected.clear()
        self._props = _connect_props(session_expiry_s, receive_maximum=min(queue_size, 65535))
        self.client = c

    # -- network thread ----------------------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("gateway: broker refused the connection: %s", reason)
            return
        client.subscribe(self.topic, qos=1)
        self.connected.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        device = _topic_device(msg.topic)
        if not self.gate.admit(device):  # a device over its quota: refused unread (it sends it again)
            if msg.qos == 1 and isinstance(client, _LeanClient):
                client.ack_later(msg.mid)
            else:
                client.ack(msg.mid, msg.qos)
            with self._count_lock:
                self.committed += 1
                self.refused_unread += 1
            return
        while not self._stop.is_set():  # a full queue blocks the network thread: backpressure
            try:
                self._q.put(device, msg, timeout=0.5)
                return
            except queue.Full:
                continue

    # -- committing thread -------------------------------------------------------------------------
    def _take_batch(self) -> list[mqtt.MQTTMessage]:
        batch = self._q.take(self.batch_max, timeout=0.2)
        if not batch:
            return []
        deadline = time.monotonic() + self.linger_s
        while len(batch) < self.batch_max and time.monotonic() < deadline:  # group commit: gather more
            more = self._q.take(self.batch_max - len(batch), timeout=max(0.0, deadline - time.monotonic()))
            if not more:
                break
            batch.extend(more)
        return batch

    def _process(self, batch: list[mqtt.MQTTMessage]) -> None:
        delay = 0.1
        while True:
            try:
                outcomes = self.gate.submit([m.payload for m in batch], "mqtt", admitted=True)
                break
            except StoreError as exc:  # not stored: do not acknowledge, try again
                log.error("gateway: store failed, retrying in %.1f s: %s", delay, exc)
                if self._stop.wait(delay):
                    return
                delay = min(5.0, delay * 2)
        self._ack_all(batch)
        with self._count_lock:
            self.committed += len(batch)
            self.batches += 1
        with self._ranges_lock:
            for o in outcomes:  # messages with a final outcome (refused or off-the-clock ones are to be sent again)
                if o.seq is not None and o.last_seq is not None and not o.retry:
                    self._ranges.setdefault(o.device, []).append((o.seq, o.last_seq))
        self._publish_device_acks(force=False)

    def _ack_all(self, batch: list[mqtt.MQTTMessage]) -> None:
        """PUBACK every QoS 1 message of the batch: one write of all of them (MQTT 5 PUBACK with
        reason Success may leave the reason code out: 4 bytes each) instead of one per message."""
        mids = [m.mid for m in batch if m.qos == 1]
        enqueue = getattr(self.client, "_packet_queue", None)  # paho's own send queue (thread-safe)
        if enqueue is None or not mids:  # pragma: no cover - another paho: one ack call each
            for m in batch:
                self.client.ack(m.mid, m.qos)
            return
        enqueue(mqtt.PUBACK, b"".join([_PUBACK(0x40, 2, mid) for mid in mids]), 0, 0)

    def _publish_device_acks(self, force: bool) -> None:
        """Publish each touched device's acknowledgement: at most every ``device_ack_every_s`` (an
        acknowledgement covers everything up to its high water, so one per device and interval
        carries the same information as one per batch), and at once when ``force``."""
        now = time.monotonic()
        with self._ranges_lock:
            if not self._ranges or (not force and now - self._ranges_sent < self.device_ack_every_s):
                return
            ranges, self._ranges = self._ranges, {}
            self._ranges_sent = now
        for d, rs in ranges.items():
            acked = self.gate.acked(d)
            high = -1 if acked is None else acked
            payload = self.platform_key.sign_ack(d, high, [r for r in rs if r[1] > high])
            self.client.publish(ack_topic(d), payload, qos=1, retain=True)

    def _committer(self, monitors: bool) -> None:
        try:
            self._loop(monitors)
        except BaseException as exc:  # let it crash: run() ends the process, the supervisor restarts it
            self.died = (threading.current_thread().name, exc)
            log.critical("gateway: committing thread %s died (%s: %s); the worker exits for a restart",
                         threading.current_thread().name, type(exc).__name__, exc, exc_info=True)
            self._dead.set()
            self._stop.set()

    def _loop(self, monitors: bool) -> None:
        last_monitor = time.monotonic()
        while not self._stop.is_set():
            batch = self._take_batch()
            if batch:
                self._process(batch)
            else:
                self._publish_device_acks(force=True)
            if monitors and time.monotonic() - last_monitor > self.monitor_every_s:
                last_monitor = time.monotonic()
                try:
                    self.gate.run_monitors()
                except StoreError as exc:
                    log.error("gateway: monitors not stored: %s", exc)

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> GatewayWorker:
        if self.gil_switch_interval_s:  # process-wide: the worker owns its process (None leaves it alone)
            sys.setswitchinterval(self.gil_switch_interval_s)
        log.info("gateway: acknowledgements signed with platform key %s", fingerprint(self.platform_key.public))
        self.client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=self._props)
        self.client.loop_start()
        for k in range(self.committers):
            t = threading.Thread(target=self._committer, args=(k == 0,), name=f"gateway-commit-{k}", daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def run(self) -> None:
        """Block until :meth:`stop`; ``SystemExit(70)`` when a committing thread died (nothing is
        acknowledged that was not committed: the broker delivers the rest to the next worker)."""
        if not self._threads:
            self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop(drain=not self._dead.is_set())
        if self.died is not None:
            raise SystemExit(70)

    def stop(self, drain: bool = True) -> None:
        if drain:
            deadline = time.monotonic() + 5
            while not self._q.empty() and time.monotonic() < deadline:
                time.sleep(0.01)
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)
        self._publish_device_acks(force=True)
        self.client.disconnect()
        self.client.loop_stop()


#: what a device keeps of an unacknowledged envelope to seal it again: readings, units, envelope time
_Kept = tuple[list[dict[str, Any]], "Mapping[str, str] | None", datetime]


class DeviceClient:
    """A device: signs readings into envelopes (Ed25519, or HMAC-SHA256 with a symmetric credential:
    whichever the credential holds), publishes them at QoS 1, keeps each until the platform's
    end-to-end acknowledgement covers it, and sends again what is above it. At most ``max_unacked``
    envelopes are outstanding: ``send`` waits for acknowledgements beyond that.

    An envelope kept longer than ``reseal_after_s`` (the platform outage outlasted it) is sealed
    again when it is resent: same sequence numbers and readings, each reading pinned to its own
    time (``ts``), under a fresh envelope time -- the gateway refuses envelope times more than its
    clock skew (300 s) off, so a buffer held through a long outage would otherwise all be refused.
    The platform still stores each sequence number once (a copy it already has is a replay)."""

    def __init__(self, credential: Credential, *, host: str = "127.0.0.1", port: int = 1883, start_seq: int = 0,
                 username: str | None = None, password: str | None = None, resend_after_s: float = 5.0,
                 clock: Callable[[], float] = time.time, session_expiry_s: int = 3600, max_unacked: int = 1000,
                 send_timeout_s: float = 300.0, reseal_after_s: float = 120.0, platform_key: str | None = None,
                 tls: TlsOptions | None = None):
        self.cred = credential
        #: the platform's public key: only acknowledgements it signed let the device drop data
        self.platform_key = platform_key or credential.platform_key
        if not self.platform_key:
            raise SecurityError(f"device {credential.device_id}: no platform key to verify acknowledgements with "
                                "(it comes with the credential from supplynet devices add)")
        self.forged_acks = 0  # acknowledgements refused: not signed by the platform key, or for another device
        self.device = credential.device_id
        self.host, self.port = host, port
        self.seq = start_seq
        self.resend_after_s = resend_after_s
        self.clock = clock
        self.max_unacked = max_unacked
        self.send_timeout_s = send_timeout_s
        self.reseal_after_s = reseal_after_s
        self.resealed = 0
        self._high = start_seq - 1
        self._lock = threading.Lock()
        # last_seq -> (seq, payload, sent at (monotonic), (readings, units, envelope ts)) for a reseal
        self._unacked: OrderedDict[int, tuple[int, bytes, float, _Kept]] = OrderedDict()
        self._acked_event = threading.Condition(self._lock)
        self.sent = 0
        self.resent = 0
        self.connected = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"dev-{self.device}", protocol=mqtt.MQTTv5)
        c.username_pw_set(username or self.device, password if password is not None else credential.mqtt_password or None)
        if tls is not None:
            tls.apply(c)
        c.max_inflight_messages_set(1000)
        c.reconnect_delay_set(0.1, 2)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_disconnect = lambda *a: self.connected.clear()
        c.on_socket_open = tcp_nodelay
        self._props = _connect_props(session_expiry_s)
        self.client = c
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def connect(self) -> DeviceClient:
        self.client.connect(self.host, self.port, keepalive=30, clean_start=False, properties=self._props)
        self.client.loop_start()
        self._timer = threading.Thread(target=self._resend_loop, name=f"resend-{self.device}", daemon=True)
        self._timer.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.error("device %s: broker refused the connection: %s", self.device, reason)
            return
        client.subscribe(ack_topic(self.device), qos=1)
        self.connected.set()
        if getattr(flags, "session_present", False) is False:
            self.resend(older_than_s=0.0)  # a broker that lost our session lost what it held

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        opened = open_ack(self.platform_key, self.device, msg.payload)
        if opened is None:  # forged, unsigned or another device's: keep everything, send it again
            self.forged_acks += 1
            if self.forged_acks in (1, 10) or self.forged_acks % 1000 == 0:  # loud, but not a log flood
                log.warning("device %s: ignored %d acknowledgements not signed by the platform key %s (a hostile "
                            "broker, or a gateway with another vault key)", self.device, self.forged_acks,
                            fingerprint(self.platform_key))
            return
        acked, ranges = opened
        with self._lock:
            self._high = max(self._high, acked)
            while self._unacked:  # everything up to the contiguous high water
                last = next(iter(self._unacked))
                if last > self._high:
                    break
                self._unacked.popitem(last=False)
            for lo, hi in ranges:  # and the envelopes acknowledged one by one (several workers)
                kept = self._unacked.get(hi)
                if kept is not None and kept[0] == lo:
                    del self._unacked[hi]
            self._acked_event.notify_all()

    @property
    def acked(self) -> int:
        """Highest seq below which every envelope sent is acknowledged end to end."""
        with self._lock:
            if not self._unacked:
                return self.seq - 1
            return self._unacked[next(iter(self._unacked))][0] - 1

    def send(self, readings: list[dict[str, Any]], units: Mapping[str, str] | None = None,
             ts: datetime | None = None) -> int:
        """Seal and publish one envelope; returns its first sequence number."""
        with self._lock:
            deadline = time.monotonic() + self.send_timeout_s
            while len(self._unacked) >= self.max_unacked:  # flow control: wait for the platform
                left = deadline - time.monotonic()
                if left <= 0:
                    raise StoreError(f"device {self.device}: {len(self._unacked)} envelopes unacknowledged for "
                                     f"{self.send_timeout_s:.0f} s; the platform is not keeping up")
                self._acked_event.wait(min(left, 0.5))
            seq = self.seq
            self.seq += len(readings)
            ts = ts or datetime.fromtimestamp(self.clock(), UTC)
            payload = seal(self.device, self.cred.kid, self.cred.private_key, seq, ts, readings, units)
            self._unacked[seq + len(readings) - 1] = (seq, payload, time.monotonic(), (readings, units, ts))
        self.client.publish(up_topic(self.device), payload, qos=1)
        self.sent += 1
        return seq

    def resend(self, older_than_s: float | None = None) -> int:
        """Publish again every kept envelope above the acknowledged seq (older than ``older_than_s``)."""
        age = self.resend_after_s if older_than_s is None else older_than_s
        now = time.monotonic()
        wall = self.clock()
        payloads = []
        with self._lock:
            for k, (seq, payload, sent, kept) in list(self._unacked.items()):
                if now - sent < age:
                    continue
                if wall - kept[2].timestamp() > self.reseal_after_s:
                    kept = self._reseal_kept(kept, wall)
                    payload = seal(self.device, self.cred.kid, self.cred.private_key, seq, kept[2], kept[0], kept[1])
                    self.resealed += 1
                self._unacked[k] = (seq, payload, now, kept)
                payloads.append(payload)
        for payload in payloads:
            self.client.publish(up_topic(self.device), payload, qos=1)
        self.resent += len(payloads)
        return len(payloads)

    @staticmethod
    def _reseal_kept(kept: _Kept, wall: float) -> _Kept:
        """The envelope's readings pinned to their own times, under a fresh envelope time."""
        readings, units, ts = kept
        pinned = []
        for r in readings:
            r = dict(r)
            if "dt" in r or "ts" not in r:  # ``dt`` wins over ``ts`` on the platform: replace it by the time
                at = ts + timedelta(seconds=float(r.pop("dt", 0)))
                r["ts"] = iso_utc(at)
            pinned.append(r)
        return pinned, units, datetime.fromtimestamp(wall, UTC)

    def _resend_loop(self) -> None:
        while not self._stop.wait(max(0.2, self.resend_after_s / 2)):
            if self.connected.is_set():
                self.resend()

    @property
    def unacked(self) -> int:
        with self._lock:
            return len(self._unacked)

    def wait_acked(self, timeout: float) -> bool:
        """Block until every envelope sent so far is acknowledged end to end."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._unacked:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._acked_event.wait(min(left, 0.5))
        return True


def main(argv: list[str] | None = None) -> None:
    """``python -m supplynet.ingest.mqtt --store URL``: one gateway worker (used by the crash test)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=1883)
    p.add_argument("--client-id", default="gw-0")
    p.add_argument("--group", default="gw", help="shared-subscription group ('' for a plain subscription)")
    p.add_argument("--username")
    p.add_argument("--password")
    p.add_argument("--rate", type=float, default=1e6, help="per-device messages/s")
    p.add_argument("--clock-skew", type=float, default=300.0)
    p.add_argument("--no-monitor", action="store_true", help="no data-quality monitor alerts")
    p.add_argument("--tls-ca", help="connect over TLS trusting this CA")
    a = p.parse_args(argv)
    from ..store import open_store
    from .gate import GateConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with open_store(a.store) as store:
        gate = Gate(store, config=GateConfig(rate_per_s=a.rate, burst=a.rate, clock_skew_s=a.clock_skew),
                    monitor=not a.no_monitor)
        password = a.password
        if a.username and password is None:  # the password `supplynet ingest acl` derived from the vault key
            from ..security.broker import mqtt_password

            password = mqtt_password(gate.registry.vault(), a.username)
        worker = GatewayWorker(gate, host=a.host, port=a.port, client_id=a.client_id, shared_group=a.group or None,
                               username=a.username, password=password,
                               tls=TlsOptions(Path(a.tls_ca)) if a.tls_ca else None)
        print(f"gateway {a.client_id} on {a.host}:{a.port} topic {worker.topic}", flush=True)
        worker.start()
        if worker.subscribed.wait(30):
            print("subscribed", flush=True)  # the line a supervisor may wait for
        worker.run()


if __name__ == "__main__":  # pragma: no cover
    main()
