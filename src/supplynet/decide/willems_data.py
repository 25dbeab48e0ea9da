"""Thin loader of the Willems (2008) chain CSVs for the guaranteed-service optimiser.

Willems, S. P. (2008), "Data Set: Real-World Multiechelon Supply Chains Used for Inventory
Optimization", MSOM 10(1):19-23; CSV conversion with columns
``stage_id, lead_time, max_s_time, cost_rate|cost, risk_pool, ext_demand_mean, ext_demand_std,
ext_demand_thres, up_stages...`` where ``up_stages`` repeats ``stage, quantity`` pairs. The
network-model importer (``supplynet.model.willems``) is separate; this module returns the raw rows
that :func:`supplynet.decide.gsm.GsmProblem.from_stages` consumes.

The CSVs keep only a stage's mean lead time where the source had a stochastic or piecewise lead
time (see the data folder's README), so some published optima cannot be reproduced from them.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from supplynet.errors import DataError

__all__ = ["StageRow", "data_dir", "parse_willems_csv", "read_reported_costs", "read_willems_csv"]


@dataclass(frozen=True)
class StageRow:
    id: str
    lead_time: float
    added_cost: float
    max_service_time: float | None = None
    demand_mean: float | None = None
    demand_std: float | None = None
    service_factor: float | None = None  # z of the demand bound at a demand stage
    risk_pool: float | None = None
    upstream: tuple[tuple[str, float], ...] = field(default_factory=tuple)  # (stage id, quantity)


def data_dir() -> Path:
    """``$SUPPLYNET_DATA_DIR/willems2008`` or ``../shared/data/willems2008`` from the repo root."""
    base = os.environ.get("SUPPLYNET_DATA_DIR")
    root = Path(base) if base else Path(__file__).resolve().parents[3] / ".." / "shared" / "data"
    return (root / "willems2008").resolve()


def _num(text: str, where: str) -> float | None:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return None
    try:
        v = float(text)
    except ValueError as exc:
        raise DataError(f"{where}: not a number: {text!r}") from exc
    if not math.isfinite(v):
        raise DataError(f"{where}: not a finite number: {text!r}")
    return v


def parse_willems_csv(text: str, filename: str = "<string>") -> list[StageRow]:
    """Parse one chain; errors name the file, line and column."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DataError(f"{filename}: empty file")
    header = [h.strip() for h in rows[0]]
    need = ["stage_id", "lead_time", "max_s_time"]
    for col in need:
        if col not in header:
            raise DataError(f"{filename}:1: missing column {col!r} (header {header})")
    cost_col = "cost_rate" if "cost_rate" in header else "cost" if "cost" in header else None
    if cost_col is None:
        raise DataError(f"{filename}:1: missing column 'cost_rate' (or 'cost')")
    col = {name: i for i, name in enumerate(header)}
    up_at = col.get("up_stages", len(header) - 1)
    out: list[StageRow] = []
    seen: set[str] = set()
    for ln, row in enumerate(rows[1:], start=2):
        if not row or all(c.strip() == "" for c in row):
            continue
        row = row + [""] * (len(header) - len(row))

        def get(name: str, row: list[str] = row, ln: int = ln) -> float | None:
            return _num(row[col[name]], f"{filename}:{ln} {name}") if name in col else None

        sid = row[col["stage_id"]].strip()
        if not sid:
            raise DataError(f"{filename}:{ln} stage_id: empty")
        if sid in seen:
            raise DataError(f"{filename}:{ln} stage_id: duplicate stage {sid!r}")
        seen.add(sid)
        lt = get("lead_time")
        if lt is None or lt < 0:
            raise DataError(
                f"{filename}:{ln} lead_time: must be a number >= 0, got {row[col['lead_time']]!r}"
            )
        cost = get(cost_col)
        if cost is None or cost < 0:
            raise DataError(f"{filename}:{ln} {cost_col}: must be a number >= 0, got {row[col[cost_col]]!r}")
        ups = [c.strip() for c in row[up_at:]]
        while ups and ups[-1] == "":
            ups.pop()
        if len(ups) % 2:
            raise DataError(f"{filename}:{ln} up_stages: expected stage,quantity pairs, got {ups}")
        pairs = []
        for k in range(0, len(ups), 2):
            q = _num(ups[k + 1], f"{filename}:{ln} up_stages quantity of {ups[k]!r}")
            if q is None or q <= 0:
                raise DataError(f"{filename}:{ln} up_stages: quantity of {ups[k]!r} must be > 0")
            pairs.append((ups[k], q))
        mean, std = get("ext_demand_mean"), get("ext_demand_std")
        if (mean is None) != (std is None):
            raise DataError(f"{filename}:{ln} ext_demand_std: give both mean and std or neither")
        out.append(
            StageRow(
                id=sid,
                lead_time=lt,
                added_cost=cost,
                max_service_time=get("max_s_time"),
                demand_mean=mean,
                demand_std=std,
                service_factor=get("ext_demand_thres"),
                risk_pool=get("risk_pool"),
                upstream=tuple(pairs),
            )
        )
    ids = {r.id for r in out}
    for r in out:
        for u, _ in r.upstream:
            if u not in ids:
                raise DataError(f"{filename}: stage {r.id!r} lists unknown upstream stage {u!r}")
    return out


def read_willems_csv(path: str | Path) -> list[StageRow]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise DataError(f"{p}: cannot read: {exc}") from exc
    return parse_willems_csv(text, str(p))


def read_reported_costs(path: str | Path) -> dict[int, float]:
    """``reported_optimal_cost.txt``: one cost per line, chain 1 first."""
    p = Path(path)
    out: dict[int, float] = {}
    for i, line in enumerate(p.read_text().splitlines(), start=1):
        if line.strip():
            try:
                out[i] = float(line)
            except ValueError as exc:
                raise DataError(f"{p}:{i}: not a number: {line!r}") from exc
    return out
