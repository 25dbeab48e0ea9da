"""Cross-reference checks of a network: the rules no single part can check alone.

The checks read either a constructed :class:`~supplynet.model.Network` or the raw mapping
loaded from YAML (tolerating missing or malformed entries), so the loader can report bad
references together with the structural errors of the same file. Each problem comes back as
a :class:`RefIssue`: the path of the offending field, a message, and optionally the path of
the entry it clashes with (the loader turns that into a line number).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from supplynet.errors import ModelIssue, ModelValidationError
from supplynet.model._yaml import Path, format_path

__all__ = ["NetworkReferenceError", "RefIssue", "closest", "reference_issues"]

_SITE_KINDS = ("supplier", "plant", "dc", "store")


@dataclass(frozen=True)
class RefIssue:
    path: Path
    message: str
    other: Path | None = None  # the earlier entry this one clashes with

    def text(self, lines: Mapping[Path, int] | None = None) -> str:
        if self.other is None:
            return self.message
        line, path = None, self.other
        while path and line is None:  # the clashing entry's field may be a default: use its entry's line
            line = (lines or {}).get(path)
            path = path[:-1]
        return f"{self.message} (first at line {line})" if line else f"{self.message} (first at {format_path(self.other)})"


class NetworkReferenceError(ModelValidationError):
    """Raised by Network's own validation; keeps the paths so the loader can add line numbers."""

    def __init__(self, found: list[RefIssue], file: str = "<network>"):
        self.found = found
        super().__init__([ModelIssue(file, None, format_path(f.path), f.text()) for f in found])


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _entries(net: Any, key: str) -> list[tuple[int, Any]]:
    items = _get(net, key)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict | BaseModel)]


def _str(obj: Any, key: str) -> str | None:
    value = _get(obj, key)
    return value if isinstance(value, str) else None


def closest(value: str, options: Iterable[str]) -> str | None:
    """The option most like ``value`` (same letters in another case first), or None."""
    options = list(options)
    for option in options:
        if option.lower() == value.lower():
            return option
    if len(value) <= 3:  # short ids: only a same-initial near miss ('P2' -> 'P1'), not any 2-letter id
        options = [o for o in options if o[:1] == value[:1]]
    close = difflib.get_close_matches(value, options, n=1, cutoff=0.5 if len(value) <= 3 else 0.6)
    return close[0] if close else None


def _unknown(what: str, value: str, known: Iterable[str]) -> str:
    close = closest(value, known)
    return f"unknown {what} '{value}'" + (f" (did you mean '{close}'?)" if close else "")


class _Checker:
    def __init__(self, net: Any):
        self.net = net
        self.issues: list[RefIssue] = []
        self.sites: dict[str, tuple[int, Any]] = {}
        self.skus: dict[str, int] = {}
        self.lanes: dict[str, tuple[int, Any]] = {}
        self.assets: dict[str, tuple[int, Any]] = {}

    def add(self, path: Path, message: str, other: Path | None = None) -> None:
        self.issues.append(RefIssue(path, message, other))

    def index(self, key: str, id_field: str, what: str, into: dict) -> None:
        for i, item in _entries(self.net, key):
            ident = _str(item, id_field)
            if ident is None:
                continue
            if ident in into:
                first = into[ident] if isinstance(into[ident], int) else into[ident][0]
                self.add((key, i, id_field), f"duplicate {what} '{ident}'", (key, first, id_field))
            else:
                into[ident] = i if into is self.skus else (i, item)

    def ref(self, path: Path, value: Any, what: str, known: Mapping[str, Any]) -> bool:
        if isinstance(value, str) and value not in known:
            self.add(path, _unknown(what, value, known))
            return False
        return isinstance(value, str)

    def kind(self, site_id: str) -> str | None:
        return _str(self.sites[site_id][1], "kind") if site_id in self.sites else None

    def run(self) -> list[RefIssue]:
        self.index("sites", "id", "site id", self.sites)
        self.index("products", "sku", "sku", self.skus)
        self.index("lanes", "id", "lane id", self.lanes)
        self.index("assets", "id", "asset id", self.assets)
        devices: dict[str, Any] = {}
        self.index("devices", "id", "device id", devices)
        self.check_lanes()
        self.check_boms()
        self.check_demand_and_policies()
        self.check_assets()
        self.check_devices()
        self.check_supply()
        self.check_costs()
        return self.issues

    def check_costs(self) -> None:
        costs = _get(self.net, "costs")
        if not isinstance(costs, dict | BaseModel):
            return
        mine, top = _get(costs, "currency"), _get(self.net, "currency")
        if isinstance(mine, str) and isinstance(top, str) and mine != top:
            self.add(("costs", "currency"), f"'{mine}' disagrees with the network's currency '{top}'; "
                     "give one currency (leave one of them out)")
        seen: dict[tuple[str, Any], int] = {}
        for i, entry in _entries(costs, "penalties"):
            sku, site = _get(entry, "sku"), _get(entry, "site")
            self.ref(("costs", "penalties", i, "sku"), sku, "sku", self.skus)
            if site is not None:
                self.ref(("costs", "penalties", i, "site"), site, "site", self.sites)
            if isinstance(sku, str):
                if (sku, site) in seen:
                    where = f" at site '{site}'" if site else ""
                    self.add(("costs", "penalties", i, "sku"), f"duplicate penalty for sku '{sku}'{where}",
                             ("costs", "penalties", seen[(sku, site)], "sku"))
                seen.setdefault((sku, site), i)
        for key, what, known in (("downtime_cost_per_hour", "asset", self.assets), ("spoilage", "sku", self.skus)):
            table = _get(costs, key)
            if isinstance(table, dict):
                for ident in table:
                    self.ref(("costs", key, ident), ident, what, known)

    def check_lanes(self) -> None:
        for i, lane in _entries(self.net, "lanes"):
            origin, dest = _get(lane, "origin"), _get(lane, "destination")
            self.ref(("lanes", i, "origin"), origin, "site", self.sites)
            self.ref(("lanes", i, "destination"), dest, "site", self.sites)
            if isinstance(origin, str) and origin == dest:
                self.add(("lanes", i, "destination"), f"lane goes from site '{origin}' to itself")
            skus = _get(lane, "skus")
            for j, sku in enumerate(skus if isinstance(skus, list) else []):
                self.ref(("lanes", i, "skus", j), sku, "sku", self.skus)

    def check_boms(self) -> None:
        needs: dict[str, list[str]] = {}
        first_bom: dict[str, int] = {}
        seen: dict[tuple[str, str], int] = {}
        for i, bom in _entries(self.net, "boms"):
            plant, out = _get(bom, "plant"), _get(bom, "output_sku")
            if self.ref(("boms", i, "plant"), plant, "site", self.sites):
                kind = self.kind(plant)
                if kind in _SITE_KINDS and kind != "plant":
                    self.add(("boms", i, "plant"), f"BOM at site '{plant}' of kind {kind}; BOMs belong at plants")
            self.ref(("boms", i, "output_sku"), out, "sku", self.skus)
            if isinstance(plant, str) and isinstance(out, str):
                if (plant, out) in seen:
                    self.add(("boms", i, "output_sku"), f"duplicate BOM for sku '{out}' at plant '{plant}'",
                             ("boms", seen[(plant, out)], "output_sku"))
                seen.setdefault((plant, out), i)
            comps = _get(bom, "components")
            for j, comp in enumerate(comps if isinstance(comps, list) else []):
                sku = _get(comp, "sku")
                self.ref(("boms", i, "components", j, "sku"), sku, "sku", self.skus)
                if isinstance(out, str) and isinstance(sku, str):
                    needs.setdefault(out, []).append(sku)
            if isinstance(out, str):
                first_bom.setdefault(out, i)
            machines = _get(bom, "machines")
            for j, asset_id in enumerate(machines if isinstance(machines, list) else []):
                if not self.ref(("boms", i, "machines", j), asset_id, "asset", self.assets):
                    continue
                asset = self.assets[asset_id][1]
                if _str(asset, "kind") != "machine" or _str(asset, "site") != plant:
                    self.add(("boms", i, "machines", j),
                             f"asset '{asset_id}' is not a machine at plant '{plant}'")
        for cycle in _cycles(needs):
            at = min(first_bom[s] for s in cycle if s in first_bom)
            loop = " -> ".join([*cycle, cycle[0]])
            self.add(("boms", at, "output_sku"), f"BOM cycle: {loop} (a sku cannot need itself)")

    def check_demand_and_policies(self) -> None:
        for key, what in (("demand", "demand"), ("policies", "policy")):
            seen: dict[tuple[str, str], int] = {}
            for i, entry in _entries(self.net, key):
                site, sku = _get(entry, "site"), _get(entry, "sku")
                self.ref((key, i, "site"), site, "site", self.sites)
                if sku != "*":
                    self.ref((key, i, "sku"), sku, "sku", self.skus)
                if isinstance(site, str) and isinstance(sku, str):
                    if (site, sku) in seen:
                        self.add((key, i, "sku"), f"duplicate {what} for sku '{sku}' at site '{site}'",
                                 (key, seen[(site, sku)], "sku"))
                    seen.setdefault((site, sku), i)

    def check_assets(self) -> None:
        for i, asset in _entries(self.net, "assets"):
            site = _get(asset, "site")
            if self.ref(("assets", i, "site"), site, "site", self.sites):
                kind = _str(asset, "kind")
                if kind == "machine" and self.kind(site) in ("supplier", "store"):
                    self.add(("assets", i, "site"), f"machine at site '{site}' of kind {self.kind(site)}; "
                             "machines belong at plants or dcs")
            self.ref(("assets", i, "lane"), _get(asset, "lane"), "lane", self.lanes)

    def check_devices(self) -> None:
        needs_asset = {"gps_tracker": ("truck", "reefer"), "machine_sensor": ("machine",),
                       "vibration_sensor": ("machine",)}
        for i, dev in _entries(self.net, "devices"):
            bound, kind = _get(dev, "bound_to"), _str(dev, "kind")
            if bound is None or isinstance(bound, str | int | float | list):
                continue
            asset_id, site_id = _get(bound, "asset"), _get(bound, "site")
            if self.ref(("devices", i, "bound_to", "asset"), asset_id, "asset", self.assets):
                asset_kind = _str(self.assets[asset_id][1], "kind")
                allowed = needs_asset.get(kind or "")
                if allowed and asset_kind not in allowed:
                    self.add(("devices", i, "bound_to", "asset"),
                             f"a {kind} goes on a {' or '.join(allowed)}, not on {asset_kind} '{asset_id}'")
            if self.ref(("devices", i, "bound_to", "site"), site_id, "site", self.sites):
                if kind in needs_asset:
                    self.add(("devices", i, "bound_to", "site"),
                             f"a {kind} goes on a {' or '.join(needs_asset[kind])} asset, not on a site")
                elif kind == "pos_terminal" and self.kind(site_id) != "store":
                    self.add(("devices", i, "bound_to", "site"),
                             f"a pos_terminal goes in a store, not in {self.kind(site_id)} '{site_id}'")

    def check_supply(self) -> None:
        """Every sku a site sells, uses in a BOM or ships on a lane must reach that site: along a chain
        of lanes that carry it, from a supplier or from a plant whose BOM makes it."""
        into_any: dict[str, list[str]] = {}
        into: dict[tuple[str, str], list[str]] = {}
        for _, lane in _entries(self.net, "lanes"):
            origin, dest, skus = _get(lane, "origin"), _get(lane, "destination"), _get(lane, "skus")
            if not (isinstance(origin, str) and isinstance(dest, str)):
                continue
            if skus is None:
                into_any.setdefault(dest, []).append(origin)
            elif isinstance(skus, list):
                for sku in skus:
                    if isinstance(sku, str):
                        into.setdefault((dest, sku), []).append(origin)
        made: set[tuple[str, str]] = set()
        for _, bom in _entries(self.net, "boms"):
            plant, out = _get(bom, "plant"), _get(bom, "output_sku")
            if isinstance(plant, str) and isinstance(out, str):
                made.add((plant, out))
        memo: dict[tuple[str, str], bool] = {}

        def supplied(site: str, sku: str) -> bool:
            if (site, sku) not in memo:
                seen, frontier, found = {site}, [site], False
                while frontier and not found:
                    node = frontier.pop()
                    if self.kind(node) == "supplier" or (node, sku) in made or memo.get((node, sku)):
                        found = True
                        break
                    for origin in (*into.get((node, sku), ()), *into_any.get(node, ())):
                        if origin not in seen:
                            seen.add(origin)
                            frontier.append(origin)
                memo[(site, sku)] = found
            return memo[(site, sku)]

        def check(path: Path, site: Any, sku: Any, what: str) -> None:
            if site in self.sites and sku in self.skus and not supplied(site, sku):
                self.add(path, f"nothing supplies sku '{sku}' to site '{site}' {what} (no chain of lanes "
                         "carrying the sku leads there from a supplier or a plant that makes it)")

        for i, d in _entries(self.net, "demand"):
            check(("demand", i, "sku"), _get(d, "site"), _get(d, "sku"), "for its demand")
        for i, bom in _entries(self.net, "boms"):
            comps = _get(bom, "components")
            for j, comp in enumerate(comps if isinstance(comps, list) else []):
                check(("boms", i, "components", j, "sku"), _get(bom, "plant"), _get(comp, "sku"), "for its BOM")
        for i, lane in _entries(self.net, "lanes"):
            skus = _get(lane, "skus")
            for j, sku in enumerate(skus if isinstance(skus, list) else []):
                check(("lanes", i, "skus", j), _get(lane, "origin"), sku, "to ship on this lane")


def _cycles(needs: dict[str, list[str]]) -> list[list[str]]:
    """Elementary cycles of the sku -> component graph, each reported once (iterative DFS)."""
    color: dict[str, int] = {}  # 1 on stack, 2 done
    cycles: list[list[str]] = []
    for root in needs:
        if color.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        color[root] = 1
        while stack:
            node, k = stack[-1]
            children = needs.get(node, [])
            if k < len(children):
                stack[-1] = (node, k + 1)
                child = children[k]
                state = color.get(child, 0)
                if state == 1:
                    cycles.append(path[path.index(child):])
                elif state == 0:
                    color[child] = 1
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[node] = 2
                stack.pop()
                path.pop()
    return cycles


def reference_issues(net: Any) -> list[RefIssue]:
    """All cross-reference problems of ``net`` (a Network or its raw mapping), in check order."""
    return _Checker(net).run()
