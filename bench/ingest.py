"""Ingestion gateway benchmark -> bench/results/ingest.json. Run: .venv/bin/python bench/ingest.py [--quick]

Everything runs against a real Mosquitto started for the run on a free loopback port (same binary
as the system broker; private so other work on the machine does not share it). Messages are signed
before the timed part; a separate publisher process publishes them at QoS 1 as fast as it can, so
the bare subscriber and the gateway face the same publisher in the same run:

* ``bare_qos1_msgs_per_s``: the reference, :class:`BareWorker`: the gateway worker's own receive
  path (the buffered ``_LeanClient``, manual acks, fair queue, committer threads, one PUBACK write
  per batch) with the gate taken out: it verifies, stores and acknowledges nothing to devices, it
  only takes each batch and PUBACKs it. It receives the same file of signed messages as the gateway
  run it is paired with, so a ratio is the cost of the gate and the store and nothing else;
* ``gateway_qos1_msgs_per_s``: the gateway worker (verify the device's signature, gate, commit to
  SQLite with synchronous=FULL, ack after commit, publish device acks) for Ed25519 devices (the
  default scheme, ~60 us per verification here); ``mqtt_qos1_ratio_vs_bare`` against the bare
  worker on the same Ed25519 messages. The same for devices on the symmetric scheme (HMAC-SHA256,
  secret sealed under the vault key) is ``gateway_qos1_hmac_msgs_per_s`` and
  ``mqtt_qos1_ratio_vs_bare_hmac``. Per round: bare then gateway on fresh Ed25519 messages, bare
  then gateway on fresh HMAC messages; five rounds. A ratio is the median over rounds of each
  gateway run against the bare run just before it on the same messages (this VM's speed drifts
  between runs; a pair back to back sees the same machine); the rates are medians of their runs.
  Every run is in the notes;
* ``mqtt_batched_readings_per_s``: envelopes of 100 readings, readings committed per second;
* ``http_readings_per_s``: NDJSON batches (50 envelopes of 100 readings) to ``POST /v1/ingest`` of a
  real uvicorn server on a loopback TCP port (the service as ``supplynet serve`` builds it, with the
  data-quality monitor on), from one client in a separate process over one keep-alive connection;
  the median of three runs (each in the notes);
* ``two_worker_speedup``: two gateway worker processes on one shared subscription into one SQLite
  file, against one worker process (2 cores for broker, publisher and workers: a floor);
  a third run kills one of the two workers mid-run and restarts it: every message exactly once;
* ``publish_to_commit_p50_ms`` / ``p99``: 20 devices signing at send time, 10 msg/s each, time
  from the envelope's timestamp to the return of the gate's commit;
* ``flood_others_p99_change``: in one run one device floods at 100x its quota in every other
  0.5 s window; the calm devices' p99 in flood windows against quiet windows (both see the same
  background load). The flooder's publisher runs at nice 19 (a device's CPU is not the gateway's;
  the broker and the gateway carry the whole flood); the same at normal priority is in the notes.

``--quick`` runs smaller sizes, one round (tests/test_bench_quick.py runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from supplynet.ingest.envelope import seal  # noqa: E402
from supplynet.ingest.gate import Gate, GateConfig  # noqa: E402
from supplynet.ingest.mqtt import GatewayWorker, tcp_nodelay, up_topic  # noqa: E402
from supplynet.store import open_store  # noqa: E402

READING = {"kind": "condition", "temperature": 4.0}
UNITS = {"temperature": "degC"}
QUOTA = 20.0  # messages/s per device in the latency runs
CALM, CALM_RATE = 20, 10.0  # calm devices in the latency runs, and the messages/s each sends
#: the flooding device's publisher process runs at this nice level: a device's CPU is not the
#: gateway's (here all share 2 cores); the broker and the gateway still carry the whole flood
FLOOD_NICE = 19
#: the flooder floods in every other window of this many seconds (short: a stall of the machine
#: falls on both kinds of window alike)
WINDOW = 0.5


# -- broker and publisher --------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, tmp: Path):
        self.port = free_port()
        conf = tmp / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                        f"max_queued_messages 1000000\nmax_inflight_messages 1000\nset_tcp_nodelay true\n{user}")
        exe = "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else "mosquitto"
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def publish_file(path: str, port: int) -> None:
    """Publisher process: publish every (topic, payload) of the pickle at QoS 1, as fast as it can."""
    items = pickle.loads(Path(path).read_bytes())
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{os.getpid()}", protocol=mqtt.MQTTv5)
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    infos = [c.publish(t, p, qos=1) for t, p in items]
    for i in infos[-1000:]:
        i.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def publish_paced(path: str, port: int, rate: float, seconds: float, flood: int) -> None:
    """Publisher process. ``flood`` == 0: the calm devices (all but the first), signing at send time,
    ``rate`` msg/s in total. ``flood`` > 0: the first device alone sends ``flood`` messages per second
    (signed before the clock starts), from its own process and connection, as a separate device would."""
    spec = pickle.loads(Path(path).read_bytes())
    role = "flood" if flood else "calm"
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pace-{role}-{os.getpid()}", protocol=mqtt.MQTTv5)
    c.on_socket_open = tcp_nodelay  # as the project's device client does
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    creds = spec["creds"]
    start = spec["start"]
    window = spec.get("window")  # flood only in every other window of this many seconds
    if flood:
        d = creds[0]
        msgs = [seal(d[0], d[1], d[2], j, datetime.fromtimestamp(start + j / flood, UTC), [READING], UNITS)
                for j in range(flood_messages(flood, seconds, window))]
        topic = up_topic(d[0])
    seqs = [0] * len(creds)
    while time.time() < start:
        time.sleep(0.005)
    t0 = time.perf_counter() - (time.time() - start)  # both publishers' clocks start at ``start``
    k = 0
    while (now := time.perf_counter() - t0) < seconds:
        if flood:
            if window:  # time spent in flood windows so far
                w, frac = divmod(now, window)
                on = (int(w) // 2) * window + (frac if int(w) % 2 == 1 else 0.0)
            else:
                on = now
            while k < min(len(msgs), int(on * flood)):
                c.publish(topic, msgs[k], qos=1)
                k += 1
        else:
            due = int(now * rate)
            while k < due:
                i = 1 + k % (len(creds) - 1)
                d = creds[i]
                c.publish(up_topic(d[0]), seal(d[0], d[1], d[2], seqs[i], datetime.now(UTC), [READING], UNITS), qos=1)
                seqs[i] += 1
                k += 1
        time.sleep(0.001)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()


def discard_session(port: int, client_id: str) -> None:
    """Connect as ``client_id`` with a clean start (and no session expiry), then leave: the broker
    drops the persistent session a finished run's gateway left, which would otherwise keep queueing
    every later run's messages (its QoS 1 subscription) and load the broker in those runs."""
    done = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.on_connect = lambda *a: done.set()
    c.connect("127.0.0.1", port, clean_start=True)
    c.loop_start()
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def flood_messages(flood: int, seconds: float, window: float | None) -> int:
    return int(flood * seconds / 2) + flood if window else int(flood * seconds)


def start_publisher(args: list[str], nice: int = 0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], preexec_fn=(lambda: os.nice(nice)) if nice else None)


# -- measurements ----------------------------------------------------------------------------------
def make_devices(store, n: int, tag: str, scheme: str = "ed25519") -> list[tuple[str, str, str]]:
    gate = Gate(store)
    out = []
    for i in range(n):
        c = gate.registry.provision(f"b{tag}-{i}", measures=("temperature",), asset="R1", scheme=scheme)
        out.append((c.device_id, c.kid, c.private_key))
    return out


def signed(creds, n: int, readings: int, start_seq: int = 0) -> list[tuple[str, bytes]]:
    now = datetime.now(UTC)
    seqs = [start_seq] * len(creds)
    out = []
    batch = [dict(READING, dt=-k) for k in range(readings)] if readings > 1 else [READING]
    for k in range(n):
        i = k % len(creds)
        d = creds[i]
        out.append((up_topic(d[0]), seal(d[0], d[1], d[2], seqs[i], now, batch, UNITS)))
        seqs[i] += readings
    return out


class _NoGate:
    """Stands in for the gate in the bare subscriber: admits every message, checks and stores none."""

    def admit(self, device: str) -> bool:
        return True

    def acked(self, device: str) -> None:
        return None

    def run_monitors(self) -> None:
        return None


class BareWorker(GatewayWorker):
    """The gateway worker's receive path without the gate: the same buffered client
    (``_LeanClient``, manual acks), fair queue, committer threads and one PUBACK write per batch;
    each batch is acknowledged as soon as it is taken (no verification, no store, no device acks)."""

    def __init__(self, **kw: object):
        from supplynet.security.acks import PlatformKey

        # no device acks are sent, but the worker wants a key to sign them with: a throwaway one
        kw.setdefault("platform_key", PlatformKey(os.urandom(32)))
        super().__init__(_NoGate(), **kw)  # type: ignore[arg-type]

    def _process(self, batch) -> None:  # type: ignore[no-untyped-def]
        self._ack_all(batch)
        with self._count_lock:
            self.committed += len(batch)
            self.batches += 1


def receive_rate(w: GatewayWorker, port: int, items_file: str, n_msgs: int, readings: int) -> float:
    """Readings per second through ``w`` (a gateway or the bare worker): from the first message's
    arrival to the return of the batch that completes ``n_msgs`` (no polling thread)."""
    first: list[float] = []
    last: list[float] = []
    done = threading.Event()
    orig, orig_process = w._on_message, w._process

    def on_message(client, userdata, msg):
        if not first:
            first.append(time.perf_counter())
        orig(client, userdata, msg)

    def process(batch):
        orig_process(batch)
        if w.committed >= n_msgs and not done.is_set():
            last.append(time.perf_counter())
            done.set()

    w.client.on_message = on_message
    w._process = process  # type: ignore[method-assign]
    w.start()
    w.subscribed.wait(10)
    time.sleep(0.3)
    pub = start_publisher(["--publish", items_file, "--port", str(port)])
    if not done.wait(300):
        raise AssertionError(f"{type(w).__name__} took {w.committed} of {n_msgs} messages in 300 s")
    pub.wait(60)
    w.stop()
    discard_session(port, w.client._client_id.decode())
    return n_msgs * readings / (last[0] - first[0])


def bare_rate(port: int, items_file: str, n: int, tag: str) -> float:
    return receive_rate(BareWorker(port=port, client_id=f"bare-{tag}", shared_group=None, session_expiry_s=60),
                        port, items_file, n, 1)


def gateway_rate(port: int, store, items_file: str, n_msgs: int, readings: int, tag: str) -> float:
    gate = Gate(store, config=GateConfig(rate_per_s=1e9, burst=1e9))
    w = GatewayWorker(gate, port=port, client_id=f"gw-{tag}", shared_group=None, session_expiry_s=60)
    rate = receive_rate(w, port, items_file, n_msgs, readings)
    if gate.counters["stored"] != n_msgs:  # every message stored, none refused or quarantined
        raise AssertionError(f"gateway stored {gate.counters['stored']} of {n_msgs}: {dict(gate.counters)}")
    return rate


def http_post_file(path: str, url: str) -> None:
    """Client process: POST every NDJSON body of the pickle to ``url`` over one keep-alive
    connection, one after the other; prints the readings stored and the seconds taken as JSON."""
    import httpx

    bodies = pickle.loads(Path(path).read_bytes())
    stored = bad = 0
    with httpx.Client(timeout=120, headers={"content-type": "application/x-ndjson"}) as client:
        client.get(url.replace("/v1/ingest", "/v1/ingest/metrics"))  # connect outside the clock
        t0 = time.perf_counter()
        for b in bodies:
            r = client.post(url, content=b)
            if r.status_code == 200:
                stored += r.json()["stored"]
            else:
                bad += 1
        dt = time.perf_counter() - t0
    print(orjson.dumps({"stored": stored, "non_2xx": bad, "seconds": dt}).decode(), flush=True)


@contextlib.contextmanager
def http_server(store) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """A real uvicorn server of the service (as ``supplynet serve`` builds it, device rate limits and
    the API's request limits lifted) on a free loopback port, in a thread of this process; yields
    the port. Its start-up (the twin catching up with the log) is outside every measurement."""
    import uvicorn

    from supplynet.api import create_app
    from supplynet.api.middleware import Limits
    from supplynet.config import Settings

    app = create_app(Settings(environment="test"), store=store, gate_config=GateConfig(rate_per_s=1e9, burst=1e9),
                     limits=Limits(max_body_bytes=32 << 20, rate_per_s=1e6, burst=1e6))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    th = threading.Thread(target=server.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 300
    while not server.started:
        if not th.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        th.join(30)


def http_rate(port: int, creds, n_envelopes: int, per_envelope: int, per_request: int, tmp: Path,
              start_seq: int = 0) -> float:
    """Readings per second through ``POST /v1/ingest`` of the server on ``port`` (:func:`http_server`),
    from a client in a separate process."""
    items = [p for _, p in signed(creds, n_envelopes, per_envelope, start_seq)]
    bodies = [b"\n".join(items[i : i + per_request]) for i in range(0, len(items), per_request)]
    f = tmp / f"http-{start_seq}.pkl"
    f.write_bytes(pickle.dumps(bodies))
    out = subprocess.run([sys.executable, __file__, "--http-post", str(f), "--url",
                          f"http://127.0.0.1:{port}/v1/ingest"], capture_output=True, text=True, timeout=300,
                         check=True).stdout
    res = orjson.loads(out.strip().splitlines()[-1])
    if res["stored"] != n_envelopes or res["non_2xx"]:
        raise AssertionError(f"http: stored {res['stored']} of {n_envelopes}, {res['non_2xx']} non-2xx answers")
    return n_envelopes * per_envelope / res["seconds"]


def workers_run(port: int, url: str, items_file: str, n: int, workers: int, tag: str, kill_one: bool) -> float:
    procs = []

    def spawn(i: int) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "supplynet.ingest.mqtt", "--store", url, "--port", str(port),
                              "--client-id", f"w{tag}-{i}", "--group", f"g{tag}", "--no-monitor"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        for line in p.stdout:  # type: ignore[union-attr]
            if line.strip() == "subscribed":  # the broker granted its subscription: nothing published is lost
                break
        else:
            raise RuntimeError(f"worker {i} exited before subscribing")
        threading.Thread(target=p.stdout.read, daemon=True).start()  # type: ignore[union-attr]
        return p

    procs = [spawn(i) for i in range(workers)]
    with open_store(url) as st:
        base = st.log.count()
        pub = start_publisher(["--publish", items_file, "--port", str(port)])
        t0 = None
        killed = False
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            c = st.log.count() - base
            if t0 is None and c > 0:
                t0 = time.perf_counter()
            if kill_one and not killed and c > n // 3:
                procs[1].send_signal(signal.SIGKILL)
                procs[1].wait(10)
                procs[1] = spawn(1)  # the same client id: its session's messages come back to it
                killed = True
            if c >= n:
                break
            time.sleep(0.01)
        t1 = time.perf_counter()
        pub.wait(60)
        time.sleep(0.5)
        final = st.log.count() - base
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
    for i in range(workers):
        discard_session(port, f"w{tag}-{i}")
    if final != n:
        raise AssertionError(f"{workers} workers{' (one killed)' if kill_one else ''}: {final} events for {n} messages")
    return n / (t1 - t0)


def latency(port: int, store, creds, rate: float, seconds: float, flood: int, tag: str,
            flood_nice: int = FLOOD_NICE, window: float | None = None) -> dict:
    """Publish-to-commit latency of the calm devices. With ``flood``, the first device floods; with
    ``window`` it floods only in every other window of that many seconds, and the calm devices'
    latencies are split by the window their message was sent in ("quiet" / "flood"; the first 20%
    of each window is left out): both sets see the same background load of the machine."""
    gate = Gate(store, config=GateConfig(rate_per_s=QUOTA, burst=2 * QUOTA))
    flooder = creds[0][0]
    lat: list[float] = []
    sent: list[float] = []
    lat_flooder = []
    orig_submit = gate.submit

    def submit(items, adapter="mqtt", **kw):
        outcomes = orig_submit(items, adapter, **kw)
        t = time.time()
        for raw, o in zip(items, outcomes, strict=True):
            if o.status == "stored":
                body = orjson.loads(orjson.loads(raw)["body"])
                ts = datetime.fromisoformat(body["ts"].replace("Z", "+00:00")).timestamp()
                if o.device == flooder:
                    lat_flooder.append((t - ts) * 1000)
                else:
                    lat.append((t - ts) * 1000)
                    sent.append(ts)
        return outcomes

    gate.submit = submit  # type: ignore[method-assign]
    w = GatewayWorker(gate, port=port, client_id=f"lat-{tag}", shared_group=None, session_expiry_s=60).start()
    w.connected.wait(10)
    spec = Path(tempfile.mkstemp(suffix=".pkl")[1])
    # both publishers ready by then (the flooder signs its messages first)
    start = time.time() + 1.5 + flood_messages(flood, seconds, window) * 0.0004  # the flooder signs first
    spec.write_bytes(pickle.dumps({"creds": creds, "start": start, "window": window}))
    pubs = [start_publisher(["--paced", str(spec), "--port", str(port), "--rate", str(rate), "--seconds",
                             str(seconds), "--flood", str(f)], nice=flood_nice if f else 0)
            for f in ([0, flood] if flood else [0])]
    for pub in pubs:
        pub.wait(seconds + 60)
    time.sleep(1.0)
    w.stop()
    discard_session(port, f"lat-{tag}")
    if window:
        phase = (np.array(sent) - start) / window
        keep = (phase % 1.0 >= 0.2) & (phase >= 1.0)  # not the first window (warm-up), nor window starts
        in_flood = (phase.astype(int) % 2 == 1)
        a = np.array(lat)
        out: dict = {}
        for name, sel in (("quiet", keep & ~in_flood), ("flood", keep & in_flood)):
            x = a[sel]
            out[name] = {"p50": float(np.percentile(x, 50)), "p99": float(np.percentile(x, 99)), "n": int(x.size)}
        out["others_p99_change"] = out["flood"]["p99"] / out["quiet"]["p99"] - 1.0
        out["others_p50_change"] = out["flood"]["p50"] / out["quiet"]["p50"] - 1.0
        out.update(window_s=window, refused=gate.counters["rate_limited"], flooder_stored=len(lat_flooder))
        return out
    a = np.array(lat[len(lat) // 10 :])  # skip the warm-up
    return {"p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)), "n": len(lat),
            "refused": gate.counters["rate_limited"], "flooder_stored": len(lat_flooder), "samples": a}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--publish")
    ap.add_argument("--paced")
    ap.add_argument("--port", type=int)
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--flood", type=int, default=0)
    ap.add_argument("--http-post")
    ap.add_argument("--url")
    a = ap.parse_args()
    if a.http_post:
        return http_post_file(a.http_post, a.url)
    if a.publish:
        return publish_file(a.publish, a.port)
    if a.paced:
        return publish_paced(a.paced, a.port, a.rate, a.seconds, a.flood)

    from _common import write_result

    n_single = 2000 if a.quick else 20000
    n_batched = 200 if a.quick else 2000
    n_http = 200 if a.quick else 3000
    n_workers = 2000 if a.quick else 12000
    rounds = 1 if a.quick else 5
    rounds_http = 1 if a.quick else 3  # one run lasts about a second: its fsyncs' latency swings it by +-25% here
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    from supplynet.security.vault import Vault

    os.environ.setdefault("SUPPLYNET_VAULT_KEY", Vault.generate_key())  # the deployment's vault key (HMAC devices)
    broker = Broker(tmp)
    notes: dict = {}
    try:
        url = f"sqlite:///{tmp / 'bench.db'}"
        with open_store(url) as store:
            creds = {"hmac": make_devices(store, 20, "s", "hmac-sha256"), "ed25519": make_devices(store, 20, "e")}
            bares: dict[str, list[float]] = {"ed25519": [], "hmac": []}
            gws: dict[str, list[float]] = {"ed25519": [], "hmac": []}
            for r in range(rounds):  # alternating, so all see the machine's load alike; pairs back to back
                for scheme in ("ed25519", "hmac"):
                    # new sequence numbers each round (nothing is a replay); bare and gateway get this file
                    fresh = tmp / f"single-{scheme}-{r}.pkl"
                    fresh.write_bytes(pickle.dumps(signed(creds[scheme], n_single, 1, start_seq=r * 10**6)))
                    print(f"bare subscriber, {scheme} payloads ({r + 1}/{rounds}) ...", file=sys.stderr)
                    bares[scheme].append(bare_rate(broker.port, str(fresh), n_single, f"{scheme}{r}"))
                    print(f"gateway, single readings, {scheme} ({r + 1}/{rounds}) ...", file=sys.stderr)
                    gws[scheme].append(gateway_rate(broker.port, store, str(fresh), n_single, 1, f"s{scheme}{r}"))
            bare, gw, gw_hmac = (float(np.median(v)) for v in (bares["ed25519"], gws["ed25519"], gws["hmac"]))
            pairs = {scheme: [g / b for b, g in zip(bares[scheme], gws[scheme], strict=True)] for scheme in gws}
            ratio, ratio_hmac = float(np.median(pairs["ed25519"])), float(np.median(pairs["hmac"]))
            notes["single_reading_runs_msgs_per_s"] = {"bare_ed25519_payloads": bares["ed25519"],
                                                       "gateway_ed25519": gws["ed25519"],
                                                       "bare_hmac_payloads": bares["hmac"],
                                                       "gateway_hmac_sha256": gws["hmac"]}
            notes["single_reading_ratio_of_each_pair"] = pairs
            notes["single_reading_ratio_best_of_each"] = {s: max(gws[s]) / max(bares[s]) for s in gws}
            notes["bare_hmac_payloads_msgs_per_s"] = float(np.median(bares["hmac"]))
            bcreds = make_devices(store, 20, "b")
            batched = tmp / "batched.pkl"
            batched.write_bytes(pickle.dumps(signed(bcreds, n_batched, 100)))
            print("gateway, batched ...", file=sys.stderr)
            gw_b = gateway_rate(broker.port, store, str(batched), n_batched, 100, "b")
            print("http ...", file=sys.stderr)
            hcreds = make_devices(store, 20, "h")
            with http_server(store) as port:
                https = [http_rate(port, hcreds, n_http, 100, 50, tmp, start_seq=r * 10**6) for r in range(rounds_http)]
            http = float(np.median(https))
            notes["http_runs_readings_per_s"] = https
            print("latency ...", file=sys.stderr)
            secs = 3 if a.quick else 8
            calm = latency(broker.port, store, make_devices(store, 1 + CALM, "l"), CALM * CALM_RATE, secs, 0, "calm")
            calm.pop("samples")
            # flood isolation: the flooder floods in every other window of one run, so the calm
            # devices' latencies with and without the flood see the same background load
            wsecs = 6 if a.quick else 40  # 40 s: about 3,000 calm messages per kind of window for their p99
            flooded = latency(broker.port, store, make_devices(store, 1 + CALM, "f"), CALM * CALM_RATE, wsecs,
                              int(100 * QUOTA), "flood", window=WINDOW)
            same = latency(broker.port, store, make_devices(store, 1 + CALM, "fs"), CALM * CALM_RATE, wsecs,
                           int(100 * QUOTA), "flood-same", flood_nice=0, window=WINDOW)
            notes["latency"] = {"calm": calm, "one_device_flooding_100x": flooded,
                                "others_p99_change": flooded["others_p99_change"],
                                "flood_publisher_nice": FLOOD_NICE,
                                "flood_publisher_not_niced": same,
                                "quota_msgs_per_s": QUOTA, "flood_msgs_per_s": 100 * QUOTA,
                                "calm_devices": CALM, "calm_msgs_per_s_each": CALM_RATE}
        print("workers ...", file=sys.stderr)
        wurl = f"sqlite:///{tmp / 'workers.db'}"
        with open_store(wurl) as st:
            wcreds = make_devices(st, 20, "w")
        runs = {}
        for label, workers, kill, start in (("one", 1, False, 0), ("two", 2, False, 10**6),
                                            ("two_kill_one", 2, True, 2 * 10**6)):
            f = tmp / f"w-{label}.pkl"
            f.write_bytes(pickle.dumps(signed(wcreds, n_workers, 1, start_seq=start)))
            runs[label] = workers_run(broker.port, wurl, str(f), n_workers, workers, label, kill)
        notes["workers_msgs_per_s"] = runs
        notes["two_workers_one_killed_exactly_once"] = True
    finally:
        broker.stop()
    figures = {
        "bare_qos1_msgs_per_s": bare,
        "gateway_qos1_msgs_per_s": gw,
        "mqtt_qos1_ratio_vs_bare": ratio,
        "gateway_qos1_hmac_msgs_per_s": gw_hmac,
        "mqtt_qos1_ratio_vs_bare_hmac": ratio_hmac,
        "mqtt_batched_readings_per_s": gw_b,
        "http_readings_per_s": http,
        "two_worker_speedup": runs["two"] / runs["one"],
        "publish_to_commit_p50_ms": calm["p50"],
        "publish_to_commit_p99_ms": calm["p99"],
        "flood_others_p99_change": notes["latency"]["others_p99_change"],
    }
    targets = {"mqtt_qos1_ratio_vs_bare": ">= 0.8 (Ed25519 devices)", "mqtt_batched_readings_per_s": ">= 100000",
               "http_readings_per_s": ">= 200000", "flood_others_p99_change": "< 0.2"}
    notes["sizes"] = {"single": n_single, "batched_envelopes": n_batched, "http_envelopes": n_http,
                      "workers_messages": n_workers, "quick": a.quick}
    notes["quick"] = a.quick
    notes["how"] = ("messages pre-signed; one publisher process at QoS 1; SQLite synchronous=FULL WAL; "
                    "gateway acks after commit; the headline single-reading figures for Ed25519 devices (the "
                    "default scheme), HMAC-SHA256 beside them (_hmac); everything else with Ed25519 devices")
    notes["reference"] = ("bare: BareWorker, the gateway worker's own receive path (the _LeanClient buffered "
                          "reads and direct PUBLISH decoding, manual acks, fair queue, committer threads, one "
                          "PUBACK write per batch) with the gate taken out: no verification, no store, no device "
                          "acks. It receives the very file of signed messages its paired gateway run receives "
                          "(Ed25519 payloads for the headline pair, HMAC payloads for the _hmac pair), so the "
                          "ratio is the cost of the gate and the store alone")
    write_result("ingest", figures, targets, notes)


if __name__ == "__main__":
    main()
