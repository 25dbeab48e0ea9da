"""Overload at the unauthenticated HTTP edge: goodput, health latency and junk, against ``supplynet
serve`` as its own process (uvicorn over TCP on 127.0.0.1).

Figures (the issue's names):

* ``goodput_ratio_1000_vs_4`` -- stored messages/s with 1,000 concurrent clients that honour
  ``Retry-After`` over stored messages/s with 4 clients, same server, same run (target >= 0.5). Each
  client is one registered device posting one sealed envelope (Ed25519, one reading) per request on a
  keep-alive connection (the clients start over the first second); a 429 (which closes the
  connection: the request was not read) makes it sleep the ``Retry-After`` seconds (plus up to 10 %
  jitter) before it connects and sends again; a 200 counts the messages the server says it stored. The reference is the
  4-client run: 4 clients keep the gate's 4 slots busy with no overload, so it is the goodput the
  server has to give; the ratio says how much of it survives 250 x the clients.
* ``health_p99_ms_under_overload`` -- p99 of ``GET /v1/health`` (a fresh request every 20 ms from a
  third process) during the 1,000-client run (target < 200).
* ``junk_1m_items_seconds`` / ``junk_1m_items_rss_mb`` -- one unauthenticated POST of a JSON array of
  1,000,000 zeros (2 MB): seconds to the answer, and the server's resident memory growth in MB
  (targets < 1 s, < 50 MB).

The load generator and the health prober are separate processes (this file with ``--generate`` /
``--probe``): bounded loops that stop by themselves after their duration, loopback only. The full
run repeats the 4 / 1,000 pair (``--repeats``) and reports the median ratio, each run in the notes.
The machine is shared (2 cores): its load average is in the result's ``machine``.

    .venv/bin/python bench/overload.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -- the load generator (its own process) -----------------------------------------------------------
async def _client(port: int, cred: dict, seq0: int, until: float, stats: dict, delay: float) -> None:
    from supplynet.ingest.envelope import seal

    await asyncio.sleep(delay)  # clients arrive over the first second, not all in one instant
    seq = seq0
    reader = writer = None
    while time.monotonic() < until:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            body = seal(cred["device_id"], cred["kid"], cred["private_key"], seq, datetime.now(UTC),
                        [{"kind": "condition", "temperature": 4.0}], {"temperature": "degC"})
            writer.write(b"POST /v1/ingest HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-ndjson\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), max(0.1, until - time.monotonic() + 5))
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            payload = await reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
            stats["requests"] += 1
            if status == 200:
                stats["stored"] += json.loads(payload)["stored"]
                seq += 1
            elif status == 429:
                stats["shed"] += 1
                wait = float(headers.get("retry-after", "1"))
                stats["retry_after_sum"] += wait
                await asyncio.sleep(min(wait * (1 + 0.1 * random.random()), max(0.0, until - time.monotonic())))
            else:
                stats["other"] += 1
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            stats["errors"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.1)
    if writer is not None:
        writer.close()


async def _generate(port: int, creds: list[dict], seq0: int, seconds: float) -> dict:
    stats = {"requests": 0, "stored": 0, "shed": 0, "other": 0, "errors": 0, "retry_after_sum": 0.0}
    t0 = time.monotonic()
    until = t0 + seconds
    ramp = min(1.0, seconds / 10)
    await asyncio.gather(*[_client(port, c, seq0, until, stats, ramp * k / len(creds)) for k, c in enumerate(creds)])
    stats["seconds"] = time.monotonic() - t0
    return stats


def _generate_main(port: int, creds_file: str, first: int, n: int, seq0: int, seconds: float) -> None:
    creds = json.loads(Path(creds_file).read_text())[first : first + n]
    print(json.dumps(asyncio.run(_generate(port, creds, seq0, seconds))), flush=True)


def _probe_main(port: int, seconds: float) -> None:
    import http.client

    lat: list[float] = []
    failures = 0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        t0 = time.perf_counter()
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=10)  # a fresh connection: what a prober does
            c.request("GET", "/v1/health")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 200:
                failures += 1
        except OSError:
            failures += 1
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)
    print(json.dumps({"latencies_ms": lat, "failures": failures}), flush=True)


# -- the orchestration ------------------------------------------------------------------------------
def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _run(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, env=env, text=True)


def _load(port: int, creds_file: Path, first: int, n: int, seq0: int, seconds: float, env: dict,
          probe: bool = False) -> tuple[dict, dict | None]:
    gen = _run(["--generate", str(port), str(creds_file), str(first), str(n), str(seq0), str(seconds)], env)
    prober = _run(["--probe", str(port), str(max(1.0, seconds - 2))], env) if probe else None
    out, _ = gen.communicate(timeout=seconds + 120)
    res = json.loads(out.strip().splitlines()[-1])
    pres = None
    if prober is not None:
        pout, _ = prober.communicate(timeout=seconds + 60)
        pres = json.loads(pout.strip().splitlines()[-1])
    return res, pres


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="shorter runs, one repeat")
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--generate", nargs=6, metavar=("PORT", "CREDS", "FIRST", "N", "SEQ0", "SECONDS"))
    p.add_argument("--probe", nargs=2, metavar=("PORT", "SECONDS"))
    a = p.parse_args()
    if a.generate:
        port, creds, first, n, seq0, seconds = a.generate
        _generate_main(int(port), creds, int(first), int(n), int(seq0), float(seconds))
        return
    if a.probe:
        _probe_main(int(a.probe[0]), float(a.probe[1]))
        return

    from _common import write_result

    from supplynet.model import example_path
    from supplynet.security.devices import DeviceRegistry
    from supplynet.store import open_store

    repeats = a.repeats or (1 if a.quick else 2)
    small_s, big_s = (5.0, 10.0) if a.quick else (10.0, 20.0)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with tempfile.TemporaryDirectory(prefix="overload-") as tmp:
        url = f"sqlite:///{tmp}/s.db"
        n_dev = 4 + a.clients
        with open_store(url) as st:
            reg = DeviceRegistry(st.devices, home=Path(tmp))
            creds = [reg.provision(f"ov-{i:05d}", measures=("temperature",), asset="R1") for i in range(n_dev)]
        creds_file = Path(tmp) / "creds.json"
        creds_file.write_text(json.dumps([{"device_id": c.device_id, "kid": c.kid, "private_key": c.private_key}
                                          for c in creds]))
        port = _free_port()
        log = open(Path(tmp) / "serve.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen([sys.executable, "-m", "supplynet.cli", "serve", "--store", url, "--port", str(port),
                                   "--network", str(example_path("tiny"))],
                                  stdout=log, stderr=subprocess.STDOUT, env={**env, "SUPPLYNET_HOME": tmp})
        try:
            import httpx

            deadline = time.monotonic() + 120
            while True:
                try:
                    if httpx.get(f"http://{HOST}:{port}/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the server did not start: " + (Path(tmp) / "serve.log").read_text()[-2000:])
                time.sleep(0.2)
            runs = []
            health: list[float] = []
            failures = 0
            for k in range(repeats):
                small, _ = _load(port, creds_file, 0, 4, 2 * k * 1_000_000, small_s, env)
                big, probe = _load(port, creds_file, 4, a.clients, (2 * k + 1) * 1_000_000, big_s, env, probe=True)
                rate4 = small["stored"] / small["seconds"]
                rate_n = big["stored"] / big["seconds"]
                health += probe["latencies_ms"]
                failures += probe["failures"]
                runs.append({"stored_per_s_4": round(rate4, 1), f"stored_per_s_{a.clients}": round(rate_n, 1),
                             "ratio": round(rate_n / rate4, 3) if rate4 else None,
                             "shed_429": big["shed"], "requests": big["requests"], "errors": big["errors"],
                             "mean_retry_after_s": round(big["retry_after_sum"] / max(big["shed"], 1), 2),
                             "health_p99_ms": round(_pct(probe["latencies_ms"], 99), 1)})
                print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
            time.sleep(1.0)
            rss0 = _rss_mb(server.pid)
            t0 = time.perf_counter()
            r = httpx.post(f"http://{HOST}:{port}/v1/ingest", content=b"[" + b"0," * 999_999 + b"0]",
                           headers={"content-type": "application/json"}, timeout=60)
            junk_s = time.perf_counter() - t0
            junk_rss = _rss_mb(server.pid) - rss0
            junk_status = r.status_code
        finally:
            server.terminate()
            server.wait(30)
            log.close()
    ratios = [x["ratio"] for x in runs if x["ratio"] is not None]
    figures = {"goodput_ratio_1000_vs_4": round(statistics.median(ratios), 3) if ratios else None,
               "health_p99_ms_under_overload": round(_pct(health, 99), 1),
               "junk_1m_items_seconds": round(junk_s, 3), "junk_1m_items_rss_mb": round(junk_rss, 1)}
    write_result("overload", figures,
                 targets={"goodput_ratio_1000_vs_4": ">= 0.5", "health_p99_ms_under_overload": "< 200",
                          "junk_1m_items_seconds": "< 1", "junk_1m_items_rss_mb": "< 50"},
                 notes={"runs": runs, "clients": a.clients, "quick": a.quick,
                        "seconds": {"4_clients": small_s, f"{a.clients}_clients": big_s},
                        "health_probes": len(health), "health_failures": failures, "junk_status": junk_status,
                        "reference": "the same server with 4 clients (no overload) in the same run; each client "
                                     "is a device posting one Ed25519-sealed envelope per request and sleeping "
                                     "Retry-After (+<=10% jitter) on 429",
                        "server": "supplynet serve (uvicorn, h11, one process) on SQLite in a temp folder; load "
                                  "generator and health prober in their own processes"})


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


if __name__ == "__main__":
    main()
