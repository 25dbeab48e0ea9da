"""What each kind of company file means: its fields, the column names recognised for each, and how
a row becomes canonical events (:mod:`supplynet.events`).

========================  ============================================================================
kind                      events
========================  ============================================================================
``sales``                 :class:`~supplynet.events.Sale` per row (site, sku, quantity, unfilled, price)
``stock``                 :class:`~supplynet.events.StockCount` per row (a snapshot of on-hand stock)
``purchase-orders``       :class:`~supplynet.events.OrderEvent` (purchase; status ``created`` unless given)
``shipments``             :class:`~supplynet.events.ShipmentStatus` for a row with a status (rows of one
                          shipment, status and time merge into one event with a line per SKU), and
                          :class:`~supplynet.events.Position` for a row with a GPS fix (lat, lon)
``sensor-log``            :class:`~supplynet.events.MachineReading` per row (settings and sensors)
``maintenance-history``   :class:`~supplynet.events.Maintenance` per row (failure, completed, ...)
========================  ============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ...errors import DataError, UnitError
from ...units import to_si
from ._columns import Mapping, Parsed, norm, parse_ident, parse_number, parse_text, parse_time
from ._read import Table

__all__ = ["KINDS", "Built", "build"]


@dataclass(frozen=True)
class F:
    """A field of a kind: its parser (``ident``, ``text``, ``count``, ``number``, ``time``, ``enum``,
    ``lat``, ``lon``, ``speed``, ``length``, ``angle``), the column names recognised for it, and
    for ``enum`` the values recognised (normalised spelling -> canonical value)."""

    name: str
    type: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    choices: dict[str, str] | None = None
    default: Any = None


_TS = ("ts", "date", "ds", "day", "week", "timestamp", "time", "datetime", "date_time")
_SITE = ("site", "site_id", "store", "store_id", "location", "location_id", "warehouse", "dc", "branch", "shop",
         "plant")
_SKU = ("sku", "sku_id", "item", "item_id", "product", "product_id", "article", "material", "part", "part_number",
        "dept")
_QTY = ("quantity", "qty", "units", "volume")
_ASSET = ("asset_id", "asset", "unit", "unit_id", "unit_number", "machine", "machine_id", "engine", "engine_id",
          "equipment", "equipment_id")
_SHIP_STATUS = {s: s for s in ("planned", "departed", "in_transit", "delayed", "arrived", "delivered", "cancelled")}
_SHIP_STATUS.update({"dispatched": "departed", "shipped": "departed", "in_transport": "in_transit",
                     "late": "delayed", "received": "delivered", "canceled": "cancelled"})
_ORDER_STATUS = {s: s for s in ("proposed", "created", "released", "shipped", "received", "cancelled")}
_ORDER_STATUS.update({"open": "created", "confirmed": "released", "canceled": "cancelled", "closed": "received",
                      "delivered": "received"})
_ACTIONS = {"failure": "failure", "fail": "failure", "failed": "failure", "breakdown": "failure",
            "corrective": "failure", "completed": "completed", "complete": "completed", "done": "completed",
            "repair": "completed", "repaired": "completed", "preventive": "completed", "pm": "completed",
            "maintenance": "completed", "replaced": "completed", "replacement": "completed",
            "work_order_opened": "work_order_opened", "open": "work_order_opened", "opened": "work_order_opened",
            "created": "work_order_opened", "started": "started", "start": "started", "cancelled": "cancelled",
            "canceled": "cancelled", "cancel": "cancelled"}


@dataclass(frozen=True)
class Kind:
    event: str
    fields: tuple[F, ...]
    constants: dict[str, Any] = field(default_factory=dict)


KINDS: dict[str, Kind] = {
    "sales": Kind("sale", (
        F("ts", "time", True, _TS + ("order_date", "sales_date", "period")), F("site", "ident", True, _SITE),
        F("sku", "ident", True, _SKU),
        F("quantity", "count", True, _QTY + ("sales", "sold", "demand", "y", "weekly_sales", "units_sold")),
        F("unfilled", "count", False, ("unfilled", "lost_sales", "backorder", "backorders", "shortage")),
        F("unit_price", "price", False, ("unit_price", "price", "sell_price", "sales_price")))),
    "stock": Kind("stock_count", (
        F("ts", "time", True, _TS + ("snapshot_date", "as_of", "count_date")), F("site", "ident", True, _SITE),
        F("sku", "ident", True, _SKU),
        F("quantity", "count", True, _QTY + ("on_hand", "qty_on_hand", "onhand", "stock", "inventory", "available")),
        F("method", "enum", False, ("method", "count_method"),
          {"rfid": "rfid", "shelf": "shelf", "manual": "manual", "cycle_count": "cycle_count"}, "manual"))),
    "purchase-orders": Kind("order", (
        F("order_id", "ident", True, ("order_id", "po", "po_number", "po_id", "order", "order_number")),
        F("ts", "time", True, ("order_date", "created", "created_at", "po_date") + _TS),
        F("site", "ident", True, ("destination", "ship_to", "receiving_site") + _SITE), F("sku", "ident", True, _SKU),
        F("quantity", "count", True, _QTY + ("ordered", "order_qty", "qty_ordered")),
        F("origin", "ident", False, ("origin", "supplier", "supplier_id", "vendor", "vendor_id")),
        F("due", "time", False, ("due", "due_date", "expected", "expected_date", "delivery_date", "promised",
                                 "promised_date", "eta")),
        F("status", "enum", False, ("status", "state"), _ORDER_STATUS, "created"),
        F("lane_id", "ident", False, ("lane_id", "lane"))),
        {"order_type": "purchase"}),
    "shipments": Kind("shipment", (
        F("shipment_id", "ident", True, ("shipment_id", "shipment", "consignment", "load_id", "trip_id", "trip",
                                         "delivery_id", "tracking_number")),
        F("ts", "time", True, _TS + ("event_time", "status_time", "gps_time")),
        F("status", "enum", False, ("status", "state", "event"), _SHIP_STATUS),
        F("origin", "ident", False, ("origin", "from", "ship_from", "origin_site")),
        F("destination", "ident", False, ("destination", "to", "ship_to", "destination_site")),
        F("lane_id", "ident", False, ("lane_id", "lane")),
        F("asset_id", "ident", False, ("asset_id", "asset", "truck", "vehicle", "vehicle_id", "trailer", "vessel")),
        F("sku", "ident", False, _SKU), F("quantity", "count", False, _QTY),
        F("promised_at", "time", False, ("promised_at", "promised", "due", "due_date")),
        F("eta", "time", False, ("eta", "expected_arrival")),
        F("lat", "lat", False, ("lat", "latitude")), F("lon", "lon", False, ("lon", "lng", "long", "longitude")),
        F("speed", "speed", False, ("speed", "speed_kmh", "speed_m_s")),
        F("heading", "angle", False, ("heading", "course", "bearing")),
        F("accuracy", "length", False, ("accuracy", "hdop_m", "accuracy_m")))),
    "sensor-log": Kind("machine_reading", (
        F("asset_id", "ident", True, _ASSET), F("ts", "time", False, _TS),
        F("cycle", "number", False, ("cycle", "cycles", "time_cycles", "time_in_cycles")))),
    "maintenance-history": Kind("maintenance", (
        F("asset_id", "ident", True, _ASSET), F("ts", "time", True, _TS + ("date_done", "completed_at")),
        F("action", "enum", False, ("action", "type", "event", "activity", "maintenance_type"), _ACTIONS,
          "completed"),
        F("work_order_id", "ident", False, ("work_order_id", "work_order", "wo", "wo_number", "order_id")),
        F("detail", "text", False, ("detail", "description", "comment", "comments", "note", "notes", "text",
                                     "failure_mode")))),
}
_QUANTITY = {"count": "count", "speed": "speed", "length": "length"}
_RANGE = {"price": (0.0, 1e7), "lat": (-90.0, 90.0), "lon": (-180.0, 180.0), "angle": (0.0, 359.999999), "count": (0.0, 1e7),
          "number": (-1e9, 1e9)}


@dataclass
class Built:
    """A file's rows as canonical readings: ``readings`` (``kind``, ``ts`` and fields, SI units),
    ``keys`` (the stream, ``""`` or ``"gps"``, and the sequence number of each: the position of its
    row in the file), every problem as ``(row, column, reason)``, the rows read, and the columns
    nothing used."""

    readings: list[dict[str, Any]]
    keys: list[tuple[str, int]]
    problems: list[tuple[int, str, str]]
    rows: int
    ignored: list[str]
    rownum: list[int]  # the row a person sees, per position
    columns: dict[str, str]  # field -> column
    #: the column form (sales, stock): the kept rows' values per field (float arrays with NaN, or
    #: object arrays with None, where a value is missing), ``readings``/``keys`` then left empty
    table: dict[str, np.ndarray] | None = None
    #: the column form's sequence numbers (each kept row's position in the file), ascending
    seqs: np.ndarray | None = None
    #: the fields every reading of the column form has the same (``kind`` and the kind's constants)
    common: dict[str, Any] | None = None

    @property
    def n_events(self) -> int:
        return len(self.seqs) if self.seqs is not None else len(self.readings)


def _resolve(kind: Kind, columns: list[str], mapping: Mapping, file: str) -> dict[str, str]:
    """field -> column: the mapping's ``columns`` first, then the recognised names."""
    out: dict[str, str] = {}
    names = {f.name for f in kind.fields}
    for col, fld in mapping.columns.items():
        if col not in columns:
            raise DataError(f"{file}: the mapping names column {col!r}, which the file does not have "
                            f"(columns: {', '.join(columns[:20])})")
        if fld in names:
            out[fld] = col
    by_norm = {norm(c): c for c in reversed(columns)}
    mapped = set(mapping.columns)
    for f in kind.fields:
        if f.name in out or f.name in mapping.defaults:
            continue
        for alias in (f.name, *f.aliases):
            c = by_norm.get(alias)
            if c is not None and c not in mapped and c not in out.values():
                out[f.name] = c
                break
    return out


def _parse(f: F, s: pd.Series, mapping: Mapping) -> Parsed:
    if f.type == "ident":
        return parse_ident(s)
    if f.type == "text":
        p = parse_text(s)
        return Parsed(p.values.map(lambda v: v[:2000], na_action="ignore"))
    if f.type == "time":
        return parse_time(s, mapping)
    if f.type == "enum":
        p = parse_text(s)
        assert f.choices is not None
        vals = p.values.map(lambda v: f.choices.get(norm(v)), na_action="ignore")  # type: ignore[union-attr]
        bad = p.bad.where(~(vals.isna() & p.values.notna()),
                          f"unknown {f.name}; use one of {', '.join(sorted(set(f.choices.values())))}")
        return Parsed(vals, bad)
    lo, hi = _RANGE.get(f.type, (None, None))
    p = parse_number(s, decimal=mapping.decimal)
    quantity = _QUANTITY.get(f.type)
    unit = mapping.units.get(f.name)
    if quantity is not None and unit is not None:
        try:
            factor = to_si(quantity, 1.0, unit) - to_si(quantity, 0.0, unit)
            offset = to_si(quantity, 0.0, unit)
        except UnitError as exc:
            raise DataError(f"units.{f.name}: {exc}") from exc
        p = Parsed(p.values * factor + offset, p.bad)
    bad = p.bad
    if lo is not None:
        bad = bad.where(~(p.values < lo), f"must be >= {lo:g}")
    if hi is not None:
        bad = bad.where(~(p.values > hi), f"must be <= {hi:g}")
    return Parsed(p.values.where(bad.isna()), bad)


def _iso(ts: pd.Series) -> pd.Series:
    """ISO text (UTC, ``Z``) of each time, formatted once per distinct time."""
    codes, uniques = pd.factorize(ts, use_na_sentinel=True)
    frac = bool(len(uniques)) and bool((pd.DatetimeIndex(uniques).microsecond != 0).any())
    text = pd.DatetimeIndex(uniques).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if frac else "%Y-%m-%dT%H:%M:%SZ")
    return pd.Series(np.append(np.asarray(text, dtype=object), None)[codes], index=ts.index, dtype=object)


def build(kind_name: str, table: Table, mapping: Mapping, file: str) -> Built:
    """Parse every row of ``table`` as ``kind_name``; rows with a problem give no reading."""
    if kind_name not in KINDS:
        raise DataError(f"unknown kind {kind_name!r}; use one of {', '.join(KINDS)}")
    kind = KINDS[kind_name]
    frame, rownum = table.frame, table.rows
    cols = _resolve(kind, list(frame.columns), mapping, file)
    for f in kind.fields:
        if f.required and f.name not in cols and f.name not in mapping.defaults \
                and not (kind_name == "sensor-log" and f.name == "ts"):
            raise DataError(f"{file}: no column for {f.name!r} (name a column {', '.join(dict.fromkeys((f.name, *f.aliases)))}"
                            f", or map one in --mapping: columns: {{YOUR_COLUMN: {f.name}}})")
    n = len(frame)
    values: dict[str, pd.Series] = {}
    problems: list[tuple[int, str, str]] = []
    refused = pd.Series(False, index=frame.index)

    def note(bad: pd.Series, column: str, hit: pd.Series | None = None) -> None:
        if hit is None:
            hit = bad.notna()
        if hit.any():
            problems.extend(zip(rownum[hit].tolist(), [column] * int(hit.sum()), bad[hit].tolist(), strict=True))
            refused.loc[hit] = True  # in place: the builders hold this series

    unreadable: dict[str, pd.Series] = {}
    for f in kind.fields:
        if f.name in cols:
            p = _parse(f, frame[cols[f.name]], mapping)
            hit = p.bad.notna()
            note(p.bad, cols[f.name], hit)
            values[f.name], unreadable[f.name] = p.values, hit
        elif f.name in mapping.defaults or f.default is not None:
            const = pd.Series([mapping.defaults.get(f.name, f.default)] * n, index=frame.index, dtype=object)
            p = _parse(f, const, mapping)
            if p.bad.notna().any():
                raise DataError(f"defaults.{f.name}: {p.bad.dropna().iloc[0]}")
            values[f.name] = p.values
    for f in kind.fields:  # a required value left blank (an unreadable one is named already)
        if f.required and f.name in cols:
            blank = values[f.name].isna() & ~unreadable[f.name]
            if blank.any():
                note(pd.Series(f"missing {f.name}", index=frame.index, dtype=object).where(blank, pd.NA),
                     cols[f.name], blank)
    used = set(cols.values())
    extra = [c for c in frame.columns if c not in used]
    if kind_name in COLUMNAR:
        table_, seqs = _columnar(kind, frame, values, refused)
        return Built([], [], problems, n, extra, rownum.tolist(), dict(cols), table_, seqs,
                     {"kind": kind.event, **kind.constants})
    builder = {"shipments": _shipments, "sensor-log": _sensor_log}.get(kind_name, _plain)
    readings, keys, ignored = builder(kind, frame, rownum, values, refused, extra, mapping, note, cols)
    return Built(readings, keys, problems, n, ignored, rownum.tolist(), dict(cols))


#: kinds built in column form: every check the gate makes, the column parsers make already
COLUMNAR = frozenset({"sales", "stock"})


def _columnar(kind: Kind, frame: pd.DataFrame, values: dict[str, pd.Series],
              refused: pd.Series) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The kept rows' values per field, vectorised: times as ISO text, numbers as float arrays
    (NaN where missing), text as object arrays (None where missing); and their sequence numbers."""
    keep = ~refused.to_numpy(dtype=bool)
    out: dict[str, np.ndarray] = {}
    for f in kind.fields:
        v = values.get(f.name)
        if v is None:
            continue
        if pd.api.types.is_datetime64_any_dtype(v):
            arr = _iso(v).to_numpy(dtype=object)
        elif pd.api.types.is_float_dtype(v):
            arr = v.to_numpy(dtype="float64", na_value=np.nan)
        else:
            arr = v.to_numpy(dtype=object)[keep]
            if not f.required:  # (a kept row has every required value)
                arr = np.where(pd.isna(arr), None, arr)
            out[f.name] = arr
            continue
        out[f.name] = arr[keep]
    return out, np.asarray(frame.index, dtype=np.int64)[keep]


def _records(values: dict[str, pd.Series], names: list[str], keep: pd.Series) -> list[dict[str, Any]]:
    """One dict per kept row of the named fields, missing values left out."""
    cols = {k: values[k][keep].to_numpy(dtype=object) for k in names if k in values}
    full = [k for k, v in cols.items() if not pd.isna(v).any()]
    partial = [k for k in cols if k not in full]
    out = [dict(zip(full, row, strict=True)) for row in zip(*(cols[k] for k in full), strict=True)] if full \
        else [{} for _ in range(int(keep.sum()))]
    for k in partial:
        for rec, v in zip(out, cols[k], strict=True):
            if v is not None and not (isinstance(v, float) and np.isnan(v)):
                rec[k] = v
    return out


def _times(values: dict[str, pd.Series]) -> None:
    for k, v in list(values.items()):
        if pd.api.types.is_datetime64_any_dtype(v):
            values[k] = _iso(v).where(v.notna(), None)


def _plain(kind: Kind, frame: pd.DataFrame, rownum: pd.Series, values: dict[str, pd.Series], refused: pd.Series,
           extra: list[str], mapping: Mapping, note: Any, cols: dict[str, str]) -> tuple[Any, Any, list[str]]:
    keep = ~refused
    _times(values)
    recs = _records(values, [f.name for f in kind.fields], keep)
    readings = [{"kind": kind.event, **kind.constants, **r} for r in recs]
    return readings, [("", int(i)) for i in frame.index[keep]], extra


def _shipments(kind: Kind, frame: pd.DataFrame, rownum: pd.Series, values: dict[str, pd.Series],
               refused: pd.Series, extra: list[str], mapping: Mapping, note: Any,
               cols: dict[str, str]) -> tuple[Any, Any, list[str]]:
    idx = frame.index
    empty = pd.Series(None, index=idx, dtype=object)
    has_status = values.get("status", empty).notna()
    has_fix = values.get("lat", empty).notna() & values.get("lon", empty).notna()
    note(pd.Series("neither a status nor a GPS fix (lat, lon)", index=idx, dtype=object).where(
        ~has_status & ~has_fix & ~refused, pd.NA), cols.get("status", "status"))
    order = values["ts"].sort_values(kind="stable").index
    for k in ("origin", "destination", "lane_id", "asset_id"):  # given once per shipment is enough
        if k in values:
            v = values[k].reindex(order).groupby(values["shipment_id"].reindex(order)).transform(
                lambda g: g.ffill().bfill())
            values[k] = v.reindex(idx)
    for k in ("origin", "destination"):
        note(pd.Series(f"a status row needs {k} (on this row or another row of the shipment)", index=idx,
                       dtype=object).where(has_status & values.get(k, empty).isna() & ~refused, pd.NA),
             cols.get(k, k))
    keep = ~refused
    _times(values)
    readings: list[dict[str, Any]] = []
    order_keys: list[tuple[str, int]] = []
    status_rows = keep & has_status
    merged: dict[tuple[str, str, str], int] = {}
    for i in idx[status_rows]:
        key = (values["shipment_id"][i], values["status"][i], values["ts"][i])
        line = None
        if "sku" in values and values["sku"][i] is not None and pd.notna(values.get("quantity", empty)[i]):
            line = {"sku": values["sku"][i], "quantity": float(values["quantity"][i])}
        if key in merged:
            if line is not None:
                readings[merged[key]].setdefault("lines", []).append(line)
            continue
        r: dict[str, Any] = {"kind": "shipment"}
        for k in ("shipment_id", "status", "ts", "origin", "destination", "lane_id", "asset_id", "promised_at", "eta"):
            v = values[k][i] if k in values else None
            if v is not None and not (isinstance(v, float) and np.isnan(v)):
                r[k] = v
        if line is not None:
            r["lines"] = [line]
        merged[key] = len(readings)
        readings.append(r)
        order_keys.append(("", int(i)))
    for i in idx[keep & has_fix]:
        r = {"kind": "position", "ts": values["ts"][i], "shipment_id": values["shipment_id"][i],
             "asset_id": values["asset_id"][i] if values.get("asset_id", empty)[i] is not None
             else values["shipment_id"][i], "lat": float(values["lat"][i]), "lon": float(values["lon"][i])}
        for k, target in (("speed", "speed_m_s"), ("heading", "heading_deg"), ("accuracy", "accuracy_m")):
            if k in values and pd.notna(values[k][i]):
                r[target] = float(values[k][i])
        readings.append(r)
        order_keys.append(("gps", int(i)))
    return readings, order_keys, extra


def _sensor_log(kind: Kind, frame: pd.DataFrame, rownum: pd.Series, values: dict[str, pd.Series],
                refused: pd.Series, extra: list[str], mapping: Mapping, note: Any,
                cols: dict[str, str]) -> tuple[Any, Any, list[str]]:
    idx = frame.index
    settings = mapping.settings if mapping.settings is not None else [c for c in extra if norm(c).startswith(
        ("setting", "op_setting", "operational_setting"))]
    sensors = mapping.sensors if mapping.sensors is not None else [c for c in extra if c not in settings]
    for c in [*settings, *sensors]:
        if c not in frame.columns:
            raise DataError(f"the mapping names sensor/setting column {c!r}, which the file does not have")
    numeric: dict[str, pd.Series] = {}
    ignored = [c for c in extra if c not in settings and c not in sensors]
    for c in [*settings, *sensors]:
        p = parse_number(frame[c], decimal=mapping.decimal, lo=-1e9, hi=1e9)
        if mapping.sensors is None and c in sensors and p.values.isna().all():
            ignored.append(c)  # a text column: not a sensor
            continue
        note(p.bad, c)
        numeric[c] = p.values
    sensors = [c for c in sensors if c in numeric]
    if "ts" not in values:
        if "cycle" not in values:
            raise DataError("no column for 'ts' or 'cycle' (a time or a cycle count per row)")
        start = pd.Timestamp(mapping.cycle_start)
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        values["ts"] = start + pd.to_timedelta(values["cycle"] * mapping.cycle_seconds, unit="s")
    note(pd.Series("missing ts", index=idx, dtype=object).where(values["ts"].isna() & ~refused, pd.NA),
         cols.get("ts", cols.get("cycle", "ts")))
    keep = ~refused
    _times(values)
    readings = []
    cycle = values.get("cycle")
    for i in idx[keep]:
        r: dict[str, Any] = {"kind": "machine_reading", "ts": values["ts"][i], "asset_id": values["asset_id"][i]}
        if cycle is not None and pd.notna(cycle[i]):
            r["cycle"] = int(cycle[i])
        r["settings"] = {c: float(numeric[c][i]) for c in settings if pd.notna(numeric[c][i])}
        r["sensors"] = {c: float(numeric[c][i]) for c in sensors if pd.notna(numeric[c][i])}
        readings.append(r)
    return readings, [("", int(i)) for i in idx[keep]], ignored
