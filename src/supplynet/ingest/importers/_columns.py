"""The mapping file and the column parsers of the importers.

A mapping (YAML) says what the file means where the column names do not::

    columns: {Filiale: site, Artikel: sku, Datum: ts, Menge: quantity}   # file column -> field
    units: {quantity: dozen}           # the file's units (converted to SI by supplynet.units)
    timezone: Europe/Berlin            # of times written without an offset (default UTC)
    date_format: "%d.%m.%Y"            # or dayfirst: true; else recognised from the values
    defaults: {site: DC1}              # a constant for a field no column gives
    source: erp-sales                  # the log's source of the rows (default: import:KIND:FILE-NAME)

Every parser works on a whole column (pandas) and returns the values with a reason per bad row.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...errors import DataError

__all__ = ["Mapping", "Parsed", "norm", "parse_ident", "parse_number", "parse_text", "parse_time"]

IDENT = re.compile(r"^[A-Za-z0-9_.:@/\-]{1,128}$")


def norm(name: Any) -> str:
    """A column name as the defaults match it: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


class Mapping(BaseModel):
    """What a file's columns mean (see the module docstring); every key is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, str] = Field(default_factory=dict)
    units: dict[str, str] = Field(default_factory=dict)
    timezone: str = "UTC"
    date_format: str | None = None
    dayfirst: bool | None = None
    defaults: dict[str, Any] = Field(default_factory=dict)
    source: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@/\-]{1,128}$")
    sensors: list[str] | None = None
    settings: list[str] | None = None
    delimiter: str | None = Field(None, min_length=1, max_length=1)
    encoding: str | None = None
    sheet: str | None = None
    decimal: str | None = Field(None, pattern=r"^[.,]$")
    cycle_seconds: float = Field(3600.0, gt=0)
    cycle_start: str = "2000-01-01T00:00:00Z"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise DataError(f"unknown time zone {v!r} (use an IANA name such as Europe/Paris)") from None
        return v

    @classmethod
    def load(cls, path: str | Path | None) -> Mapping:
        """The mapping in ``path`` (YAML), or the defaults; errors name the file and key."""
        if path is None:
            return cls()
        import yaml

        p = Path(path)
        try:
            data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise DataError(f"{p}: cannot read the mapping ({exc.strerror})") from exc
        except yaml.YAMLError as exc:
            raise DataError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from exc
        if not isinstance(data, dict):
            raise DataError(f"{p}: a mapping file is a YAML object (columns:, units:, timezone:, ...)")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            e = exc.errors(include_url=False)[0]
            where = ".".join(str(x) for x in e["loc"]) or "(file)"
            raise DataError(f"{p}: {where}: {e['msg']}") from None


class Parsed:
    """A parsed column: ``values`` (NaN/None where missing or bad) and ``bad``: reason per bad row."""

    __slots__ = ("values", "bad")

    def __init__(self, values: pd.Series, bad: pd.Series | None = None):
        self.values = values
        self.bad = bad if bad is not None else pd.Series(pd.NA, index=values.index, dtype=object)

    @property
    def missing(self) -> pd.Series:
        return self.values.isna()


def _blank(s: pd.Series) -> pd.Series:
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        return s.isna() | (s.astype(str).str.strip() == "")
    return s.isna()


def _on_uniques(s: pd.Series, fn: Any, na: Any = None) -> pd.Series:
    """``fn`` applied to each distinct value once (ids, dates: few distinct values, many rows);
    ``na`` where the value is missing."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    mapped = np.array([fn(u) for u in uniques] + [na], dtype=object)
    return pd.Series(mapped[codes], index=s.index, dtype=object)


def _text(v: Any) -> str | None:
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, float):
        if not np.isfinite(v):
            return None
        return str(int(v)) if v.is_integer() else str(v)
    return str(v).strip() or None


def parse_text(s: pd.Series) -> Parsed:
    """Text values, stripped; numbers written without a trailing ``.0``; blanks missing."""
    return Parsed(_on_uniques(s, _text))


def parse_ident(s: pd.Series) -> Parsed:
    """Identifiers (site, SKU, asset, order): letters, digits and ``_ . : @ / -``, 1-128 characters."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)  # each distinct value read and checked once
    texts = [_text(u) for u in uniques]
    ok = np.array([t is None or IDENT.match(t) is not None for t in texts] + [True])[codes]
    text = np.array([*texts, None], dtype=object)[codes]
    if ok.all():
        return Parsed(pd.Series(text, index=s.index, dtype=object))
    bad = np.where(ok, pd.NA, "not an identifier (1-128 letters, digits, and _ . : @ / -)").astype(object)
    return Parsed(pd.Series(np.where(ok, text, None), index=s.index, dtype=object),
                  pd.Series(bad, index=s.index, dtype=object))


def parse_number(s: pd.Series, *, decimal: str | None = None, lo: float | None = None,
                 hi: float | None = None) -> Parsed:
    """Numbers (a decimal comma understood when no dot is used); ``lo``/``hi`` bound them."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        vals = s.astype("float64")
        raw_bad = pd.Series(False, index=s.index)
    else:
        blank = _blank(s)
        text = s.astype(object).where(~blank, None).map(lambda v: str(v).strip(), na_action="ignore")
        if decimal == ",":
            text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        elif decimal is None:
            comma = text.str.fullmatch(r"-?\d+,\d+").eq(True)
            text = text.where(~comma, text.str.replace(",", ".", regex=False))
        vals = pd.to_numeric(text, errors="coerce").astype("float64")
        raw_bad = vals.isna() & ~blank
    bad = pd.Series(pd.NA, index=s.index, dtype=object)
    bad = bad.where(~raw_bad, "not a number")
    inf = vals.notna() & ~np.isfinite(vals.fillna(0))
    bad = bad.where(~inf, "not a finite number")
    if lo is not None:
        bad = bad.where(~(vals < lo), f"must be >= {lo:g}")
    if hi is not None:
        bad = bad.where(~(vals > hi), f"must be <= {hi:g}")
    return Parsed(vals.where(bad.isna()), bad)


_ISO = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}")
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})")


def _day_first(text: pd.Series, mapping: Mapping) -> bool | None:
    """Whether ``d/m/y`` values are day first: stated, else recognised (a first part above 12 is a
    day, a second part above 12 is a day); ``None`` when every value could be either."""
    if mapping.dayfirst is not None:
        return mapping.dayfirst
    parts = text.str.extract(_DMY).dropna()
    if parts.empty:
        return None
    first, second = parts[0].astype(int), parts[1].astype(int)
    if (first > 12).any() and not (second > 12).any():
        return True
    if (second > 12).any() and not (first > 12).any():
        return False
    return None


def parse_time(s: pd.Series, mapping: Mapping) -> Parsed:
    """Times as UTC (``datetime64[ns, UTC]``): ISO text, ``d/m/y`` text (day order stated or
    recognised), the mapping's ``date_format``, or the file's own dates; times without an offset
    are in the mapping's ``timezone``."""
    bad = pd.Series(pd.NA, index=s.index, dtype=object)
    if pd.api.types.is_datetime64_any_dtype(s):
        ts = s
    else:
        blank = _blank(s)
        obj = s.astype(object).where(~blank, None)
        if obj.map(lambda v: v is None or hasattr(v, "year")).all():
            ts = pd.to_datetime(obj, errors="coerce", utc=False)  # the file's own dates (Excel, Parquet)
        else:
            text = obj.map(lambda v: str(v).strip(), na_action="ignore")
            if mapping.date_format:
                ts = pd.to_datetime(text, format=mapping.date_format, errors="coerce")
            elif text.dropna().str.match(_ISO).all():
                ts = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=text.dropna().str.contains(
                    r"(?:Z|[+-]\d\d:?\d\d)$").any())
            else:
                dmy = text.dropna().str.match(_DMY)
                if len(dmy) and dmy.all():
                    first = _day_first(text, mapping)
                    if first is None:
                        bad = bad.where(blank, "day and month order is ambiguous in this column (every value "
                                               "fits both); state date_format or dayfirst in the mapping")
                        return Parsed(pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns, UTC]"), bad)
                    ts = pd.to_datetime(text, dayfirst=first, errors="coerce", format="mixed")
                else:
                    ts = pd.to_datetime(text, errors="coerce", format="mixed")
        bad = bad.where(~(ts.isna() & ~blank), "not a date/time" + (f" in the format {mapping.date_format!r}"
                                                                     if mapping.date_format else ""))
    if ts.dt.tz is None:
        ts = ts.dt.tz_localize(ZoneInfo(mapping.timezone), ambiguous="NaT", nonexistent="NaT")
        bad = bad.where(~(ts.isna() & s.notna() & bad.isna() & ~_blank(s)),
                        f"does not exist or is ambiguous in {mapping.timezone}")
    return Parsed(ts.dt.tz_convert("UTC"), bad)
