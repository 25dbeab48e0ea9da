"""Setting up the simulated world: the machines' run-to-failure histories, a traffic jam to detect.

Shared by ``supplynet demo`` and ``supplynet fleet`` (the world as a client of the platform).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..model import Network

__all__ = ["JAM_NEEDED_SHARE", "machine_histories", "schedule_jam"]


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


#: the demo's jam catches a load its store needs: one whose absence for the jam leaves at least this share of
#: what the store sells over the jam unserved (see :func:`supplynet.fleet._disrupt.shortfall_share`)
JAM_NEEDED_SHARE = 0.25


def _sales_per_cost(net: Network, lane_id: str) -> float:
    """What a day without the lane's loads costs its store in lost sales (the cost model's penalty x its mean
    demand) over what a load of a day's sales costs to send on it: where acting on a late load can pay."""
    ln = net.lane(lane_id)
    units = value = 0.0
    for d in net.demand:
        if d.site == ln.destination and ln.carries(d.sku):
            units += float(d.mean_per_day)
            value += float(d.mean_per_day) * float(net.cost_model.lost_sale_rate(d.site, d.sku))
    return value / max(float(ln.fixed_cost_per_shipment) + float(ln.cost_per_unit) * units, 1e-9)


def schedule_jam(net: Network, world: Any, start: datetime, days: int, hours: float) -> str:
    """A traffic jam on a tracked lane, a third of the way into the demo (the delay to detect and answer).

    The demo schedules it to show the platform answering a delay, so it puts it where a late load matters:
    on the tracked haul into a store whose lost sales per day weigh most against what sending a load on the
    lane costs (:func:`_sales_per_cost`; else the longest tracked lane), catching the next tracked trip from
    day ``days // 3`` that the store needs: one whose absence leaves :data:`JAM_NEEDED_SHARE` or more of what the
    store sells over the jam unserved (a top-up it does not need yet passes; after two days without such a
    trip, the next one all the same; :mod:`supplynet.fleet._disrupt`). Whether acting pays is still the
    platform's call, from the pings and the twin. The rule reads the world's own stock, so a reference policy
    run on the same seed faces the same jam: same lane, hours, start and rule (``bench/decisions.py``)."""
    if hours <= 0:
        return ""
    tracked = [ln for ln, trucks in world.trucks_by_lane.items() if ln and any(
        d.kind == "gps_tracker" for t in trucks for d in net.devices if d.bound_to.asset == t)]
    if not tracked:
        return ""
    kind = {x.id: x.kind for x in net.sites}
    to_store = [ln for ln in tracked if kind.get(net.lane(ln).destination) == "store"]
    if to_store:
        lane = max(to_store, key=lambda ln: (_sales_per_cost(net, ln), ln))
    else:
        lane = max(tracked, key=lambda ln: (net.lane(ln).lead_time.mean, ln))
    # the next *tracked* trip: a load on a hired truck (no tracker) would be late without the platform
    # seeing it, and the demo is about the delay it detects and answers
    world.jam(lane, at=start + timedelta(days=max(days // 3, 1)), hours=hours, tracked=True,
              needed_share=JAM_NEEDED_SHARE)
    return f"{lane} for {hours:g} h from day {max(days // 3, 1)}"
