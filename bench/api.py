"""API load: state and events reads on the realistic example network while ingestion runs.

The service runs in its own process (uvicorn, as ``supplynet serve``) on a SQLite store pre-filled by
the device fleet (a few simulated days); meanwhile this process keeps ingesting: the fleet steps one
simulated hour at a time and appends its events to the same store, so every read also catches the
twin up with new events. Load: ``wrk`` (Debian package) on loopback when installed, else a bounded
httpx/asyncio generator. Figures: ``state_reads_per_s``, ``state_p99_ms`` (GET /v1/state/inventory,
500 rows); events reads are in the notes. Target: p99 < 100 ms for state reads.

    .venv/bin/python bench/api.py
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from supplynet.fleet import Fleet, LogSink  # noqa: E402
from supplynet.model import example_path, load_network  # noqa: E402
from supplynet.security.tokens import TokenService  # noqa: E402
from supplynet.store import open_store  # noqa: E402

DURATION_S = 15
CONNECTIONS = 8
SERVER = textwrap.dedent("""
    import sys, time
    from supplynet.api.middleware import Limits
    from supplynet.commands.serve import serve_in_background
    from supplynet.config import Settings
    from supplynet.model import example_path, load_network
    url, stop = serve_in_background(Settings(environment="test", store_url=sys.argv[1]),
                                    load_network(example_path("realistic")), port=int(sys.argv[2]),
                                    limits=Limits(rate_per_s=1e6, burst=1e6))
    print("READY", flush=True)
    sys.stdin.read()
    stop()
""")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def run_wrk(url: str, token: str) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION_S}s", "--latency", "-H",
                          f"Authorization: Bearer {token}", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99_ms": p99, "p50_ms": p50, "non_2xx": int(errors.group(1)) if errors else 0}


def run_httpx(url: str, token: str) -> dict[str, float]:
    import httpx

    lat: list[float] = []
    bad = [0]

    async def worker(client: httpx.AsyncClient, end: float) -> None:
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            r = await client.get(url)
            lat.append(time.perf_counter() - t0)
            bad[0] += r.status_code != 200

    async def main() -> float:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            t0 = time.perf_counter()
            end = t0 + DURATION_S
            await asyncio.gather(*(worker(client, end) for _ in range(CONNECTIONS)))
            return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    lat.sort()
    return {"rps": len(lat) / elapsed, "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))],
            "p50_ms": 1000 * lat[len(lat) // 2], "non_2xx": bad[0]}


def main() -> None:
    net = load_network(example_path("realistic"))
    home = Path(tempfile.mkdtemp(prefix="bench-api-"))
    url = f"sqlite:///{home / 'api.db'}"
    start = datetime(2026, 1, 5, tzinfo=UTC)
    with open_store(url) as st:
        token = TokenService(st).create(role="viewer", name="bench")[0]
        fleet = Fleet(net, seed=1, start=start, sink=LogSink(st))
        fleet.start()
        for _ in range(3 * 24):
            fleet.step()
        prefilled = st.log.count()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, url, str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "READY"
        stop = threading.Event()
        ingested = [0]

        def ingest() -> None:  # keep ingesting while the reads run (one simulated hour at a time)
            with open_store(url) as st2:
                f2 = Fleet(net, seed=2, start=start, sink=LogSink(st2))
                f2.world.emitter.seq.update({k: v + 10**9 for k, v in st2.log.high_waters().items()})
                while not stop.is_set():
                    ingested[0] += f2.step()
                    time.sleep(0.05)

        th = threading.Thread(target=ingest, daemon=True)
        th.start()
        base = f"http://127.0.0.1:{port}"
        tool = "wrk" if shutil.which("wrk") else "httpx"
        run = run_wrk if tool == "wrk" else run_httpx
        t0 = time.perf_counter()
        state = run(f"{base}/v1/state/inventory?limit=500", token)
        events = run(f"{base}/v1/events?limit=100&kind=sale", token)
        elapsed = time.perf_counter() - t0
        stop.set()
        th.join(timeout=30)
    finally:
        if server.stdin:
            server.stdin.close()
        server.wait(timeout=30)
    write_result(
        "api",
        {"state_reads_per_s": round(state["rps"], 1), "state_p99_ms": round(state["p99_ms"], 2)},
        {"state_p99_ms": "< 100"},
        notes={"tool": tool, "connections": CONNECTIONS, "duration_s_each": DURATION_S,
               "state_endpoint": "GET /v1/state/inventory?limit=500 (viewer token)", "state_p50_ms": state["p50_ms"],
               "state_non_2xx": state["non_2xx"], "events_endpoint": "GET /v1/events?limit=100&kind=sale",
               "events_reads_per_s": round(events["rps"], 1), "events_p99_ms": round(events["p99_ms"], 2),
               "events_non_2xx": events["non_2xx"], "events_prefilled": prefilled,
               "events_ingested_during_reads": ingested[0],
               "ingest_events_per_s_during_reads": round(ingested[0] / elapsed, 1),
               "network": net.name, "rate_limit": "lifted for the benchmark (one client token)", "server": "uvicorn, 1 process (the twin lives in it)",
               "twin_refresh_s": 0.1, "token_cache_s": 1.0,
               "state_reads": "served from a page cached per published twin offset (no lock, no thread hop); "
                              "a catch-up at most every twin_refresh_s, rows serialized once per record",
               "cpus_shared": os.cpu_count()})


if __name__ == "__main__":
    main()
