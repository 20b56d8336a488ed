"""Streaming per-episode image/video statistics with LeRobot's sampling (core layer).

LeRobot 0.4.4 computes camera stats from ``estimate_num_samples(n)`` frames of the episode at the
indices ``round(linspace(0, n-1, num))``, each downsampled by ``auto_downsample_height_width``
(stride ``k = int(W/150)`` or ``int(H/150)`` when ``max(H, W) >= 300``), per channel, divided by 255.
The sample depends on the final frame count, which a recorder does not know while frames stream
in, so :class:`ImageStatsAccumulator` keeps a 256-level histogram per channel of every downsampled
frame (1.5 KB per frame for 3 channels when the downsampled frame has < 65536 pixels) and picks the
sampled frames at the end. Everything LeRobot reports follows exactly from those histograms, and the
standard deviation is the correct one (LeRobot 0.4.4 squares uint8 values and overflows, see
shared/reference/lerobot-v3-format.md §6.2).
"""

from __future__ import annotations

import numpy as np

from robopipe.errors import FrameError, StatsError
from robopipe.stats.lerobot_math import (
    QUANTILE_KEYS,
    downsample_stride,
    sample_indices,
    value_histogram_quantiles,
)
from robopipe.stats.sketch import QuantileSketch
from robopipe.stats.values import FeatureStats

_LEVELS = np.arange(256, dtype=np.float64)


class ImageStatsAccumulator:
    """Collects one episode's camera frames (HxWxC uint8) and reports LeRobot-format stats.

    Each :meth:`add` downsamples the frame like LeRobot's ``auto_downsample_height_width`` (no change
    when ``max(H, W) < 300``, else every ``k``-th row/column with ``k = int(W/150)`` if ``W > H`` else
    ``int(H/150)``; 480x640 -> 120x160) and keeps a 256-level histogram per channel (~0.2 ms per
    480x640 frame, 1.5 KB). :meth:`result` then uses LeRobot's sample of the episode,
    ``round(linspace(0, n-1, estimate_num_samples(n)))`` with ``estimate_num_samples(n) =
    max(min(100, n), min(int(n**0.75), 10000))``, and reports min/max/mean/std/q01..q99 per channel
    in [0, 1] with shape (C, 1, 1) and ``count = [number of sampled frames]``. Quantiles follow
    LeRobot's 5000-bin histogram rule exactly; the std is the true population std (LeRobot 0.4.4
    overflows uint8 and stores ~0).

    Args:
        num_channels: channels per frame (3 for RGB; 1 accepts HxW or HxWx1 frames).

    Example:
        >>> acc = ImageStatsAccumulator(3)
        >>> for frame in frames:  # doctest: +SKIP
        ...     acc.add(frame)
        >>> acc.result()["mean"].shape  # doctest: +SKIP
        (3, 1, 1)
    """

    def __init__(self, num_channels: int = 3) -> None:
        if num_channels < 1:
            raise StatsError(f"num_channels must be >= 1, got {num_channels}")
        self.num_channels = num_channels
        self._offsets = (np.arange(num_channels, dtype=np.uint16) * 256).astype(np.uint16)
        self._buf: np.ndarray | None = None
        self._n = 0
        self._sampled: np.ndarray | None = None
        self._total: int | None = None

    @classmethod
    def presampled(cls, total_frames: int, num_channels: int = 3) -> ImageStatsAccumulator:
        """An accumulator for an episode of known length that is fed only LeRobot's sampled frames.

        Used when frames are read back from a finished dataset: decode and :meth:`add` exactly the
        frames at :attr:`wanted` (in order) instead of every frame.
        """
        if total_frames < 1:
            raise StatsError(f"image stats: an episode needs at least one frame, got {total_frames}")
        acc = cls(num_channels)
        acc._total = total_frames
        return acc

    @property
    def wanted(self) -> np.ndarray:
        """Frame indices LeRobot samples (only for :meth:`presampled` accumulators)."""
        if self._total is None:
            raise StatsError("image stats: `wanted` needs an accumulator made with presampled(total_frames)")
        return sample_indices(self._total)

    def __len__(self) -> int:
        return self._n

    def add(self, frame: np.ndarray) -> None:
        """Add the next frame (HxWxC uint8); costs one strided bincount of the downsampled frame."""
        a = np.asarray(frame)
        if a.ndim == 2 and self.num_channels == 1:
            a = a[:, :, None]
        if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != self.num_channels:
            raise FrameError(
                f"image stats: expected an HxWx{self.num_channels} uint8 frame, got shape {a.shape} "
                f"dtype {a.dtype} (convert CHW/float frames to HWC uint8 first)"
            )
        k = downsample_stride(a.shape[0], a.shape[1])
        ds = a[::k, ::k] if k > 1 else a
        idx = ds + self._offsets  # uint16: channel c occupies bins [256c, 256c + 256)
        hist = np.bincount(idx.ravel(), minlength=256 * self.num_channels)
        pixels = ds.shape[0] * ds.shape[1]
        buf = self._buf
        if buf is None or self._n == buf.shape[0] or (pixels >= 1 << 16 and buf.dtype != np.uint32):
            buf = self._grow(pixels)
        buf[self._n] = hist.reshape(self.num_channels, 256)
        self._n += 1
        self._sampled = None

    def _grow(self, pixels: int) -> np.ndarray:
        dtype = (
            np.uint32
            if pixels >= 1 << 16 or (self._buf is not None and self._buf.dtype == np.uint32)
            else np.uint16
        )
        cap = 64 if self._buf is None else max(64, 2 * self._buf.shape[0])
        new = np.zeros((cap, self.num_channels, 256), dtype=dtype)
        if self._buf is not None:
            new[: self._n] = self._buf[: self._n]
        self._buf = new
        return new

    def sampled_histogram(self) -> np.ndarray:
        """Per-channel counts (C, 256) of the pixels of LeRobot's sampled frames."""
        if self._n == 0 or self._buf is None:
            raise StatsError("image stats: no frames were added to this episode's accumulator")
        if self._sampled is None:
            if self._total is not None:
                if self._n != len(self.wanted):
                    raise StatsError(
                        f"image stats: got {self._n} frames, expected the {len(self.wanted)} sampled frames "
                        f"of a {self._total}-frame episode"
                    )
                self._sampled = self._buf[: self._n].sum(axis=0, dtype=np.int64)
            else:
                self._sampled = self._buf[sample_indices(self._n)].sum(axis=0, dtype=np.int64)
        return self._sampled

    @property
    def num_sampled(self) -> int:
        if self._total is not None:
            return self._n
        return len(sample_indices(self._n)) if self._n else 0

    def result(self) -> dict[str, np.ndarray]:
        """LeRobot per-episode stats: (C,1,1) float64 in [0, 1], ``count = [sampled frames]``."""
        h = self.sampled_histogram()
        c = self.num_channels
        n = h.sum(axis=1).astype(np.float64)
        mean = (h @ _LEVELS) / n
        var = (h * (_LEVELS[None, :] - mean[:, None]) ** 2).sum(axis=1) / n
        nz = h > 0
        mins = np.argmax(nz, axis=1).astype(np.float64)
        maxs = (255 - np.argmax(nz[:, ::-1], axis=1)).astype(np.float64)
        out = {
            "min": mins / 255.0,
            "max": maxs / 255.0,
            "mean": mean / 255.0,
            "std": np.sqrt(var) / 255.0,
        }
        if int(n[0]) >= 2:
            qs = [q / 255.0 for q in value_histogram_quantiles(h)]
        else:
            qs = [out["mean"].copy() for _ in QUANTILE_KEYS]
        out.update(dict(zip(QUANTILE_KEYS, qs)))
        shaped = {k: v.reshape(c, 1, 1) for k, v in out.items()}
        shaped["count"] = np.array([self.num_sampled], dtype=np.int64)
        order = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)
        return {k: shaped[k] for k in order}

    def sketch(self) -> FeatureStats:
        """Mergeable stats of the sampled pixels (exact ``"u8"`` histogram sketch), in [0, 1] units."""
        h = self.sampled_histogram()
        n = h.sum(axis=1)
        mean_raw = (h @ _LEVELS) / n
        m2_raw = (h * (_LEVELS[None, :] - mean_raw[:, None]) ** 2).sum(axis=1)
        nz = h > 0
        mins = np.argmax(nz, axis=1).astype(np.float64)
        maxs = (255 - np.argmax(nz[:, ::-1], axis=1)).astype(np.float64)
        return FeatureStats(
            shape=(self.num_channels, 1, 1),
            count=self.num_sampled,
            n=n.astype(np.int64),
            mean=mean_raw / 255.0,
            m2=m2_raw / 255.0**2,
            min=mins / 255.0,
            max=maxs / 255.0,
            integer=False,
            sketch=QuantileSketch.from_level_histogram(h),
        )
