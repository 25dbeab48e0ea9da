"""Input validation and the panel the forecasting kernels work on.

Long-format frames (``unique_id``, ``ds``, ``y``, an optional ``weight`` and an optional ``group``, the
product a SKU-site series belongs to) are checked here, then
put on an integer time grid (one step per period of ``freq``) and packed into a right-aligned matrix:
row ``i`` holds series ``i``'s last values, left-padded with NaN, so that "``k`` periods before the
end" is the same column for every series. A period missing inside a series is zero demand (no sale
event was recorded), which is what a demand history built from events means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from supplynet.errors import DataError

__all__ = ["Grid", "Panel", "build_panel", "resolve_freq", "validate_exog", "validate_series"]

_SEASON = {"W": 52, "D": 7, "M": 12, "Q": 4, "H": 24}


@dataclass(frozen=True)
class Grid:
    """An integer time grid: ``index`` maps dates to period numbers, ``shift`` moves dates by k."""

    freq: str
    kind: str  # one of _SEASON's keys

    @property
    def default_season(self) -> int:
        return _SEASON[self.kind]

    def index(self, ds: pd.Series) -> np.ndarray:
        d = pd.DatetimeIndex(ds)
        if self.kind == "W":
            return np.floor_divide((d - pd.Timestamp("1970-01-05")).days.to_numpy(), 7).astype(np.int64)
        if self.kind == "D":
            return (d - pd.Timestamp("1970-01-01")).days.to_numpy().astype(np.int64)
        if self.kind == "H":
            return ((d - pd.Timestamp("1970-01-01")) // pd.Timedelta(hours=1)).to_numpy().astype(np.int64)
        if self.kind == "M":
            return (d.year.to_numpy() * 12 + d.month.to_numpy() - 1).astype(np.int64)
        return (d.year.to_numpy() * 4 + (d.month.to_numpy() - 1) // 3).astype(np.int64)

    def shift(self, last: pd.Timestamp, k: int) -> pd.Timestamp:
        if self.kind == "W":
            return last + pd.Timedelta(weeks=k)
        if self.kind == "D":
            return last + pd.Timedelta(days=k)
        if self.kind == "H":
            return last + pd.Timedelta(hours=k)
        months = k if self.kind == "M" else 3 * k
        if last.is_month_end:
            return last + pd.offsets.MonthEnd(months)
        return last + pd.DateOffset(months=months)

    def dates(self, t: np.ndarray) -> pd.DatetimeIndex:
        """A representative date of each grid period (its start)."""
        t = np.asarray(t, dtype=np.int64)
        if self.kind == "W":
            return pd.DatetimeIndex(pd.Timestamp("1970-01-05") + pd.to_timedelta(7 * t, unit="D"))
        if self.kind == "D":
            return pd.DatetimeIndex(pd.Timestamp("1970-01-01") + pd.to_timedelta(t, unit="D"))
        if self.kind == "H":
            return pd.DatetimeIndex(pd.Timestamp("1970-01-01") + pd.to_timedelta(t, unit="h"))
        months = t if self.kind == "M" else 3 * t
        return pd.to_datetime(pd.DataFrame({"year": months // 12, "month": months % 12 + 1, "day": 1}))

    def calendar(self, t: np.ndarray) -> pd.DataFrame:
        """Calendar features known in advance (week of year, month, day of week) of grid periods."""
        d = pd.DatetimeIndex(self.dates(t))
        out = {"cal_month": d.month.to_numpy(dtype=float)}
        if self.kind in ("W", "D", "H"):
            out["cal_week"] = d.isocalendar().week.to_numpy(dtype=float)
        if self.kind in ("D", "H"):
            out["cal_dow"] = d.dayofweek.to_numpy(dtype=float)
        if self.kind == "H":
            out["cal_hour"] = d.hour.to_numpy(dtype=float)
        return pd.DataFrame(out)


def resolve_freq(freq: str) -> Grid:
    """Map a pandas-style frequency alias to a :class:`Grid`; unknown aliases are a DataError."""
    f = str(freq).strip()
    head = f.split("-")[0].upper()
    kinds = {"W": "W", "D": "D", "H": "H", "M": "M", "MS": "M", "ME": "M", "Q": "Q", "QS": "Q", "QE": "Q"}
    if head not in kinds:
        raise DataError(f"unknown freq {freq!r}: use one of W (or W-FRI ...), D, H, M, MS, ME, Q, QS")
    return Grid(freq=f, kind=kinds[head])


def _check_columns(df: pd.DataFrame, required: list[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(f"{what}: missing column(s) {missing}; found {list(df.columns)}")


def _parse_dates(df: pd.DataFrame, what: str) -> pd.Series:
    ds = df["ds"]
    if pd.api.types.is_datetime64_any_dtype(ds):
        parsed = pd.to_datetime(ds)
    else:
        parsed = pd.to_datetime(ds, errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        raise DataError(
            f"{what}: {int(bad.sum())} unparseable date(s) in column 'ds', first {ds[bad].iloc[0]!r}"
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _numeric(df: pd.DataFrame, col: str, what: str, allow_nan: bool) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() & (df[col].notna() if allow_nan else True)
    if bad.any():
        raise DataError(f"{what}: non-numeric value in column {col!r}: {df[col][bad].iloc[0]!r}")
    return values.astype(float)


def validate_series(df: pd.DataFrame, grid: Grid, what: str = "data") -> pd.DataFrame:
    """Check a long-format frame and return ``unique_id`` (str), ``ds``, ``t``, ``y``, ``weight``
    (and ``group``, when given: e.g. the SKU of a SKU-site series, constant per series)."""
    _check_columns(df, ["unique_id", "ds", "y"], what)
    if len(df) == 0:
        raise DataError(f"{what}: no rows")
    out = pd.DataFrame({"unique_id": df["unique_id"].astype(str).to_numpy()})
    out["ds"] = _parse_dates(df, what).to_numpy()
    out["y"] = _numeric(df, "y", what, allow_nan=False).to_numpy()
    if not np.isfinite(out["y"].to_numpy()).all():
        raise DataError(f"{what}: column 'y' holds infinite values")
    if "weight" in df.columns:
        w = _numeric(df, "weight", what, allow_nan=False).to_numpy()
        if (w < 0).any():
            raise DataError(f"{what}: negative value in column 'weight': {w[w < 0][0]}")
        out["weight"] = w
    else:
        out["weight"] = 1.0
    if "group" in df.columns:
        g = df["group"]
        if g.isna().any():
            first = df["unique_id"][g.isna()].iloc[0]
            raise DataError(f"{what}: missing value in column 'group' (unique_id {first!r})")
        out["group"] = g.astype(str).to_numpy()
        per = out.groupby("unique_id")["group"].nunique()
        if (per > 1).any():
            raise DataError(
                f"{what}: column 'group' must be constant per series; unique_id {per.index[per > 1][0]!r} "
                f"has {int(per.max())} groups"
            )
    out["t"] = grid.index(out["ds"])
    dup = out.duplicated(["unique_id", "t"], keep=False)
    if dup.any():
        row = out[dup].iloc[0]
        raise DataError(
            f"{what}: duplicate (unique_id, ds) for freq {grid.freq!r}: "
            f"unique_id={row['unique_id']!r}, ds={row['ds']} ({int(dup.sum())} rows involved)"
        )
    return out.sort_values(["unique_id", "t"], ignore_index=True)


def validate_exog(exog: pd.DataFrame, grid: Grid, what: str = "exog") -> pd.DataFrame:
    """Check an exogenous frame: ``unique_id``, ``ds`` and numeric regressors (NaN allowed)."""
    _check_columns(exog, ["unique_id", "ds"], what)
    cols = [c for c in exog.columns if c not in ("unique_id", "ds", "y", "weight")]
    if not cols:
        raise DataError(f"{what}: no regressor columns besides unique_id and ds")
    out = pd.DataFrame({"unique_id": exog["unique_id"].astype(str).to_numpy()})
    out["t"] = grid.index(_parse_dates(exog, what))
    for c in cols:
        values = exog[c]
        if (
            values.dtype == bool
            or values.dtype == object
            and set(values.dropna().unique())
            <= {True, False, "TRUE", "FALSE", "True", "False", "true", "false"}
        ):
            values = values.astype(str).str.lower().map({"true": 1.0, "false": 0.0})
        out[f"x_{c}"] = _numeric(pd.DataFrame({c: values}), c, what, allow_nan=True).to_numpy()
    dup = out.duplicated(["unique_id", "t"])
    if dup.any():
        row = out[dup].iloc[0]
        raise DataError(f"{what}: duplicate (unique_id, ds) for unique_id={row['unique_id']!r}")
    return out


@dataclass
class Panel:
    """Series packed right-aligned: ``Y[i, -k]`` is series i's value k-1 periods before its end."""

    uids: np.ndarray  # (n,) str
    Y: np.ndarray  # (n, L) float, NaN before each series starts
    W: np.ndarray  # (n, L) weights
    lengths: np.ndarray  # (n,) int
    t_last: np.ndarray  # (n,) int, grid index of each series' last period
    ds_last: np.ndarray  # (n,) datetime64, date of each series' last period
    groups: np.ndarray | None = None  # (n,) int codes of the optional ``group`` column

    @property
    def n(self) -> int:
        return len(self.uids)

    def truncate(self, k: int) -> Panel:
        """Drop the last ``k`` periods of every series (series left empty are dropped)."""
        keep = self.lengths > k
        return Panel(
            uids=self.uids[keep],
            Y=self.Y[keep, : self.Y.shape[1] - k],
            W=self.W[keep, : self.W.shape[1] - k],
            lengths=self.lengths[keep] - k,
            t_last=self.t_last[keep] - k,
            ds_last=np.full(int(keep.sum()), np.datetime64("NaT"), dtype="datetime64[ns]"),
            groups=None if self.groups is None else self.groups[keep],
        )

    def subset(self, mask: np.ndarray) -> Panel:
        return Panel(
            self.uids[mask],
            self.Y[mask],
            self.W[mask],
            self.lengths[mask],
            self.t_last[mask],
            self.ds_last[mask],
            None if self.groups is None else self.groups[mask],
        )

    def cut(self, cutoff: int) -> Panel:
        """The history up to grid period ``cutoff`` of the series that still run after it.

        Series that end at or before the cutoff are left out (nothing of them is to be forecast);
        each kept row is shifted right so it ends at ``cutoff``.
        """
        keep = (self.t_last > cutoff) & (self.t_last - self.lengths + 1 <= cutoff)
        sub = self.subset(keep)
        k = sub.t_last - cutoff
        L = self.Y.shape[1]
        cols = np.arange(L)[None, :] - k[:, None]
        valid = cols >= 0
        rows = np.broadcast_to(np.arange(sub.n)[:, None], cols.shape)
        Y = np.where(valid, sub.Y[rows, np.maximum(cols, 0)], np.nan)
        W = np.where(valid, sub.W[rows, np.maximum(cols, 0)], 1.0)
        return Panel(
            sub.uids,
            Y,
            W,
            sub.lengths - k,
            np.full(sub.n, cutoff, dtype=np.int64),
            np.full(sub.n, np.datetime64("NaT"), dtype="datetime64[ns]"),
            sub.groups,
        )

    def window(self, uids: np.ndarray, start: int, h: int) -> tuple[np.ndarray, np.ndarray]:
        """Values and weights of series ``uids`` at grid periods ``start .. start+h-1`` (NaN if none)."""
        pos = pd.Index(self.uids).get_indexer(uids)
        L = self.Y.shape[1]
        t = start + np.arange(h)[None, :]
        cols = L - 1 - (self.t_last[pos][:, None] - t)
        valid = (cols >= 0) & (cols < L)
        rows = np.broadcast_to(pos[:, None], cols.shape)
        c = np.clip(cols, 0, L - 1)
        return np.where(valid, self.Y[rows, c], np.nan), np.where(valid, self.W[rows, c], 0.0)

    def long(self) -> pd.DataFrame:
        """Long frame (``unique_id``, ``t``, ``y``) of the observed part, gaps filled."""
        rows, cols = np.nonzero(~np.isnan(self.Y))
        L = self.Y.shape[1]
        return pd.DataFrame(
            {
                "unique_id": self.uids[rows],
                "t": self.t_last[rows] - (L - 1 - cols),
                "y": self.Y[rows, cols],
            }
        )


def build_panel(clean: pd.DataFrame) -> Panel:
    """Pack a validated frame; periods missing inside a series become zeros."""
    codes, uids = pd.factorize(clean["unique_id"], sort=True)
    t = clean["t"].to_numpy()
    first = np.full(len(uids), np.iinfo(np.int64).max)
    last = np.full(len(uids), np.iinfo(np.int64).min)
    np.minimum.at(first, codes, t)
    np.maximum.at(last, codes, t)
    lengths = last - first + 1
    L = int(lengths.max())
    Y = np.full((len(uids), L), np.nan)
    W = np.ones((len(uids), L))
    col_start = L - lengths
    Y[np.arange(L)[None, :] >= col_start[:, None]] = 0.0
    cols = t - last[codes] + L - 1
    Y[codes, cols] = clean["y"].to_numpy()
    # a gap takes the weight of its period seen in other series (holiday weeks stay holidays)
    w_by_t = clean.groupby("t")["weight"].max()
    grid_t = last[:, None] - (L - 1 - np.arange(L))[None, :]
    W[:] = w_by_t.reindex(grid_t.ravel()).fillna(1.0).to_numpy().reshape(W.shape)
    W[codes, cols] = clean["weight"].to_numpy()
    ds_last = clean.groupby(codes)["ds"].max().to_numpy()
    groups = None
    if "group" in clean.columns:
        groups = pd.factorize(clean.groupby(codes)["group"].first().to_numpy(), sort=True)[0].astype(np.int64)
    return Panel(np.asarray(uids, dtype=object), Y, W, lengths.astype(np.int64), last, ds_last, groups)
