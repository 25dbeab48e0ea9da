"""Tables for a person at a terminal, readable at 80 columns.

Every command that prints a table builds it here, so they all look alike: a light rule under the header
and no vertical borders (each column costs its width plus two), numbers right-aligned with thousands
separators, times as ``YYYY-MM-DD HH:MM`` UTC, empty cells blank, text folded rather than cut (no
``s…`` cells). A frame wider than the terminal shows the columns that fit, in the caller's order of
importance, and names the others in the caption (``--format csv`` or ``json`` prints every column).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from numbers import Integral, Real
from typing import Any

from rich import box
from rich.table import Table

__all__ = ["Col", "cell", "fit_frame", "make_table"]

_MAX_TEXT = 36  # a text column wider than this folds onto more lines instead of pushing others out
_GUTTER = 2  # per column: the (blank) divider and one space of padding (collapsed between columns)


def _empty(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        import pandas as pd

        return v is pd.NaT or (not isinstance(v, (str, bytes, list, tuple, dict)) and bool(pd.isna(v)))
    except (TypeError, ValueError):
        return False


def _number(v: float, digits: int | None) -> str:
    if digits is not None:
        return f"{v:,.{digits}f}"
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.2f}" if abs(v) < 10 else f"{v:,.1f}"


def cell(v: Any, digits: int | None = None) -> str:
    """One value as table text: ``""`` when missing, ``yes``/``no``, ``1,234``, ``2026-01-05 12:00``."""
    if _empty(v):
        return ""
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return "yes" if v else "no"
    if isinstance(v, Integral):
        return f"{int(v):,}"
    if isinstance(v, Real):
        return _number(float(v), digits)
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str) and len(v) >= 16 and v[4] == "-" and v[10] == "T":  # an ISO time as text
        try:
            return cell(datetime.fromisoformat(v.replace("Z", "+00:00")))
        except ValueError:
            return v
    if isinstance(v, (list, tuple)):
        return ", ".join(cell(x) for x in v)
    return str(v)


def _numeric(values: Iterable[Any]) -> bool:
    seen = False
    for v in values:
        if _empty(v):
            continue
        if isinstance(v, bool) or type(v).__name__ == "bool_" or not isinstance(v, Real):
            return False
        seen = True
    return seen


@dataclass(frozen=True)
class Col:
    """A column: its header, right-aligned if ``numeric``; ``fold`` lets long text wrap onto more lines (default:
    text folds, numbers stay on one line; ``numeric=True, fold=True``: right-aligned text that may fold)."""

    name: str
    numeric: bool = False
    fold: bool | None = None


def make_table(columns: Sequence[Col], rows: Iterable[Sequence[str]], *, title: str | None = None,
               caption: str | None = None) -> Table:
    """A rich table in the house style from already formatted cells."""
    t = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
              title_justify="left", caption_justify="left", header_style="bold", collapse_padding=True)
    for c in columns:
        fold = (not c.numeric) if c.fold is None else c.fold
        if c.numeric and not fold:
            t.add_column(c.name, justify="right", no_wrap=True)
        else:
            t.add_column(c.name, justify="right" if c.numeric else "left", overflow="fold", no_wrap=not fold)
    for r in rows:
        t.add_row(*r)
    return t


def fit_frame(frame: Any, *, title: str, width: int, prefer: Sequence[str] = (),
              digits: dict[str, int] | None = None) -> Table:
    """``frame`` (pandas) as a table no wider than ``width``: empty columns dropped, the ``prefer`` columns
    first, then the rest in frame order while they fit; the caption names those left out."""
    digits = digits or {}
    names = [str(c) for c in frame.columns]
    data = {n: list(frame[c]) for n, c in zip(names, frame.columns, strict=True)}
    empty = [n for n in names if data[n] and all(_empty(v) for v in data[n])]
    order = [n for n in prefer if n in data and n not in empty]
    order += [n for n in names if n not in order and n not in empty]
    cols: list[tuple[str, bool, bool, list[str]]] = []
    used, left_out = 0, list[str]()
    for n in order:
        numeric = _numeric(data[n])
        places = digits.get(n)
        if numeric and places is None:  # one number of decimals per column, so the points line up
            vals = [float(v) for v in data[n] if not _empty(v)]
            places = 0 if all(v.is_integer() for v in vals) else (2 if max(map(abs, vals)) < 100 else 1)
        cells = [cell(v, places) for v in data[n]]
        natural = max([len(n), *(len(s) for s in cells)])
        fold = not numeric and natural > 20  # short text (ids, times) stays on one line; long text folds
        need = (min(natural, max(_MAX_TEXT, len(n))) if fold else natural) + _GUTTER
        if cols and (used + need > width + _GUTTER or left_out):  # the edges have no padding nor divider
            left_out.append(n)
            continue
        cols.append((n, numeric, fold, cells))
        used += need
    caption = None
    if left_out:  # one line, within the width: as many of the names as fit
        tail = " (--format csv|json shows all)"
        head = f"{len(left_out)} more column{'s' if len(left_out) > 1 else ''}: "
        names_fit: list[str] = []
        for n in left_out:
            if len(head) + len(", ".join([*names_fit, n])) + 16 + len(tail) > max(width, 60):
                break
            names_fit.append(n)
        more = len(left_out) - len(names_fit)
        if names_fit:
            caption = head + ", ".join(names_fit) + (f" and {more} more" if more else "") + tail
        else:
            caption = head.rstrip(": ") + tail
    rows = zip(*(c[3] for c in cols), strict=True) if cols else iter(())
    return make_table([Col(n, numeric, fold) for n, numeric, fold, _ in cols], rows, title=title, caption=caption)
