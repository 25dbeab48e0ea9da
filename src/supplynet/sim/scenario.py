"""Scenarios: named sets of disruptions, read from YAML, compiled to the kernel's event arrays.

    name: port_closure
    description: the main sea port closes for two to four weeks
    events:
      - type: lane_closure
        target: {lane_mode: sea, pick: all}
        start: {dist: uniform, low: 10, high: 30}
        duration: {dist: triangular, low: 14, mode: 21, high: 35}
        severity: 1.0

A library ships in ``supplynet/sim/scenarios/`` (:func:`library`); :func:`load_scenario` takes a
library name or a path. Start and duration are drawn once per replication by inverse-CDF from the
replication's counter-based uniforms, so compared runs share them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from supplynet.errors import SimulationError
from supplynet.sim._kernel import uniform_np
from supplynet.sim.disruptions import KINDS, LANE_KINDS, Disruption, Target
from supplynet.sim.network import SimNetwork

__all__ = ["EventArrays", "Scenario", "ScenarioLike", "library", "load_scenario", "parse_scenario"]

_STREAM = 1_000_003


@dataclass
class EventArrays:
    """Kernel form of a scenario: one row per (event, matched site or lane)."""

    kind: np.ndarray
    site: np.ndarray
    lane: np.ndarray
    sku: np.ndarray
    severity: np.ndarray
    start: np.ndarray      # [R, E] first day
    end: np.ndarray        # [R, E] first day after
    labels: list[str] = field(default_factory=list)
    max_lead_factor: float = 1.0

    @classmethod
    def empty(cls, replications: int) -> EventArrays:
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, np.zeros(0), np.zeros((replications, 0), np.int64),
                   np.zeros((replications, 0), np.int64))


@runtime_checkable
class ScenarioLike(Protocol):
    """What the engine uses of a scenario: its name (the run's) and its events compiled for a network
    and the replications' keys. :class:`Scenario` is the one the YAML files make; any object with
    these two members runs (e.g. a scenario generated in code)."""

    @property
    def name(self) -> str: ...

    def compile(self, net: SimNetwork, keys: np.ndarray, horizon: int) -> EventArrays:
        """Targets resolved on ``net``; start and end days drawn per replication key."""
        ...


@dataclass(frozen=True)
class Scenario:
    """A named set of disruptions (a :class:`ScenarioLike`)."""

    name: str
    events: tuple[Disruption, ...] = ()
    description: str = ""

    def compile(self, net: SimNetwork, keys: np.ndarray, horizon: int) -> EventArrays:
        """Resolve targets on ``net`` and draw start and duration per replication key."""
        R = len(keys)
        rows: list[tuple[int, int, int, int, float, int, str]] = []
        mu, _ = net.mean_flow()
        for e, ev in enumerate(self.events):
            skus = self._skus(net, ev)
            if ev.type in LANE_KINDS:
                for k in self._lanes(net, ev.target, mu, ev.where):
                    for j in skus:
                        label = f"{ev.type}:{'all' if k < 0 else net.lanes[k]}"
                        rows.append((KINDS[ev.type], -1, k, j, ev.severity, e, label))
            else:
                for s in self._sites(net, ev, mu):
                    for j in skus:
                        label = f"{ev.type}:{'all' if s < 0 else net.sites[s]}"
                        rows.append((KINDS[ev.type], s, -1, j, ev.severity, e, label))
        start = np.zeros((R, len(rows)), np.int64)
        end = np.zeros((R, len(rows)), np.int64)
        lead = 1.0
        for e, ev in enumerate(self.events):
            st = np.rint(ev.start.ppf(uniform_np(keys, -1, e, _STREAM))).astype(np.int64)
            du = np.maximum(np.rint(ev.duration.ppf(uniform_np(keys, -1, e, _STREAM + 1))), 1).astype(np.int64)
            cols = [c for c, row in enumerate(rows) if row[5] == e]
            start[:, cols] = st[:, None]
            end[:, cols] = (st + du)[:, None]
            if ev.type == "lead_time_shock":
                lead *= 1.0 + ev.severity
        arr = np.array([r[:5] for r in rows], dtype=float).reshape(-1, 5)
        return EventArrays(kind=arr[:, 0].astype(np.int64), site=arr[:, 1].astype(np.int64),
                           lane=arr[:, 2].astype(np.int64), sku=arr[:, 3].astype(np.int64),
                           severity=arr[:, 4].copy(), start=start, end=end, labels=[r[6] for r in rows],
                           max_lead_factor=lead)

    @staticmethod
    def _skus(net: SimNetwork, ev: Disruption) -> list[int]:
        if not ev.target.sku:
            return [-1]
        ids = net.sku_ids()
        missing = [s for s in ev.target.sku if s not in ids]
        if missing:
            raise SimulationError(f"{ev.where}.target.sku: {missing} not in network {net.name!r}")
        return [ids[s] for s in ev.target.sku]

    @staticmethod
    def _sites(net: SimNetwork, ev: Disruption, mu: np.ndarray) -> list[int]:
        t = ev.target
        if not (t.site or t.site_kind) and t.pick == "all":
            return [-1]
        for s in t.site:
            if s not in net.sites:
                raise SimulationError(f"{t.where}.site: {s!r} is not a site of network {net.name!r}")
        cand = [i for i, s in enumerate(net.sites)
                if (not t.site or s in t.site) and (not t.site_kind or net.site_kind[i] in t.site_kind)]
        if not cand and t.pick == "busiest":  # a library scenario on a network without that kind of site
            cand = list(range(len(net.sites)))
        if not cand:
            raise SimulationError(f"{t.where}: no site of kind {list(t.site_kind)} in network {net.name!r}")
        if t.pick == "busiest":
            flow = np.bincount(net.item_site, weights=mu, minlength=len(net.sites))
            if ev.type == "supplier_failure":  # a supplier only matters for what it ships onward
                flow = flow * np.array([net.site_kind[i] != "store" for i in range(len(net.sites))])
            return [max(cand, key=lambda i: flow[i])]
        return cand

    @staticmethod
    def _lanes(net: SimNetwork, t: Target, mu: np.ndarray, where: str) -> list[int]:
        if not (t.lane or t.lane_mode) and t.pick == "all":
            return [-1]
        if not net.lanes:
            raise SimulationError(f"{where}: network {net.name!r} has no lanes to disrupt")
        for k in t.lane:
            if k not in net.lanes:
                raise SimulationError(f"{t.where}.lane: {k!r} is not a lane of network {net.name!r}")
        modes = net.lane_mode or [""] * len(net.lanes)
        cand = [k for k, name in enumerate(net.lanes)
                if (not t.lane or name in t.lane) and (not t.lane_mode or modes[k] in t.lane_mode)]
        if not cand and t.pick == "busiest":
            cand = list(range(len(net.lanes)))
        if not cand:
            raise SimulationError(f"{t.where}: no lane of mode {list(t.lane_mode)} in network {net.name!r}")
        if t.pick == "busiest":
            on = net.item_lane >= 0
            flow = np.bincount(net.item_lane[on], weights=mu[on], minlength=len(net.lanes))
            return [max(cand, key=lambda k: flow[k])]
        return cand


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """A scenario from a mapping (already parsed YAML); errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise SimulationError(f"{source}: a mapping with name and events expected")
    unknown = set(data) - {"name", "description", "events"}
    if unknown:
        raise SimulationError(f"{source}: unknown key(s) {sorted(unknown)}; use name, description, events")
    events = data.get("events")
    if not isinstance(events, list) or not events:
        raise SimulationError(f"{source} events: a non-empty list of disruptions expected")
    parsed = []
    for j, ev in enumerate(events):
        line = getattr(getattr(ev, "lc", None), "line", None)
        where = f"{source}:{line + 1} events[{j}]" if line is not None else f"{source} events[{j}]"
        parsed.append(Disruption.parse(dict(ev) if isinstance(ev, dict) else ev, where))
    return Scenario(name=str(data.get("name") or Path(source).stem), events=tuple(parsed),
                    description=str(data.get("description", "")))


def library() -> dict[str, str]:
    """Names and descriptions of the shipped scenarios."""
    out = {}
    for f in sorted(resources.files("supplynet.sim").joinpath("scenarios").iterdir(), key=lambda p: p.name):
        if f.name.endswith(".yaml"):
            out[f.name[:-5]] = load_scenario(f.name[:-5]).description
    return out


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A scenario from a YAML file, or one of the library's by name (``port_closure`` ...)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        text, source = p.read_text(), str(p)
    else:
        res = resources.files("supplynet.sim").joinpath("scenarios", f"{p.stem}.yaml")
        if p.suffix in ("", ".yaml", ".yml") and res.is_file():
            text, source = res.read_text(), f"scenarios/{p.stem}.yaml"
        else:
            names = ", ".join(f.name[:-5] for f in resources.files("supplynet.sim").joinpath("scenarios").iterdir()
                              if f.name.endswith(".yaml"))
            raise SimulationError(f"scenario {str(name_or_path)!r}: no such file and not in the library ({names})")
    try:
        data = YAML(typ="rt").load(io.StringIO(text))
    except YAMLError as exc:
        raise SimulationError(f"{source}: not valid YAML ({exc})") from exc
    return parse_scenario(data, source)
