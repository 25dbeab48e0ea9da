"""Import a company's own files (sales, stock, purchase orders, shipments, sensor logs, maintenance
history) as canonical events, through the gate, signed by an operator.

The file is read (:mod:`._read`), each row parsed into a canonical reading with every problem named
``file:row:column: reason`` (:mod:`._kinds`, :mod:`._columns`), and the good rows are sealed into
envelopes signed by the operator's key and submitted to the :class:`~supplynet.ingest.gate.Gate`
as a trusted import -- the same checks and the same log as every other message.

Idempotent: the rows' source is ``import:KIND:FILE-NAME`` (or the mapping's ``source``; GPS fixes
of a shipments file under ``...:gps``) and each row's sequence number is its position in the file,
so importing the same file twice stores it once (the second run reports every row as a duplicate),
and a refused row, fixed in place, is stored by the next import while the others are duplicates.
History has no lateness: the import's gate takes events of any age into the log.

>>> from supplynet.ingest.importers import KINDS
>>> sorted(KINDS)
['maintenance-history', 'purchase-orders', 'sales', 'sensor-log', 'shipments', 'stock']
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ...errors import DataError, IngestError
from ...security.signing import OperatorKey, fingerprint
from ..envelope import IMPORT_KINDS, MAX_READINGS, Body, readings_to_events, seal
from ..gate import Gate, GateConfig
from ._columns import Mapping
from ._kinds import COLUMNAR, KINDS, Built, build
from ._read import Table, read_table

__all__ = ["HISTORY", "KINDS", "ImportReport", "Mapping", "check_file", "import_file", "source_for"]

#: the gate's settings for history: any age is on time (a file's rows are not a live stream)
HISTORY = GateConfig(allowed_lateness_s=200 * 365 * 86_400.0)


@dataclass
class ImportReport:
    """What an import did: ``read`` rows, ``refused`` rows (each problem in ``problems``), events
    ``stored``, ``duplicate`` (already in the log), ``quarantined`` by the gate, ``late``."""

    file: str
    kind: str
    source: str
    read: int = 0
    refused: int = 0
    events: int = 0
    stored: int = 0
    duplicate: int = 0
    late: int = 0
    quarantined: int = 0
    dry_run: bool = False
    problems: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    fmt: str = ""
    encoding: str | None = None
    delimiter: str | None = None

    def to_dict(self, max_problems: int = 50) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("file", "kind", "source", "read", "refused", "events", "stored",
                                             "duplicate", "late", "quarantined", "dry_run", "ignored_columns")}
        d["format"] = self.fmt
        if self.fmt == "csv":
            d["encoding"], d["delimiter"] = self.encoding, self.delimiter
        if self.reasons:
            d["gate_reasons"] = dict(self.reasons)
        d["problems"] = self.problems[:max_problems]
        if len(self.problems) > max_problems:
            d["more_problems"] = len(self.problems) - max_problems
        return d


def source_for(kind: str, path: str | Path, mapping: Mapping | None = None) -> str:
    """The log source of a file's rows: the mapping's ``source``, else ``import:KIND:FILE-NAME``."""
    if mapping is not None and mapping.source:
        return mapping.source
    stem = re.sub(r"[^A-Za-z0-9_.\-]+", "-", Path(path).stem).strip("-") or "file"
    return f"import:{kind}:{stem}"[:128]


#: kinds whose every check the column parsers make already (the gate's checks would find nothing)
_COLUMN_CHECKED = COLUMNAR


def _gate_checks(built: Built) -> None:
    """Run the gate's own conversion (:func:`~supplynet.ingest.envelope.readings_to_events`) on the
    readings, so a row the gate would refuse is refused here, named, alone (the gate quarantines a
    whole envelope); bisects a failing chunk down to its bad rows."""
    now = datetime.now(UTC)
    bad: dict[int, str] = {}

    def check(idx: list[int]) -> None:
        body = Body("import", 0, now, [built.readings[k] for k in idx], {})
        try:
            readings_to_events("import", body, asset=None, site=None, allowed_kinds=None, any_site=True,
                               kinds=IMPORT_KINDS)
        except IngestError as exc:
            if len(idx) == 1:
                bad[idx[0]] = exc.detail
            else:
                check(idx[: len(idx) // 2])
                check(idx[len(idx) // 2:])

    for start in range(0, len(built.readings), 1000):
        check(list(range(start, min(start + 1000, len(built.readings)))))
    if not bad:
        return
    for k, detail in bad.items():
        msg = re.sub(r"^reading \d+:? ?", "", detail)
        fld, sep, reason = msg.partition(": ")
        column = built.columns.get(fld.split(".")[0].removesuffix("_m_s").removesuffix("_deg").removesuffix("_m"))
        built.problems.append((built.rownum[built.keys[k][1]], column or fld, reason) if sep and column else
                              (built.rownum[built.keys[k][1]], "(row)", msg))
    keep = [k for k in range(len(built.readings)) if k not in bad]
    built.readings = [built.readings[k] for k in keep]
    built.keys = [built.keys[k] for k in keep]


def _prepare(kind: str, path: str | Path, mapping: Mapping) -> tuple[Table, Built, ImportReport]:
    if kind not in KINDS:
        raise DataError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    table = read_table(path, encoding=mapping.encoding, delimiter=mapping.delimiter, sheet=mapping.sheet)
    built = build(kind, table, mapping, str(path))
    if kind not in _COLUMN_CHECKED:
        _gate_checks(built)
    built.problems.sort(key=lambda x: x[0])
    rep = ImportReport(str(path), kind, source_for(kind, path, mapping), read=built.rows,
                       refused=len({r for r, _, _ in built.problems}), events=built.n_events,
                       problems=[f"{path}:{r}:{c}: {m}" for r, c, m in built.problems],
                       ignored_columns=built.ignored, fmt=table.fmt, encoding=table.encoding,
                       delimiter=table.delimiter)
    return table, built, rep


def check_file(kind: str, path: str | Path, mapping: Mapping | None = None) -> ImportReport:
    """Read and check ``path`` as ``kind`` without writing anything (``--dry-run``)."""
    _, _, rep = _prepare(kind, path, mapping or Mapping())
    rep.dry_run = True
    return rep


def import_file(kind: str, path: str | Path, gate: Gate, operator: OperatorKey, *, mapping: Mapping | None = None,
                batch_envelopes: int = 100, progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Import ``path`` as ``kind`` through ``gate``, signed by ``operator``: the good rows are
    stored (once), the rows with a problem refused and named. ``progress(done, total)`` in events."""
    _, built, rep = _prepare(kind, path, mapping or Mapping())
    if not built.n_events:
        return rep
    if built.table is not None:
        return _import_columns(built, rep, gate, operator, batch_envelopes, progress)
    size = max(len(orjson.dumps(r)) for r in built.readings[:200])
    chunk = max(1, min(2000, 400_000 // (size + 16)))
    kid = fingerprint(operator.public)
    now = datetime.fromtimestamp(gate.clock(), UTC)
    pending: list[bytes] = []
    flush = _flusher(gate, rep, pending, progress, built.n_events)

    streams: dict[str, list[int]] = {}
    for k, (stream, _) in enumerate(built.keys):
        streams.setdefault(stream, []).append(k)
    for stream, idx in streams.items():
        source = f"{rep.source}:{stream}"[:128] if stream else rep.source
        seqs = [built.keys[k][1] for k in idx]
        if any(a >= b for a, b in zip(seqs, seqs[1:], strict=False)):
            order = sorted(range(len(idx)), key=seqs.__getitem__)
            idx, seqs = [idx[o] for o in order], [seqs[o] for o in order]
        start = 0
        while start < len(idx):  # envelopes of consecutive sequence numbers (a refused row ends one)
            end = min(start + chunk, len(idx))
            if seqs[end - 1] - seqs[start] != end - 1 - start:  # a gap inside: cut at the first one
                end = start + 1
                while end < len(idx) and end - start < chunk and seqs[end] == seqs[end - 1] + 1:
                    end += 1
            pending.append(seal(source, kid, operator.private_b64u, seqs[start], now,
                                [built.readings[k] for k in idx[start:end]]))
            start = end
            if len(pending) >= batch_envelopes:
                flush()
    flush()
    return rep


def _flusher(gate: Gate, rep: ImportReport, pending: list[bytes], progress: Callable[[int, int], None] | None,
             total: int) -> Callable[[], None]:
    """A function submitting the pending envelopes to the gate and counting their outcomes in ``rep``."""
    done = 0

    def flush() -> None:
        nonlocal done
        if not pending:
            return
        for o in gate.submit(pending, "replay"):
            n = (o.last_seq - o.seq + 1) if o.seq is not None and o.last_seq is not None else 0
            if o.status in ("stored", "late"):
                rep.duplicate += n - o.events
                if o.status == "late":
                    rep.late += o.events
                else:
                    rep.stored += o.events
            elif o.reason == "replayed_sequence":
                rep.duplicate += n
            else:
                rep.quarantined += n
                rep.reasons[o.reason or o.status] = rep.reasons.get(o.reason or o.status, 0) + n
            done += n
        pending.clear()
        if progress is not None:
            progress(done, total)

    return flush


#: readings per column envelope at most: the most the log keeps as one row of columns (the store's
#: ``MAX_BATCH_ROW``; a longer run it would write event by event; a test holds the two equal), under the
#: envelope's limit; and the bytes aimed at (under the gate's 1 MiB)
_COLUMN_ROWS, _COLUMN_BYTES = min(MAX_READINGS, 4096), 600_000


def _column_lists(table: dict[str, Any], a: int, b: int) -> dict[str, Any]:
    """Rows ``a:b`` of the column form as JSON columns: a field missing in every row is left out;
    a missing value is ``null``."""
    out: dict[str, Any] = {}
    for name, arr in table.items():
        part = arr[a:b]
        if part.dtype.kind == "f":
            miss = np.isnan(part)
            values = part.tolist()
        else:
            miss = np.equal(part, None)  # type: ignore[call-overload]  # object arrays: elementwise is None
            values = part.tolist()
        if miss.any():
            if miss.all():
                continue
            for k in np.flatnonzero(miss).tolist():
                values[k] = None
        out[name] = values
    return out


def _import_columns(built: Built, rep: ImportReport, gate: Gate, operator: OperatorKey, batch_envelopes: int,
                    progress: Callable[[int, int], None] | None) -> ImportReport:
    """Seal the column form into column envelopes (one signature over up to 10,000 rows, every
    byte of them) of consecutive sequence numbers, and submit them through the gate."""
    assert built.table is not None and built.seqs is not None and built.common is not None
    table, common = built.table, built.common
    seqs = built.seqs
    n = len(seqs)
    sample = _column_lists(built.table, 0, min(n, 500))
    per_row = len(orjson.dumps(sample)) * 1.3 / min(n, 500) + 1  # the outer JSON escapes the body's quotes
    chunk = int(max(1, min(_COLUMN_ROWS, _COLUMN_BYTES // per_row)))
    # envelope bounds: a gap in the sequence (a refused row) ends one, and so does the chunk size
    gaps = np.flatnonzero(np.diff(seqs) != 1) + 1
    starts: list[int] = []
    for a, b in zip([0, *gaps.tolist()], [*gaps.tolist(), n], strict=True):
        starts.extend(range(a, b, chunk))
    kid = fingerprint(operator.public)
    now = datetime.fromtimestamp(gate.clock(), UTC)
    pending: list[bytes] = []
    flush = _flusher(gate, rep, pending, progress, n)
    limit = gate.config.max_bytes

    def emit(a: int, b: int) -> None:
        columns = {**common, **_column_lists(table, a, b)}
        sealed = seal(rep.source, kid, operator.private_b64u, int(seqs[a]), now, None, columns=columns)
        if len(sealed) > limit and b - a > 1:  # longer rows than the sample's: halve the envelope
            emit(a, (a + b) // 2)
            emit((a + b) // 2, b)
            return
        pending.append(sealed)
        if len(pending) >= max(1, batch_envelopes // 4):
            flush()

    for a, b in zip(starts, [*starts[1:], n], strict=True):
        emit(a, b)
    flush()
    return rep
