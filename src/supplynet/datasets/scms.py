"""Loader for the USAID Supply Chain Management System (SCMS) Delivery History file.

The file (``../shared/data/scms-delivery``) has cells that are messy on purpose: weights and freight costs that say "See DN-304 (ID#:10589)" (a
reference to another shipment line), "Weight Captured Separately", "Freight Included in Commodity
Cost", dates written in two formats or as "Date Not Captured". Nothing crashes: each bad cell is
counted by kind in a :class:`DataQualityReport`, references to another line are resolved to that
line's value when it has one, and the rest become missing values.

Rows come back in canonical columns (``country``, ``mode``, ``scheduled``, ``delivered``, ...) plus
``delay_days``, ``late`` and ``lead_time_days``: the shipment history that
:mod:`supplynet.sense.leadtime.leadtime` learns lead times and late-delivery risk from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError

__all__ = ["CellIssue", "DataQualityReport", "load_scms"]

# source column -> canonical name
_COLUMNS = {
    "ID": "id",
    "Country": "country",
    "Managed By": "managed_by",
    "Fulfill Via": "fulfill_via",
    "Vendor INCO Term": "inco_term",
    "Shipment Mode": "mode",
    "PQ First Sent to Client Date": "pq_sent",
    "PO Sent to Vendor Date": "po_sent",
    "Scheduled Delivery Date": "scheduled",
    "Delivered to Client Date": "delivered",
    "Product Group": "product_group",
    "Sub Classification": "sub_classification",
    "Vendor": "vendor",
    "Dosage Form": "dosage_form",
    "Line Item Quantity": "quantity",
    "Line Item Value": "value_usd",
    "Pack Price": "pack_price",
    "Manufacturing Site": "manufacturing_site",
    "First Line Designation": "first_line",
    "Weight (Kilograms)": "weight_kg",
    "Freight Cost (USD)": "freight_usd",
    "Line Item Insurance (USD)": "insurance_usd",
}
_REQUIRED = ("Country", "Shipment Mode", "Scheduled Delivery Date", "Delivered to Client Date")
_DATES = ("pq_sent", "po_sent", "scheduled", "delivered")
_NUMBERS = ("quantity", "value_usd", "pack_price", "weight_kg", "freight_usd", "insurance_usd")
_DATE_FORMATS = ("%d-%b-%y", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y", "%Y-%m-%d")
_REF = re.compile(r"see\s+(?:asn|dn)-\s*\d+\s*\(id#:\s*(\d+)\)", re.IGNORECASE)


@dataclass(frozen=True)
class CellIssue:
    """``count`` cells of ``column`` could not be read as a ``expected``; ``kind`` says what they held."""

    column: str
    expected: str
    kind: str
    count: int
    examples: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "expected": self.expected,
            "kind": self.kind,
            "count": self.count,
            "examples": list(self.examples),
        }


@dataclass
class DataQualityReport:
    """What was wrong with the cells of a shipment file, and what was done about it."""

    path: str
    n_rows: int
    issues: list[CellIssue] = field(default_factory=list)
    references_resolved: dict[str, int] = field(default_factory=dict)
    rows_dropped: int = 0
    drop_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def n_bad_cells(self) -> int:
        return sum(i.count for i in self.issues)

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "n_rows": self.n_rows,
            "n_bad_cells": self.n_bad_cells,
            "issues": [i.to_dict() for i in self.issues],
            "references_resolved": self.references_resolved,
            "rows_dropped": self.rows_dropped,
            "drop_reasons": self.drop_reasons,
        }


def _kind(value: str) -> str:
    v = value.strip()
    if not v:
        return "empty"
    if _REF.search(v):
        return "reference to another shipment line"
    if re.fullmatch(r"n/?a.*", v, re.IGNORECASE):
        return "not applicable"
    return re.sub(r"\d+", "#", v)[:60]


def _issues(col: str, expected: str, raw: pd.Series, bad: np.ndarray) -> list[CellIssue]:
    vals = raw[bad].astype(str)
    out = []
    for kind, grp in vals.groupby(vals.map(_kind)):
        out.append(CellIssue(col, expected, str(kind), int(grp.size), tuple(pd.unique(grp)[:3])))
    return sorted(out, key=lambda i: -i.count)


def _parse_dates(raw: pd.Series) -> pd.Series:
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    for fmt in _DATE_FORMATS:
        todo = out.isna() & raw.str.strip().ne("")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(raw[todo].str.strip(), format=fmt, errors="coerce")
    return out


def load_scms(path: str | Path) -> tuple[pd.DataFrame, DataQualityReport]:
    """Read a SCMS Delivery History CSV (or a folder holding one) into canonical columns plus
    ``delay_days``, ``late`` and ``lead_time_days``; bad cells go to the report, not to a crash.
    Rows without a readable scheduled or delivered date are dropped (and counted)."""
    p = Path(path)
    if p.is_dir():
        found = sorted(p.glob("*.csv"))
        if not found:
            raise DataError(f"{p}: no CSV file in the folder")
        p = found[0]
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding_errors="replace")
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{p}: not a readable CSV file ({exc})") from exc
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise DataError(
            f"{p}: missing column(s) {', '.join(repr(c) for c in missing)} "
            f"(is this the SCMS Delivery History file?)"
        )
    report = DataQualityReport(str(p), len(raw))
    df = pd.DataFrame(index=raw.index)
    for src, name in _COLUMNS.items():
        df[name] = raw[src].astype(str) if src in raw.columns else ""
    ids = (
        pd.to_numeric(df["id"], errors="coerce") if "ID" in raw.columns else pd.Series(np.nan, index=df.index)
    )
    for name in _DATES:
        col = df[name]
        parsed = _parse_dates(col)
        bad = (parsed.isna() & col.str.strip().ne("")).to_numpy() | col.str.strip().eq("").to_numpy()
        report.issues += _issues(name, "date", col, bad)
        df[name] = parsed
    for name in _NUMBERS:
        col = df[name]
        num = pd.to_numeric(col.str.replace(",", "", regex=False), errors="coerce")
        bad = num.isna().to_numpy()
        report.issues += _issues(name, "number", col, bad)
        # "See DN-304 (ID#:10589)": take line 10589's value when it has one
        ref = col.str.extract(_REF, expand=False)
        has_ref = ref.notna() & num.isna()
        if has_ref.any() and ids.notna().any():
            lookup = pd.Series(num.to_numpy(), index=ids.to_numpy())
            lookup = lookup[~lookup.index.duplicated()]
            resolved = pd.to_numeric(ref[has_ref]).map(lookup)
            num[has_ref] = resolved.to_numpy()
            report.references_resolved[name] = int(resolved.notna().sum())
        df[name] = num
    keep = df["scheduled"].notna() & df["delivered"].notna()
    if not keep.all():
        report.rows_dropped = int((~keep).sum())
        report.drop_reasons = {"no readable scheduled or delivered date": report.rows_dropped}
    df = df[keep].copy()
    if df.empty:
        raise DataError(f"{p}: no row has both a readable scheduled and delivered date")
    df["delay_days"] = (df["delivered"] - df["scheduled"]).dt.days.astype(float)
    df["late"] = df["delay_days"] > 0
    lt = (df["delivered"] - df["po_sent"]).dt.days.astype(float)
    df["lead_time_days"] = lt.where(lt >= 0)
    df["scheduled_lead_days"] = (df["scheduled"] - df["po_sent"].fillna(df["pq_sent"])).dt.days.astype(float)
    return df.reset_index(drop=True), report
