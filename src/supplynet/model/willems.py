"""Import a Willems (2008) multi-echelon chain as a :class:`~supplynet.model.Network`.

Willems, S. P. (2008), "Real-world multiechelon supply chains used for inventory optimization",
MSOM 10(1): 19-23: 38 chains of 8 to 2,025 stages. Each CSV row is one stage: ``stage_id``,
``lead_time`` (days the stage adds), ``max_s_time``, ``cost_rate`` (cost the stage adds; ``cost`` in
some published textbook instances), ``risk_pool``, ``ext_demand_mean``/``ext_demand_std``/
``ext_demand_thres`` (external demand per day and its safety factor z) and then pairs
``upstream_stage, quantity``.

:func:`read_stages` (and :func:`parse_stages` on a string) is the one parser of the format: the
network importer below, the guaranteed-service model (:func:`supplynet.policy.gsm.willems_rows`)
and the simulator (``SimNetwork.from_willems``) all read the stages it returns.

Mapping (one site per stage, so stage ids are site ids):

* kind: a stage fed by several upstream stages assembles them, so it is a ``plant`` with a BOM
  (even when it also has external demand); a stage with no upstream is a ``supplier``; a
  single-fed stage with external demand is a ``store``; other single-fed stages are ``plant``
  when named ``Manuf``/``Part`` (they transform the item, one-component BOM) and ``dc``
  otherwise (``Dist``, ``Trans``, ...: they move it).
* skus: suppliers and plants make a sku named after the stage; dcs and stores pass on the sku
  of their single upstream stage.
* lead times, each stage's counted once: a supplier's on its outbound lanes, a plant's as its
  BOM's ``lead_time_days``, a dc's or store's on its inbound lane. The raw stage data is kept
  in ``site.meta`` (``lead_time``, ``max_service_time``, ``cost_rate``, ``risk_pool``,
  ``demand_z``).
* costs: a made sku's ``unit_cost`` is the stage's cumulative cost (its cost rate plus its
  components'); a dc's or store's cost rate is the ``cost_per_unit`` of its inbound lane. The
  data has no prices: ``price`` is 1.5x the largest cumulative cost of the sku in the chain;
  ``holding_cost_rate`` is 0.35 per year (the rate that reproduces the published optima).
* demand: ``Demand(mean_per_day, std_per_day, dist="normal")``; the safety factor z becomes a
  ``base_stock`` policy with the service level z was computed from
  (``Phi(z)`` up to the conversion's rounding of z to 3 decimals: 0.95 for 1.645).
* locations: the data has none; sites are laid out by echelon from west to east across the
  continental US (longitude by depth, latitude by rank), deterministic and only for drawing.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from statistics import NormalDist

from pydantic import ValidationError

from supplynet.errors import DataError, ModelValidationError
from supplynet.model._network import Network
from supplynet.model._schema import fmt_num

__all__ = ["HOLDING_COST_RATE", "PRICE_MARKUP", "WillemsStage", "load_willems", "parse_stages", "read_reported_costs",
           "read_stages", "willems_dir", "willems_files"]

#: price = PRICE_MARKUP x cumulative cost (the data set has no prices)
PRICE_MARKUP = 1.5
#: yearly holding cost rate; 35% of cumulative cost reproduces the published optimal costs of the
#: chains with deterministic lead times (see bench/gsm.py)
HOLDING_COST_RATE = 0.35
_COLUMNS = ("stage_id", "lead_time", "max_s_time", "cost_rate", "risk_pool", "ext_demand_mean",
            "ext_demand_std", "ext_demand_thres")
_MAKERS = ("manuf", "part")


@dataclass
class WillemsStage:
    """One row of a Willems CSV."""

    id: str
    lead_time: float
    max_service_time: float | None
    cost_rate: float
    risk_pool: float | None
    demand_mean: float | None
    demand_std: float | None
    demand_z: float | None
    upstream: list[tuple[str, float]] = field(default_factory=list)
    line: int = 0


def willems_dir(data_dir: str | Path | None = None) -> Path:
    """``<data>/willems2008`` where data is ``data_dir``, ``$SUPPLYNET_DATA_DIR`` or ``../shared/data``."""
    base = data_dir or os.environ.get("SUPPLYNET_DATA_DIR") or "../shared/data"
    return Path(base) / "willems2008"


def willems_files(data_dir: str | Path | None = None) -> list[Path]:
    """The chain CSVs (``willems_01.csv`` ...) present in the data folder, sorted."""
    return sorted(willems_dir(data_dir).glob("willems_[0-9][0-9].csv"))


def read_reported_costs(path: str | Path) -> dict[int, float]:
    """``reported_optimal_cost.txt`` of the data set: one cost per line, chain 1 first."""
    path = Path(path)
    out: dict[int, float] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                out[i] = float(line)
            except ValueError as exc:
                raise DataError(f"{path}:{i}: not a number: {line!r}") from exc
    return out


def _number(text: str, path: str | Path, line: int, column: str, *, required: bool) -> float | None:
    text = text.strip()
    if not text:
        if required:
            raise DataError(f"{path}:{line} {column}: missing value")
        return None
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{path}:{line} {column}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise DataError(f"{path}:{line} {column}: expected a finite number, got {text!r}")
    return value


def read_stages(path: str | Path) -> list[WillemsStage]:
    """Parse a Willems CSV into stages, checking columns, numbers and upstream references."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: Willems chain file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the Willems chain ({exc.strerror})") from exc
    return parse_stages(text, path)


def parse_stages(text: str, path: str | Path = "<string>") -> list[WillemsStage]:
    """:func:`read_stages` on the text of a chain CSV; errors name ``path``, the line and the column."""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [c.strip() for c in rows[0][: len(_COLUMNS)]] if rows else []
    if header[3:4] == ["cost"]:  # the published textbook instances' name of the column
        header[3] = "cost_rate"
    if tuple(header) != _COLUMNS:
        raise DataError(f"{path}:1: expected the header {','.join(_COLUMNS)},up_stages")
    stages: list[WillemsStage] = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        row = row + [""] * (len(_COLUMNS) - len(row))
        sid = row[0].strip()
        if not sid:
            raise DataError(f"{path}:{line} stage_id: missing value")
        num = {c: row[i] for i, c in enumerate(_COLUMNS)}
        lead = _number(num["lead_time"], path, line, "lead_time", required=False) or 0.0
        cost = _number(num["cost_rate"], path, line, "cost_rate", required=False) or 0.0
        for column, value in (("lead_time", lead), ("cost_rate", cost)):
            if value < 0:
                raise DataError(f"{path}:{line} {column}: must be >= 0, got {fmt_num(value)}")
        tail = [c.strip() for c in row[len(_COLUMNS):]]
        while tail and not tail[-1]:
            tail.pop()
        if len(tail) % 2:
            raise DataError(f"{path}:{line} up_stages: expected pairs of stage id and quantity")
        upstream = []
        for k in range(0, len(tail), 2):
            qty = _number(tail[k + 1], path, line, f"quantity of {tail[k]}", required=True)
            if qty is None or qty <= 0:
                raise DataError(f"{path}:{line} up_stages: quantity of {tail[k]} must be > 0, got {tail[k + 1]!r}")
            upstream.append((tail[k], qty))
        mean = _number(num["ext_demand_mean"], path, line, "ext_demand_mean", required=False)
        std = _number(num["ext_demand_std"], path, line, "ext_demand_std", required=False)
        if std is not None and std < 0:
            raise DataError(f"{path}:{line} ext_demand_std: must be >= 0, got {fmt_num(std)}")
        stages.append(WillemsStage(
            id=sid, lead_time=lead, cost_rate=cost,
            max_service_time=_number(num["max_s_time"], path, line, "max_s_time", required=False),
            risk_pool=_number(num["risk_pool"], path, line, "risk_pool", required=False),
            demand_mean=mean, demand_std=std,
            demand_z=_number(num["ext_demand_thres"], path, line, "ext_demand_thres", required=False),
            upstream=upstream, line=line,
        ))
    if not stages:
        raise DataError(f"{path}: no stages")
    ids: dict[str, int] = {}
    for s in stages:
        if s.id in ids:
            raise DataError(f"{path}:{s.line} stage_id: duplicate stage '{s.id}' (first at line {ids[s.id]})")
        ids[s.id] = s.line
    for s in stages:
        for up, _ in s.upstream:
            if up not in ids:
                raise DataError(f"{path}:{s.line} up_stages: unknown stage '{up}'")
            if up == s.id:
                raise DataError(f"{path}:{s.line} up_stages: stage '{s.id}' feeds itself")
    return stages


def _kind(stage: WillemsStage) -> str:
    if len(stage.upstream) > 1:
        return "plant"
    if not stage.upstream:
        return "supplier"
    if stage.demand_mean is not None:
        return "store"
    return "plant" if stage.id.lower().startswith(_MAKERS) else "dc"


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _service_level(z: float) -> float:
    """The service level a CSV safety factor came from: the conversion wrote
    ``round(norm.ppf(serviceLevel), 3)``, so the level with the fewest decimals (2 to 4) whose
    quantile rounds to ``z`` (0.95 for 1.645, not 0.950015); ``Phi(z)`` when there is none."""
    nd = NormalDist()
    for decimals in (2, 3, 4):
        level = round(nd.cdf(z), decimals)
        if 0.0 < level < 1.0 and round(nd.inv_cdf(level), 3) == round(z, 3):
            return level
    return round(_phi(z), 6)


def load_willems(path: str | Path) -> Network:
    """Read ``willems_NN.csv`` into a validated Network (see the module docstring for the mapping)."""
    path = Path(path)
    stages = read_stages(path)
    by_id = {s.id: s for s in stages}
    try:
        order = list(TopologicalSorter({s.id: [u for u, _ in s.upstream] for s in stages}).static_order())
    except CycleError as exc:
        raise DataError(f"{path}: the stages form a cycle: {' -> '.join(exc.args[1])}") from None

    kind = {s.id: _kind(s) for s in stages}
    sku: dict[str, str] = {}
    value: dict[str, float] = {}  # cumulative cost of the item at each stage
    depth: dict[str, int] = {}
    for sid in order:
        s = by_id[sid]
        sku[sid] = sid if kind[sid] in ("supplier", "plant") else sku[s.upstream[0][0]]
        value[sid] = s.cost_rate + sum(q * value[u] for u, q in s.upstream)
        depth[sid] = 1 + max((depth[u] for u, _ in s.upstream), default=-1)

    max_depth = max(depth.values()) or 1
    layers: dict[int, list[str]] = defaultdict(list)
    for s in stages:
        layers[depth[s.id]].append(s.id)
    location = {}
    for d, members in layers.items():
        for rank, sid in enumerate(members):
            location[sid] = {"lat": round(27.0 + 20.0 * (rank + 0.5) / len(members), 4),
                             "lon": round(-122.0 + 48.0 * d / max_depth, 4)}

    top_value: dict[str, float] = defaultdict(float)
    for s in stages:
        top_value[sku[s.id]] = max(top_value[sku[s.id]], value[s.id])

    sites, products, lanes, boms, demand, policies = [], [], [], [], [], []
    for s in stages:
        meta = {"stage": s.id, "lead_time": s.lead_time, "max_service_time": s.max_service_time,
                "cost_rate": s.cost_rate, "risk_pool": s.risk_pool, "demand_z": s.demand_z}
        sites.append({"id": s.id, "kind": kind[s.id], "location": location[s.id], "meta": meta})
        if kind[s.id] in ("supplier", "plant"):
            products.append({"sku": s.id, "unit_cost": value[s.id], "price": PRICE_MARKUP * top_value[s.id],
                             "holding_cost_rate": HOLDING_COST_RATE,
                             "meta": {"cost_rate": s.cost_rate}})
        for up, _ in s.upstream:
            lead = (by_id[up].lead_time if kind[up] == "supplier" else 0.0)
            lead += s.lead_time if kind[s.id] in ("dc", "store") else 0.0
            lanes.append({"id": f"{up}--{s.id}", "origin": up, "destination": s.id, "lead_time": lead,
                          "cost_per_unit": s.cost_rate if kind[s.id] in ("dc", "store") else 0.0,
                          "skus": [sku[up]]})
        if kind[s.id] == "plant":
            qty: dict[str, float] = defaultdict(float)
            for up, q in s.upstream:
                qty[sku[up]] += q
            boms.append({"plant": s.id, "output_sku": s.id, "lead_time_days": s.lead_time,
                         "components": [{"sku": k, "quantity": q} for k, q in qty.items()]})
        if s.demand_mean is not None:
            entry = {"site": s.id, "sku": sku[s.id], "mean_per_day": s.demand_mean, "dist": "normal"}
            if s.demand_std is not None:
                entry["std_per_day"] = s.demand_std
            demand.append(entry)
            if s.demand_z is not None:
                level = min(max(_service_level(s.demand_z), 1e-6), 1 - 1e-6)
                policies.append({"site": s.id, "sku": sku[s.id], "type": "base_stock", "service_level": level})

    meta = {"source": "Willems (2008) MSOM data set", "file": path.name, "stages": len(stages)}
    meta.update(_industry(path))
    data = {"name": path.stem, "meta": meta, "sites": sites, "products": products, "lanes": lanes,
            "boms": boms, "demand": demand, "policies": policies}
    try:
        return Network.model_validate(data)
    except (ModelValidationError, ValidationError) as exc:  # the mapping above should never produce one
        raise DataError(f"{path}: imported network is invalid: {exc}") from exc


def _industry(path: Path) -> dict[str, str | int]:
    """Industry of chain NN from ``index.csv`` beside the file (chain, company, SIC, industry)."""
    index = path.with_name("index.csv")
    try:
        number = int(path.stem.rsplit("_", 1)[-1])
        with index.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                if len(row) >= 4 and row[0].strip() == str(number):
                    return {"chain": number, "sic": row[2].strip(), "industry": row[3].strip()}
    except (OSError, ValueError):
        pass
    return {}
