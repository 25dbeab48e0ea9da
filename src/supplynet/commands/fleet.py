"""``supplynet fleet``: the simulated world as a client of a running platform.

    supplynet fleet --store sqlite:///.supplynet/supplynet.db --network network.yaml --days 21 \\
        --speed 3600 --actions .supplynet/actions

Devices report through the real ingestion gate (provisioned in the store's registry); the world
carries out what a ``file`` sink writes into ``--actions`` (orders ship, work orders stop machines,
expedites and reroutes speed loads), each action id once. ``--speed`` is simulated seconds per wall
second (``max``: as fast as possible). Lines already in the actions folder when the fleet starts
belong to an earlier world and are skipped. Prints a JSON report at the end (or on Ctrl-C): hours
run, events sent, what the gate did with the envelopes (``late`` or ``quarantined`` ones at a finite
speed mean the machine could not keep up with it: choose a lower one), actions carried out and
repeats ignored, and the world's own statistics (demand, sales, shipments, failures).
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from supplynet.errors import DataError

from .options import StoreOpt


def parse_speed(text: str) -> float | None:
    """``max`` -> None (as fast as possible); a number > 0 -> simulated seconds per wall second."""
    if text.strip().lower() == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        v = float("nan")
    if not 0 < v <= 1e9:  # NaN fails too; beyond a billion simulated seconds a second, say max
        raise DataError(f"--speed {text!r}: give simulated seconds per wall second (a number > 0, at most 1e9) "
                        f"or max")
    return v


def _start(text: str | None) -> datetime:
    if text is None:
        return datetime(2026, 1, 5, tzinfo=UTC)  # the demo's start: same seed, same world
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DataError(f"--start {text!r}: expected an ISO time such as 2026-01-05T00:00:00Z") from None
    t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    if not _EARLIEST <= t <= _LATEST:  # the gate takes no reading dated outside its window of plausible times
        raise DataError(f"--start {text!r}: give a time between {_EARLIEST:%Y-%m-%d} and {_LATEST:%Y-%m-%d}")
    return t


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def fleet(network: Annotated[Path, typer.Option("--network", help="the network file (YAML)")],
          days: Annotated[float, typer.Option("--days", min=0.01, max=3650, help="simulated days")],
          speed: Annotated[str, typer.Option("--speed", help="simulated seconds per wall second, or max")] = "max",
          seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1,
                                            help="random seed (same seed, same world)")] = 7,
          data_dir: Annotated[Path | None, typer.Option("--data-dir", help="public datasets to replay (Walmart "
                                                                           "sales, C-MAPSS, GPS traces)")] = None,
          actions: Annotated[Path | None, typer.Option("--actions", help="folder a file sink writes actions to "
                                                                         "(JSONL)")] = None,
          start: Annotated[str | None, typer.Option("--start", help="simulated start time (default "
                                                                    "2026-01-05T00:00Z)")] = None,
          home: Annotated[Path, typer.Option("--home", help="folder for the vault key of hmac devices")] = Path(
              ".supplynet"),
          store: StoreOpt = None) -> None:
    """Run the simulated world against a store: devices through the gate, actions from a file sink."""
    from supplynet.config import Settings
    from supplynet.fleet import run_fleet
    from supplynet.model import load_network
    from supplynet.store import open_store

    pace = parse_speed(speed)
    begin = _start(start)
    if data_dir is not None and not data_dir.is_dir():
        raise DataError(f"--data-dir {data_dir}: not a folder")
    if actions is not None and actions.exists() and not actions.is_dir():
        raise DataError(f"--actions {actions}: not a folder")
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"--home {home}: cannot create the folder ({exc.strerror})") from None
    net = load_network(network)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    def ready() -> None:
        sys.stderr.write(f"fleet: {net.name} running from {begin.isoformat()} for {days:g} days at speed "
                         f"{speed}" + (f", actions from {actions}" if actions else "") + "\n")
        sys.stderr.flush()

    with open_store(store or Settings().resolved_store_url()) as st:
        report = run_fleet(st, net, days=days, speed=pace, seed=seed, data_dir=data_dir, actions=actions,
                           start=begin, home=home, stop=stop, on_ready=ready)
    out = report.to_json()
    out["carried_out"] = out["carried_out"][:200]
    out["actions_refused"] = out["actions_refused"][:200]
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
