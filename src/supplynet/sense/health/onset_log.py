"""Onset of degradation in an unlabelled run-to-failure log, per channel.

The log is one table: a time column and one column per channel (a bearing's horizontal and
vertical vibration, a pump's temperature, ...). Rows are grouped into windows: the bursts of a
sampled vibration signal (snapshots separated by gaps much longer than the sampling interval, as
PRONOSTIA records 0.1 s every 10 s), or windows of ``window_s`` seconds, or single rows. Each
window gives per channel its log RMS and log peak (a single reading: its value).

Per channel a :class:`~supplynet.sense.health.health.HealthModel` learns the baseline from the first
``baseline_fraction`` of the windows (the early, healthy part of the run), scores the rest (one-sided:
only a rise counts) and runs a CUSUM (Page 1954) on the score. An alarm after which the score falls
back under the CUSUM reference for ``recover`` windows in a row did not persist: it is counted as a
false alarm and the detector starts again; the onset is the first alarm that persists to the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import DataError
from .health import HealthModel

__all__ = ["ChannelOnset", "channel_onsets", "plot_onsets", "windows"]


@dataclass(frozen=True)
class ChannelOnset:
    """Result for one channel: window end times (s), health per window, the onset window (or
    None), the alarms that did not persist, and the baseline size."""

    name: str
    times_s: np.ndarray
    health: np.ndarray
    onset: int | None
    false_alarms: list[int]
    n_baseline: int


def windows(times_s: np.ndarray, window_s: float | None = None) -> np.ndarray:
    """Window label of each row (rows sorted by time): bursts split at long gaps, fixed windows of
    ``window_s`` seconds, or one row per window."""
    t = np.asarray(times_s, dtype=float)
    if len(t) < 2:
        return np.zeros(len(t), dtype=np.int64)
    if window_s is not None:
        if window_s <= 0:
            raise DataError(f"--window must be > 0 seconds, got {window_s}")
        return np.floor((t - t[0]) / window_s).astype(np.int64)
    dt = np.diff(t)
    med = float(np.median(dt))
    if med > 0 and dt.max() > 20 * med:  # bursts: a new window after every long gap
        return np.concatenate([[0], np.cumsum(dt > 20 * med)]).astype(np.int64)
    return np.arange(len(t), dtype=np.int64)


def _features(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per window: log RMS and log peak of the channel (its value when a window is one row)."""
    n = int(labels.max()) + 1
    counts = np.bincount(labels, minlength=n)
    if counts.max() == 1:
        out = np.full(n, np.nan)
        out[labels] = values
        return out[:, None]
    sq = np.bincount(labels, weights=values**2, minlength=n)
    peak = np.zeros(n)
    np.maximum.at(peak, labels, np.abs(values))
    rms = np.sqrt(sq / np.maximum(counts, 1))
    return np.column_stack([np.log(np.maximum(rms, 1e-12)), np.log(np.maximum(peak, 1e-12))])


def _scan(feats: np.ndarray, n_baseline: int, recover: int, **kw: Any) -> tuple[np.ndarray, int | None, list[int]]:
    model = HealthModel(n_baseline=n_baseline, one_sided=True, **kw)
    for row in feats[:n_baseline]:
        model.learn_one(row)
    health = np.ones(len(feats))
    scores = np.zeros(len(feats))
    for i in range(n_baseline, len(feats)):
        scores[i] = model.score_one(feats[i])
        health[i] = model.health(scores[i])
    ref, thr, clip = model.cusum_reference, model.cusum_threshold, model.cusum_clip
    s, alarm, false_alarms, calm = 0.0, None, [], 0
    for i in range(n_baseline, len(feats)):
        if alarm is None:
            s = max(0.0, s + min(scores[i] - ref, clip))
            if s >= thr:
                alarm, calm = i, 0
        else:
            calm = calm + 1 if scores[i] < ref else 0
            if calm >= recover:  # it did not persist: a false alarm; start again
                false_alarms.append(alarm)
                alarm, s = None, 0.0
    return health, alarm, false_alarms


def channel_onsets(times_s: np.ndarray, channels: dict[str, np.ndarray], *, baseline_fraction: float = 0.1,
                   window_s: float | None = None, recover: int = 6, **model_kwargs: Any) -> list[ChannelOnset]:
    """Onset per channel of a run-to-failure log (see the module docstring)."""
    if not 0 < baseline_fraction < 1:
        raise DataError(f"--baseline must be a fraction in (0, 1), got {baseline_fraction}")
    labels = windows(times_s, window_s)
    n = int(labels.max()) + 1 if len(labels) else 0
    n_baseline = max(10, int(round(baseline_fraction * n)))
    if n < n_baseline + 5:
        raise DataError(f"the log has {n} windows: too few to learn a baseline of {n_baseline} and watch the rest")
    ends = np.full(n, -np.inf)
    np.maximum.at(ends, labels, np.asarray(times_s, dtype=float))
    out = []
    for name, values in channels.items():
        v = np.asarray(values, dtype=float)
        if not np.isfinite(v).all():
            raise DataError(f"channel {name!r}: missing or non-finite values")
        health, onset, false = _scan(_features(v, labels), n_baseline, recover, **model_kwargs)
        out.append(ChannelOnset(name, ends, health, onset, false, n_baseline))
    return out


def plot_onsets(results: Sequence[ChannelOnset], path: Any, title: str = "") -> None:
    """A PNG of each channel's health indicator over the run, its baseline and onset marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.2 * len(results) + 0.6), sharex=True, squeeze=False)
    t0 = results[0].times_s[0]
    for ax, r in zip(axes[:, 0], results, strict=True):
        hours = (r.times_s - t0) / 3600.0
        ax.plot(hours, r.health, lw=1.0, color="tab:blue", label="health indicator")
        ax.axvspan(hours[0], hours[r.n_baseline - 1], color="tab:green", alpha=0.12, label="baseline")
        for k in r.false_alarms:
            ax.axvline(hours[k], color="tab:orange", lw=0.8, ls=":")
        if r.onset is not None:
            ax.axvline(hours[r.onset], color="tab:red", lw=1.2, label="onset")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(r.name)
        ax.legend(loc="lower left", fontsize=7)
    axes[-1, 0].set_xlabel("hours since start")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
