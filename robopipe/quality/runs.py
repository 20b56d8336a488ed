"""Run-length helpers shared by the signals (core layer)."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray, min_len: int = 1) -> list[tuple[int, int]]:
    """``[(start, end_inclusive), ...]`` of the True runs of ``mask`` at least ``min_len`` long."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return []
    edges = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    return [(int(a), int(b) - 1) for a, b in zip(starts, ends) if b - a >= max(1, min_len)]


def robust_scale(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """1.4826 x median absolute deviation (a standard deviation that ignores outliers)."""
    med = np.median(x, axis=axis, keepdims=True)
    return np.asarray(1.4826 * np.median(np.abs(x - med), axis=axis))


def resample(x: np.ndarray, points: int) -> np.ndarray:
    """``(n, d)`` -> ``(points, d)`` by linear interpolation over the episode's normalised time."""
    n = x.shape[0]
    if n == 0:
        return np.zeros((points, x.shape[1]), dtype=np.float64)
    src = np.linspace(0.0, 1.0, n)
    dst = np.linspace(0.0, 1.0, points)
    return np.stack([np.interp(dst, src, x[:, j]) for j in range(x.shape[1])], axis=1)
