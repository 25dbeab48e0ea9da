"""Where the stores' lost units fall: by cause, day, SKU and store, for one seed of the decisions bench's live loop.

Run from the repo root: ``PYTHONPATH=src .venv/bin/python bench/_lost_units.py SEED [DAYS]`` (prints; writes
nothing). Each sale with ``unfilled > 0`` is attributed, on the world's ground truth at that moment, to: ``dc had
stock`` (its DC held at least the units lost: a store-level cause - sizing, sensing, release timing), ``dc partly``,
``dc out`` and ``dc+plant out`` (its DC short and the plant making the SKU empty too). The diagnosis behind session
fill16's demand-sensor changes (seed 0 before: 83% ``dc had stock``).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import decisions as bench  # noqa: E402


def cause(r: dict[str, Any]) -> str:
    if r["plant_stock"] is not None and r["plant_stock"] < 1 and r["dc_stock"] < r["unfilled"]:
        return "dc+plant out"
    if r["dc_stock"] >= r["unfilled"]:
        return "dc had stock"
    return "dc partly" if r["dc_stock"] > 0 else "dc out"


def main(seed: int, days: int = 21) -> None:
    import supplynet.fleet._live as live_fleet

    rows: list[dict[str, Any]] = []
    original = live_fleet.LiveFleet

    class Watched(original):  # type: ignore[misc,valid-type]
        def open(self) -> int:
            w = self.world
            kind = {s.id: s.kind for s in w.net.sites}
            dc_of = {ln.destination: ln.origin for ln in w.net.lanes if kind.get(ln.destination) == "store"}
            plant_of = {b.output_sku: b.plant for b in w.net.boms}
            emit = w._emit

            def watched(cls: Any, source: str, **kw: Any) -> None:
                if cls.model_fields["kind"].default == "sale" and kw.get("unfilled", 0) > 0:
                    site, sku = kw["site"], kw["sku"]
                    plant = plant_of.get(sku)
                    rows.append({"day": (w.t - w.start).days, "site": site, "sku": sku, "unfilled": kw["unfilled"],
                                 "dc_stock": w.stock[(dc_of.get(site), sku)],
                                 "plant_stock": w.stock[(plant, sku)] if plant else None})
                emit(cls, source, **kw)

            w._emit = watched
            return super().open()

    live_fleet.LiveFleet = Watched  # type: ignore[misc]
    try:
        with tempfile.TemporaryDirectory(prefix="lost-units-") as d:
            out = bench.live(seed, days, bench.DATA if bench.DATA.is_dir() else None, Path(d) / "home")
    finally:
        live_fleet.LiveFleet = original  # type: ignore[misc]
    by_cause, by_day = Counter[str](), defaultdict(Counter)
    by_sku, by_site = Counter[str](), Counter[str]()
    for r in rows:
        c = cause(r)
        by_cause[c] += r["unfilled"]
        by_day[r["day"]][c] += r["unfilled"]
        by_sku[r["sku"]] += r["unfilled"]
        by_site[r["site"]] += r["unfilled"]
    print(f"seed {seed}: store fill {out['store_fill_rate']}, lost {sum(by_cause.values()):,.0f} units")
    print("by cause:", {k: round(v) for k, v in by_cause.most_common()})
    for day in sorted(by_day):
        print(f"  day {day:2d}:", {k: round(v) for k, v in by_day[day].most_common()})
    print("by SKU:", [(k, round(v)) for k, v in by_sku.most_common(10)])
    print("by store:", [(k, round(v)) for k, v in by_site.most_common(10)])


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0, int(sys.argv[2]) if len(sys.argv) > 2 else 21)
