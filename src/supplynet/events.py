"""Canonical events: frozen, typed records in SI units with UTC timestamps.

Everything that happens in the network is one of these. Devices, files and the platform's own
decisions all become events; the log stores them, the twin folds them, models read them.

Units are SI and named in the field (``temperature_k``, ``speed_m_s``, ``shock_m_s2``); quantities
of goods are in units of the product (``quantity``). Conversion from device units happens once, in
:mod:`supplynet.units`, before an event is built.

Wire format (schema version 1): one JSON object per event, ``{"v": 1, "kind": "...", "source": ...,
"seq": ..., "ts": "2026-01-01T00:00:00Z", ...}``. :func:`parse_event` reads it, :func:`dumps`
writes it, :func:`wire_schema` returns the JSON Schema. A run of one source's events of one kind
can travel (and is kept in the log) as columns, :class:`ColumnRun`.

>>> e = StockCount(source="shelf-1", seq=7, ts="2026-01-02T03:04:05+01:00", site="S1", sku="A", quantity=12)
>>> e.ts.isoformat()
'2026-01-02T02:04:05+00:00'
>>> parse_event(dumps(e)) == e
True
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from .errors import EventError

__all__ = [
    "COLUMN_PREFIX",
    "SCHEMA_VERSION",
    "Alert",
    "ColumnRun",
    "Condition",
    "Event",
    "EventBase",
    "EVENT_TYPES",
    "Line",
    "MachineReading",
    "Maintenance",
    "OrderEvent",
    "Position",
    "Production",
    "Sale",
    "ShipmentStatus",
    "StockCount",
    "Waveform",
    "WireItem",
    "alert_seq",
    "dumps",
    "iso_utc",
    "parse_event",
    "parse_events",
    "parse_time",
    "to_utc",
    "ts_to_us",
    "us_to_ts",
    "wire_schema",
]

SCHEMA_VERSION: Final = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """A timezone-aware datetime in UTC; naive datetimes are refused (ambiguous), and so are times
    that do not exist in UTC (``0001-01-01T00:00:00+01:00`` is before year 1 there): both with a
    ``ValueError``, never an ``OverflowError``."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise EventError("timestamp must carry a timezone (e.g. '2026-01-01T00:00:00Z')")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise EventError(f"timestamp {value.isoformat()} is out of range in UTC (years 1..9999)") from None


def parse_time(text: str) -> datetime:
    """An ISO 8601 time with zone (``Z`` allowed) -> UTC datetime; ``ValueError`` for anything else
    (no zone, not a time, out of range), never another exception."""
    if not isinstance(text, str) or len(text) > 64:
        raise EventError("expected an ISO time string such as 2026-01-05T12:00:00Z")
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise EventError(str(exc)) from None
    return to_utc(value)


def iso_utc(value: datetime) -> str:
    """The wire spelling of a time: ISO 8601 in UTC with ``Z`` (``2026-01-01T00:00:00.5Z``)."""
    return to_utc(value).isoformat().replace("+00:00", "Z")


def ts_to_us(ts: datetime) -> int:
    """UTC datetime -> integer microseconds since the epoch (the log's time key)."""
    d = (ts if ts.tzinfo is UTC else to_utc(ts)) - _EPOCH  # events' times are UTC already: no conversion
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def us_to_ts(us: int) -> datetime:
    """Integer microseconds since the epoch -> UTC datetime (``ValueError`` outside years 1..9999)."""
    try:
        return datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    except (OverflowError, OSError) as exc:
        raise EventError(f"{us} microseconds since the epoch is out of range") from exc


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise EventError("must be a finite number")
    return v


UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
Finite = Annotated[float, AfterValidator(_finite)]
NonNeg = Annotated[float, Field(ge=0), AfterValidator(_finite)]
Ident = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@/\-]+$")]


class EventBase(BaseModel):
    """Fields every event has. ``(source, seq)`` identifies it: the log stores it once."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    v: Literal[1] = SCHEMA_VERSION
    source: Ident
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    ts: UtcDatetime

    @property
    def event_id(self) -> str:
        return f"{self.source}:{self.seq}"


class Position(EventBase):
    """A GPS fix of an asset (truck, reefer), optionally for the shipment it carries."""

    kind: Literal["position"] = "position"
    asset_id: Ident
    shipment_id: Ident | None = None
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    speed_m_s: NonNeg | None = None
    heading_deg: Annotated[float, Field(ge=0, lt=360)] | None = None
    accuracy_m: NonNeg | None = None


class Condition(EventBase):
    """Environmental condition of an asset or load: temperature, humidity, shock."""

    kind: Literal["condition"] = "condition"
    asset_id: Ident
    shipment_id: Ident | None = None
    temperature_k: Annotated[float, Field(gt=0)] | None = None
    humidity: Annotated[float, Field(ge=0, le=1)] | None = None
    shock_m_s2: NonNeg | None = None


class Waveform(BaseModel):
    """A chunk of a vibration signal: samples per channel in m/s² at ``sample_rate_hz``."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    sample_rate_hz: Annotated[float, Field(gt=0)]
    channels: dict[str, list[float]]
    shaft_hz: Annotated[float, Field(gt=0)] | None = None

    @field_validator("channels")
    @classmethod
    def _same_length(cls, v: dict[str, list[float]]) -> dict[str, list[float]]:
        if not v:
            raise EventError("a waveform needs at least one channel")
        lengths = {len(x) for x in v.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise EventError("all channels must have the same, non-zero number of samples")
        return v


class MachineReading(EventBase):
    """A machine's operating settings and sensor values (one cycle), or a waveform chunk."""

    kind: Literal["machine_reading"] = "machine_reading"
    asset_id: Ident
    cycle: Annotated[int, Field(ge=0)] | None = None
    settings: dict[str, Finite] = Field(default_factory=dict)
    sensors: dict[str, Finite] = Field(default_factory=dict)
    waveform: Waveform | None = None


class StockCount(EventBase):
    """A physical count of a SKU at a site (RFID, shelf sensor, manual count)."""

    kind: Literal["stock_count"] = "stock_count"
    site: Ident
    sku: Ident
    quantity: NonNeg
    method: Literal["rfid", "shelf", "manual", "cycle_count"] = "rfid"


class Sale(EventBase):
    """Customer demand at a site: ``quantity`` sold, ``unfilled`` demand that could not be served."""

    kind: Literal["sale"] = "sale"
    site: Ident
    sku: Ident
    quantity: NonNeg
    unfilled: NonNeg = 0.0
    unit_price: NonNeg | None = None


class Line(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
    sku: Ident
    quantity: NonNeg
    order_id: Ident | None = None


ShipmentState = Literal["planned", "departed", "in_transit", "delayed", "arrived", "delivered", "cancelled"]


class ShipmentStatus(EventBase):
    """A shipment's lifecycle: leaving ``origin`` (departed) reduces its stock, reaching
    ``destination`` (delivered) adds the lines to it."""

    kind: Literal["shipment"] = "shipment"
    shipment_id: Ident
    status: ShipmentState
    lane_id: Ident | None = None
    origin: Ident
    destination: Ident
    asset_id: Ident | None = None
    lines: tuple[Line, ...] = ()
    promised_at: UtcDatetime | None = None
    eta: UtcDatetime | None = None


OrderState = Literal["proposed", "created", "released", "shipped", "received", "cancelled"]


class OrderEvent(EventBase):
    """Order lifecycle. A created order is on order at ``site`` until shipped or cancelled."""

    kind: Literal["order"] = "order"
    order_id: Ident
    order_type: Literal["purchase", "transfer", "production"]
    status: OrderState
    site: Ident
    sku: Ident
    quantity: NonNeg
    origin: Ident | None = None
    lane_id: Ident | None = None
    due: UtcDatetime | None = None
    decision_id: Ident | None = None


class Production(EventBase):
    """A production run at a plant: ``quantity`` of ``sku`` made, consuming ``consumed`` lines."""

    kind: Literal["production"] = "production"
    site: Ident
    sku: Ident
    quantity: NonNeg
    consumed: tuple[Line, ...] = ()
    order_id: Ident | None = None


class Maintenance(EventBase):
    """Maintenance lifecycle of an asset, and failures."""

    kind: Literal["maintenance"] = "maintenance"
    asset_id: Ident
    action: Literal["work_order_opened", "started", "completed", "failure", "cancelled"]
    work_order_id: Ident | None = None
    detail: Annotated[str, Field(max_length=2000)] = ""


class Alert(EventBase):
    """Something the platform noticed: anomaly onset, stale device, stuck sensor, delay, shrinkage."""

    kind: Literal["alert"] = "alert"
    code: Ident
    subject: Ident
    severity: Literal["info", "warning", "critical"] = "warning"
    message: Annotated[str, Field(max_length=2000)] = ""
    data: dict[str, Any] = Field(default_factory=dict)


def alert_seq(*parts: object) -> int:
    """The sequence number of the alert identified by ``parts`` (its code, subject and what triggered it),
    stable in [1, 2**63): every alert the platform raises (watchers, shrinkage, the loop's service) is
    numbered so, and the log stores an event once per ``(source, seq)``, so an alert derived again (after
    a restart, or by the demo and by ``supplynet run`` alike) is the same event, not a second alert.

    >>> alert_seq("late_shipment", "SH000001", "evt-1") == alert_seq("late_shipment", "SH000001", "evt-1")
    True
    """
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") & (2**63 - 1)) or 1


Event = Annotated[
    Position | Condition | MachineReading | StockCount | Sale | ShipmentStatus | OrderEvent | Production
    | Maintenance | Alert,
    Field(discriminator="kind"),
]

EVENT_TYPES: dict[str, type[EventBase]] = {
    cls.model_fields["kind"].default: cls
    for cls in (Position, Condition, MachineReading, StockCount, Sale, ShipmentStatus, OrderEvent, Production,
                Maintenance, Alert)
}

_ADAPTER: TypeAdapter[Any] = TypeAdapter(Event)
_LIST_ADAPTER: TypeAdapter[Any] = TypeAdapter(list[Event])


def _event_error(exc: ValidationError) -> EventError:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(event)"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return EventError("; ".join(parts) + (f" (+{more} more)" if more > 0 else ""))


def parse_event(data: bytes | str | dict[str, Any]) -> EventBase:
    """Validate one wire event (JSON bytes/str or a dict); raises :class:`EventError`."""
    try:
        event: EventBase = _ADAPTER.validate_python(data) if isinstance(data, dict) else _ADAPTER.validate_json(data)
    except ValidationError as exc:
        raise _event_error(exc) from exc
    return event


def parse_events(data: bytes | str | list[dict[str, Any]]) -> list[EventBase]:
    """Validate a JSON array (or list of dicts) of events at once."""
    try:
        events: list[EventBase] = (_LIST_ADAPTER.validate_python(data) if isinstance(data, list)
                                   else _LIST_ADAPTER.validate_json(data))
    except ValidationError as exc:
        raise _event_error(exc) from exc
    return events


def dumps(event: EventBase) -> str:
    """The wire JSON of one event (None fields left out)."""
    return event.model_dump_json(exclude_none=True)


def wire_schema() -> dict[str, Any]:
    """JSON Schema of the wire format (version :data:`SCHEMA_VERSION`)."""
    return _ADAPTER.json_schema()


# -- the column layout: one source's run of events of one kind kept as columns -------------------

#: how the JSON of a :class:`ColumnRun` (its :meth:`~ColumnRun.body`) begins
COLUMN_PREFIX: Final = '{"c":1,'
#: one serialized event: ``(seq, ts_us, kind, wire_json)``
WireItem = tuple[int, int, str, str]


class ColumnRun:
    """Events of one source that share every field but ``seq``, ``ts`` and a few columns (an
    ingest envelope's readings), kept as columns: part of the wire format, as the log stores such a
    run in one row. Its JSON (:meth:`body`) is ``{"c":1,"h":{common fields},"seq":first seq or
    [seqs],"ts":[microseconds],"f":{field: [values]}}`` and reads back (:meth:`from_body`,
    :meth:`events`) into the same events as the per-event JSON of the same values. ``seqs``
    ascending without repeats; values JSON numbers (finite) or strings. Iterating gives the
    ``(seq, ts_us, kind, wire_json)`` items.

    >>> run = ColumnRun({"v": 1, "kind": "sale", "source": "till", "site": "S1", "sku": "A"}, range(3, 5),
    ...                 [0, 1_000_000], {"quantity": [2.0, 1.0]})
    >>> run.body()[:60]
    '{"c":1,"h":{"v":1,"kind":"sale","source":"till","site":"S1",'
    >>> run.body()[60:]
    '"sku":"A"},"seq":3,"ts":[0,1000000],"f":{"quantity":[2.0,1.0]}}'
    >>> [(e.seq, e.quantity) for e in ColumnRun.from_body(run.body()).events()]
    [(3, 2.0), (4, 1.0)]
    """

    __slots__ = ("head", "seqs", "tus", "fields", "_items")

    def __init__(self, head: dict[str, Any], seqs: Sequence[int], tus: list[int], fields: dict[str, list[Any]]):
        self.head, self.seqs, self.tus, self.fields = head, seqs, tus, fields
        self._items: list[WireItem] | None = None

    def __len__(self) -> int:
        return len(self.tus)

    def items(self) -> list[WireItem]:
        """The events as ``(seq, ts_us, kind, wire_json)``, made on first use (the late table, tests)."""
        if self._items is None:
            kind = self.head["kind"]
            self._items = [(s, t, kind, orjson.dumps(d).decode()) for s, t, d in zip(self.seqs, self.tus,
                                                                                     self._dicts(), strict=True)]
        return self._items

    def __iter__(self) -> Iterator[WireItem]:
        return iter(self.items())

    def __getitem__(self, i: int) -> WireItem:
        return self.items()[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ColumnRun | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def body(self) -> str:
        """The run's JSON (the column layout)."""
        seqs = self.seqs
        first = seqs[0]
        contiguous = seqs[-1] - first == len(seqs) - 1  # ascending without repeats
        return orjson.dumps({"c": 1, "h": self.head, "seq": first if contiguous else list(seqs), "ts": self.tus,
                             "f": self.fields}).decode()

    @classmethod
    def from_body(cls, body: str | bytes) -> ColumnRun:
        """The run a :meth:`body` holds; raises :class:`EventError` when its columns differ in length."""
        d = orjson.loads(body)
        tus, seq = d["ts"], d["seq"]
        seqs = range(seq, seq + len(tus)) if isinstance(seq, int) else seq
        if (len(seqs) != len(tus) or not isinstance(d["h"], dict)
                or not all(len(c) == len(tus) for c in d["f"].values())):
            raise EventError("a column row's columns differ in length")
        return cls(d["h"], seqs, tus, d["f"])

    def events(self) -> list[EventBase]:
        """The canonical events of the run (validated as the per-event JSON of the same values is)."""
        return parse_events(orjson.dumps(self._dicts()))

    def without(self, seqs: set[int]) -> ColumnRun | None:
        """The run less the events whose ``seq`` is in ``seqs`` (None when nothing is left)."""
        keep = [i for i, s in enumerate(self.seqs) if s not in seqs]
        if not keep:
            return None
        if len(keep) == len(self.seqs):
            return self
        return ColumnRun(self.head, [self.seqs[i] for i in keep], [self.tus[i] for i in keep],
                         {k: [col[i] for i in keep] for k, col in self.fields.items()})

    def _dicts(self) -> list[dict[str, Any]]:
        head, names = self.head, list(self.fields)
        return [{**head, "seq": s, "ts": _iso_us(t), **dict(zip(names, vals, strict=True))}
                for s, t, *vals in zip(self.seqs, self.tus, *self.fields.values(), strict=True)]


def _iso_us(ts_us: int) -> str:
    return (_EPOCH + timedelta(microseconds=ts_us)).isoformat().replace("+00:00", "Z")
