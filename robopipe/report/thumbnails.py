"""A few camera frames per camera for the report: decoded with PyAV, re-encoded as small PNGs (core)."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from robopipe.format import layout, safepath
from robopipe.format.video import decode_frames
from robopipe.validate.context import DatasetContext

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Thumbnail:
    episode: int
    frame: int
    png: bytes | None  # None: could not decode
    error: str | None = None


def depth_preview(depth: np.ndarray) -> np.ndarray:
    """A depth map (any unit, 0 = no reading) as an RGB picture: the 1st-99th percentile of the valid
    distances spread over the turbo colour map (near blue, far red), no reading black."""
    d = np.asarray(depth, np.float64).reshape(depth.shape[0], depth.shape[1], -1)[:, :, 0]
    valid = d > 0
    out = np.zeros((*d.shape, 3), np.uint8)
    if not valid.any():
        return out
    lo, hi = np.percentile(d[valid], [1, 99])
    x = np.clip((d - lo) / max(hi - lo, 1e-9), 0.0, 1.0)
    # Google's polynomial approximation of turbo (Apache-2.0, Mikhailov 2019)
    r = 0.13572138 + x * (
        4.61539260 + x * (-42.66032258 + x * (132.13108234 + x * (-152.94239396 + x * 59.28637943)))
    )
    g = 0.09140261 + x * (
        2.19418839 + x * (4.84296658 + x * (-14.18503333 + x * (4.27729857 + x * 2.82956604)))
    )
    b = 0.10667330 + x * (
        12.64194608 + x * (-60.58204836 + x * (110.36276771 + x * (-89.90310912 + x * 27.34824973)))
    )
    rgb = (np.clip(np.stack([r, g, b], axis=-1), 0.0, 1.0) * 255).round().astype(np.uint8)
    out[valid] = rgb[valid]
    return out


def _png(frame: np.ndarray, max_width: int = 200) -> bytes:
    img = Image.fromarray(frame)
    if img.width > max_width:
        img = img.resize((max_width, max(1, round(img.height * max_width / img.width))))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _pick(n_episodes: int, count: int) -> list[int]:
    if n_episodes <= 0:
        return []
    return sorted(set(np.linspace(0, n_episodes - 1, min(count, n_episodes)).round().astype(int).tolist()))


def camera_thumbnails(ctx: DatasetContext, key: str, count: int = 6) -> list[Thumbnail]:
    """Middle frame of ``count`` episodes spread over the dataset, for one camera feature."""
    lengths = ctx.episode_column("length")
    eps = ctx.episode_column("episode_index")
    if lengths is None or eps is None or ctx.info is None:
        return []
    spec = ctx.features[key]
    out: list[Thumbnail] = []
    for i in _pick(len(eps), count):
        ep, mid = int(eps[i]), int(lengths[i]) // 2
        try:
            depth = spec.is_depth_map
            if spec.is_video:
                frame = _video_frame(ctx, key, i, mid, depth)
            else:
                frame = _image_frame(ctx, key, i, mid, depth)
            out.append(Thumbnail(ep, mid, _png(frame)))
        except (OSError, av.error.FFmpegError, pa.ArrowException, ValueError, KeyError, IndexError) as exc:
            out.append(Thumbnail(ep, mid, None, str(exc)[:200]))
    return out


def _video_frame(ctx: DatasetContext, key: str, row: int, frame: int, depth: bool = False) -> np.ndarray:
    if ctx.info is None or not ctx.info.video_path:
        raise ValueError("no video_path in info.json")
    chunk = ctx.episode_column(f"videos/{key}/chunk_index")
    file = ctx.episode_column(f"videos/{key}/file_index")
    t0 = ctx.episode_column(f"videos/{key}/from_timestamp")
    if chunk is None or file is None or t0 is None:
        raise ValueError("episodes metadata lacks the video columns")
    path = safepath.inside(ctx.root, layout.video_path(key, chunk[row], file[row], ctx.info.video_path))
    t = round((float(t0[row]) + frame / ctx.info.fps) * ctx.info.fps) / ctx.info.fps
    if depth:  # the 12-bit codes as stored; their order is the distances' order
        return depth_preview(decode_frames(path, [t], convert=lambda f: f.to_ndarray())[0])
    frames: np.ndarray = decode_frames(path, [t])
    return frames[0]


def _image_frame(ctx: DatasetContext, key: str, row: int, frame: int, depth: bool = False) -> np.ndarray:
    start = ctx.episode_column("dataset_from_index")
    chunk = ctx.episode_column("data/chunk_index")
    file = ctx.episode_column("data/file_index")
    if ctx.info is None or start is None or chunk is None or file is None:
        raise ValueError("episodes metadata lacks the data location columns")
    path = safepath.inside(ctx.root, layout.data_path(chunk[row], file[row], ctx.info.data_path))
    table = pq.read_table(path, columns=[key, "index"])
    idx = table.column("index").to_numpy()
    pos = np.flatnonzero(idx == int(start[row]) + frame)
    if pos.size == 0:
        raise ValueError(f"frame {frame} not found in {path.name}")
    value = table.column(key)[int(pos[0])].as_py()
    data = value["bytes"] if isinstance(value, dict) else value
    img = Image.open(io.BytesIO(data))
    return depth_preview(np.asarray(img)) if depth else np.asarray(img.convert("RGB"))
