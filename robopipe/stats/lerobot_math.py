"""LeRobot 0.4.4's per-episode statistics rules, reproduced exactly but vectorised (core layer).

LeRobot (``lerobot/datasets/compute_stats.py@v0.4.4``) estimates quantiles per dimension from a
5000-bin histogram with edges ``np.linspace(min - 1e-10, max + 1e-10, 5001)``, then searches the
cumulative counts and interpolates linearly inside the bin. It loops in Python over dimensions and
quantiles and builds every histogram. Only a handful of histogram entries matter for each quantile,
so this module computes them directly from the sorted data (or from an exact value histogram):

* ``cumsum[i]`` of LeRobot's histogram is ``count(x < edges[i+1])`` (``count(x <= edges[-1])`` for
  the last bin) because ``np.histogram`` with explicit edges uses ``searchsorted`` on the sorted data.
* the first bin with ``cumsum >= q*n`` is ``searchsorted(edges, x_(m), "right") - 1`` with
  ``m = ceil(q*n)`` (the m-th smallest value), so no histogram is needed.
* edges are evaluated one by one with ``np.linspace``'s own arithmetic (``j*step + start`` in the
  edge dtype, the last edge is ``stop``), including numpy 2's dtype rules: float32 data gives float32
  edges, where ``min - 1e-10`` rounds back to ``min`` unless ``min == 0`` (hence LeRobot's
  ``q01 = -1e-10`` for columns starting at 0).

The results equal LeRobot's ``RunningQuantileStats`` fed the whole episode in one ``update``
(verified against the reference interpreter in the ``lerobot``-marked tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

NUM_BINS = 5000
EDGE_PAD = 1e-10
DEFAULT_QUANTILES: tuple[float, ...] = (0.01, 0.10, 0.50, 0.90, 0.99)


def quantile_key(q: float) -> str:
    """LeRobot's stat name of a quantile: ``0.01 -> "q01"``."""
    return f"q{int(q * 100):02d}"


QUANTILE_KEYS: tuple[str, ...] = tuple(quantile_key(q) for q in DEFAULT_QUANTILES)


def edge_dtype(data_dtype: np.dtype[Any]) -> np.dtype[Any]:
    """dtype of LeRobot's histogram edges for data of ``data_dtype`` (``min - 1e-10`` under NEP 50)."""
    return np.result_type(data_dtype, EDGE_PAD)


class HistogramEdges:
    """The edges ``np.linspace(start, stop, NUM_BINS + 1)`` of many histograms, evaluated lazily.

    Args:
        mins: per-dimension minimum (data dtype).
        maxs: per-dimension maximum (data dtype).
    """

    def __init__(self, mins: np.ndarray, maxs: np.ndarray) -> None:
        self.dtype = edge_dtype(mins.dtype)
        dt = self.dtype.type
        # `min - 1e-10` exactly as LeRobot writes it (python float is "weak" in numpy 2).
        self.start = np.asarray(mins - EDGE_PAD, dtype=self.dtype)
        self.stop = np.asarray(maxs + EDGE_PAD, dtype=self.dtype)
        delta = np.subtract(self.stop, self.start, dtype=dt)
        self.delta = np.asarray(delta, dtype=self.dtype)
        self.step = np.asarray(self.delta / NUM_BINS, dtype=self.dtype)
        self.zero_step = self.step == 0

    def at(self, j: np.ndarray) -> np.ndarray:
        """Edge ``j`` (0..NUM_BINS) per dimension; ``j`` broadcasts against the dimensions (last axis)."""
        jf = np.asarray(j, dtype=self.dtype)
        out = jf * self.step + self.start
        if self.zero_step.any():
            # numpy's linspace computes (j / div) * delta when the step underflows to 0.
            tiny = (jf / np.asarray(NUM_BINS, dtype=self.dtype)) * self.delta + self.start
            out = np.where(self.zero_step, tiny, out)
        out = out.astype(self.dtype, copy=False)
        return np.where(np.asarray(j) >= NUM_BINS, self.stop, out)

    def count_le(self, v: np.ndarray) -> np.ndarray:
        """Number of edges ``<= v`` per dimension (``searchsorted(edges, v, "right")``).

        Starts from the arithmetic estimate ``floor((v - start) / step) + 1`` and corrects it against
        the exact edge values (usually no or one step); bisection is the fallback.
        """
        v = np.asarray(v)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            est = np.floor((v.astype(np.float64) - self.start) / self.step.astype(np.float64)) + 1
        est = np.where(self.zero_step | ~np.isfinite(est), 0, est)
        j = np.clip(est, 0, NUM_BINS + 1).astype(np.int64)
        for _ in range(8):
            up = (j <= NUM_BINS) & (self.at(np.minimum(j, NUM_BINS)) <= v)
            down = (j > 0) & (self.at(np.maximum(j - 1, 0)) > v)
            if not (up.any() or down.any()):
                return j
            j = j + up - down
        return self._bisect(v)

    def _bisect(self, v: np.ndarray) -> np.ndarray:
        lo = np.zeros(v.shape, dtype=np.int64)
        hi = np.full(v.shape, NUM_BINS + 1, dtype=np.int64)
        for _ in range(14):  # 2**14 > NUM_BINS + 1
            active = lo < hi
            if not active.any():
                break
            mid = (lo + hi) // 2
            le = self.at(np.minimum(mid, NUM_BINS)) <= v
            lo = np.where(active & le, mid + 1, lo)
            hi = np.where(active & ~le, mid, hi)
        return lo


def histogram_quantiles(
    mins: np.ndarray,
    maxs: np.ndarray,
    n: np.ndarray,
    kth: Callable[[np.ndarray], np.ndarray],
    count_less: Callable[[np.ndarray], np.ndarray],
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> list[np.ndarray]:
    """LeRobot's histogram quantiles for B groups (episodes) of D dimensions, as float64 arrays.

    All groups and quantiles are evaluated together on ``(B, Q, D)`` arrays. Groups need ``n >= 2``
    (LeRobot uses the mean below that; callers handle it).

    Args:
        mins, maxs: ``(B, D)`` per-group min/max in the data dtype (they fix the edges and their dtype).
        n: ``(B,)`` number of values per dimension of each group.
        kth: ``kth(m)`` with ``m`` of shape ``(B, Q)`` returns the m-th smallest values (1-based), ``(B, Q, D)``.
        count_less: ``count_less(e)`` returns ``count(x < e)`` for edge values ``e`` of shape ``(B, Q, D)``.
        quantiles: the quantile levels.

    Returns:
        One ``(B, D)`` array per quantile.
    """
    n = np.asarray(n, dtype=np.int64)
    edges = HistogramEdges(mins[:, None, :], maxs[:, None, :])
    # LeRobot's `q * self._count` (python float times int: the same float64 product)
    targets = np.asarray(quantiles, dtype=np.float64)[None, :] * n[:, None].astype(np.float64)
    m = np.ceil(targets).astype(np.int64)
    v = np.asarray(kth(np.clip(m, 1, n[:, None]))).astype(edges.dtype, copy=False)
    idx = np.clip(edges.count_le(v) - 1, 0, NUM_BINS - 1)
    e_lo = edges.at(idx)
    e_hi = edges.at(idx + 1)
    before = np.where(idx > 0, count_less(e_lo), 0).astype(np.float64)
    upto = np.where(idx < NUM_BINS - 1, count_less(e_hi), n[:, None, None]).astype(np.float64)
    in_bin = upto - before
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (targets[:, :, None] - before) / in_bin
    width = (e_hi - e_lo).astype(edges.dtype)  # float32 subtraction for float32 data, like LeRobot
    lo64 = e_lo.astype(np.float64)
    value = lo64 + fraction * width.astype(np.float64)
    value = np.where((idx == 0) | (in_bin == 0) | (m[:, :, None] <= 0), lo64, value)
    return [value[:, i, :] for i in range(value.shape[1])]


def sorted_quantiles(s: np.ndarray, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> list[np.ndarray]:
    """LeRobot's quantiles per column of ``s`` (shape ``(n, D)``, sorted along axis 0, ``n >= 2``)."""
    n, d = s.shape
    cmp = s.astype(np.result_type(s.dtype, edge_dtype(s.dtype)), copy=False)

    def kth(m: np.ndarray) -> np.ndarray:
        return s[m - 1]

    def count_less(e: np.ndarray) -> np.ndarray:
        q = e.shape[1]
        if n * d * q <= 1 << 20:
            return np.count_nonzero(cmp[None, None, :, :] < e[:, :, None, :], axis=2)
        out = np.empty(e.shape, dtype=np.int64)
        for j in range(d):
            out[0, :, j] = np.searchsorted(cmp[:, j], e[0, :, j], side="left")
        return out

    res = histogram_quantiles(s[:1], s[-1:], np.array([n]), kth, count_less, quantiles)
    return [r[0] for r in res]


def value_histogram_quantiles(
    hist: np.ndarray, quantiles: Sequence[float] = DEFAULT_QUANTILES
) -> list[np.ndarray]:
    """LeRobot's quantiles for integer data given as per-dimension value counts.

    Args:
        hist: shape ``(D, V)``; ``hist[d, v]`` = how many values equal ``v`` (e.g. uint8 pixels, V=256).
            Every dimension must hold the same total ``n >= 2``.

    Returns:
        One float64 array ``(D,)`` per quantile, in raw value units (LeRobot divides images by 255 later).
    """
    cum = np.cumsum(hist, axis=1)
    n = int(cum[0, -1])
    nz = hist > 0
    mins = np.argmax(nz, axis=1).astype(np.uint8 if hist.shape[1] <= 256 else np.int64)
    maxs = (hist.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1)).astype(mins.dtype)
    rows = np.arange(hist.shape[0])

    def kth(m: np.ndarray) -> np.ndarray:
        return np.argmax(cum[None, None, :, :] >= m[:, :, None, None], axis=3)

    def count_less(e: np.ndarray) -> np.ndarray:
        k = np.ceil(e).astype(np.int64) - 1  # integers x < e  <=>  x <= ceil(e) - 1
        inside = cum[rows, np.clip(k, 0, hist.shape[1] - 1)]
        return np.where(k < 0, 0, inside)

    res = histogram_quantiles(mins[None], maxs[None], np.array([n]), kth, count_less, quantiles)
    return [r[0] for r in res]


def estimate_num_samples(
    dataset_len: int, min_num_samples: int = 100, max_num_samples: int = 10_000, power: float = 0.75
) -> int:
    """LeRobot's number of images sampled from an episode of ``dataset_len`` frames."""
    if dataset_len < min_num_samples:
        min_num_samples = dataset_len
    return max(min_num_samples, min(int(dataset_len**power), max_num_samples))


def sample_indices(data_len: int) -> np.ndarray:
    """LeRobot's sampled frame indices: ``round(linspace(0, n-1, estimate_num_samples(n)))``."""
    num = estimate_num_samples(data_len)
    return np.round(np.linspace(0, data_len - 1, num)).astype(int)


def downsample_stride(height: int, width: int, target_size: int = 150, max_size_threshold: int = 300) -> int:
    """Stride of LeRobot's ``auto_downsample_height_width`` (1 = no downsampling).

    Frames with ``max(H, W) < 300`` are kept; otherwise every k-th row and column is kept with
    ``k = int(W / 150)`` if ``W > H`` else ``int(H / 150)`` (640x480 -> k=4 -> 160x120).
    """
    if max(width, height) < max_size_threshold:
        return 1
    k = int(width / target_size) if width > height else int(height / target_size)
    return max(k, 1)
