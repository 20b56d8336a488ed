"""Cheap per-frame statistics of a decoded camera stream and the camera findings they show (core layer).

Per frame, from the luma plane read every ``subsample``-th row and column (no colour conversion): mean
luma (black / overexposed), luma standard deviation (contrast) and mean absolute luma change to the
previous frame (frozen camera, duplicated frames). Every frame of an mp4 is decoded exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np

from robopipe.errors import CorruptFileError
from robopipe.quality.config import QualityConfig
from robopipe.quality.models import Finding
from robopipe.quality.runs import runs


def luma(frame: Any, step: int) -> np.ndarray:
    """The frame's luma plane (every ``step``-th pixel) as float32 on a 0-255 scale.

    Deep gray planes (depth maps: ``gray12le``...) keep their precision (scaled, not rounded to 8 bits), so a
    small change of distance still counts as a change.
    """
    name = frame.format.name
    deep = re.fullmatch(r"gray(9|10|12|14|16)(le|be)", name)
    if deep:
        g16 = frame.to_ndarray()[::step, ::step].astype(np.float32)
        return g16 * np.float32(255.0 / ((1 << int(deep.group(1))) - 1))
    if name.startswith(("yuv", "yuvj", "nv12", "nv21", "gray")) and "p1" not in name and "le" not in name:
        plane = frame.planes[0]
        y = np.frombuffer(plane, np.uint8).reshape(frame.height, plane.line_size)[:, : frame.width]
        return y[::step, ::step].astype(np.float32)
    g = frame.to_ndarray(format="gray")  # 10-bit and RGB streams: let swscale convert
    return g[::step, ::step].astype(np.float32)


def frame_stats(frame: Any, prev: np.ndarray | None, step: int) -> tuple[np.ndarray, float, float, float]:
    """``(luma plane, mean, std, change to prev)``; change is ``nan`` for the first frame."""
    y = luma(frame, step)
    change = float(np.abs(y - prev).mean()) if prev is not None and prev.shape == y.shape else float("nan")
    return y, float(y.mean()), float(y.std()), change


class LumaCollector:
    """Per-episode ``(length, 3)`` [luma, contrast, change] arrays, fed one decoded frame at a time.

    Used by the quality pass's own decode loop and as the frame hook of the stats pass (one decode for
    both). The change of an episode's first frame is taken against nothing (set to its second frame's),
    so episode boundaries inside a file never look like cuts.
    """

    def __init__(self, path: Path, spans: Sequence[tuple[int, int]], step: int) -> None:
        self.path = path
        self.step = step
        self.out = {ep: np.full((n, 3), np.nan, np.float32) for ep, n in spans}
        self._prev: np.ndarray | None = None
        self._prev_at = (-1, -1)

    def add(self, episode: int, k: int, frame: Any) -> None:
        arr = self.out.get(episode)
        if arr is None or not 0 <= k < len(arr):
            return
        prev = self._prev if self._prev_at == (episode, k - 1) else None
        y, mean, std, change = frame_stats(frame, prev, self.step)
        arr[k] = (mean, std, change)
        self._prev, self._prev_at = y, (episode, k)

    def result(self) -> dict[int, np.ndarray]:
        for ep, arr in self.out.items():
            missing = int(np.isnan(arr[:, 0]).sum())
            if missing:
                raise CorruptFileError(
                    f"{self.path}: episode {ep} is missing {missing} of its {len(arr)} frames in the video"
                )
            first = arr[:, 2]
            if len(arr) > 1:
                first[0] = first[1] if np.isfinite(first[1]) else 0.0
            elif len(arr) == 1:
                first[0] = 0.0
            first[~np.isfinite(first)] = 0.0  # a frame whose predecessor was not decoded in order
        return self.out


def decode_file_stats(
    path: Path, spans: Sequence[tuple[int, int, float]], fps: int, step: int
) -> dict[int, np.ndarray]:
    """Per episode ``(length, 3)`` [luma, contrast, change] of an mp4 holding ``(episode, length, from_ts)``."""
    order = sorted(spans, key=lambda s: s[2])
    collector = LumaCollector(path, [(ep, n) for ep, n, _ in order], step)
    half = 0.5 / fps
    bounds = [(ep, n, t0, t0 + n / fps) for ep, n, t0 in order]
    try:
        with av.open(str(path)) as container:
            stream: Any = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = stream.time_base
            if bounds and bounds[0][2] > half:
                container.seek(int(bounds[0][2] / tb), stream=stream, backward=True, any_frame=False)
            j = 0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * tb)
                while j < len(bounds) and t >= bounds[j][3] - half:
                    j += 1
                if j >= len(bounds):
                    break
                ep, _, t0, _ = bounds[j]
                if t < t0 - half:
                    continue
                collector.add(ep, round((t - t0) * fps), frame)
    except (av.error.FFmpegError, OSError) as exc:
        raise CorruptFileError(f"{path}: cannot decode video ({exc})") from exc
    return collector.result()


def camera_findings(
    key: str,
    stats: np.ndarray,
    idle: np.ndarray | None,
    fps: int,
    cfg: QualityConfig,
    *,
    depth: bool = False,
) -> tuple[dict[str, float], list[Finding]]:
    """Findings of one camera of one episode from its ``(n, 3)`` frame statistics.

    ``depth``: a depth map (``is_depth_map``), whose "luma" is quantised distance: a dark picture is a
    near scene and a bright one a far scene, not an exposure fault, so only frozen / duplicated frames apply.
    """
    c = cfg.camera
    mean, change = stats[:, 0], stats[:, 2]
    n = len(mean)
    short = key.removeprefix("observation.images.")
    sig: dict[str, float] = {}
    fnd: list[Finding] = []
    dark = np.zeros(n, bool) if depth else mean <= c.black_luma
    bright = np.zeros(n, bool) if depth else mean >= c.overexposed_luma
    exposure = (
        () if depth else ((dark, "black_camera", "black"), (bright, "overexposed_camera", "overexposed"))
    )
    for mask, kind, what in exposure:
        sig[f"{kind}_fraction.{short}"] = float(mask.mean()) if n else 0.0
        for a, b in runs(mask, c.min_frames):
            fnd.append(
                Finding(
                    kind=kind,
                    level="error",
                    message=f"{short}: {what} for {b - a + 1} frames",
                    start=a,
                    end=b,
                    key=key,
                )
            )
    still = (change <= c.frozen_motion) & ~dark & ~bright
    if n > 1:
        still[0] = False  # frame 0 has no predecessor in the episode
    frozen_len = max(2, round(c.frozen_min_seconds * fps))
    frozen = runs(still, frozen_len - 1)  # N identical frames = N-1 unchanged steps
    in_frozen = np.zeros(n, bool)
    frozen_frames = 0
    for a, b in frozen:
        a0 = max(0, a - 1)  # the first frozen frame is the one before the first unchanged step
        in_frozen[a0 : b + 1] = True
        moving = 1.0 if idle is None else float(1.0 - idle[a0 : b + 1].mean())
        if moving < 0.5:  # a still picture of a still robot is not a broken camera
            continue
        frozen_frames += b - a0 + 1
        fnd.append(
            Finding(
                kind="frozen_camera",
                level="error",
                message=f"{short}: picture frozen for {b - a0 + 1} frames while the robot moves",
                start=a0,
                end=b,
                key=key,
            )
        )
    sig[f"frozen_fraction.{short}"] = frozen_frames / n if n else 0.0
    dup = still & ~in_frozen
    dup_fraction = float(dup.mean()) if n else 0.0
    sig[f"duplicate_fraction.{short}"] = dup_fraction
    if dup_fraction > c.duplicate_warn_fraction:
        idx = np.flatnonzero(dup)
        shown = ", ".join(str(i) for i in idx[:8]) + (", ..." if len(idx) > 8 else "")
        fnd.append(
            Finding(  # scattered frames, not a segment: listed, not given a range
                kind="duplicate_frames",
                level="warning",
                message=f"{short}: {len(idx)} frames repeat the previous one ({dup_fraction:.0%}): {shown}",
                key=key,
            )
        )
    return sig, fnd
