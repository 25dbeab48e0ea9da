"""``supplynet quarantine``: list and explain the messages the gate rejected.

    supplynet quarantine list [--device rf-1] [--reason bad_signature] [--limit 50]
    supplynet quarantine show 42
    supplynet quarantine stats
    supplynet quarantine prune --older-than-days 30 [--reason clock_skew]

All print JSON. Every entry carries its reason code and what it means.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from supplynet.errors import DataError

from .options import StoreOpt

if TYPE_CHECKING:
    from supplynet.store import Store
    from supplynet.store.quarantine import IngestTables

app = typer.Typer(help="Quarantined messages: list, show, explain, count.", no_args_is_help=True)


def _tables(store_url: str | None, *, readonly: bool = True) -> tuple[Store, IngestTables]:
    from supplynet.config import Settings
    from supplynet.store import open_store

    st = open_store(store_url or Settings().resolved_store_url(), readonly=readonly)
    return st, st.ingest


def _entry(row: Any, raw_chars: int) -> dict[str, Any]:
    from supplynet.events import us_to_ts
    from supplynet.ingest.gate import EXPLAIN

    out = {"id": row.id, "at": us_to_ts(row.at_us).isoformat(), "device": row.device, "reason": row.reason,
           "explanation": EXPLAIN.get(row.reason, ""), "detail": row.detail, "adapter": row.adapter,
           "size_bytes": row.size}
    if raw_chars:
        text = row.raw.decode("utf-8", "backslashreplace")
        out["raw"] = text[:raw_chars]
        out["raw_truncated"] = row.size > len(row.raw) or len(text) > raw_chars
    return out


@app.command("list")
def list_(device: Annotated[str | None, typer.Option(help="only this device")] = None,
          reason: Annotated[str | None, typer.Option(help="only this reason code")] = None,
          limit: Annotated[int, typer.Option(min=1, max=100_000, help="newest first, at most this many")] = 50,
          store: StoreOpt = None,
          as_json: Annotated[bool, typer.Option("--json", help="a JSON array of the entries")] = False) -> None:
    """Quarantined messages, newest first, with reason code and explanation: a table, or JSON with --json."""
    from supplynet.ingest.gate import REASONS

    if reason is not None and reason not in REASONS:
        raise DataError(f"--reason {reason!r}: use one of {', '.join(REASONS)}")
    st, t = _tables(store)
    with st:
        rows = t.quarantined(device=device, reason=reason, limit=limit)
    docs = [_entry(r, 0) for r in rows]
    if as_json:
        sys.stdout.write(json.dumps(docs, indent=2) + "\n")
        return
    if not docs:
        sys.stdout.write("nothing quarantined" + (f" with reason {reason}" if reason else "") + "\n")
        return
    from rich.console import Console

    from .tables import Col, cell, make_table

    body = [[f"{d['id']:,}", cell(d["at"]), d["device"], d["reason"], f"{d['size_bytes']:,}", d["detail"] or ""]
            for d in docs]
    cols = [Col("id", numeric=True), Col("at (UTC)", fold=False), Col("device"), Col("reason", fold=False),
            Col("bytes", numeric=True), Col("detail")]
    console = Console(soft_wrap=False)
    console.print(make_table(cols, body, title=f"quarantined: {len(docs)}, newest first "
                                               "(quarantine show ID: one in full)"))
    for code in dict.fromkeys(d["reason"] for d in docs):  # each reason explained once, under the table
        explained = next(d["explanation"] for d in docs if d["reason"] == code)
        if explained:
            console.print(f"{code}: {explained}", overflow="fold", highlight=False)


@app.command()
def show(entry_id: Annotated[int, typer.Argument(min=1, max=2**62, help="quarantine entry id (from list)")],
         raw_chars: Annotated[int, typer.Option(min=0, max=1 << 20, help="characters of the raw message to print")] = 2000,
         store: StoreOpt = None) -> None:
    """One entry in full: explanation, detail and the raw message (size-capped)."""
    st, t = _tables(store)
    with st:
        row = t.quarantine_entry(entry_id)
    if row is None:
        raise DataError(f"no quarantine entry {entry_id} (see supplynet quarantine list)")
    sys.stdout.write(json.dumps(_entry(row, raw_chars), indent=2) + "\n")


@app.command()
def stats(store: StoreOpt = None) -> None:
    """Counts: quarantined per reason, and every device's outcome counters (received = sum)."""
    st, t = _tables(store)
    with st:
        by_reason = t.quarantine_counts()
        counters = t.counters()
        late = t.late_count()
    devices = {d: {**c, "received": sum(c.values())} for d, c in counters.items()}
    sys.stdout.write(json.dumps({"quarantined_by_reason": by_reason, "late_events": late, "devices": devices},
                                indent=2) + "\n")


@app.command()
def prune(older_than_days: Annotated[float, typer.Option(help="delete entries recorded more than this many days "
                                                              "ago")],
          reason: Annotated[str | None, typer.Option(help="only entries with this reason code")] = None,
          store: StoreOpt = None) -> None:
    """Delete old quarantine entries (their raw copies); the outcome counters keep counting them."""
    import time

    from supplynet.ingest.gate import EXPLAIN

    if not 0 <= older_than_days <= 36_500:  # also refuses nan and inf
        raise DataError(f"--older-than-days must be a number of days in 0..36500, got {older_than_days}")
    if reason is not None and reason not in EXPLAIN:
        raise DataError(f"--reason {reason!r}: not a reason code (one of {', '.join(sorted(EXPLAIN))})")
    cutoff_us = time.time_ns() // 1000 - int(older_than_days * 86_400e6)
    st, t = _tables(store, readonly=False)
    with st:
        n = t.prune_quarantine(cutoff_us, reason=reason)
        left = sum(t.quarantine_counts().values())
    sys.stdout.write(json.dumps({"deleted": n, "remaining": left, "older_than_days": older_than_days,
                                 "reason": reason}, indent=2) + "\n")
