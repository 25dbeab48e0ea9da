"""Replay history files (CSV, JSONL, Parquet, GPX) through the gate.

Trusted-import mode: the rows are packed into envelopes signed by an *operator* key (provisioned
with ``supplynet devices add operator:<name> --operator``), not by a device key; the gate checks
that signature against the registry's operator keys and then runs the same checks as for live
messages (schema, units, plausibility, binding for registered devices, deduplication, late data),
without the per-device rate limit. An operator may also sign the file itself
(:func:`supplynet.security.signing.sign_file`); ``require_file_signature`` then refuses a file
changed since.

Each row is a reading: ``source`` (or ``device``), ``ts``, ``kind`` and the reading's fields in
the file's units (``units={"temperature": "degF"}``). ``seq`` comes from a ``seq`` column, else
from the row's position per source (plus ``seq_offset``), so importing a file twice stores it once.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..events import EVENT_TYPES, iso_utc
from ..security.signing import OperatorKey, fingerprint, verify_file
from .envelope import _FIELDS, seal
from .gate import Gate

__all__ = ["ReplayReport", "read_rows", "replay_file"]

FORMATS = ("csv", "jsonl", "parquet", "gpx")
_SKIP = {"v", "source", "device", "seq", "ts", "kind"}


@dataclass
class ReplayReport:
    file: str
    rows: int = 0
    envelopes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "envelopes": self.envelopes,
                "outcomes": dict(self.outcomes), "ignored_columns": self.ignored_columns}


def _fmt(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise DataError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    guess = {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "parquet": "parquet",
             "pq": "parquet", "gpx": "gpx"}.get(suffix)
    if guess is None:
        raise DataError(f"{path}: cannot tell the format from '.{suffix}'; give --format ({', '.join(FORMATS)})")
    return guess


def _ts_text(v: Any, path: Path, where: str) -> str:
    if isinstance(v, datetime):
        ts = v if v.tzinfo else v.replace(tzinfo=UTC)
        return iso_utc(ts)
    if hasattr(v, "to_pydatetime"):
        return _ts_text(v.to_pydatetime(), path, where)
    if isinstance(v, str) and v:
        try:
            ts = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise DataError(f"{path} {where}: ts {v!r} is not an ISO timestamp") from None
        return _ts_text(ts, path, where)
    raise DataError(f"{path} {where}: missing or unreadable timestamp ({v!r})")


def _table_rows(path: Path, fmt: str) -> Iterator[dict[str, Any]]:
    if fmt == "csv":
        import pyarrow.csv as pcsv

        try:
            table = pcsv.read_csv(path)
        except Exception as exc:  # pyarrow raises its own error types
            raise DataError(f"{path}: not a readable CSV file ({str(exc)[:200]})") from exc
    else:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise DataError(f"{path}: not a readable Parquet file ({str(exc)[:200]})") from exc
    yield from table.to_pylist()


def _jsonl_rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as fh:
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise DataError(f"{path}:{i}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{i}: each line must be a JSON object")
            yield row


def _gpx_rows(path: Path) -> Iterator[dict[str, Any]]:
    import gpxpy

    try:
        gpx = gpxpy.parse(path.read_text(encoding="utf-8"))
    except Exception as exc:
        raise DataError(f"{path}: not a readable GPX file ({str(exc)[:200]})") from exc
    for track in gpx.tracks:
        for segment in track.segments:
            for p in segment.points:
                row: dict[str, Any] = {"kind": "position", "lat": p.latitude, "lon": p.longitude, "ts": p.time}
                if track.name:
                    row["source"] = track.name
                yield row


def read_rows(path: str | Path, *, fmt: str | None = None, rename: Mapping[str, str] | None = None,
              source: str | None = None, kind: str | None = None) -> Iterator[dict[str, Any]]:
    """Rows of a history file as dicts with ``source``, ``ts`` (ISO text), ``kind`` and fields."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    f = _fmt(p, fmt)
    rows = {"csv": _table_rows, "parquet": _table_rows}.get(f)
    it = rows(p, f) if rows else (_jsonl_rows(p) if f == "jsonl" else _gpx_rows(p))
    ren = dict(rename or {})
    for i, raw in enumerate(it, start=1):
        row = {ren.get(k, k): v for k, v in raw.items()}
        where = f"row {i}"
        if source is not None:
            row["source"] = source
        elif "source" not in row and "device" in row:
            row["source"] = row.pop("device")
        if kind is not None:
            row["kind"] = kind
        if row.get("source") in (None, ""):
            raise DataError(f"{p} {where}: no source (add a 'source' column or give --source)")
        if row.get("kind") not in _FIELDS:
            raise DataError(f"{p} {where}: kind {row.get('kind')!r} is not one of {', '.join(sorted(_FIELDS))} "
                            f"(add a 'kind' column or give --kind)")
        row["source"] = str(row["source"])
        row["ts"] = _ts_text(row.get("ts"), p, where)
        yield row


def _reading(row: dict[str, Any], ignored: set[str]) -> dict[str, Any]:
    kind = row["kind"]
    allowed = (set(EVENT_TYPES[kind].model_fields) | set(_FIELDS[kind])) - _SKIP
    out: dict[str, Any] = {"kind": kind, "ts": row["ts"]}
    for k, v in row.items():
        if k in _SKIP:
            continue
        if k not in allowed:
            ignored.add(k)
            continue
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        out[k] = v
    return out


def replay_file(path: str | Path, gate: Gate, operator: OperatorKey, *, fmt: str | None = None,
                source: str | None = None, kind: str | None = None, units: Mapping[str, str] | None = None,
                rename: Mapping[str, str] | None = None, seq_offset: int = 0, chunk: int = 500,
                require_file_signature: bool = False, batch_envelopes: int = 200,
                progress: Callable[[int], None] | None = None) -> ReplayReport:
    """Import a history file through ``gate`` as a trusted import signed by ``operator``."""
    p = Path(path)
    if require_file_signature:
        verify_file(p, [operator.public, *gate.operator_keys().values()])
    if chunk <= 0 or chunk > 10_000:
        raise DataError(f"chunk must be in 1..10000, got {chunk}")
    report = ReplayReport(str(p))
    ignored: set[str] = set()
    per_source: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    counters: Counter[str] = Counter()
    for row in read_rows(p, fmt=fmt, rename=rename, source=source, kind=kind):
        src = row["source"]
        if "seq" in row and row["seq"] is not None:
            try:
                seq = int(row["seq"]) + seq_offset
            except (TypeError, ValueError):
                raise DataError(f"{p}: seq {row['seq']!r} of source {src!r} is not an integer") from None
        else:
            seq = counters[src] + seq_offset
        counters[src] += 1
        per_source[src].append((seq, _reading(row, ignored)))
        report.rows += 1
    kid = fingerprint(operator.public)
    now = datetime.fromtimestamp(gate.clock(), UTC)
    pending: list[bytes] = []

    def flush() -> None:
        if pending:
            for o in gate.submit(pending, "replay"):
                report.outcomes[o.reason or o.status] += 1
            if progress:
                progress(len(pending))
            pending.clear()

    for src, items in per_source.items():
        items.sort(key=lambda x: x[0])
        start = 0
        while start < len(items):
            end = start + 1
            while end < len(items) and end - start < chunk and items[end][0] == items[end - 1][0] + 1:
                end += 1
            readings = [r for _, r in items[start:end]]
            pending.append(seal(src, kid, operator.private_b64u, items[start][0], now, readings, units))
            report.envelopes += 1
            if len(pending) >= batch_envelopes:
                flush()
            start = end
    flush()
    report.ignored_columns = sorted(ignored)
    return report
