"""The network's parts as pydantic v2 models that check themselves when they are made.

Every constraint is checked at construction and its message names the value
(``must be between -90 and 90, got 95``). Cross-references between parts (a lane's origin
must be a site, a BOM must sit at a plant, no sku may need itself) are checked by the
:class:`~supplynet.model.Network` that holds them (``_network.py``, ``_refs.py``).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, model_validator

__all__ = [
    "DEFAULT_MEASURES",
    "MEASURES",
    "Asset",
    "Binding",
    "Bom",
    "Component",
    "Costs",
    "Demand",
    "Device",
    "FieldError",
    "fmt_num",
    "LeadTime",
    "Lane",
    "Location",
    "Penalty",
    "PolicySpec",
    "Product",
    "Site",
    "TransportRate",
]


class FieldError(ValueError):
    """A ValueError raised by a model-level check that belongs to one field of that model.

    The YAML loader appends ``field`` to the error's location, so the message points at the
    field (``lanes[2].lead_time.std_days``) rather than at the whole model.
    """

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def fmt_num(value: float) -> str:
    """A number as the user wrote it: ``3`` for 3.0, ``152.6309`` (not ``152.631``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/#+-]*")


def _check_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError(
            f"must be an id of letters, digits and _ - . : / # + (starting with a letter or digit, "
            f"no spaces), got {value!r}"
        )
    return value


def _between(lo: float, hi: float):
    def check(value: float) -> float:
        if not (lo <= value <= hi):
            raise ValueError(f"must be between {fmt_num(lo)} and {fmt_num(hi)}, got {fmt_num(value)}")
        return value

    return check


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    return value


Id = Annotated[str, Strict(), AfterValidator(_check_id)]
Num = Annotated[float, Strict(), AfterValidator(_finite)]
NonNeg = Annotated[float, Strict(), AfterValidator(_finite), Field(ge=0)]
Pos = Annotated[float, Strict(), AfterValidator(_finite), Field(gt=0)]
Fraction = Annotated[float, Strict(), Field(gt=0, lt=1)]
Lat = Annotated[float, Strict(), AfterValidator(_between(-90, 90))]
Lon = Annotated[float, Strict(), AfterValidator(_between(-180, 180))]
Text = Annotated[str, Strict(), Field(min_length=1)]
MetaValue = str | int | float | bool | None

SiteKind = Literal["supplier", "plant", "dc", "store"]
Mode = Literal["truck", "rail", "sea", "air", "parcel"]
AssetKind = Literal["machine", "truck", "reefer"]
DeviceKind = Literal[
    "gps_tracker",
    "temperature_logger",
    "machine_sensor",
    "vibration_sensor",
    "rfid_reader",
    "shelf_sensor",
    "pos_terminal",
]
Measure = Literal[
    "position", "temperature", "humidity", "shock", "door", "machine", "vibration", "stock_count", "sale"
]
MEASURES: tuple[str, ...] = Measure.__args__  # type: ignore[attr-defined]

#: what a device measures when its ``measures`` are not given
DEFAULT_MEASURES: dict[str, list[str]] = {
    "gps_tracker": ["position"],
    "temperature_logger": ["temperature", "humidity"],
    "machine_sensor": ["machine"],
    "vibration_sensor": ["vibration"],
    "rfid_reader": ["stock_count"],
    "shelf_sensor": ["stock_count"],
    "pos_terminal": ["sale"],
}

#: parameters each policy type takes (all needed unless ``service_level`` sizes the rest)
POLICY_PARAMS: dict[str, tuple[str, ...]] = {
    "base_stock": ("S",),
    "sS": ("s", "S"),
    "RS": ("R", "S"),
    "RQ": ("r", "Q"),
    "newsvendor": ("q",),
}


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _default_from(data: Any, field: str, source: str) -> Any:
    """Before-validator helper: fill ``field`` from ``source`` when it is missing."""
    if isinstance(data, dict) and data.get(field) is None and isinstance(data.get(source), str):
        data = {**data, field: data[source]}
    return data


class Location(_Base):
    """A point on Earth in decimal degrees (WGS84). YAML may also say ``location: [lat, lon]``."""

    lat: Lat
    lon: Lon

    @model_validator(mode="before")
    @classmethod
    def _pair(cls, data: Any) -> Any:
        if isinstance(data, list | tuple) and len(data) == 2:
            return {"lat": data[0], "lon": data[1]}
        return data


class Site(_Base):
    """A supplier, plant, distribution centre or store."""

    id: Id
    name: Text | None = None
    kind: SiteKind
    location: Location
    city: Text | None = None
    capacity_per_day: NonNeg | None = None  # throughput, units per day
    storage_capacity: NonNeg | None = None  # units on hand at most
    backorders: Annotated[bool, Strict()] = True  # False: unmet store demand is lost
    meta: dict[str, MetaValue] = Field(default_factory=dict)  # importer extras (e.g. Willems stage data)

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data: Any) -> Any:
        return _default_from(data, "name", "id")


#: the usual warmest temperature per storage class (UK chilled food at most 8 C; frozen food at -18 C, -15 C
#: tolerated in transport)
STORAGE_CEILING_C: dict[str, float] = {"chilled": 8.0, "frozen": -15.0}


class Product(_Base):
    """A stock-keeping unit. ``shortage_cost`` defaults to the lost margin ``max(price - unit_cost, 0)``."""

    sku: Id
    name: Text | None = None
    category: Text | None = None
    unit_cost: NonNeg
    price: NonNeg
    holding_cost_rate: NonNeg = 0.25  # fraction of unit cost per year
    pack_size: Annotated[int, Strict(), Field(ge=1)] = 1
    moq: NonNeg = 0.0
    shelf_life_days: Pos | None = None
    shortage_cost: NonNeg | None = None
    storage: Literal["ambient", "chilled", "frozen"] = "ambient"
    #: cold chain: the warmest the product may be (default by storage: chilled 8 C, frozen -15 C,
    #: ambient unchecked) and how long in all it may spend above that before the lot is at risk
    max_temperature_c: Num | None = None
    excursion_allowance_min: NonNeg = 30.0
    meta: dict[str, MetaValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        data = _default_from(data, "name", "sku")
        if isinstance(data, dict) and data.get("shortage_cost") is None:
            price, cost = data.get("price"), data.get("unit_cost")
            ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (price, cost))
            if ok and math.isfinite(price - cost):
                data = {**data, "shortage_cost": float(max(price - cost, 0.0))}
        return data

    @property
    def temperature_ceiling_c(self) -> float | None:
        """``max_temperature_c``, else the storage class's usual ceiling (None: not temperature-controlled)."""
        if self.max_temperature_c is not None:
            return self.max_temperature_c
        return STORAGE_CEILING_C.get(self.storage)

    @property
    def perishable(self) -> bool:
        return self.shelf_life_days is not None

    @property
    def holding_cost_per_day(self) -> float:
        """Cost of holding one unit for one day."""
        return self.unit_cost * self.holding_cost_rate / 365.0


class LeadTime(_Base):
    """A lead-time distribution in days. YAML may say ``lead_time: 3`` for a fixed 3 days.

    ``normal`` is truncated at zero; ``lognormal`` and ``gamma`` are parameterised by their mean
    and standard deviation; ``uniform`` by ``min_days`` and ``max_days``. Giving ``std_days``
    without ``dist`` means ``normal``.
    """

    dist: Literal["fixed", "normal", "lognormal", "gamma", "uniform"] = "fixed"
    mean_days: NonNeg | None = None
    std_days: NonNeg = 0.0
    min_days: NonNeg | None = None
    max_days: NonNeg | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"dist": "fixed", "mean_days": data}
        if isinstance(data, dict) and "dist" not in data:
            std = data.get("std_days")
            if isinstance(std, int | float) and std > 0:
                return {**data, "dist": "normal"}
            if "min_days" in data or "max_days" in data:
                return {**data, "dist": "uniform"}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> LeadTime:
        if self.dist == "uniform":
            if self.min_days is None or self.max_days is None:
                missing = "min_days" if self.min_days is None else "max_days"
                raise FieldError(missing, "is required for dist uniform")
            if self.min_days > self.max_days:
                raise FieldError(
                    "max_days", f"must be >= min_days ({fmt_num(self.min_days)}), got {fmt_num(self.max_days)}"
                )
            if self.mean_days is not None and not math.isclose(self.mean_days, self.mean):
                raise FieldError(
                    "mean_days", f"must be the midpoint {fmt_num(self.mean)} of min_days and max_days, "
                    f"got {fmt_num(self.mean_days)} (or leave it out)",
                )
            return self
        if self.mean_days is None:
            raise FieldError("mean_days", f"is required for dist {self.dist}")
        if self.min_days is not None or self.max_days is not None:
            raise FieldError("min_days" if self.min_days is not None else "max_days",
                             "applies only to dist uniform")
        if self.dist == "fixed" and self.std_days > 0:
            raise FieldError(
                "std_days", f"must be 0 for a fixed lead time, got {fmt_num(self.std_days)} "
                "(say dist: normal, gamma or lognormal)",
            )
        if self.dist in ("lognormal", "gamma") and self.std_days > 0 and self.mean_days <= 0:
            raise FieldError("mean_days", f"must be > 0 for dist {self.dist}, got {fmt_num(self.mean_days)}")
        return self

    @property
    def mean(self) -> float:
        """Mean lead time in days."""
        if self.dist == "uniform":
            return (self.min_days + self.max_days) / 2.0  # type: ignore[operator]
        return float(self.mean_days)  # type: ignore[arg-type]

    @property
    def std(self) -> float:
        """Standard deviation in days (of the untruncated normal for ``normal``)."""
        if self.dist == "uniform":
            return (self.max_days - self.min_days) / math.sqrt(12.0)  # type: ignore[operator]
        return 0.0 if self.dist == "fixed" else self.std_days

    def sample(self, rng: np.random.Generator | int | None, size: int | tuple[int, ...] = 1) -> np.ndarray:
        """Draw lead times in days (never negative) from ``rng`` (a Generator or a seed)."""
        rng = np.random.default_rng(rng)
        m, s = self.mean, self.std
        if self.dist == "uniform":
            return rng.uniform(self.min_days, self.max_days, size)
        if s == 0.0 or self.dist == "fixed":
            return np.full(size, m, dtype=float)
        if self.dist == "normal":
            return np.maximum(rng.normal(m, s, size), 0.0)
        if self.dist == "lognormal":
            sigma2 = math.log1p((s / m) ** 2)
            return rng.lognormal(math.log(m) - sigma2 / 2.0, math.sqrt(sigma2), size)
        shape = (m / s) ** 2
        return rng.gamma(shape, s * s / m, size)


class Lane(_Base):
    """A transport link from ``origin`` to ``destination`` (site ids)."""

    id: Id
    origin: Id
    destination: Id
    mode: Mode = "truck"
    lead_time: LeadTime
    cost_per_unit: NonNeg = 0.0
    fixed_cost_per_shipment: NonNeg = 0.0
    capacity_per_day: NonNeg | None = None
    skus: list[Id] | None = None  # None: carries every sku
    distance_km: NonNeg | None = None
    route: Annotated[list[tuple[Lat, Lon]], Field(min_length=2)] | None = None  # (lat, lon) points

    def carries(self, sku: str) -> bool:
        return self.skus is None or sku in self.skus


class Component(_Base):
    sku: Id
    quantity: Pos = 1.0


class Bom(_Base):
    """A plant makes ``output_sku`` from ``components`` (quantities per unit of output)."""

    plant: Id
    output_sku: Id
    components: Annotated[list[Component], Field(min_length=1)]
    rate_per_day: Pos | None = None  # production capacity, units of output per day
    lead_time_days: NonNeg = 0.0  # production lead time
    machines: list[Id] | None = None  # machine assets at the plant that make it (all must run)

    @model_validator(mode="after")
    def _distinct(self) -> Bom:
        seen: set[str] = set()
        for c in self.components:
            if c.sku in seen:
                raise FieldError("components", f"sku '{c.sku}' is listed twice; add up its quantity instead")
            seen.add(c.sku)
        return self


class Demand(_Base):
    """Expected customer demand for ``sku`` at ``site`` (usually a store), units per day.

    The spread is ``std_per_day`` when given, else ``cv * mean_per_day``; ``cv`` is always set
    (``std_per_day / mean_per_day`` when only the standard deviation is given).
    """

    site: Id
    sku: Id
    mean_per_day: NonNeg
    cv: NonNeg = 0.5
    std_per_day: NonNeg | None = None
    dist: Literal["auto", "poisson", "normal", "negbin", "gamma"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _one_spread(cls, data: Any) -> Any:
        """``std_per_day`` alone sets ``cv = std / mean``; both given must agree."""
        if not isinstance(data, dict):
            return data
        mean, std, cv = data.get("mean_per_day"), data.get("std_per_day"), data.get("cv")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (mean, std)) or mean <= 0:
            return data
        if cv is None:
            return {**data, "cv": std / mean}
        if isinstance(cv, int | float) and not math.isclose(cv * mean, std, rel_tol=1e-6, abs_tol=1e-9):
            implied = fmt_num(round(cv * mean, 9))
            raise FieldError("std_per_day", f"disagrees with cv {fmt_num(cv)} (cv x mean_per_day = {implied}); "
                             "give one of them")
        return data

    @property
    def std(self) -> float:
        return self.std_per_day if self.std_per_day is not None else self.cv * self.mean_per_day


class Asset(_Base):
    """A machine at a plant, or a truck or reefer based at ``site`` (optionally serving ``lane``)."""

    id: Id
    kind: AssetKind
    site: Id
    name: Text | None = None
    failure_cost: NonNeg = 0.0  # cost of one unplanned failure (repair + lost output)
    preventive_cost: NonNeg = 0.0  # cost of one planned maintenance
    maintenance_lead_time_days: NonNeg = 0.0
    #: days a failure stops a machine (parts, then the repair); None: ``repair_time_days``' default
    repair_days: NonNeg | None = None
    lane: Id | None = None
    temperature_limit_c: Num | None = None  # reefers: cargo must stay at or below this

    @property
    def repair_time_days(self) -> float:
        """Days a failure stops the asset: ``repair_days`` when given, else its maintenance lead time (at least a
        day) for the parts plus two days of work (the rule the simulated world has always repaired by)."""
        if self.repair_days is not None:
            return float(self.repair_days)
        return max(float(self.maintenance_lead_time_days), 1.0) + 2.0

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data: Any) -> Any:
        return _default_from(data, "name", "id")

    @model_validator(mode="after")
    def _kind_fields(self) -> Asset:
        if self.temperature_limit_c is not None and self.kind != "reefer":
            raise FieldError("temperature_limit_c", f"applies only to reefers, not to a {self.kind}")
        if self.lane is not None and self.kind == "machine":
            raise FieldError("lane", "applies only to trucks and reefers, not to a machine")
        return self


class Binding(_Base):
    """What a device is fixed to: exactly one of an asset or a site."""

    asset: Id | None = None
    site: Id | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Binding:
        if self.asset is None and self.site is None:
            raise ValueError("device is bound to nothing; give asset or site")
        if self.asset is not None and self.site is not None:
            raise ValueError(f"device is bound to both asset '{self.asset}' and site '{self.site}'; give one")
        return self


class Device(_Base):
    """A sensor or terminal; ``measures`` defaults from its kind (see DEFAULT_MEASURES)."""

    id: Id
    kind: DeviceKind
    measures: Annotated[list[Measure], Field(min_length=1)]
    bound_to: Binding
    report_interval_s: Pos = 60.0
    #: how it signs its messages: ed25519 (the platform keeps only its public key) or hmac-sha256
    #: (symmetric secret kept sealed under the vault key; cheaper per message, for chatty devices)
    scheme: Literal["ed25519", "hmac-sha256"] = "ed25519"

    @model_validator(mode="before")
    @classmethod
    def _measures(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("measures") is None and data.get("kind") in DEFAULT_MEASURES:
            data = {**data, "measures": list(DEFAULT_MEASURES[data["kind"]])}
        return data


class PolicySpec(_Base):
    """Inventory policy for ``sku`` at ``site`` (``sku: "*"`` covers every sku there).

    Params by type: base_stock {S}, sS {s, S}, RS {R, S} (R in days), RQ {r, Q}, newsvendor {q}.
    With ``service_level`` the missing params are sized from demand and lead time.
    """

    site: Id
    sku: Annotated[str, Strict()] = "*"
    type: Literal["base_stock", "sS", "RS", "RQ", "newsvendor"]
    params: dict[str, NonNeg] = Field(default_factory=dict)
    service_level: Fraction | None = None

    @model_validator(mode="after")
    def _params(self) -> PolicySpec:
        if self.sku != "*":
            _check_id_field("sku", self.sku)
        # the levels of the type, and for (s,S) and (r,Q) the most days of demand one order may bring
        optional = ("max_cycle_days",) if self.type in ("sS", "RQ") else ()
        for name in self.params:
            if name not in POLICY_PARAMS[self.type] + optional:
                also = f"; optional: {', '.join(optional)}" if optional else ""
                raise FieldError(f"params.{name}", f"unknown parameter for type {self.type} "
                                                   f"(expected {', '.join(POLICY_PARAMS[self.type])}{also})")
        missing = [name for name in POLICY_PARAMS[self.type] if name not in self.params]
        if missing and self.service_level is None and self.type != "newsvendor":
            raise FieldError(
                "params", f"type {self.type} needs {', '.join(missing)} (or give service_level to size it)"
            )
        p = self.params
        if "s" in p and "S" in p and p["s"] > p["S"]:
            raise FieldError("params.s", f"must be <= S ({fmt_num(p['S'])}), got {fmt_num(p['s'])}")
        for name in ("Q", "R"):
            if name in p and p[name] <= 0:
                raise FieldError(f"params.{name}", f"must be > 0, got {fmt_num(p[name])}")
        return self


def _check_id_field(field: str, value: str) -> None:
    try:
        _check_id(value)
    except ValueError as exc:
        raise FieldError(field, f"{exc} (or '*' for every sku)") from None


# ---- the cost model's section (``costs:``) -------------------------------------------------------

Currency = Annotated[str, Strict(), Field(pattern=r"^[A-Z]{3}$")]


class TransportRate(_Base):
    """What a lane of one mode costs when the lane itself gives no ``cost_per_unit`` /
    ``fixed_cost_per_shipment``."""

    cost_per_unit: NonNeg = 0.0
    fixed_cost_per_shipment: NonNeg = 0.0


class Penalty(_Base):
    """What a unit not served costs for ``sku`` (at ``site``; without ``site``: at every site).

    ``lost_sale``: per unit of demand lost (default: the product's ``shortage_cost``, i.e. its margin);
    ``backorder``: per unit backordered, once (default: the same); ``backorder_per_day``: per unit
    and day a backorder waits (default: a tenth of the unit's holding cost per day).
    """

    sku: Id
    site: Id | None = None
    lost_sale: NonNeg | None = None
    backorder: NonNeg | None = None
    backorder_per_day: NonNeg | None = None

    @model_validator(mode="after")
    def _something(self) -> Penalty:
        if self.lost_sale is None and self.backorder is None and self.backorder_per_day is None:
            raise FieldError("lost_sale", "give at least one of lost_sale, backorder, backorder_per_day")
        return self


class Costs(_Base):
    """The network's one cost model (``costs:`` in the YAML), in ``currency``.

    Per-SKU ``unit_cost`` and ``price`` (so the margin) and ``holding_cost_rate`` stay on the
    products, transport costs on the lanes; this section adds what the parts do not say and the
    defaults they fall back to. See :class:`supplynet.model.CostModel` for how each component is priced.
    """

    currency: Currency | None = None  # ISO 4217; default: the network's ``currency`` (itself default USD)
    holding_rate: NonNeg | None = None  # per year, of unit cost, for products without holding_cost_rate
    ordering_cost: NonNeg = 0.0  # per order line: one replenishment order of one sku at one stocking point
    expedite_premium: NonNeg = 0.5  # an expedited shipment costs (1 + premium) x its lane's transport cost
    transport: dict[Mode, TransportRate] = Field(default_factory=dict)  # per mode, for lanes without costs
    penalties: list[Penalty] = Field(default_factory=list)  # per sku or sku-site; default: margin
    downtime_cost_per_hour: dict[Id, NonNeg] = Field(default_factory=dict)  # per asset id
    spoilage: dict[Id, NonNeg] = Field(default_factory=dict)  # write-off value per unit; default: unit cost
