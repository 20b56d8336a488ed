"""Resample multi-rate time series onto a fixed fps grid (core layer, pure numpy).

Robot logs hold topics at their own rates (joint states at 100-1000 Hz, cameras at 15-60 Hz, commands
whenever they arrive). A LeRobot dataset has one fixed frame rate, so every source key is resampled onto
the grid ``t0 + k / fps``:

* ``previous`` - the last sample at or before the grid time (zero-order hold: what a controller saw);
* ``nearest`` - the closest sample in time (cameras; ties go to the earlier sample);
* ``linear`` - linear interpolation between the two bracketing samples (float vectors only).

The *skew* of a grid point is the distance in seconds between the grid time and the source sample it took
its value from (for ``linear``: the nearer bracketing sample). A grid point whose skew exceeds the allowed
maximum is a *gap*: it is reported (and the caller decides to fail the episode or to record a finding),
never silently filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Interp = Literal["nearest", "previous", "linear"]
INTERPOLATIONS: tuple[Interp, ...] = ("nearest", "previous", "linear")


@dataclass(frozen=True)
class Gap:
    """A run of consecutive grid points whose skew exceeds the allowed maximum."""

    first: int  # grid index
    last: int  # grid index (inclusive)
    max_skew: float  # seconds

    def describe(self, fps: int) -> str:
        return (
            f"frames {self.first}-{self.last} (t={self.first / fps:.3f}-{self.last / fps:.3f} s): "
            f"nearest sample {self.max_skew:.3f} s away"
        )


@dataclass(frozen=True)
class Aligned:
    """Values on the grid plus how far, in seconds, each grid point is from the sample it used."""

    values: np.ndarray  # (T, ...) grid values
    skew: np.ndarray  # (T,) float64 seconds
    gaps: list[Gap] = field(default_factory=list)

    @property
    def max_skew(self) -> float:
        return float(self.skew.max()) if len(self.skew) else 0.0

    @property
    def mean_skew(self) -> float:
        return float(self.skew.mean()) if len(self.skew) else 0.0


def make_grid(start: float, stop: float, fps: int) -> np.ndarray:
    """Grid times ``start + k / fps`` (seconds) for every k with ``start + k / fps <= stop``."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if stop < start:
        return np.zeros(0, dtype=np.float64)
    n = int(np.floor((stop - start) * fps + 1e-9)) + 1
    return start + np.arange(n, dtype=np.float64) / fps


def _gaps(skew: np.ndarray, max_skew: float) -> list[Gap]:
    bad = skew > max_skew
    if not bad.any():
        return []
    idx = np.flatnonzero(bad)
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(idx) - 1]])
    return [
        Gap(int(idx[a]), int(idx[b]), float(skew[idx[a] : idx[b] + 1].max())) for a, b in zip(starts, ends)
    ]


def align(
    times: np.ndarray,
    values: np.ndarray,
    grid: np.ndarray,
    method: Interp,
    max_skew: float,
) -> Aligned:
    """Resample ``values`` (first axis = samples at ``times``, seconds) onto ``grid``.

    ``times`` must be sorted (equal times keep the later sample). ``linear`` needs a numeric array; it
    returns float64. Grid points before the first or after the last sample take the end sample (their skew
    shows how far away it is). ``values`` may be an object array (encoded images, text) for the other
    methods.
    """
    times = np.asarray(times, dtype=np.float64)
    grid = np.asarray(grid, dtype=np.float64)
    if method not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {method!r}; expected one of {', '.join(INTERPOLATIONS)}")
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times for {len(values)} values")
    if len(times) == 0:
        raise ValueError("no samples to align")
    if len(times) > 1 and np.any(np.diff(times) < 0):
        raise ValueError("sample times are not sorted")
    n = len(times)
    # index of the last sample at or before each grid time (-1: before the first sample)
    prev = np.searchsorted(times, grid, side="right") - 1
    lo = np.clip(prev, 0, n - 1)
    hi = np.clip(prev + 1, 0, n - 1)
    d_lo = np.abs(grid - times[lo])
    d_hi = np.abs(times[hi] - grid)
    if method == "previous":
        # before the first sample there is no previous one: take the first and let the skew show it
        idx = lo
        out = values[idx]
        skew = d_lo
    elif method == "nearest":
        idx = np.where(d_hi < d_lo, hi, lo)
        out = values[idx]
        skew = np.minimum(d_lo, d_hi)
    else:
        v = np.asarray(values)
        if v.dtype == object or v.dtype.kind not in "biuf":
            raise ValueError(f"linear interpolation needs numeric values, got dtype {v.dtype}")
        v = v.astype(np.float64)
        span = times[hi] - times[lo]
        inside = (prev >= 0) & (prev < n - 1) & (span > 0)
        w = np.zeros(len(grid), dtype=np.float64)
        w[inside] = (grid[inside] - times[lo][inside]) / span[inside]
        shape = (len(grid),) + (1,) * (v.ndim - 1)
        out = v[lo] + w.reshape(shape) * (v[hi] - v[lo])
        skew = np.where(inside, np.minimum(d_lo, d_hi), d_lo)  # outside: lo == hi is the end sample
    skew = np.asarray(skew, dtype=np.float64)
    return Aligned(values=out, skew=skew, gaps=_gaps(skew, max_skew))
