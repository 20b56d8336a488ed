"""Rules on the mp4 files of video features (core layer).

Default mode reads container metadata and packet pts only (no decoding), so it costs a demux per file.
``full_decode`` decodes every frame, which also finds corrupt packets and frozen cameras (runs of
identical consecutive frames, compared on the native-format planes without an RGB conversion).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from robopipe.format import layout, safepath
from robopipe.format.features import video_keys
from robopipe.validate.context import DatasetContext, confined, safe_format
from robopipe.validate.findings import FindingCollector

log = logging.getLogger(__name__)
# Never call av.logging.set_level(): it installs a Python log callback that FFmpeg's codec threads
# call into, which deadlocks when the GIL holder waits on those threads (seen with SVT-AV1/x264).

_CODEC_ALIASES = {
    "libdav1d": "av1",
    "libaom-av1": "av1",
    "libsvtav1": "av1",
    "libx264": "h264",
    "libx265": "hevc",
}


@dataclass
class VideoScan:
    """What one pass over an mp4 found."""

    codec: str
    width: int
    height: int
    pix_fmt: str
    fps: float
    declared_frames: int  # stream.frames from the container (0 = unknown)
    duration_s: float
    pts_s: np.ndarray  # sorted presentation times of the packets (or decoded frames)
    decoded: int | None = None  # frames decoded (full-decode mode)
    diffs: np.ndarray | None = None  # mean |frame[k+1] - frame[k]| (full-decode mode)
    error: str | None = None  # decode error after some frames


def scan_video(path: Path, full_decode: bool = False) -> VideoScan:
    """Demux (or decode) ``path``; raises ``av.error.FFmpegError``/``OSError`` when it cannot be opened."""
    with av.open(str(path)) as container:
        if not container.streams.video or container.streams.video[0].codec_context is None:
            raise av.error.InvalidDataError(0, "no decodable video stream")
        stream = container.streams.video[0]
        cc = stream.codec_context
        tb = float(stream.time_base or 0)
        fps = float(stream.average_rate or stream.base_rate or 0)
        duration = float(stream.duration * tb) if stream.duration else 0.0
        scan = VideoScan(
            codec=_CODEC_ALIASES.get(cc.name, cc.name),
            width=cc.width,
            height=cc.height,
            pix_fmt=cc.pix_fmt or "",
            fps=fps,
            declared_frames=int(stream.frames or 0),
            duration_s=duration,
            pts_s=np.zeros(0),
        )
        pts: list[int] = []
        if not full_decode:
            try:
                for packet in container.demux(stream):
                    if packet.size and packet.pts is not None:
                        pts.append(packet.pts)
            except av.error.FFmpegError as exc:
                scan.error = f"demux failed after {len(pts)} packets: {exc}"
        else:
            stream.thread_type = "AUTO"
            diffs: list[float] = []
            prev: np.ndarray | None = None
            try:
                for frame in container.decode(stream):
                    plane = frame.to_ndarray()  # native layout (e.g. yuv420p planes), no colour conversion
                    if prev is not None and prev.shape == plane.shape:
                        diffs.append(float(np.abs(plane.astype(np.int16) - prev).mean()))
                    elif prev is not None:
                        diffs.append(np.inf)
                    prev = plane.astype(np.int16)
                    if frame.pts is not None:
                        pts.append(frame.pts)
            except av.error.FFmpegError as exc:
                scan.error = f"decoding failed after {len(pts)} frames: {exc}"
            scan.decoded = len(pts)
            scan.diffs = np.asarray(diffs)
        scan.pts_s = np.sort(np.asarray(pts, dtype=np.float64) * tb)
    return scan


def _folder(template: str, key: str) -> str:
    head = template.split("{chunk_index", 1)[0].split("{file_index", 1)[0]
    return str(Path(head.format(video_key=key)).parent) if "/" in head else head.format(video_key=key)


def check_videos(
    ctx: DatasetContext,
    out: FindingCollector,
    *,
    full_decode: bool,
    tolerance_s: float,
    frozen_frames: int,
    frozen_max_diff: float,
) -> int:
    """Run every video rule; returns the number of video frames (packets or decoded frames) seen."""
    if ctx.info is None or ctx.episodes is None or not ctx.info.video_path:
        return 0
    template = ctx.info.video_path
    if safe_format(template, video_key="k", chunk_index=0, file_index=0) is None:
        return 0  # RP106
    fps = ctx.info.fps
    eps = ctx.episode_column("episode_index")
    lengths = ctx.episode_column("length")
    if eps is None or lengths is None:
        return 0
    seen = 0
    for key in video_keys(ctx.features):
        folder = _folder(template, key)
        if not (ctx.root / folder).is_dir():
            out.add(
                "RP401",
                f"camera folder {folder}/ is missing",
                file=folder,
                feature=key,
                expected="directory",
                actual="missing",
                count=len(eps),
            )
            continue
        cols = [
            ctx.episode_column(f"videos/{key}/{c}")
            for c in ("chunk_index", "file_index", "from_timestamp", "to_timestamp")
        ]
        chunk, file, t0, t1 = cols
        if chunk is None or file is None or t0 is None or t1 is None:
            continue  # RP202 already reported
        groups: dict[tuple[int, int], list[int]] = {}
        for i in range(len(eps)):
            groups.setdefault((int(chunk[i]), int(file[i])), []).append(i)
        for (c, f), rows in sorted(groups.items()):
            rel = safe_format(template, video_key=key, chunk_index=c, file_index=f)
            if rel is None:
                out.add(
                    "RP109",
                    f"video file index (chunk {c}, file {f}) is outside 0..{safepath.MAX_INDEX}",
                    episode=int(eps[rows[0]]),
                    feature=key,
                )
                continue
            path = confined(ctx, rel, out, episode=int(eps[rows[0]]), feature=key)
            if path is None:
                continue
            if not path.is_file():
                out.add(
                    "RP402",
                    f"video file referenced by {len(rows)} episode(s) does not exist",
                    file=rel,
                    episode=int(eps[rows[0]]),
                    feature=key,
                    expected="file",
                    actual="missing",
                    count=len(rows),
                )
                continue
            try:
                scan = scan_video(path, full_decode)
            except (av.error.FFmpegError, OSError) as exc:
                out.add(
                    "RP403",
                    f"video file cannot be opened: {exc}",
                    file=rel,
                    episode=int(eps[rows[0]]),
                    feature=key,
                    expected="a readable mp4",
                    actual=type(exc).__name__,
                    count=len(rows),
                )
                continue
            seen += scan.pts_s.size
            _check_stream(ctx, out, key, rel, scan)
            _check_file_frames(out, key, rel, scan, fps, tolerance_s)
            covered = np.zeros(scan.pts_s.size, dtype=bool)
            for i in rows:
                a, b = _check_episode_span(
                    out,
                    key,
                    rel,
                    scan,
                    int(eps[i]),
                    int(lengths[i]),
                    float(t0[i]),
                    float(t1[i]),
                    fps,
                    tolerance_s,
                )
                covered[a:b] = True
                if scan.diffs is not None and b - a >= frozen_frames:
                    _check_frozen(
                        out, key, rel, scan.diffs, int(eps[i]), a, b, frozen_frames, frozen_max_diff
                    )
            if covered.size and not covered.all():
                k = int(np.flatnonzero(~covered)[0])
                out.add(
                    "RP408",
                    "video frames not covered by any episode",
                    file=rel,
                    feature=key,
                    expected="every frame in some episode's [from, to)",
                    actual=f"first at t={scan.pts_s[k]:.4f}s",
                    count=int((~covered).sum()),
                )
    return seen


def _check_stream(ctx: DatasetContext, out: FindingCollector, key: str, rel: str, scan: VideoScan) -> None:
    spec = ctx.features[key]
    info: dict[str, Any] = dict(spec.info or {})
    pairs: list[tuple[str, Any, Any]] = []
    if len(spec.shape) == 3:
        pairs += [("shape height", spec.shape[0], scan.height), ("shape width", spec.shape[1], scan.width)]
    for name, actual in (
        ("video.codec", scan.codec),
        ("video.height", scan.height),
        ("video.width", scan.width),
        ("video.pix_fmt", scan.pix_fmt),
    ):
        if name in info and info[name] is not None:
            pairs.append((f"info {name}", info[name], actual))
    if ctx.info and scan.fps and abs(scan.fps - ctx.info.fps) > 1e-3:
        pairs.append(("stream fps", ctx.info.fps, round(scan.fps, 4)))
    for what, want, got in pairs:
        if str(want) != str(got):
            out.add(
                "RP406",
                f"{what} of the video does not match info.json",
                file=rel,
                feature=key,
                expected=str(want),
                actual=str(got),
            )


def _check_file_frames(
    out: FindingCollector, key: str, rel: str, scan: VideoScan, fps: int, tol: float
) -> None:
    n = scan.pts_s.size
    if scan.error:
        out.add(
            "RP403",
            f"video is truncated or corrupt: {scan.error}",
            file=rel,
            feature=key,
            expected=f"{scan.declared_frames or '?'} frames",
            actual=f"{n} readable",
        )
    elif scan.declared_frames and n < scan.declared_frames:
        out.add(
            "RP403",
            "video is truncated: fewer packets than the container declares",
            file=rel,
            feature=key,
            expected=str(scan.declared_frames),
            actual=str(n),
            count=scan.declared_frames - n,
        )
    if n and scan.duration_s and not scan.error and abs(scan.duration_s - n / fps) > tol + 0.5 / fps:
        out.add(
            "RP405",
            "stream duration differs from frames/fps",
            file=rel,
            feature=key,
            expected=f"{n / fps:.6f}s ({n} frames at {fps} fps)",
            actual=f"{scan.duration_s:.6f}s",
        )
    if n:
        k = scan.pts_s * fps
        bad = np.abs(k - np.arange(n)) > tol * fps
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            out.add(
                "RP405",
                "frame pts are not k/fps (constant rate from 0, no gaps or duplicates)",
                file=rel,
                feature=key,
                expected=f"frame {j} at {j / fps:.6f}s",
                actual=f"{scan.pts_s[j]:.6f}s",
                count=int(bad.sum()),
            )


def _check_episode_span(
    out: FindingCollector,
    key: str,
    rel: str,
    scan: VideoScan,
    ep: int,
    length: int,
    t0: float,
    t1: float,
    fps: int,
    tol: float,
) -> tuple[int, int]:
    """Check one episode's [from, to) in its file; returns the span as frame positions in ``scan.pts_s``."""
    k0 = t0 * fps
    if abs(k0 - round(k0)) / fps > tol:
        out.add(
            "RP405",
            "from_timestamp is not on a frame boundary",
            file=rel,
            episode=ep,
            feature=key,
            expected=f"{round(k0) / fps:.6f}",
            actual=f"{t0:.6f}",
        )
    if abs((t1 - t0) - length / fps) > tol:
        out.add(
            "RP405",
            "to_timestamp - from_timestamp differs from length/fps",
            file=rel,
            episode=ep,
            feature=key,
            expected=f"{length / fps:.6f}s ({length} frames)",
            actual=f"{t1 - t0:.6f}s",
        )
    if scan.duration_s and t1 > scan.duration_s + tol:
        out.add(
            "RP405",
            "to_timestamp is past the end of the video stream",
            file=rel,
            episode=ep,
            feature=key,
            expected=f"<= {scan.duration_s:.6f}s (stream duration)",
            actual=f"{t1:.6f}s",
        )
    a = int(np.searchsorted(scan.pts_s, t0 - tol, side="left"))
    b = int(np.searchsorted(scan.pts_s, t0 + length / fps - tol, side="left"))
    if b - a != length:
        out.add(
            "RP404",
            "video frames in [from_timestamp, from + length/fps) differ from the episode length",
            file=rel,
            episode=ep,
            feature=key,
            frame=b - a,
            expected=str(length),
            actual=str(b - a),
            count=abs(length - (b - a)),
        )
    return a, b


def _check_frozen(
    out: FindingCollector,
    key: str,
    rel: str,
    diffs: np.ndarray,
    ep: int,
    a: int,
    b: int,
    frames: int,
    max_diff: float,
) -> None:
    same = np.zeros(b - a + 1, dtype=np.int8)
    same[1:-1] = diffs[a : b - 1] <= max_diff if b - 1 <= diffs.size else False
    edges = np.diff(same)
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if starts.size == 0:
        return
    runs = stops - starts + 1  # identical pairs + 1 = frames
    j = int(np.argmax(runs))
    if runs[j] >= frames:
        out.add(
            "RP407",
            f"{int(runs[j])} consecutive identical frames (camera frozen?)",
            file=rel,
            episode=ep,
            frame=int(starts[j]),
            feature=key,
            expected=f"fewer than {frames} identical frames in a row",
            actual=f"{int(runs[j])} frames, mean |diff| <= {max_diff}",
            count=int(runs[j]),
        )


def video_files_on_disk(ctx: DatasetContext) -> int:
    base = ctx.root / layout.VIDEO_DIR
    return sum(1 for _ in base.glob("*/*/*.mp4")) if base.is_dir() else 0
