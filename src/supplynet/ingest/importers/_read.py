"""Read a company's table (CSV, Parquet, Excel .xlsx) into a pandas frame, with each row's number.

CSV: the encoding is sniffed (a byte-order mark wins; then UTF-8; then Windows-1252 when every
byte fits it; then the best guess of charset-normalizer; the mapping's ``encoding`` overrides it), and so is the delimiter (``,`` ``;`` tab ``|``); every value is read as text
and parsed by the importer, so nothing is guessed twice. Excel: the first sheet (or the mapping's
``sheet``), the first non-empty row is the header; dates stay dates. Parquet: typed columns.

Row numbers are what a person sees: the line of a CSV file (the header is line 1), the row of the
sheet, the record of a Parquet file (from 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ...errors import DataError

__all__ = ["Table", "read_table"]

FORMATS = {"csv": "csv", "txt": "csv", "tsv": "csv", "parquet": "parquet", "pq": "parquet", "xlsx": "xlsx",
           "xlsm": "xlsx"}
_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))
_DELIMITERS = ",;\t|"


@dataclass
class Table:
    """The rows of a file: ``frame`` (original column names), ``rows`` (the number of each row as a
    person sees it), the format, and for CSV the encoding and delimiter that were used."""

    frame: pd.DataFrame
    rows: pd.Series
    fmt: str
    encoding: str | None = None
    delimiter: str | None = None


def _decode(raw: bytes, encoding: str | None, path: Path) -> tuple[str, str]:
    if encoding:
        try:
            return raw.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot decode as {encoding!r} ({exc})") from exc
    for bom, enc in _BOMS:
        if raw.startswith(bom):
            return raw.decode(enc, errors="strict"), enc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:  # the usual encoding of a spreadsheet exported on Windows in a Western locale
        return raw.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:200_000]).best()
    enc = best.encoding if best is not None else "latin-1"
    try:
        return raw.decode(enc), enc
    except UnicodeDecodeError:
        return raw.decode("latin-1"), "latin-1"


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(text[:65_536].splitlines()[:50])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        header = sample.splitlines()[0] if sample else ""
        return max(_DELIMITERS, key=header.count) if any(d in header for d in _DELIMITERS) else ","


def _read_csv(path: Path, encoding: str | None, delimiter: str | None) -> Table:
    text, enc = _decode(path.read_bytes(), encoding, path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty")
    sep = delimiter or _sniff_delimiter(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{path}: not a readable CSV file with delimiter {sep!r} ({str(exc)[:200]})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return Table(frame, pd.Series(range(2, len(frame) + 2), index=frame.index), "csv", enc, sep)


def _read_parquet(path: Path) -> Table:
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as exc:  # pyarrow raises its own error types
        raise DataError(f"{path}: not a readable Parquet file ({str(exc)[:200]})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.reset_index(drop=True)
    return Table(frame, pd.Series(range(1, len(frame) + 1), index=frame.index), "parquet")


def _read_xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile / openpyxl errors
        raise DataError(f"{path}: not a readable Excel .xlsx file ({str(exc)[:200]})") from exc
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise DataError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        header: list[str] | None = None
        data: list[tuple[Any, ...]] = []
        numbers: list[int] = []
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            if header is None:
                header = [str(v).strip() if v is not None else f"column_{k + 1}" for k, v in enumerate(values)]
                continue
            data.append(values)
            numbers.append(i)
    finally:
        wb.close()
    if header is None:
        raise DataError(f"{path}: the sheet is empty")
    width = len(header)
    frame = pd.DataFrame([tuple(r[:width]) + (None,) * (width - len(r)) for r in data], columns=header, dtype=object)
    return Table(frame, pd.Series(numbers, index=frame.index, dtype="int64"), "xlsx")


def read_table(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None,
               sheet: str | None = None, fmt: str | None = None) -> Table:
    """Read ``path`` (format from its suffix unless ``fmt``); raises :class:`DataError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: file not found")
    kind = fmt or FORMATS.get(p.suffix.lower().lstrip("."))
    if kind not in ("csv", "parquet", "xlsx"):
        raise DataError(f"{p}: cannot tell the format from '{p.suffix}'; use a .csv, .parquet or .xlsx file")
    if kind == "csv":
        table = _read_csv(p, encoding, delimiter)
    elif kind == "parquet":
        table = _read_parquet(p)
    else:
        table = _read_xlsx(p, sheet)
    dup = table.frame.columns[table.frame.columns.duplicated()].tolist()
    if dup:
        raise DataError(f"{p}: column {dup[0]!r} appears more than once in the header")
    return table
