"""Twin snapshots as data: zlib-compressed JSON, never pickle.

A snapshot is ``MAGIC`` followed by zlib-compressed JSON ``{"format": 3, "offset": .., "state": ..}``:
the state's records as objects of their fields (times as ISO 8601 strings, tuples as lists), and its
projections (``work_orders``, ``rul``: format 3; a format-2 snapshot has none and is refused, so the
reader replays the log and the projections are whole). Reading
one rebuilds the frozen records field by field, so a snapshot from elsewhere can at worst hold wrong
numbers -- never run code, as unpickling a hostile file would. A blob in any other format (the pickles
of earlier versions included) is refused with :class:`~supplynet.errors.DataError` without being
interpreted; :meth:`supplynet.twin.Twin.rebuild` then replays the log instead.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from datetime import datetime
from typing import Any

from ..errors import DataError
from ._records import AssetState, InventoryPosition, OrderState, ShipmentState
from ._state import TwinState

__all__ = ["MAGIC", "decode_snapshot", "encode_snapshot"]

MAGIC = b"SNTWIN\x00"
FORMAT = 3
_TABLES = {"inventory": InventoryPosition, "shipments": ShipmentState, "orders": OrderState, "assets": AssetState}
_WORK_ORDER_KEYS = ("work_order_id", "asset_id", "status", "opened_at", "detail", "decision_id")
_MAX_BYTES = 1 << 30  # a decompressed snapshot larger than this is refused (a zip bomb is not a twin)


def _times(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls) if "datetime" in str(f.type))


_TIME_FIELDS = {cls: _times(cls) for cls in _TABLES.values()}


def _record(rec: Any) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        out[f.name] = v.isoformat() if isinstance(v, datetime) else v
    return out


def encode_snapshot(offset: int, state: TwinState) -> bytes:
    """The twin's state at log offset ``offset`` as snapshot bytes."""
    body = {
        "format": FORMAT, "offset": int(offset),
        "state": {
            **{name: [_record(r) for r in getattr(state, name).values()] for name in _TABLES},
            "lost_sales_sites": sorted(state.lost_sales_sites), "untracked_sites": sorted(state.untracked_sites),
            "events_applied": state.events_applied,
            "last_event_at": state.last_event_at.isoformat() if state.last_event_at else None,
            "work_orders": [{**w, "opened_at": w["opened_at"].isoformat() if isinstance(w.get("opened_at"), datetime)
                             else w.get("opened_at")} for w in state.work_orders.values()],
            "rul": state.rul,
        },
    }
    return MAGIC + zlib.compress(json.dumps(body, separators=(",", ":"), allow_nan=True).encode(), 3)


def _build(cls: type, row: Any) -> Any:
    if not isinstance(row, dict):
        raise DataError(f"twin snapshot: a {cls.__name__} record is not an object")
    kw = dict(row)
    for name in _TIME_FIELDS[cls] & kw.keys():
        if kw[name] is not None:
            kw[name] = datetime.fromisoformat(kw[name])
    if cls is ShipmentState and kw.get("lines") is not None:
        kw["lines"] = tuple(tuple(x) for x in kw["lines"])
    return cls(**kw)


def _key(cls: type, rec: Any) -> Any:
    if cls is InventoryPosition:
        return (rec.site, rec.sku)
    return rec.shipment_id if cls is ShipmentState else rec.order_id if cls is OrderState else rec.asset_id


def decode_snapshot(blob: bytes) -> tuple[int, TwinState]:
    """``(offset, state)`` from snapshot bytes; :class:`DataError` for anything else."""
    blob = bytes(blob)
    if not blob.startswith(MAGIC):
        kind = "a pickle (from an earlier version; never unpickled)" if blob[:1] == b"\x80" else "not a twin snapshot"
        raise DataError(f"twin snapshot refused: {kind}")
    try:
        z = zlib.decompressobj()
        raw = z.decompress(blob[len(MAGIC):], _MAX_BYTES)
        if z.unconsumed_tail:
            raise DataError("twin snapshot refused: larger than 1 GiB decompressed")
        body = json.loads(raw)
        if not isinstance(body, dict) or body.get("format") != FORMAT:
            raise DataError(f"twin snapshot refused: format {body.get('format') if isinstance(body, dict) else '?'}, "
                            f"expected {FORMAT}")
        s = body["state"]
        state = TwinState(lost_sales_sites=frozenset(s["lost_sales_sites"]),
                          untracked_sites=frozenset(s["untracked_sites"]), events_applied=int(s["events_applied"]),
                          last_event_at=datetime.fromisoformat(s["last_event_at"]) if s["last_event_at"] else None)
        for name, cls in _TABLES.items():
            table = getattr(state, name)
            for row in s[name]:
                rec = _build(cls, row)
                table[_key(cls, rec)] = rec
        for w in s["work_orders"]:
            if not isinstance(w, dict) or not isinstance(w.get("work_order_id"), str):
                raise DataError("twin snapshot refused: a work order is not an object with a work_order_id")
            state.work_orders[w["work_order_id"]] = {
                **{k: w.get(k) for k in _WORK_ORDER_KEYS},
                "opened_at": datetime.fromisoformat(w["opened_at"]) if w.get("opened_at") else None}
        if not isinstance(s["rul"], dict) or not all(isinstance(v, dict) for v in s["rul"].values()):
            raise DataError("twin snapshot refused: the RUL projection is not an object of objects")
        state.rul.update(s["rul"])
        return int(body["offset"]), state
    except DataError:
        raise
    except (zlib.error, ValueError, TypeError, KeyError) as exc:
        raise DataError(f"twin snapshot refused: damaged or not a twin snapshot ({exc})") from exc
