"""Features from machine readings, batch (vectorized) and incremental (one reading at a time).

- :class:`OperatingConditions` learns the operating regimes from the settings (k-means, the number of
  regimes chosen by the silhouette coefficient, Rousseeuw 1987); nothing is hard-coded: C-MAPSS
  FD002 comes out with six regimes, FD001 with one.
- :class:`ConditionNormalizer` standardizes every sensor by the mean and spread of its regime and
  drops the sensors that carry no information (constant within every regime), the usual C-MAPSS
  preparation (Wang et al., PHM08 "similarity-based" approach).
- :func:`window_features` computes per-unit rolling means, least-squares slopes over several window
  lengths, exponentially smoothed values and the drift from the unit's own start; the kernels use
  cumulative sums and a first-order IIR filter, so one pass covers all units. :class:`WindowFeatures`
  computes the same numbers reading by reading (``update(x).get()``), equal to the batch result.
- :func:`waveform_features` gives RMS, peak, crest factor, kurtosis, FFT band energies and, when the
  shaft speed and bearing geometry are known, envelope-spectrum energy at the bearing defect
  frequencies BPFO, BPFI, BSF and FTF (Randall & Antoni 2011, "Rolling element bearing diagnostics");
  :func:`snapshot_features` applies it to every snapshot of a FEMTO / PRONOSTIA run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import hilbert, lfilter

from ...datasets.femto import FEMTO_FS_HZ, PRONOSTIA_BEARING, FemtoRun
from ...errors import DataError, ParameterError

__all__ = [
    "BearingGeometry",
    "ConditionNormalizer",
    "OperatingConditions",
    "WindowFeatures",
    "WindowSpec",
    "snapshot_features",
    "waveform_features",
    "window_feature_names",
    "window_features",
]


# --------------------------------------------------------------------------------------------------
# operating conditions
# --------------------------------------------------------------------------------------------------


@dataclass
class OperatingConditions:
    """Operating regimes learned from the settings by k-means; ``k`` chosen by silhouette.

    A clustering with more than one regime is kept only when its silhouette reaches
    ``min_silhouette`` (well-separated regimes); otherwise the machine runs in one regime (noise in the
    settings does not make regimes).
    """

    k_max: int = 8
    min_silhouette: float = 0.7
    sample_size: int = 2000
    seed: int = 0
    k: int = 1
    silhouettes: dict[int, float] = field(default_factory=dict)
    centers_: np.ndarray | None = None
    _scale: np.ndarray | None = None
    _center: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.k_max < 1:
            raise ParameterError(f"k_max must be >= 1, got {self.k_max}")
        if not 0 < self.min_silhouette <= 1:
            raise ParameterError(f"min_silhouette must be in (0, 1], got {self.min_silhouette}")

    def _scaled(self, settings: np.ndarray) -> np.ndarray:
        assert self._center is not None and self._scale is not None
        return (np.asarray(settings, dtype=float) - self._center) / self._scale

    def fit(self, settings: np.ndarray) -> OperatingConditions:
        from sklearn.cluster import KMeans
        from sklearn.metrics import silhouette_score

        x = np.asarray(settings, dtype=float)
        if x.ndim != 2 or len(x) == 0:
            raise DataError(f"settings must be a non-empty 2-D array, got shape {x.shape}")
        if x.shape[1] == 0:  # no settings: one regime
            self._center, self._scale = np.zeros(0), np.ones(0)
            self.k, self.centers_, self.silhouettes = 1, np.zeros((1, 0)), {}
            return self
        self._center = x.mean(axis=0)
        sd = x.std(axis=0)
        self._scale = np.where(sd > 1e-12, sd, 1.0)
        z = self._scaled(x)
        rng = np.random.default_rng(self.seed)
        sample = z[rng.choice(len(z), size=min(len(z), self.sample_size), replace=False)]
        best_k, best_s, best_centers = 1, -1.0, z.mean(axis=0, keepdims=True)
        self.silhouettes = {}
        n_distinct = len(np.unique(np.round(sample, 9), axis=0))
        for k in range(2, min(self.k_max, n_distinct - 1, len(sample) - 1) + 1):
            km = KMeans(n_clusters=k, n_init=2, random_state=self.seed).fit(sample)
            s = float(silhouette_score(sample, km.labels_))
            self.silhouettes[k] = s
            if s > best_s:
                best_k, best_s, best_centers = k, s, km.cluster_centers_
        if best_s < self.min_silhouette:
            best_k, best_centers = 1, z.mean(axis=0, keepdims=True)
        # order regimes by their settings so labels are reproducible
        order = np.lexsort(best_centers.T[::-1]) if best_k > 1 else np.arange(1)
        self.k, self.centers_ = best_k, best_centers[order]
        return self

    def predict(self, settings: np.ndarray) -> np.ndarray:
        """Regime label (0..k-1) of each row of settings: the nearest learned centre."""
        if self.centers_ is None:
            raise ParameterError("OperatingConditions.predict called before fit")
        z = self._scaled(np.atleast_2d(settings))
        d = ((z[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2)
        return d.argmin(axis=1)


@dataclass
class ConditionNormalizer:
    """Per-regime standardization of sensors; drops sensors constant within every regime.

    ``rel_tol``: a sensor is dropped when its within-regime standard deviation is below
    ``rel_tol * (|mean| + 1)`` in every regime.
    """

    conditions: OperatingConditions = field(default_factory=OperatingConditions)
    rel_tol: float = 1e-4
    names: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    mean_: np.ndarray | None = None
    std_: np.ndarray | None = None

    def fit(self, settings: np.ndarray, sensors: np.ndarray, names: Sequence[str]) -> ConditionNormalizer:
        x = np.asarray(sensors, dtype=float)
        if x.ndim != 2 or x.shape[1] != len(names):
            raise DataError(f"sensors has shape {x.shape}, expected (n, {len(names)}) for names {list(names)}")
        self.conditions.fit(settings)
        lab = self.conditions.predict(settings)
        k = self.conditions.k
        mean = np.zeros((k, x.shape[1]))
        std = np.ones((k, x.shape[1]))
        informative = np.zeros(x.shape[1], dtype=bool)
        for c in range(k):
            xc = x[lab == c]
            if len(xc) == 0:
                continue
            mean[c], sd = xc.mean(axis=0), xc.std(axis=0)
            informative |= sd > self.rel_tol * (np.abs(mean[c]) + 1.0)
            std[c] = np.where(sd > 1e-12, sd, 1.0)
        self.names = list(names)
        self.kept = [n for n, keep in zip(self.names, informative, strict=True) if keep]
        self.mean_, self.std_ = mean[:, informative], std[:, informative]
        self._keep = informative
        return self

    def transform(self, settings: np.ndarray, sensors: np.ndarray) -> np.ndarray:
        """Standardized informative sensors (columns in the order of ``kept``)."""
        if self.mean_ is None or self.std_ is None:
            raise ParameterError("ConditionNormalizer.transform called before fit")
        x = np.atleast_2d(np.asarray(sensors, dtype=float))[:, self._keep]
        lab = self.conditions.predict(settings)
        return (x - self.mean_[lab]) / self.std_[lab]


# --------------------------------------------------------------------------------------------------
# window features
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowSpec:
    """Which window features to compute: rolling means and slopes over ``windows`` readings,
    exponentially smoothed values with ``spans`` (alpha = 2/(span+1)), and the drift of the longest
    smoothed value from the mean of the unit's first ``start`` readings."""

    windows: tuple[int, ...] = (5, 15, 30)
    slope_windows: tuple[int, ...] = (10, 20, 40)
    spans: tuple[int, ...] = (5, 10, 20)
    start: int = 15

    def __post_init__(self) -> None:
        for name in ("windows", "slope_windows", "spans"):
            vals = getattr(self, name)
            if any(int(v) < 1 for v in vals):
                raise ParameterError(f"WindowSpec.{name} must be positive integers, got {vals}")
        if self.start < 1:
            raise ParameterError(f"WindowSpec.start must be >= 1, got {self.start}")

    @property
    def memory(self) -> int:
        return max((*self.windows, *self.slope_windows, 1))


def window_feature_names(sensors: Sequence[str], spec: WindowSpec = WindowSpec()) -> list[str]:
    names = ["age"]
    for s in sensors:
        names += [f"{s}__last"]
        names += [f"{s}__mean{w}" for w in spec.windows]
        names += [f"{s}__slope{w}" for w in spec.slope_windows]
        names += [f"{s}__ewm{sp}" for sp in spec.spans]
        names += [f"{s}__drift"]
    return names


def _group_starts(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start index of each row's group and the row's position inside it (rows sorted by group)."""
    n = len(groups)
    new = np.ones(n, dtype=bool)
    new[1:] = groups[1:] != groups[:-1]
    first = np.flatnonzero(new)
    start = np.repeat(first, np.diff(np.append(first, n)))
    return start, np.arange(n) - start


def _cs(a: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + 1, *a.shape[1:]))
    np.cumsum(a, axis=0, out=out[1:])
    return out


def window_features(values: np.ndarray, groups: np.ndarray, spec: WindowSpec = WindowSpec()) -> np.ndarray:
    """Window features for every row. ``values`` (n, m) sorted by group then time; ``groups`` (n,).

    Row i only uses rows of its own group up to i (no look-ahead); short histories use what exists.
    Columns follow :func:`window_feature_names`.
    """
    x = np.asarray(values, dtype=float)
    g = np.asarray(groups)
    if x.ndim != 2 or len(g) != len(x):
        raise DataError(f"values must be (n, m) and groups (n,), got {x.shape} and {g.shape}")
    n, m = x.shape
    start, pos = _group_starts(g)
    idx = np.arange(n)
    t = pos.astype(float)[:, None]
    cx, ctx = _cs(x), _cs(t * x)
    ct, ctt = _cs(t), _cs(t * t)
    cols: dict[str, np.ndarray] = {}

    def lo(w: int) -> np.ndarray:
        return np.maximum(start, idx - w + 1)

    for w in spec.windows:
        a = lo(w)
        cnt = (idx + 1 - a)[:, None]
        cols[f"mean{w}"] = (cx[idx + 1] - cx[a]) / cnt
    for w in spec.slope_windows:
        a = lo(w)
        k = (idx + 1 - a)[:, None].astype(float)
        sx, stx = cx[idx + 1] - cx[a], ctx[idx + 1] - ctx[a]
        st, stt = ct[idx + 1] - ct[a], ctt[idx + 1] - ctt[a]
        den = k * stt - st * st
        with np.errstate(invalid="ignore", divide="ignore"):
            cols[f"slope{w}"] = np.where(den > 0, (k * stx - st * sx) / np.where(den > 0, den, 1.0), 0.0)
    firsts = np.flatnonzero(pos == 0)
    ends = np.append(firsts[1:], n)
    for sp in spec.spans:
        alpha = 2.0 / (sp + 1.0)
        out = np.empty_like(x)
        for a, b in zip(firsts, ends, strict=True):
            out[a:b] = lfilter([alpha], [1.0, alpha - 1.0], x[a:b], axis=0, zi=(1 - alpha) * x[a:a + 1])[0]
        cols[f"ewm{sp}"] = out
    s_end = np.minimum(idx, start + spec.start - 1)
    start_mean = (cx[s_end + 1] - cx[start]) / (s_end + 1 - start)[:, None]
    cols["drift"] = cols[f"ewm{max(spec.spans)}"] - start_mean if spec.spans else x - start_mean

    blocks = [pos.astype(float)[:, None] + 1.0]
    per_sensor = [x, *(cols[f"mean{w}"] for w in spec.windows), *(cols[f"slope{w}"] for w in spec.slope_windows),
                  *(cols[f"ewm{sp}"] for sp in spec.spans), cols["drift"]]
    stacked = np.stack(per_sensor, axis=2)  # (n, m, f)
    blocks.append(stacked.reshape(n, -1))
    return np.hstack(blocks)


class WindowFeatures:
    """Incremental window features for one unit: ``update(x)`` per reading, ``get()`` the vector.

    ``get()`` after the i-th reading equals row i of :func:`window_features` for that unit.
    """

    def __init__(self, n_sensors: int, spec: WindowSpec = WindowSpec()):
        if n_sensors < 1:
            raise ParameterError(f"n_sensors must be >= 1, got {n_sensors}")
        self.spec = spec
        self.m = n_sensors
        self.reset()

    def reset(self) -> None:
        self._buf: deque[np.ndarray] = deque(maxlen=self.spec.memory)
        self._ewm: list[np.ndarray] | None = None
        self._n = 0
        self._start_sum = np.zeros(self.m)

    def update(self, x: Sequence[float] | np.ndarray) -> WindowFeatures:
        v = np.asarray(x, dtype=float).reshape(-1)
        if len(v) != self.m:
            raise DataError(f"reading has {len(v)} values, expected {self.m}")
        self._buf.append(v)
        if self._ewm is None:
            self._ewm = [v.copy() for _ in self.spec.spans]
        else:
            for i, sp in enumerate(self.spec.spans):
                a = 2.0 / (sp + 1.0)
                self._ewm[i] = a * v + (1 - a) * self._ewm[i]
        if self._n < self.spec.start:
            self._start_sum += v
        self._n += 1
        return self

    def get(self) -> np.ndarray:
        if self._n == 0:
            raise ParameterError("WindowFeatures.get called before any update")
        buf = np.array(self._buf)
        pos0 = self._n - len(buf)  # position of buf[0] inside the unit
        feats = [buf[-1]]
        for w in self.spec.windows:
            feats.append(buf[-w:].mean(axis=0))
        for w in self.spec.slope_windows:
            y = buf[-w:]
            k = len(y)
            if k < 2:
                feats.append(np.zeros(self.m))
                continue
            t = np.arange(pos0 + len(buf) - k, pos0 + len(buf), dtype=float)
            tc = t - t.mean()
            feats.append(tc @ (y - y.mean(axis=0)) / (tc @ tc))
        assert self._ewm is not None
        feats += [e.copy() for e in self._ewm]
        start_mean = self._start_sum / min(self._n, self.spec.start)
        feats.append((self._ewm[-1] if self.spec.spans else buf[-1]) - start_mean)
        return np.concatenate([[float(self._n)], np.stack(feats, axis=1).reshape(-1)])


# --------------------------------------------------------------------------------------------------
# vibration waveforms
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BearingGeometry:
    """Rolling-element bearing geometry: number of elements, element and pitch diameters (same unit),
    contact angle in degrees."""

    n_elements: int
    element_diameter: float
    pitch_diameter: float
    contact_angle_deg: float = 0.0

    def __post_init__(self) -> None:
        if self.n_elements < 1:
            raise ParameterError(f"n_elements must be >= 1, got {self.n_elements}")
        if not 0 < self.element_diameter < self.pitch_diameter:
            raise ParameterError(
                f"need 0 < element_diameter ({self.element_diameter}) < pitch_diameter ({self.pitch_diameter})")

    def fault_frequencies(self, shaft_hz: float) -> dict[str, float]:
        """Defect frequencies (Hz) for a shaft turning at ``shaft_hz`` with a stationary outer race."""
        if shaft_hz <= 0:
            raise ParameterError(f"shaft_hz must be > 0, got {shaft_hz}")
        r = self.element_diameter / self.pitch_diameter * np.cos(np.deg2rad(self.contact_angle_deg))
        n = self.n_elements
        return {
            "bpfo": n / 2 * shaft_hz * (1 - r),
            "bpfi": n / 2 * shaft_hz * (1 + r),
            "bsf": self.pitch_diameter / (2 * self.element_diameter) * shaft_hz * (1 - r * r),
            "ftf": shaft_hz / 2 * (1 - r),
        }


def waveform_features(
    signal: np.ndarray,
    fs: float,
    *,
    n_bands: int = 8,
    bands: Sequence[tuple[float, float]] | None = None,
    shaft_hz: float | None = None,
    geometry: BearingGeometry | None = None,
    harmonics: int = 3,
    rel_width: float = 0.03,
) -> dict[str, np.ndarray]:
    """Features of vibration snapshots. ``signal`` is (n_samples,) or (n_snapshots, n_samples).

    Returns arrays of length n_snapshots: ``rms``, ``peak``, ``crest``, ``kurtosis`` (Pearson, 3 for
    Gaussian), ``band_i`` energy (sum of |FFT|^2 in each band, as a share of the total energy: equal
    bands up to Nyquist unless ``bands`` is given) and, with ``shaft_hz`` and ``geometry``, the
    envelope-spectrum energy share near each defect frequency and its first ``harmonics`` multiples
    (``env_bpfo`` ...).
    """
    x = np.atleast_2d(np.asarray(signal, dtype=float))
    if fs <= 0:
        raise ParameterError(f"fs must be > 0, got {fs}")
    if x.shape[1] < 8:
        raise DataError(f"a snapshot needs at least 8 samples, got {x.shape[1]}")
    xc = x - x.mean(axis=1, keepdims=True)
    rms = np.sqrt((xc ** 2).mean(axis=1))
    peak = np.abs(xc).max(axis=1)
    safe = np.where(rms > 0, rms, 1.0)
    out: dict[str, np.ndarray] = {
        "rms": rms,
        "peak": peak,
        "crest": np.where(rms > 0, peak / safe, 0.0),
        "kurtosis": np.where(rms > 0, (xc ** 4).mean(axis=1) / safe ** 4, 0.0),
    }
    spec = np.abs(np.fft.rfft(xc, axis=1)) ** 2
    freqs = np.fft.rfftfreq(x.shape[1], d=1.0 / fs)
    total = spec.sum(axis=1)
    total = np.where(total > 0, total, 1.0)
    edges = bands if bands is not None else [
        (fs / 2 * i / n_bands, fs / 2 * (i + 1) / n_bands) for i in range(n_bands)]
    for i, (a, b) in enumerate(edges):
        sel = (freqs >= a) & ((freqs < b) | ((i == len(edges) - 1) & (freqs <= b)))
        out[f"band_{i}"] = spec[:, sel].sum(axis=1) / total
    if shaft_hz is not None and geometry is not None:
        env = np.abs(hilbert(xc, axis=1))
        env -= env.mean(axis=1, keepdims=True)
        espec = np.abs(np.fft.rfft(env, axis=1)) ** 2
        etotal = np.where(espec.sum(axis=1) > 0, espec.sum(axis=1), 1.0)
        df = freqs[1] - freqs[0]
        for name, f0 in geometry.fault_frequencies(shaft_hz).items():
            sel = np.zeros(len(freqs), dtype=bool)
            for h in range(1, harmonics + 1):
                half = max(rel_width * f0 * h, df)
                sel |= np.abs(freqs - f0 * h) <= half
            out[f"env_{name}"] = espec[:, sel].sum(axis=1) / etotal
    return out


def snapshot_features(run: FemtoRun, shaft_hz: float | None = None) -> tuple[np.ndarray, list[str]]:
    """Per snapshot and channel: log RMS, log peak, kurtosis, crest factor and band energies
    (and bearing defect bands when ``shaft_hz`` is given), as an (n_snapshots, n_features) array."""
    b = PRONOSTIA_BEARING
    geometry = BearingGeometry(int(b["n_elements"]), b["element_diameter"], b["pitch_diameter"],
                               b["contact_angle_deg"]) if shaft_hz else None
    cols, names = [], []
    for c, ch in enumerate(("h", "v")):
        f = waveform_features(run.acc[:, :, c], FEMTO_FS_HZ, n_bands=4, shaft_hz=shaft_hz, geometry=geometry)
        for k, v in f.items():
            val = np.log(np.maximum(v, 1e-12)) if k in ("rms", "peak") else v
            cols.append(val)
            names.append(f"{ch}_{k}")
    return np.column_stack(cols), names
