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
            frame = _video_frame(ctx, key, i, mid) if spec.is_video else _image_frame(ctx, key, i, mid)
            out.append(Thumbnail(ep, mid, _png(frame)))
        except (OSError, av.error.FFmpegError, pa.ArrowException, ValueError, KeyError, IndexError) as exc:
            out.append(Thumbnail(ep, mid, None, str(exc)[:200]))
    return out


def _video_frame(ctx: DatasetContext, key: str, row: int, frame: int) -> np.ndarray:
    if ctx.info is None or not ctx.info.video_path:
        raise ValueError("no video_path in info.json")
    chunk = ctx.episode_column(f"videos/{key}/chunk_index")
    file = ctx.episode_column(f"videos/{key}/file_index")
    t0 = ctx.episode_column(f"videos/{key}/from_timestamp")
    if chunk is None or file is None or t0 is None:
        raise ValueError("episodes metadata lacks the video columns")
    path = safepath.inside(ctx.root, layout.video_path(key, chunk[row], file[row], ctx.info.video_path))
    t = round((float(t0[row]) + frame / ctx.info.fps) * ctx.info.fps) / ctx.info.fps
    frames: np.ndarray = decode_frames(path, [t])
    return frames[0]


def _image_frame(ctx: DatasetContext, key: str, row: int, frame: int) -> np.ndarray:
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
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
