"""Per-episode statistics of depth cameras, as LeRobot 0.6.1 computes them (core layer).

0.6.1 treats a depth feature like a camera (LeRobot's frame sample ``round(linspace(0, n-1, num))``, the same
``auto_downsample_height_width`` stride, stats over all sampled pixels with shape ``(1, 1, 1)``) but keeps the
values in their stored unit (``depth_unit``, millimetres for integer frames) instead of dividing by 255.
:class:`DepthStatsAccumulator` has :class:`~robopipe.stats.image.ImageStatsAccumulator`'s interface; it keeps the
downsampled frames (uint16, ~38 KB per 480x640 frame) because the sample depends on the final frame count, and
reports from one exact 65536-level histogram of the sampled pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from robopipe.errors import FrameError, StatsError
from robopipe.format.depth import squeeze_channel
from robopipe.format.features import FeatureSpec
from robopipe.stats.lerobot_math import (
    QUANTILE_KEYS,
    downsample_stride,
    sample_indices,
    value_histogram_quantiles,
)
from robopipe.stats.sketch import QuantileSketch
from robopipe.stats.values import FeatureStats

_LEVELS = np.arange(1 << 16, dtype=np.float64)
_PIXEL_SPEC = FeatureSpec(dtype="float32", shape=(1,))


class DepthStatsAccumulator:
    """Collects one episode's depth frames (``(H, W)``/``(H, W, 1)``, uint16 mm or float32 m), reports 0.6.1's stats."""

    def __init__(self) -> None:
        self._frames: list[np.ndarray] = []
        self._total: int | None = None
        self._hist: np.ndarray | None = None

    @classmethod
    def presampled(cls, total_frames: int) -> DepthStatsAccumulator:
        """An accumulator fed only LeRobot's sampled frames of an episode of ``total_frames``."""
        if total_frames < 1:
            raise StatsError(f"depth stats: an episode needs at least one frame, got {total_frames}")
        acc = cls()
        acc._total = total_frames
        return acc

    @property
    def wanted(self) -> np.ndarray:
        if self._total is None:
            raise StatsError("depth stats: `wanted` needs an accumulator made with presampled(total_frames)")
        return sample_indices(self._total)

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, frame: np.ndarray) -> None:
        a = squeeze_channel(np.asarray(frame))
        if a.dtype not in (np.uint16, np.float32):
            raise FrameError(f"depth stats: expected uint16 (mm) or float32 (m) depth frames, got {a.dtype}")
        if self._frames and a.dtype != self._frames[0].dtype:
            raise FrameError(f"depth stats: frames mix {self._frames[0].dtype} and {a.dtype}")
        k = downsample_stride(a.shape[0], a.shape[1])
        self._frames.append(np.ascontiguousarray(a[::k, ::k]) if k > 1 else a.copy())
        self._hist = None

    @property
    def num_sampled(self) -> int:
        if self._total is not None:
            return len(self._frames)
        return len(sample_indices(len(self._frames))) if self._frames else 0

    def _picked(self) -> list[np.ndarray]:
        if not self._frames:
            raise StatsError("depth stats: no frames were added to this episode's accumulator")
        if self._total is not None:
            if len(self._frames) != len(self.wanted):
                raise StatsError(
                    f"depth stats: got {len(self._frames)} frames, expected the {len(self.wanted)} sampled "
                    f"frames of a {self._total}-frame episode"
                )
            return self._frames
        return [self._frames[i] for i in sample_indices(len(self._frames))]

    @property
    def _metres(self) -> bool:
        return bool(self._frames) and self._frames[0].dtype == np.float32

    def _float_stats(self) -> tuple[dict[str, np.ndarray], FeatureStats]:
        """Float (metre) frames: LeRobot's numeric statistics over every sampled pixel (as 0.6.1 computes them)."""
        from robopipe.stats.episode import summarize_episode

        pixels = np.concatenate([f.ravel() for f in self._picked()]).reshape(-1, 1)
        summary = summarize_episode({"depth": pixels}, {"depth": _PIXEL_SPEC})
        lerobot = {
            k: np.array([self.num_sampled], np.int64)
            if k == "count"
            else np.asarray(v, np.float64).reshape(1, 1, 1)
            for k, v in summary.lerobot["depth"].items()
        }
        fs = dataclasses.replace(
            summary.sketch["depth"], shape=(1, 1, 1), count=self.num_sampled, integer=False
        )
        return lerobot, fs

    def histogram(self) -> np.ndarray:
        """Counts ``(1, 65536)`` of the sampled pixels' values."""
        if self._hist is None:
            h = np.zeros(1 << 16, dtype=np.int64)
            for f in self._picked():
                h += np.bincount(f.ravel(), minlength=1 << 16)
            self._hist = h[None, :]
        return self._hist

    def _moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        h = self.histogram()
        n = h.sum(axis=1).astype(np.float64)
        mean = (h @ _LEVELS) / n
        m2 = (h * (_LEVELS[None, :] - mean[:, None]) ** 2).sum(axis=1)
        nz = h > 0
        mins = np.argmax(nz, axis=1).astype(np.float64)
        maxs = (h.shape[1] - 1 - np.argmax(nz[:, ::-1], axis=1)).astype(np.float64)
        return n, mean, m2, mins, maxs

    def result(self) -> dict[str, np.ndarray]:
        """0.6.1's per-episode stats: ``(1, 1, 1)`` float64 in the stored unit, ``count = [sampled frames]``."""
        if self._metres:
            return self._float_stats()[0]
        n, mean, m2, mins, maxs = self._moments()
        out = {"min": mins, "max": maxs, "mean": mean, "std": np.sqrt(m2 / n)}
        h = self.histogram()
        if int(n[0]) >= 2:
            qs = value_histogram_quantiles(h)
        else:
            qs = [mean.copy() for _ in QUANTILE_KEYS]
        out.update(dict(zip(QUANTILE_KEYS, qs, strict=True)))
        shaped = {k: np.asarray(v, dtype=np.float64).reshape(1, 1, 1) for k, v in out.items()}
        shaped["count"] = np.array([self.num_sampled], dtype=np.int64)
        return {k: shaped[k] for k in ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)}

    def sketch(self) -> FeatureStats:
        """Mergeable stats of the sampled pixels (float sketch of the exact value counts)."""
        if self._metres:
            return self._float_stats()[1]
        n, mean, m2, mins, maxs = self._moments()
        h = self.histogram()[0]
        levels = np.flatnonzero(h)
        return FeatureStats(
            shape=(1, 1, 1),
            count=self.num_sampled,
            n=n.astype(np.int64),
            mean=mean,
            m2=m2,
            min=mins,
            max=maxs,
            integer=False,
            sketch=QuantileSketch.from_counts(levels.astype(np.float64), h[levels]),
        )
