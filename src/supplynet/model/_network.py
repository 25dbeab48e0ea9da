"""The Network: every part of a supply network, checked together, with look-ups and a graph."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, PrivateAttr, Strict, model_validator

from supplynet.errors import ModelError
from supplynet.model._schema import (
    Asset,
    Bom,
    Costs,
    Demand,
    Device,
    Lane,
    MetaValue,
    PolicySpec,
    Product,
    Site,
    Text,
    _Base,
)

if TYPE_CHECKING:
    import networkx as nx

    from supplynet.model._costs import CostModel

__all__ = ["Network", "UnknownIdError"]


def _today() -> date:
    return datetime.now(UTC).date()


class Network(_Base):
    """A supply network: sites, products, lanes, BOMs, demand, assets, devices and policies.

    Construction checks every part and every cross-reference (unknown ids, duplicates, BOM
    cycles, BOMs away from plants, self-lanes, devices bound to the wrong thing, demand nothing
    supplies) and raises :class:`supplynet.errors.ModelValidationError` listing all of them.
    """

    name: Text
    description: str | None = None
    currency: Annotated[str, Strict(), Field(pattern=r"^[A-Z]{3}$")] = "USD"
    start: date = Field(default_factory=_today)
    sites: Annotated[list[Site], Field(min_length=1)]
    products: list[Product] = Field(default_factory=list)
    lanes: list[Lane] = Field(default_factory=list)
    boms: list[Bom] = Field(default_factory=list)
    demand: list[Demand] = Field(default_factory=list)
    assets: list[Asset] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    policies: list[PolicySpec] = Field(default_factory=list)
    costs: Costs = Field(default_factory=Costs)
    meta: dict[str, MetaValue] = Field(default_factory=dict)

    _sites: dict[str, Site] = PrivateAttr(default_factory=dict)
    _products: dict[str, Product] = PrivateAttr(default_factory=dict)
    _lanes: dict[str, Lane] = PrivateAttr(default_factory=dict)
    _assets: dict[str, Asset] = PrivateAttr(default_factory=dict)
    _devices: dict[str, Device] = PrivateAttr(default_factory=dict)
    _out: dict[str, list[Lane]] = PrivateAttr(default_factory=dict)
    _in: dict[str, list[Lane]] = PrivateAttr(default_factory=dict)
    _policies: dict[tuple[str, str], PolicySpec] = PrivateAttr(default_factory=dict)
    _demand: dict[tuple[str, str], Demand] = PrivateAttr(default_factory=dict)
    _cost_model: Any = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _cost_defaults(cls, data: Any) -> Any:
        """Fill what the ``costs:`` section defaults: the currency, products' holding rate and the
        transport cost of lanes that give none (by mode). A disagreeing currency is left for the
        reference check (it names the line)."""
        if not isinstance(data, dict) or not isinstance(data.get("costs"), dict):
            return data
        costs = data["costs"]
        data = dict(data)
        if isinstance(costs.get("currency"), str) and "currency" not in data:
            data["currency"] = costs["currency"]
        rate = costs.get("holding_rate")
        if rate is not None and isinstance(data.get("products"), list):
            data["products"] = [{**p, "holding_cost_rate": rate}
                                if isinstance(p, dict) and "holding_cost_rate" not in p else p
                                for p in data["products"]]
        modes = costs.get("transport")
        if isinstance(modes, dict) and isinstance(data.get("lanes"), list):
            lanes = []
            for lane in data["lanes"]:
                rates = modes.get(lane.get("mode", "truck")) if isinstance(lane, dict) else None
                if isinstance(rates, dict):
                    lane = {**{k: v for k, v in rates.items()
                               if k in ("cost_per_unit", "fixed_cost_per_shipment")}, **lane}
                lanes.append(lane)
            data["lanes"] = lanes
        return data

    @model_validator(mode="after")
    def _cross_references(self) -> Network:
        from supplynet.model._refs import NetworkReferenceError, reference_issues

        issues = reference_issues(self)
        if issues:
            raise NetworkReferenceError(issues)
        self._sites = {s.id: s for s in self.sites}
        self._products = {p.sku: p for p in self.products}
        self._lanes = {lane.id: lane for lane in self.lanes}
        self._assets = {a.id: a for a in self.assets}
        self._devices = {d.id: d for d in self.devices}
        for lane in self.lanes:
            self._out.setdefault(lane.origin, []).append(lane)
            self._in.setdefault(lane.destination, []).append(lane)
        self._policies = {(p.site, p.sku): p for p in self.policies}
        self._demand = {(d.site, d.sku): d for d in self.demand}
        return self

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Network:
        """A copy; with ``update`` the result is validated again (indexes and cross-references)."""
        if not update:
            return super().model_copy(deep=deep)
        return type(self).model_validate({**self.model_dump(), **update})

    @property
    def cost_model(self) -> CostModel:
        """The network's one :class:`~supplynet.model.CostModel` (prices every KPI, option and report)."""
        from supplynet.model._costs import CostModel

        if self._cost_model is None:
            self._cost_model = CostModel(self)
        return self._cost_model

    # ---- look-ups -------------------------------------------------------------------------
    def site(self, site_id: str) -> Site:
        return _get(self._sites, site_id, "site")

    def product(self, sku: str) -> Product:
        return _get(self._products, sku, "sku")

    def lane(self, lane_id: str) -> Lane:
        return _get(self._lanes, lane_id, "lane")

    def asset(self, asset_id: str) -> Asset:
        return _get(self._assets, asset_id, "asset")

    def device(self, device_id: str) -> Device:
        return _get(self._devices, device_id, "device")

    def lanes_from(self, site_id: str) -> list[Lane]:
        return list(self._out.get(site_id, ()))

    def lanes_to(self, site_id: str) -> list[Lane]:
        return list(self._in.get(site_id, ()))

    def sites_of_kind(self, kind: str) -> list[Site]:
        return [s for s in self.sites if s.kind == kind]

    def boms_at(self, plant_id: str) -> list[Bom]:
        return [b for b in self.boms if b.plant == plant_id]

    def devices_on(self, *, asset: str | None = None, site: str | None = None) -> list[Device]:
        return [d for d in self.devices if (d.bound_to.asset, d.bound_to.site) == (asset, site)]

    def policy_for(self, site: str, sku: str) -> PolicySpec | None:
        """The policy for ``sku`` at ``site``: an exact entry first, else the site's ``"*"`` entry."""
        return self._policies.get((site, sku)) or self._policies.get((site, "*"))

    def demand_for(self, site: str, sku: str) -> Demand | None:
        return self._demand.get((site, sku))

    def skus_at(self, site: str) -> list[str]:
        """Skus with customer demand at ``site``, in file order."""
        return [d.sku for d in self.demand if d.site == site]

    def graph(self) -> nx.DiGraph:
        """Sites as nodes (attrs kind, name, lat, lon), lanes as edges.

        Edge attrs: ``lane`` (id), ``lanes`` (all lane ids between the pair), ``mode``,
        ``lead_time`` and ``lead_time_days`` (mean days), ``cost_per_unit``. When several lanes
        join the same pair, the edge describes the first and ``lanes`` lists all.
        """
        import networkx as nx

        g = nx.DiGraph(name=self.name)
        for s in self.sites:
            g.add_node(s.id, kind=s.kind, name=s.name, lat=s.location.lat, lon=s.location.lon)
        for lane in self.lanes:
            if g.has_edge(lane.origin, lane.destination):
                g.edges[lane.origin, lane.destination]["lanes"].append(lane.id)
                continue
            mean = lane.lead_time.mean
            g.add_edge(lane.origin, lane.destination, lane=lane.id, lanes=[lane.id], mode=lane.mode,
                       lead_time=mean, lead_time_days=mean, cost_per_unit=lane.cost_per_unit)
        return g

    def summary(self) -> str:
        """``"12 sites, 50 products, ..."``: counts of each part."""
        parts = [("sites", self.sites), ("products", self.products), ("lanes", self.lanes),
                 ("boms", self.boms), ("demand entries", self.demand), ("assets", self.assets),
                 ("devices", self.devices), ("policies", self.policies)]
        return ", ".join(f"{len(items)} {label}" for label, items in parts)


class UnknownIdError(ModelError, KeyError):
    """A look-up by id (``network.site("X")``) found nothing; also a KeyError."""

    def __str__(self) -> str:
        return str(self.args[0])


def _get(index: dict[str, Any], key: str, what: str) -> Any:
    try:
        return index[key]
    except KeyError:
        raise UnknownIdError(f"unknown {what} {key!r}") from None
