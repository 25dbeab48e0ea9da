"""The unauthenticated HTTP edge, attacked as an outsider would: against ``supplynet serve`` running as
its own process, over TCP on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

import supplynet
from supplynet.ingest.envelope import seal
from supplynet.model import example_path
from supplynet.security.devices import Credential, DeviceRegistry
from supplynet.security.tokens import TokenService
from supplynet.store import open_store
from supplynet.testing.services import wait_for_port

pytestmark = pytest.mark.integration

SRC = Path(supplynet.__file__).resolve().parents[1]  # the supplynet this test imports
SECURITY_HEADERS = {"x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    base: str
    url: str  # the store
    token: str
    cred: Credential
    proc: subprocess.Popen
    seq: int = 0

    def envelope(self, **reading) -> bytes:
        r = {"kind": "condition", "temperature": 4.0, **reading}
        out = seal(self.cred.device_id, self.cred.kid, self.cred.private_key, self.seq, datetime.now(UTC), [r],
                   {"temperature": "degC"})
        self.seq += 1
        return out

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def quarantined(self) -> int:
        with open_store(self.url) as st:
            return sum(st.ingest.quarantine_counts().values())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{home}/s.db"
    with open_store(url) as st:
        token, _ = TokenService(st).create(role="viewer", name="watcher", expires_in_s=3600)
        cred = DeviceRegistry(st.devices, home=home).provision(
            "rf-edge", measures=("temperature",), asset="R1")
    port = _free_port()
    env = {**os.environ, "SUPPLYNET_HOME": str(home), "PYTHONPATH": str(SRC)}
    log = (home / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "supplynet.cli", "serve", "--store", url, "--port", str(port),
                             "--network", str(example_path("tiny"))],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        if not wait_for_port("127.0.0.1", port, 60):
            raise RuntimeError((home / "serve.log").read_text()[-2000:])
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while httpx.get(base + "/v1/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield Served(base, url, token, cred, proc)
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        assert b"Traceback" not in (home / "serve.log").read_bytes(), (home / "serve.log").read_text()[-3000:]


def test_a_million_zeros_is_one_fast_answer_with_no_quarantine_rows(served):
    rss0 = served.rss_mb()
    t0 = time.perf_counter()
    r = httpx.post(served.base + "/v1/ingest", content=b"[" + b"0," * 999_999 + b"0]",
                   headers={"content-type": "application/json"}, timeout=30)
    took = time.perf_counter() - t0
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert took < 2.0 and served.rss_mb() - rss0 < 50
    assert served.quarantined() == 0


def test_junk_lines_get_one_400_naming_the_first(served):
    r = httpx.post(served.base + "/v1/ingest", content=served.envelope() + b"\n" + b"0\n" * 5_000,
                   headers={"content-type": "application/x-ndjson"}, timeout=30)
    assert r.status_code == 400 and "line 2 is not a sealed envelope" in r.json()["detail"]
    r = httpx.post(served.base + "/v1/ingest", content=b"0\n" * 300_000,
                   headers={"content-type": "application/x-ndjson"}, timeout=30)
    assert r.status_code == 413
    assert served.quarantined() == 0


def test_unknown_devices_fill_no_more_than_the_address_quarantine_bound(served):
    forged = [orjson.loads(served.envelope()) for _ in range(600)]
    for f in forged:
        f["device"] = "ghost-" + f["sig"][:8]
    r = httpx.post(served.base + "/v1/ingest", content=orjson.dumps(forged), timeout=30)
    assert r.status_code == 200 and r.json()["quarantined"] == 600  # every one answered ...
    assert served.quarantined() <= 200 + 20 * 5  # ... but at most the burst (and refill) kept as rows


def _slow_upload(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))  # another client
    s.sendall(b"POST /v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
              b"Content-Length: 100000\r\n\r\n{")
    return s


def test_slow_uploads_are_cut_off_and_hold_no_slot(served):
    port = int(served.base.rsplit(":", 1)[1])
    slow = [_slow_upload(port) for _ in range(8)]
    try:
        time.sleep(0.3)
        t0 = time.perf_counter()
        r = httpx.post(served.base + "/v1/ingest", content=served.envelope(),
                       headers={"content-type": "application/x-ndjson"}, timeout=10)
        assert r.status_code == 200 and r.json()["stored"] == 1
        assert time.perf_counter() - t0 < 1.9  # it did not wait for the slow ones to be cut off (2 s)
        for s in slow:  # one byte every 5 s is too slow: cut off after 2 s of silence (4 at a time per address)
            s.settimeout(10)
            head = s.recv(4096)
            assert head.startswith(b"HTTP/1.1 408"), head[:100]
    finally:
        for s in slow:
            s.close()


def test_made_up_methods_do_not_grow_the_metrics(served):
    with httpx.Client(base_url=served.base) as c:
        for k in range(300):
            c.request(f"X{k:04d}", "/v1/nowhere/{k}")
        text = c.get("/metrics", headers={"Authorization": f"Bearer {served.token}"}).text
    assert "X0001" not in text and 'method="other"' in text
    assert len(text) < 200_000


def test_security_headers_on_every_response_and_only_health_is_open(served):
    with httpx.Client(base_url=served.base) as c:
        answers = [c.get("/v1/health"), c.get("/ui/"), c.get("/ui/app.js"), c.get("/v1/nowhere"), c.get("/v1/events"),
                   c.get("/v1/ingest/metrics"), c.get("/docs"), c.post("/v1/ingest", content=b"{")]
        for r in answers:
            for k, v in SECURITY_HEADERS.items():
                assert r.headers.get(k) == v, (r.url, k)
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        health, ui = answers[0], answers[1]
        assert health.json() == {"ok": True} and "script-src 'self';" in ui.headers["content-security-policy"]
        assert answers[4].status_code == 401 and answers[5].status_code == 401
        metrics = c.get("/v1/ingest/metrics", headers={"Authorization": f"Bearer {served.token}"})
        assert metrics.status_code == 200 and "counters" in metrics.json()


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_extreme_times_in_queries_are_4xx(served, when):
    auth = {"Authorization": f"Bearer {served.token}"}
    with httpx.Client(base_url=served.base, headers=auth) as c:
        for path, name in (("/v1/events", "since"), ("/v1/events", "until"), ("/v1/state/inventory", "as_of"),
                           ("/v1/kpis", "as_of")):
            r = c.get(path, params={name: when})
            assert 400 <= r.status_code < 500, (path, name, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        r = c.post("/v1/ingest", content=served.envelope(ts=when), headers={"content-type": "application/x-ndjson"})
        assert r.status_code == 200 and r.json()["results"][0]["status"] == "quarantined"
