"""STL (Cleveland et al. 1990) on many series at once, compiled: the numbers of statsmodels' ``STL``.

:func:`stl_many` decomposes a batch of series of any lengths with the non-robust STL, every jump
1: the configuration statsforecast's MSTL runs (seasonal degree 0, window 11, the default trend and
low-pass windows, 5 inner passes, no robustness pass). It follows statsmodels' Cython
``statsmodels/tsa/stl/_stl.pyx`` (itself the NETLIB Fortran) step by step, with the same order of
every floating-point operation, so the seasonal and trend components are the same numbers, bit for
bit (tests hold it to statsmodels on every length from 1 to 3 seasons, on other periods and
degrees, and on every Walmart series).

What makes it fast: without robustness weights a loess weight depends only on the series length,
the window and the point, never on the values, so the weights are computed once per length (all
series of that length, every inner pass) instead of at every point of every pass of every series,
where statsmodels spends most of its time (two ``pow`` calls per weight). The smoothing is then the
same weighted sums in the same order. One Cython detail is kept on purpose: it divides with C
semantics (``cdivision``), so a series shorter than the period has cycle-subseries of one value
where Python's floor division would give none.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from supplynet.errors import ParameterError

__all__ = ["stl_defaults", "stl_many"]


def stl_defaults(period: int, seasonal: int) -> tuple[int, int]:
    """statsmodels' default trend and low-pass windows for ``period`` and seasonal window."""
    trend = int(np.ceil(1.5 * period / (1 - 1.5 / seasonal)))
    trend += (trend % 2) == 0
    low_pass = period + 1
    low_pass += (low_pass % 2) == 0
    return trend, low_pass


@numba.njit(cache=True, nogil=True)
def _weights(n, len_, ideg, xs, nleft, nright, w):
    """The loess weights of statsmodels' ``_est`` for the point ``xs`` (1-based) over the window
    ``nleft..nright``, into ``w[0 : nright - nleft + 1]``; False where ``_est`` returns NaN."""
    rng = n - 1.0
    h = float(max(xs - nleft, nright - xs))
    if len_ > n:
        h += float((len_ - n) // 2)
    h9 = 0.999 * h
    h1 = 0.001 * h
    a = 0.0
    o = nleft - 1
    for j in range(nleft - 1, nright):
        w[j - o] = 0.0
        r = math.fabs(float(j + 1 - xs))
        if r <= h9:
            if r <= h1:
                w[j - o] = 1.0
            else:
                w[j - o] = (1.0 - (r / h) ** 3.0) ** 3.0
            a = a + w[j - o]
    if a <= 0:
        return False
    for j in range(nleft - 1, nright):
        w[j - o] = w[j - o] / a
    if h > 0 and ideg > 0:
        a = 0.0
        for j in range(nleft - 1, nright):
            a = a + w[j - o] * (j + 1)
        b = xs - a
        c = 0.0
        for j in range(nleft - 1, nright):
            c = c + w[j - o] * (j + 1 - a) ** 2.0
        if math.sqrt(c) > 0.001 * rng:
            b = b / c
            for j in range(nleft - 1, nright):
                w[j - o] = w[j - o] * (b * (j + 1 - a) + 1.0)
    return True


@numba.njit(cache=True, nogil=True)
def _point(n, len_, ideg, xs, nleft, nright, row, W, left, cnt, ok):
    left[row] = nleft - 1
    cnt[row] = max(nright - nleft + 1, 0)
    ok[row] = _weights(n, len_, ideg, xs, nleft, nright, W[row])


@numba.njit(cache=True, nogil=True)
def _ess_plan(n, len_, ideg, W, left, cnt, ok, first):
    """Rows ``first .. first + n - 1`` of a plan: the windows and weights statsmodels' ``_ess``
    (jump 1) uses at each point of a series of length ``n`` (a series of one value is copied)."""
    if n < 2:
        left[first] = 0
        cnt[first] = 0
        ok[first] = False
        return
    if len_ >= n:
        for i in range(n):
            _point(n, len_, ideg, i + 1, 1, n, first + i, W, left, cnt, ok)
    else:
        nsh = (len_ + 2) // 2
        nleft = 1
        nright = len_
        for i in range(n):
            if (i + 1) > nsh and nright != n:
                nleft = nleft + 1
                nright = nright + 1
            _point(n, len_, ideg, i + 1, nleft, nright, first + i, W, left, cnt, ok)


@numba.njit(cache=True, nogil=True)
def _smooth(y, row, W, left, cnt, ok, fallback):
    """``_est``'s estimate at one planned point (the weighted sum in the same order), or ``fallback``."""
    if not ok[row]:
        return fallback
    ys = 0.0
    o = left[row]
    for c in range(cnt[row]):
        ys = ys + W[row, c] * y[o + c]
    if math.isnan(ys):
        return fallback
    return ys


@numba.njit(cache=True, nogil=True)
def _ma(x, n, len_, ave):
    newn = n - len_ + 1
    flen = float(len_)
    v = 0.0
    for i in range(len_):
        v = v + x[i]
    ave[0] = v / flen
    k = len_
    m = 0
    for j in range(1, newn):
        v += x[k] - x[m]
        ave[j] = v / flen
        k += 1
        m += 1


@numba.njit(cache=True, nogil=True)
def _stl_same_length(Y, np_, ns, nt, nl, isdeg, itdeg, ildeg, inner_iter, S, T):
    """STL of every row of ``Y`` (one length ``n``) into ``S`` (seasonal) and ``T`` (trend).

    The loess weights depend only on the length, the windows and the point (not on the values, as
    nothing is robustness-weighted), so they are planned once for all rows and every inner pass.
    """
    rows, n = Y.shape
    # cycle-subseries plans: subseries j has k[j] values; points 0 and k + 1 extend it by one cycle
    ks = np.empty(np_, np.int64)
    for j in range(np_):
        d = n - (j + 1)  # C division (the Cython has cdivision): it truncates toward zero
        ks[j] = (d // np_ if d >= 0 else -(-d // np_)) + 1
    kmax = int(ks.max())
    sW = np.zeros((np_, kmax + 2, max(min(ns, kmax), 1)))
    sleft = np.zeros((np_, kmax + 2), np.int64)
    scnt = np.zeros((np_, kmax + 2), np.int64)
    sok = np.zeros((np_, kmax + 2), np.bool_)
    for j in range(np_):
        k = ks[j]
        _ess_plan(k, ns, isdeg, sW[j], sleft[j], scnt[j], sok[j], 1)
        _point(k, ns, isdeg, 0, 1, min(ns, k), 0, sW[j], sleft[j], scnt[j], sok[j])
        _point(k, ns, isdeg, k + 1, max(1, k - ns + 1), k, k + 1, sW[j], sleft[j], scnt[j], sok[j])
    lW = np.zeros((n, min(nl, n)))
    lleft = np.zeros(n, np.int64)
    lcnt = np.zeros(n, np.int64)
    lok = np.zeros(n, np.bool_)
    _ess_plan(n, nl, ildeg, lW, lleft, lcnt, lok, 0)
    tW = np.zeros((n, min(nt, n)))
    tleft = np.zeros(n, np.int64)
    tcnt = np.zeros(n, np.int64)
    tok = np.zeros(n, np.bool_)
    _ess_plan(n, nt, itdeg, tW, tleft, tcnt, tok, 0)

    work = np.zeros((5, n + 2 * np_))
    m = n + 2 * np_
    for r in range(rows):
        y = Y[r]
        season = S[r]
        trend = T[r]
        work[:, :] = 0.0
        trend[:] = 0.0
        for _ in range(inner_iter):
            for i in range(n):
                work[0, i] = y[i] - trend[i]
            # cycle-subseries smoothing (_ss) into work[1]
            w0, w1, w2, w3 = work[0], work[1], work[2], work[3]
            for j in range(np_):
                k = ks[j]
                for i in range(k):
                    w2[i] = w0[i * np_ + j]
                if k < 2:
                    w3[1] = w2[0]
                else:
                    for i in range(k):
                        w3[1 + i] = _smooth(w2, 1 + i, sW[j], sleft[j], scnt[j], sok[j], w2[i])
                w3[0] = _smooth(w2, 0, sW[j], sleft[j], scnt[j], sok[j], w3[1])
                w3[k + 1] = _smooth(w2, k + 1, sW[j], sleft[j], scnt[j], sok[j], w3[k])
                for i in range(k + 2):
                    w1[i * np_ + j] = w3[i]
            # low-pass filter of the cycle-subseries (_fts, then a loess)
            _ma(w1, m, np_, w2)
            _ma(w2, m - np_ + 1, np_, w0)
            _ma(w0, m - 2 * np_ + 2, 3, w2)
            if n < 2:
                w0[0] = w2[0]
            else:
                for i in range(n):
                    w0[i] = _smooth(w2, i, lW, lleft, lcnt, lok, w2[i])
            for i in range(n):
                season[i] = w1[np_ + i] - w0[i]
                w0[i] = y[i] - season[i]
            # trend loess of the seasonally adjusted series
            if n < 2:
                trend[0] = w0[0]
            else:
                for i in range(n):
                    trend[i] = _smooth(w0, i, tW, tleft, tcnt, tok, w0[i])


def stl_many(
    ys: list[np.ndarray],
    period: int,
    seasonal: int = 7,
    seasonal_deg: int = 1,
    trend_deg: int = 1,
    low_pass_deg: int = 1,
    inner_iter: int = 5,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Seasonal and trend components of each series, as ``statsmodels.tsa.seasonal.STL(y, period,
    seasonal, seasonal_deg=..., trend_deg=..., low_pass_deg=...).fit()`` gives them (default trend
    and low-pass windows, not robust, jumps of 1); every series must be non-empty."""
    if not ys:
        return [], []
    if int(period) < 2:
        raise ParameterError(f"stl_many: period must be >= 2, got {period}")
    if int(seasonal) < 3 or int(seasonal) % 2 == 0:
        raise ParameterError(f"stl_many: seasonal must be an odd integer >= 3, got {seasonal}")
    if min(len(y) for y in ys) < 1:
        raise ParameterError("stl_many: every series needs at least one value")
    trend_w, low_pass = stl_defaults(period, seasonal)
    lengths = np.array([len(y) for y in ys], dtype=np.int64)
    season: list[np.ndarray] = [np.empty(0)] * len(ys)
    trend: list[np.ndarray] = [np.empty(0)] * len(ys)
    for n in np.unique(lengths):
        idx = np.flatnonzero(lengths == n)
        Y = np.ascontiguousarray(np.stack([ys[i] for i in idx]), dtype=np.float64)
        S, T = np.zeros_like(Y), np.zeros_like(Y)
        _stl_same_length(
            Y,
            int(period),
            int(seasonal),
            trend_w,
            low_pass,
            int(seasonal_deg),
            int(trend_deg),
            int(low_pass_deg),
            int(inner_iter),
            S,
            T,
        )
        for r, i in enumerate(idx):
            season[i], trend[i] = S[r], T[r]
    return season, trend
