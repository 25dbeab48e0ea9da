"""Setting up the simulated world: the machines' run-to-failure histories, a traffic jam to detect.

Shared by ``supplynet demo`` and ``supplynet fleet`` (the world as a client of the platform).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..model import Network

__all__ = ["machine_histories", "schedule_jam"]


def machine_histories(data_dir: str | Path | None, seed: int) -> tuple[Any, Any, str]:
    """Run-to-failure histories for the machines: the model learns from the first 80% of the units,
    the fleet's machines replay the rest (never seen in training). C-MAPSS FD001 when the data
    folder has it, else generated wear in the same layout."""
    from ..datasets.cmapss import generate_wear_fleet, load_cmapss

    frame, source = None, "generated wear"
    if data_dir is not None and any((Path(data_dir) / "cmapss").glob("train_FD001.txt*")):
        frame, source = load_cmapss(Path(data_dir) / "cmapss", "FD001", test=False).train, "C-MAPSS FD001"
    if frame is None:
        frame = generate_wear_fleet(60, seed)
    units = sorted(frame["unit"].unique())
    cut = units[int(len(units) * 0.8)]
    return frame[frame["unit"] < cut], frame[frame["unit"] >= cut], source


def schedule_jam(net: Network, world: Any, start: datetime, days: int, hours: float) -> str:
    """A traffic jam on a tracked lane, a third of the way into the demo (the delay to detect): the longest
    tracked haul into a store (where a late load costs sales), else the longest tracked lane."""
    if hours <= 0:
        return ""
    tracked = [ln for ln, trucks in world.trucks_by_lane.items() if ln and any(
        d.kind == "gps_tracker" for t in trucks for d in net.devices if d.bound_to.asset == t)]
    if not tracked:
        return ""
    # where a late load hurts: into a store (lost sales) when a tracked lane goes there; the longest such haul
    kind = {x.id: x.kind for x in net.sites}
    to_store = [ln for ln in tracked if kind.get(net.lane(ln).destination) == "store"]
    lane = max(to_store or tracked, key=lambda ln: (net.lane(ln).lead_time.mean, ln))
    # the next *tracked* trip: a load on a hired truck (no tracker) would be late without the platform
    # seeing it, and the demo is about the delay it detects and answers
    world.jam(lane, at=start + timedelta(days=max(days // 3, 1)), hours=hours, tracked=True)
    return f"{lane} for {hours:g} h from day {max(days // 3, 1)}"
