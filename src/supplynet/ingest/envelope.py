"""The wire envelope devices send, and how its readings become canonical events.

A *sealed envelope* is one line of compact JSON (so it also travels as an NDJSON line or an element
of a JSON array)::

    {"device":"trk-1","kid":"Ab3..","sig":"<Ed25519 signature, b64u>","body":"<the signed JSON text>"}

The signature covers the exact UTF-8 bytes of ``body``; nothing inside ``body`` is parsed before the
signature checks out. The body is::

    {"v":1,"device":"trk-1","seq":41,"ts":"2026-01-01T00:00:00Z","units":{"temperature":"degC"},
     "readings":[{"kind":"condition","temperature":4.5,"dt":0}, ...]}

``seq`` numbers the first reading; reading ``i`` becomes the event ``(device, seq + i)``, and the
device's next envelope starts at ``seq + len(readings)``. A reading names its canonical event
``kind`` and gives values in the device's units (``units`` per reading, or per envelope), converted
to SI here through :mod:`supplynet.units` -- the one place units are known. ``dt`` (seconds after
``ts``) or ``ts`` gives the reading's own time. ``asset_id`` / ``site`` may be left out: they are
filled from the device's binding (and refused when they name something else).

A body may give its readings as columns instead (a company's history sealed by an operator's
import, thousands of rows an envelope): ``"columns": {"kind": "sale", "site": ["S1", "S2"],
"sku": ["A", "B"], "quantity": [3, 4], "ts": ["2024-01-01T00:00:00Z", ...]}`` holds the same readings
as ``"readings": [{"kind": "sale", "site": "S1", ...}, {"kind": "sale", "site": "S2", ...}]``: a list
is a column (one value per reading, every column as long; ``null`` leaves the field out of that
reading), any other value is the same in every reading. The signature covers the columns' bytes as
it covers readings'; the checks and the events are the same (:class:`ColumnReadings` shows the slow
path each reading as its dict; the fast path takes the columns whole).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
import orjson

from ..errors import EventError, IngestError, ParameterError, UnitError
from ..events import EVENT_TYPES, ColumnRun, EventBase, iso_utc, to_utc
from ..security.signing import b64u_encode, sign
from ..units import to_si

__all__ = [
    "Body",
    "ColumnReadings",
    "DeviceClock",
    "IMPORT_KINDS",
    "Sealed",
    "open_outer",
    "parse_body",
    "readings_to_events",
    "readings_to_rows",
    "seal",
]

MAX_READINGS = 10_000

# device field -> (quantity for units.py, canonical field) per event kind
_FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "position": {"speed": ("speed", "speed_m_s"), "heading": ("angle", "heading_deg"),
                 "accuracy": ("length", "accuracy_m")},
    "condition": {"temperature": ("temperature", "temperature_k"), "humidity": ("ratio", "humidity"),
                  "shock": ("acceleration", "shock_m_s2")},
    "machine_reading": {},
    "stock_count": {"quantity": ("count", "quantity")},
    "sale": {"quantity": ("count", "quantity"), "unfilled": ("count", "unfilled")},
}
DEVICE_KINDS = frozenset(_FIELDS)
#: kinds an operator-signed import may also carry for a source no device registration binds
#: (a company's history: purchase orders, shipments, maintenance records)
IMPORT_KINDS = DEVICE_KINDS | {"order", "shipment", "maintenance"}
_BINDING_FIELD = {"position": "asset_id", "condition": "asset_id", "machine_reading": "asset_id",
                  "stock_count": "site", "sale": "site"}

#: plausible SI ranges per canonical field (closed intervals); values outside are quarantined
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "temperature_k": (173.15, 373.15),     # -100 .. +100 degC
    "humidity": (0.0, 1.0),
    "shock_m_s2": (0.0, 2000.0),           # ~200 g
    "speed_m_s": (0.0, 100.0),             # 360 km/h
    "accuracy_m": (0.0, 100_000.0),
    "quantity": (0.0, 10_000_000.0),
    "unfilled": (0.0, 10_000_000.0),
    "unit_price": (0.0, 10_000_000.0),
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "sensor": (-1e9, 1e9),                 # machine sensors and settings
}


@dataclass(frozen=True, slots=True)
class Sealed:
    """The outer, unauthenticated part of an envelope."""

    device: str
    kid: str
    sig: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Body:
    device: str
    seq: int
    ts: datetime
    readings: list[Any]
    units: dict[str, str]

    @property
    def last_seq(self) -> int:
        return self.seq + len(self.readings) - 1


class ColumnReadings(Sequence[dict[str, Any]]):
    """The readings of a column body, as a sequence of dicts (made on demand, ``null`` left out);
    ``columns`` holds the columns as they came (lists of ``n`` values, or one value for all)."""

    __slots__ = ("columns", "n")

    def __init__(self, columns: dict[str, Any], n: int):
        self.columns, self.n = columns, n

    def __len__(self) -> int:
        return self.n

    def _one(self, i: int) -> dict[str, Any]:
        out = {}
        for k, v in self.columns.items():
            if type(v) is list:
                v = v[i]
            if v is not None:
                out[k] = v
        return out

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self._one(k) for k in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return self._one(i % self.n)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self._one(k) for k in range(self.n))

    def full(self) -> dict[str, list[Any]]:
        """Every column as a list of ``n`` values (a value for all repeated)."""
        return {k: v if type(v) is list else [v] * self.n for k, v in self.columns.items()}


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def seal(device: str, kid: str, private_key: str, seq: int, ts: datetime | str,
         readings: list[dict[str, Any]] | None, units: Mapping[str, str] | None = None, *,
         columns: dict[str, Any] | None = None) -> bytes:
    """Build and sign an envelope (its ``readings``, or their ``columns``: see the module
    docstring); returns the sealed wire bytes."""
    ts_text = ts if isinstance(ts, str) else iso_utc(ts)
    if (readings is None) == (columns is None):
        raise ParameterError("seal takes readings or columns, one of them")
    body: dict[str, Any] = {"v": 1, "device": device, "seq": seq, "ts": ts_text}
    if columns is not None:
        body["columns"] = columns
    else:
        body["readings"] = readings
    if units:
        body["units"] = dict(units)
    body_bytes = _dumps(body)
    sig = sign(private_key, body_bytes)
    return _dumps({"device": device, "kid": kid, "sig": b64u_encode(sig), "body": body_bytes.decode("utf-8")})


def _loads(raw: bytes | str, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8 and nesting deeper than 1024
        raise IngestError("schema", f"{what} is not valid JSON: {str(exc)[:200]}") from None


def _str(d: dict[str, Any], key: str, max_len: int, what: str) -> str:
    v = d.get(key)
    if not isinstance(v, str) or not 0 < len(v) <= max_len:
        raise IngestError("schema", f"{what} field {key!r} must be a string of 1..{max_len} characters")
    return v


def open_outer(raw: bytes | str | dict[str, Any]) -> Sealed:
    """Parse the outer envelope (no trust yet); raises ``IngestError('schema')``."""
    outer = raw if isinstance(raw, dict) else _loads(raw, "envelope")
    if not isinstance(outer, dict):
        raise IngestError("schema", "envelope must be a JSON object")
    extra = set(outer) - {"device", "kid", "sig", "body"}
    if extra:
        raise IngestError("schema", f"unexpected envelope fields: {sorted(extra)[:5]}")
    body = outer.get("body")
    if not isinstance(body, str):
        raise IngestError("schema", "envelope field 'body' must be a string (the signed JSON text)")
    try:
        body_bytes = body.encode("utf-8")
    except UnicodeEncodeError:
        raise IngestError("schema", "envelope body is not valid UTF-8 (lone surrogate)") from None
    return Sealed(_str(outer, "device", 128, "envelope"), _str(outer, "kid", 64, "envelope"),
                  _str(outer, "sig", 128, "envelope"), body_bytes)


def parse_body(body: bytes) -> Body:
    """Parse the signed body (after the signature is verified); raises ``IngestError('schema')``."""
    d = _loads(body, "body")
    if not isinstance(d, dict):
        raise IngestError("schema", "body must be a JSON object")
    extra = set(d) - {"v", "device", "seq", "ts", "readings", "columns", "units"}
    if extra:
        raise IngestError("schema", f"unexpected body fields: {sorted(extra)[:5]}")
    if d.get("v") != 1:
        raise IngestError("schema", f"body field 'v' must be 1, got {str(d.get('v'))[:20]}")
    seq = d.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**62:
        raise IngestError("schema", f"body field 'seq' must be an integer in [0, 2^62), got {str(seq)[:30]}")
    ts_text = d.get("ts")
    if not isinstance(ts_text, str) or len(ts_text) > 40:
        raise IngestError("schema", "body field 'ts' must be an ISO timestamp string")
    try:
        ts = to_utc(datetime.fromisoformat(ts_text.replace("Z", "+00:00")))
    except ValueError as exc:
        raise IngestError("schema", f"body field 'ts' {ts_text[:40]!r}: {exc}") from None
    if "columns" in d:
        if "readings" in d:
            raise IngestError("schema", "a body has 'readings' or 'columns', not both")
        readings: Any = _columns(d["columns"])
    else:
        readings = d.get("readings")
        if not isinstance(readings, list) or not 1 <= len(readings) <= MAX_READINGS:
            raise IngestError("schema", f"body field 'readings' must be a list of 1..{MAX_READINGS} readings")
    if seq + len(readings) > 2**62:
        raise IngestError("schema", "seq + number of readings overflows")
    units = d.get("units") or {}
    if not isinstance(units, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in units.items()):
        raise IngestError("schema", "body field 'units' must map field names to unit strings")
    return Body(_str(d, "device", 128, "body"), seq, ts, readings, units)


def _columns(cols: Any) -> ColumnReadings:
    if not isinstance(cols, dict) or not cols:
        raise IngestError("schema", "body field 'columns' must be an object of field -> list of values")
    lengths = {len(v) for v in cols.values() if type(v) is list}
    if not lengths:
        raise IngestError("schema", "body field 'columns' needs at least one list (one value per reading)")
    if len(lengths) > 1:
        raise IngestError("schema", f"the columns of body field 'columns' differ in length ({min(lengths)} .. "
                                    f"{max(lengths)}); each holds one value per reading")
    n = lengths.pop()
    if not 1 <= n <= MAX_READINGS:
        raise IngestError("schema", f"body field 'columns' must hold 1..{MAX_READINGS} readings, got {n}")
    return ColumnReadings(cols, n)


def _number(v: Any, field: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise IngestError("schema", f"reading field {field!r} must be a number, got {type(v).__name__}")
    f = float(v) if not isinstance(v, int) or abs(v) < 2**63 else math.inf
    if not math.isfinite(f):
        raise IngestError("implausible", f"reading field {field!r} is not finite")
    return f


def _check_range(field: str, value: float) -> None:
    lo, hi = PLAUSIBLE.get(field, (-math.inf, math.inf))
    if not lo <= value <= hi:
        raise IngestError("implausible", f"{field}={value:.6g} outside the plausible range [{lo:g}, {hi:g}]")


class DeviceClock:
    """Reading times relative to the envelope's ``ts``."""

    @staticmethod
    def reading_ts(body_ts: datetime, r: dict[str, Any]) -> datetime:
        if "dt" in r:
            dt = _number(r["dt"], "dt")
            if abs(dt) > _MAX_DT_S:
                raise IngestError("schema", f"reading field 'dt'={dt:g} s is more than a week off the envelope ts")
            try:
                return body_ts + timedelta(seconds=dt)
            except OverflowError:
                raise IngestError("time_out_of_range", f"reading time {body_ts.isoformat()} + {dt:g} s is out "
                                                       "of range") from None
        if "ts" in r:
            t = r["ts"]
            if not isinstance(t, str) or len(t) > 40:
                raise IngestError("schema", "reading field 'ts' must be an ISO timestamp string")
            try:
                return to_utc(datetime.fromisoformat(t.replace("Z", "+00:00")))
            except ValueError as exc:
                raise IngestError("schema", f"reading field 'ts' {t[:40]!r}: {exc}") from None
        return body_ts


def readings_to_events(device: str, body: Body, *, asset: str | None, site: str | None,
                       allowed_kinds: frozenset[str] | None, any_site: bool = False,
                       kinds: frozenset[str] = DEVICE_KINDS) -> list[EventBase]:
    """Convert every reading of a verified body to a canonical event (SI units), enforcing the
    device's binding; raises ``IngestError`` with reason schema, unit, implausible or binding.

    A reading is about the asset or site the device is bound to (filled in when the reading leaves
    it out); one naming another, or of a kind whose binding the device lacks (a reefer's logger
    reporting sales), is refused. ``any_site``: a device registered without a binding on purpose
    (a gateway relaying for several sites; an operator-signed history import) may name any.
    ``kinds``: the event kinds the sender may report (:data:`IMPORT_KINDS` for an operator's import)."""
    out: list[EventBase] = []
    env_units = body.units
    for i, r in enumerate(body.readings):
        if not isinstance(r, dict):
            raise IngestError("schema", f"reading {i} must be a JSON object")
        kind = r.get("kind")
        if kind not in kinds:
            raise IngestError("schema", f"reading {i}: kind must be one of {sorted(kinds)}, got "
                                        f"{str(kind)[:30]!r}")
        if allowed_kinds is not None and kind not in allowed_kinds:
            raise IngestError("binding", f"reading {i}: device {device!r} does not measure {kind!r}")
        bind_field = _BINDING_FIELD.get(kind, "")  # import kinds are bound to nothing
        bound = asset if bind_field == "asset_id" else site if bind_field else None
        claimed = r.get(bind_field)
        if not any_site:
            if bound is None:
                raise IngestError("binding", f"reading {i}: device {device!r} is not bound to any "
                                             f"{'asset' if bind_field == 'asset_id' else 'site'}, cannot report {kind}")
            if claimed is not None and claimed != bound:
                raise IngestError("binding", f"reading {i}: device {device!r} is bound to {bound!r}, "
                                             f"not {str(claimed)[:64]!r}")
        units = r.get("units")
        if units is not None and not isinstance(units, dict):
            raise IngestError("schema", f"reading {i}: 'units' must be an object")
        fields: dict[str, Any] = {"source": device, "seq": body.seq + i, "kind": kind,
                                  "ts": DeviceClock.reading_ts(body.ts, r)}
        mapping = _FIELDS.get(kind, {})
        for k, v in r.items():
            if k in ("kind", "dt", "ts", "units"):
                continue
            if k in mapping:
                quantity, target = mapping[k]
                unit = (units or {}).get(k, env_units.get(k))
                if unit is not None and not isinstance(unit, str):
                    raise IngestError("schema", f"reading {i}: unit of {k!r} must be a string")
                value = _number(v, k)
                try:
                    si = to_si(quantity, value, unit)
                except UnitError as exc:
                    raise IngestError("unit", f"reading {i} field {k!r}: {exc}") from None
                if not math.isfinite(si):
                    raise IngestError("implausible", f"reading {i} field {k!r} overflows after conversion")
                _check_range(target, si)
                fields[target] = si
            elif k in ("settings", "sensors") and kind == "machine_reading":
                if not isinstance(v, dict) or len(v) > 256:
                    raise IngestError("schema", f"reading {i}: {k!r} must be an object of at most 256 numbers")
                vals = {}
                for name, x in v.items():
                    f = _number(x, f"{k}.{name}")
                    _check_range("sensor", f)
                    vals[name] = f
                fields[k] = vals
            else:
                if k in PLAUSIBLE and not isinstance(v, bool) and isinstance(v, (int, float)):
                    _check_range(k, _number(v, k))
                elif isinstance(v, float) and not math.isfinite(v):
                    raise IngestError("implausible", f"reading {i} field {k!r} is not finite")
                fields[k] = v
        if fields.get(bind_field) is None and bound is not None:
            fields[bind_field] = bound
        try:
            out.append(EVENT_TYPES[kind].model_validate(fields))
        except EventError as exc:  # pragma: no cover - model_validate raises ValidationError
            raise IngestError("schema", f"reading {i}: {exc}") from None
        except Exception as exc:  # pydantic ValidationError: keep the message short and safe
            errs = getattr(exc, "errors", None)
            msg = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errs(include_url=False)[:3]) \
                if callable(errs) else str(exc)[:200]
            raise IngestError("schema", f"reading {i}: {msg}"[:500]) from None
    return out


#: a reading ready for the log: (seq, ts_us, kind, wire JSON of the canonical event)
Row = tuple[int, int, str, str]


class Rows(ColumnRun):
    """The readings of one envelope from the column path, as the log stores them (one row of
    columns, :class:`~supplynet.events.ColumnRun`), with ``columns``: the SI values per
    canonical numeric field (the data-quality monitor reads them as they are)."""

    __slots__ = ("columns",)


# fields the fast path handles per kind: numeric fields with a unit (device name -> quantity, SI name),
# required fields, and plain identifier fields
_FAST_NUM: dict[str, dict[str, tuple[str, str]]] = {
    "condition": _FIELDS["condition"],
    "position": {"lat": ("angle", "lat"), "lon": ("angle", "lon"), "speed": ("speed", "speed_m_s"),
                 "accuracy": ("length", "accuracy_m")},
    "stock_count": _FIELDS["stock_count"],
    "sale": _FIELDS["sale"],
}
_FAST_REQUIRED = {"position": {"lat", "lon"}, "stock_count": {"sku", "quantity"}, "sale": {"sku", "quantity"},
                  "condition": set()}
_FAST_IDENT = {"condition": {"shipment_id"}, "position": {"shipment_id"}, "stock_count": {"sku"}, "sale": {"sku"}}
_IDENT = __import__("re").compile(r"^[A-Za-z0-9_.:@/\-]{1,128}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


@lru_cache(maxsize=256)
def _unit_factor(quantity: str, unit: str | None) -> tuple[float, float]:
    """The exact ``(factor, offset)`` :func:`supplynet.units.to_si` applies (``value * factor + offset``),
    so a column converts bit-identically to the canonical path without a call per value."""
    from .. import units

    lookup = getattr(units, "_lookup", None)
    if lookup is None:  # pragma: no cover - units.py changed: derive it (exact for factor-only units)
        offset = to_si(quantity, 0.0, unit)
        return to_si(quantity, 1.0, unit) - offset, offset
    return lookup(quantity, unit)


_NUMBER_TYPES = frozenset({int, float})


@lru_cache(maxsize=64)
def _fast_allowed(kind: str, bind_field: str) -> frozenset[str]:
    """The reading fields the fast path takes for ``kind``."""
    return frozenset({"kind", "dt", "ts", bind_field} | set(_FAST_NUM[kind]) | _FAST_IDENT[kind])


def _fast_rows(device: str, body: Body, bound: str | None, bind_field: str, kind: str) -> list[Row] | None:
    """Column-at-a-time conversion of homogeneous readings; None when the fast path does not apply
    (the caller then validates reading by reading with the canonical pydantic models). ``bound``
    None: a sender bound to nothing (an operator's import), each reading names its own site or
    asset, checked as an identifier column."""
    readings = body.readings
    is_cols = isinstance(readings, ColumnReadings)
    first = readings[0]
    if type(first) is not dict:
        return None
    keys = readings.columns.keys() if is_cols else first.keys()
    nums = _FAST_NUM[kind]
    idents = _FAST_IDENT[kind] if bound is not None else _FAST_IDENT[kind] | {bind_field}
    required = _FAST_REQUIRED[kind] if bound is not None else _FAST_REQUIRED[kind] | {bind_field}
    if not keys <= _fast_allowed(kind, bind_field) or not required <= keys or ("ts" in keys and "dt" in keys):
        return None
    n = len(readings)
    if is_cols:  # columns already (a null anywhere fails a type check below: the slow path takes it)
        columns = readings.full()
    elif n == 1:  # a single reading (the common MQTT message): its own columns
        columns = {k: [v] for k, v in first.items()}
    else:
        # every reading a dict with as many keys as the first, each holding the first's keys: the same keys
        if set(map(type, readings)) != {dict} or set(map(len, readings)) != {len(keys)}:
            return None
        try:
            columns = {k: [r[k] for r in readings] for k in keys}
        except KeyError:
            return None
    if (readings.columns["kind"] != kind if is_cols and type(readings.columns["kind"]) is not list
            else any(v != kind for v in columns["kind"])):
        return None
    cols: dict[str, list[Any]] = {}
    for k in keys:
        if k in nums:
            quantity, target = nums[k]
            unit = body.units.get(k) if quantity != "angle" else None
            raw = columns[k]
            if not set(map(type, raw)) <= _NUMBER_TYPES:
                return None  # let the slow path name the offending reading
            try:
                # exactly what the canonical path computes (units.to_si), value by value: a float64
                # multiply then add, the same IEEE operations whether numpy or Python makes them
                factor, offset = _unit_factor(quantity, unit)
                if n >= _NUMPY_FROM:
                    arr = np.array(raw, dtype=np.float64) * factor + offset
                    finite = bool(np.isfinite(arr).all())
                    col = arr.tolist()
                else:
                    col = [float(v) * factor + offset for v in raw]
                    finite = all(map(math.isfinite, col))
            except OverflowError:
                raise IngestError("implausible", f"field {k!r}: number too large") from None
            except UnitError as exc:
                raise IngestError("unit", f"field {k!r}: {exc}") from None
            if not finite:
                raise IngestError("implausible", f"field {k!r} is not finite")
            lo, hi = (col[0], col[0]) if n == 1 else (min(col), max(col))
            _check_range(target, lo)
            _check_range(target, hi)
            cols[target] = col
        elif k in idents:
            vals = columns[k]
            try:
                distinct = set(vals)
            except TypeError:  # an unhashable value: the slow path names the reading
                return None
            if not all(type(v) is str and _IDENT.match(v) for v in distinct):
                return None  # each distinct identifier checked once
            cols[k] = vals
        elif k == bind_field:
            if any(v != bound for v in columns[k]):
                return None  # the slow path reports the binding violation
    base_us = (body.ts - _EPOCH) // _US
    seqs = range(body.seq, body.seq + n)
    if "ts" in keys:  # each reading's own time, as DeviceClock.reading_ts reads it
        parsed: dict[Any, int] = {}
        try:
            distinct = set(columns["ts"])
        except TypeError:  # an unhashable value: the slow path names the reading
            return None
        for v in distinct:  # each distinct time parsed once
            if type(v) is not str or len(v) > 40:
                return None
            try:
                parsed[v] = (to_utc(datetime.fromisoformat(v.replace("Z", "+00:00"))) - _EPOCH) // _US
            except ValueError:
                return None  # the slow path names the reading
        tus = list(map(parsed.__getitem__, columns["ts"]))
    elif "dt" in keys:
        dts = columns["dt"]
        types = set(map(type, dts))
        if not types <= _NUMBER_TYPES:
            return None
        if min(dts) < -_MAX_DT_S or max(dts) > _MAX_DT_S:
            return None  # the slow path names the reading
        if types == {int}:
            tus = [base_us + v * 1_000_000 for v in dts]
        else:
            try:
                tus = [base_us + v * 1_000_000 if type(v) is int else (body.ts + timedelta(seconds=v) - _EPOCH) // _US
                       for v in dts]
            except OverflowError:
                return None  # the slow path names the reading
    else:
        tus = [base_us] * n
    # the log keeps the columns as they are (one row per envelope) and reads them back into the
    # same canonical events: floats are finite, identifiers match the canonical Ident pattern
    head = {"v": 1, "kind": kind, "source": device}
    if bound is not None:
        head[bind_field] = bound
    out = Rows(head, seqs, tus, cols)
    out.columns = {k: v for k, v in cols.items() if k not in idents}
    return out


_MAX_DT_S = 86_400 * 7
#: readings from which numbers convert with numpy (one array op instead of a Python loop)
_NUMPY_FROM = 64


def readings_to_rows(device: str, body: Body, *, asset: str | None, site: str | None,
                     allowed_kinds: frozenset[str] | None, any_site: bool = False,
                     kinds: frozenset[str] = DEVICE_KINDS) -> list[Row] | Rows:
    """The verified body's readings for the log; same checks and events as
    :func:`readings_to_events` (a test holds the two paths to each other): homogeneous batches of
    plain telemetry as columns (:class:`Rows`, stored as one row of columns), the rest as rows."""
    first = body.readings[0]
    kind = first.get("kind") if isinstance(first, dict) else None
    if kind in _FAST_NUM and (allowed_kinds is None or kind in allowed_kinds):
        bind_field = _BINDING_FIELD[kind]
        bound = asset if bind_field == "asset_id" else site
        # unbound on purpose (a relaying gateway, an operator's import): each reading names its own site or
        # asset, as the canonical path reads it; any other unbound sender goes the canonical path (refused)
        if bound is not None or any_site:
            rows = _fast_rows(device, body, bound, bind_field, kind)
            if rows is not None:
                return rows
    events = readings_to_events(device, body, asset=asset, site=site, allowed_kinds=allowed_kinds, any_site=any_site,
                                kinds=kinds)
    return [(e.seq, (e.ts - _EPOCH) // _US, e.kind, e.model_dump_json(exclude_none=True))  # type: ignore[attr-defined]
            for e in events]


def utcnow() -> datetime:
    return datetime.now(UTC)
