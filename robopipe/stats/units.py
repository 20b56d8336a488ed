"""Recompute stats of a finished dataset, one coarse work unit at a time (core layer, no Dask).

A *unit* is one data parquet file (numeric features, plus PNG ``image`` features) or one mp4 file
of one video key. :func:`run_unit` computes the per-episode LeRobot stats and sketches of every
episode in its file, stages them in a small parquet (so results never travel through the
scheduler) and returns the merged :class:`DatasetStats` of the unit for the tree reduction.
The number of units grows with the number of *files*, not episodes, so 10 and 100,000 episodes
make equally few tasks.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from robopipe.errors import CorruptFileError, FormatError
from robopipe.format import depth, safepath
from robopipe.format.atomic import tmp_path_for
from robopipe.format.columns import check_data_file
from robopipe.format.features import FeatureSpec
from robopipe.format.video import first_video_stream
from robopipe.stats.batch import NeedsPerEpisodePath, file_numeric_stats
from robopipe.stats.depth import DepthStatsAccumulator
from robopipe.stats.episode import OnNonFinite, summarize_episode
from robopipe.stats.image import ImageStatsAccumulator
from robopipe.stats.values import DatasetStats, merge_all

log = logging.getLogger(__name__)
FrameHook = Callable[[int, int, Any], None]


class UnitObserver(Protocol):
    """Sees every stats unit (picklable: runs where the unit runs), e.g. the quality signals.

    ``run(unit, stats)`` must call ``stats(hook)`` exactly once and return its value; ``hook`` (or None)
    receives every decoded frame of a video unit, so one decode serves both.
    """

    def run(self, unit: Unit, stats: Callable[[FrameHook | None], DatasetStats]) -> DatasetStats: ...


@dataclass(frozen=True)
class _Staged:
    indices: list[int]
    lerobot: dict[str, dict[str, np.ndarray]]  # feature -> stat -> (B, *shape)
    sketches: Sequence[DatasetStats | bytes]  # per episode (bytes: already serialised)
    total: DatasetStats | None  # merged stats of the unit when already known


@dataclass(frozen=True)
class EpisodeSpan:
    """Where one episode lives in a unit's file."""

    index: int
    length: int
    from_ts: float = 0.0
    to_ts: float = 0.0


@dataclass(frozen=True)
class Unit:
    """One file to process: ``kind="data"`` (parquet) or ``"video"`` (one mp4 of ``key``)."""

    uid: int
    kind: Literal["data", "video"]
    path: str  # relative to the dataset root
    episodes: tuple[EpisodeSpan, ...]
    key: str | None = None

    @property
    def first_episode(self) -> int:
        return min(e.index for e in self.episodes)

    @property
    def last_episode(self) -> int:
        return max(e.index for e in self.episodes)

    @property
    def frames(self) -> int:
        return sum(e.length for e in self.episodes)

    def staging_name(self) -> str:
        return f"unit-{self.uid:06d}.parquet"


def _numeric_columns(
    table: pa.Table, features: Mapping[str, FeatureSpec], path: Path
) -> dict[str, np.ndarray]:
    from robopipe.format.reader import column_to_numpy

    out = {}
    for key, spec in features.items():
        if not spec.is_numeric or key not in table.column_names:
            continue
        out[key] = column_to_numpy(table[key], spec, f"{path}: {key}").astype(spec.np_dtype, copy=False)
    return out


def _png(cell: Any) -> np.ndarray:
    data = cell["bytes"] if isinstance(cell, dict) else cell
    if data is None:
        raise CorruptFileError("image cell has no bytes")
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def _camera_accumulator(spec: FeatureSpec, length: int) -> ImageStatsAccumulator | DepthStatsAccumulator:
    """Depth maps keep their stored unit (LeRobot 0.6.1); other cameras are RGB in [0, 1]."""
    if spec.is_depth_map:
        return DepthStatsAccumulator.presampled(length)
    return ImageStatsAccumulator.presampled(length, 3)


def _image_cell(spec: FeatureSpec, cell: Any) -> np.ndarray:
    if not spec.is_depth_map:
        return _png(cell)
    data = cell["bytes"] if isinstance(cell, dict) else cell
    if data is None:
        raise CorruptFileError("image cell has no bytes")
    return depth.decode_image(data)


def _video_frame(spec: FeatureSpec, frame: Any, cfg: depth.DepthEncoderConfig | None) -> np.ndarray:
    if cfg is None:
        return np.asarray(frame.to_ndarray(format="rgb24"))
    unit: depth.DepthUnit = "m" if (spec.info or {}).get("depth_unit") == "m" else "mm"
    return depth.dequantize(frame.to_ndarray(format=depth.DEPTH_PIX_FMT), cfg, unit)


def _data_unit(
    root: Path, unit: Unit, features: Mapping[str, FeatureSpec], images: bool, on_nonfinite: OnNonFinite
) -> _Staged:
    path = safepath.inside(root, unit.path, f"{unit.kind} file")
    numeric = [k for k, f in features.items() if f.is_numeric]
    image_cols = [k for k, f in features.items() if f.is_image] if images else []
    try:
        schema = check_data_file(path, {k: features[k] for k in (*numeric, *image_cols)})
        schema_names = schema.names
        cols = [c for c in (*numeric, *image_cols) if c in schema_names]
        table = pq.read_table(path, columns=sorted(set(cols) | {"episode_index"}))
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(f"{path}: unreadable data file ({exc})") from exc
    missing = [k for k in numeric if k not in schema_names]
    if missing:
        raise FormatError(f"{path}: columns {missing} of info.json features are missing from the data file")
    if table.num_rows == 0 or table["episode_index"].null_count:
        raise FormatError(
            f"{path}: no rows (or empty episode_index values), meta/episodes says it holds episodes"
        )
    columns = _numeric_columns(table, features, path)
    ep = table["episode_index"].to_numpy()
    starts = np.flatnonzero(np.concatenate(([True], ep[1:] != ep[:-1])))
    bounds = dict(zip(ep[starts].tolist(), zip(starts.tolist(), [*starts[1:].tolist(), len(ep)])))
    spans = []
    for span in unit.episodes:
        if span.index not in bounds:
            raise FormatError(
                f"{path}: episode {span.index} has no rows (meta/episodes says it is in this file)"
            )
        a, b = bounds[span.index]
        if b - a != span.length:
            raise FormatError(
                f"{path}: episode {span.index} has {b - a} rows, meta/episodes says length={span.length}"
            )
        spans.append((span.index, a, b))
    spans.sort(key=lambda x: x[1])
    indices = [i for i, _, _ in spans]
    contiguous = (
        spans[0][1] == 0
        and spans[-1][2] == len(ep)
        and all(spans[k][2] == spans[k + 1][1] for k in range(len(spans) - 1))
    )
    try:
        if not contiguous:
            raise NeedsPerEpisodePath("episodes do not tile the file")
        fs = file_numeric_stats(columns, features, np.array([b - a for _, a, b in spans]))
    except NeedsPerEpisodePath:
        fs = None
    if fs is not None and not image_cols:
        return _Staged(indices, fs.lerobot, fs.blobs, DatasetStats(fs.total))
    rows: list[dict[str, dict[str, np.ndarray]]] = []
    sketches = []
    for e, (_, a, b) in enumerate(spans):
        accs = {}
        for key in image_cols:
            acc = _camera_accumulator(features[key], b - a)
            cells = table[key].slice(a, b - a)
            for i in acc.wanted:
                acc.add(_image_cell(features[key], cells[int(i)].as_py()))
            accs[key] = acc
        if fs is not None:  # numeric part from the batch, images per episode
            lerobot = {k: {s: v[e] for s, v in st.items()} for k, st in fs.lerobot.items()}
            sketch = fs.episode(e)
            for key, acc in accs.items():
                lerobot[key] = acc.result()
                sketch = sketch.merge(DatasetStats({key: acc.sketch()}))
        else:
            episode = {k: v[a:b] for k, v in columns.items()}
            summary = summarize_episode(episode, features, accs, on_nonfinite=on_nonfinite)
            lerobot, sketch = summary.lerobot, summary.sketch
        rows.append(lerobot)
        sketches.append(sketch)
    return _Staged(indices, _stack_rows(rows), sketches, None)


def _stack_rows(rows: Sequence[Mapping[str, Mapping[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Per-episode LeRobot dicts -> feature -> stat -> ``(B, *shape)`` arrays."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for feat in rows[0] if rows else {}:
        out[feat] = {s: np.stack([np.asarray(r[feat][s]) for r in rows]) for s in rows[0][feat]}
    return out


def _video_unit(
    root: Path, unit: Unit, fps: int, spec: FeatureSpec, on_frame: FrameHook | None = None
) -> _Staged:
    path = safepath.inside(root, unit.path, f"{unit.kind} file")
    key = unit.key or ""
    spans = sorted(unit.episodes, key=lambda e: e.from_ts)
    accs = {e.index: _camera_accumulator(spec, e.length) for e in spans}
    cfg = depth.DepthEncoderConfig.from_info(spec.info) if spec.is_depth_map else None
    wanted = {e.index: set(accs[e.index].wanted.tolist()) for e in spans}
    seen = dict.fromkeys(accs, 0)
    half = 0.5 / fps
    try:
        with av.open(str(path)) as container:
            stream: Any = first_video_stream(container, path)
            stream.thread_type = "AUTO"
            tb = stream.time_base
            if spans[0].from_ts > half:
                container.seek(int(spans[0].from_ts / tb), stream=stream, backward=True, any_frame=False)
            j = 0
            for frame in container.decode(stream):
                t = float(frame.pts * tb)
                while j < len(spans) and t >= spans[j].to_ts - half:
                    j += 1
                if j >= len(spans):
                    break
                sp = spans[j]
                if t < sp.from_ts - half:
                    continue
                k = round((t - sp.from_ts) * fps)
                seen[sp.index] += 1
                if on_frame is not None:
                    on_frame(sp.index, k, frame)
                if k in wanted[sp.index]:
                    accs[sp.index].add(_video_frame(spec, frame, cfg))
                    wanted[sp.index].discard(k)
    except (av.error.FFmpegError, OSError) as exc:
        raise CorruptFileError(f"{path}: cannot decode video ({exc})") from exc
    rows, sketches = [], []
    for e in spans:
        if seen[e.index] != e.length or wanted[e.index]:
            raise CorruptFileError(
                f"{path}: episode {e.index} of {key!r} should span {e.length} frames from "
                f"t={e.from_ts:.4f}s, decoded {seen[e.index]}; the video or meta/episodes is inconsistent"
            )
        acc = accs[e.index]
        rows.append({key: acc.result()})
        sketches.append(DatasetStats({key: acc.sketch()}))
    return _Staged([e.index for e in spans], _stack_rows(rows), sketches, None)


def stats_array(values: np.ndarray, integer: bool) -> pa.Array:
    """``(B, *shape)`` stat values -> Arrow nested lists of LeRobot's types (one row per episode)."""
    leaf = pa.int64() if integer else pa.float64()
    flat = pa.array(np.ascontiguousarray(values, dtype=np.int64 if integer else np.float64).ravel(), leaf)
    typ: pa.DataType = leaf
    arr: pa.Array = flat
    shape = values.shape[1:] or (1,)
    for dim in reversed(shape):
        arr = pa.FixedSizeListArray.from_arrays(arr, dim)
        typ = pa.list_(typ)
    return arr.cast(typ)


def _stats_table(staged: _Staged, features: Mapping[str, FeatureSpec]) -> pa.Table:
    cols: dict[str, pa.Array] = {"episode_index": pa.array(staged.indices, pa.int64())}
    for feat, st in staged.lerobot.items():
        int_feature = features[feat].is_numeric and np.dtype(features[feat].dtype).kind in "biu"
        for stat, values in st.items():
            integer = stat == "count" or (int_feature and stat in ("min", "max"))
            cols[f"stats/{feat}/{stat}"] = stats_array(values, integer)
    blobs = [s if isinstance(s, bytes) else s.to_bytes() for s in staged.sketches]
    cols["sketch"] = pa.array(blobs, pa.binary())
    return pa.table(cols)


def run_unit(
    root: Path,
    unit: Unit,
    features: Mapping[str, FeatureSpec],
    fps: int,
    staging: Path,
    *,
    images: bool = True,
    on_nonfinite: OnNonFinite = "raise",
    on_frame: FrameHook | None = None,
) -> DatasetStats:
    """Process one unit, stage its per-episode results, return the unit's merged stats.

    ``on_frame(episode, frame_index, frame)`` sees every decoded frame of a video unit (the quality
    signals use it, so one decode serves both).
    """
    root = Path(root)
    if unit.kind == "data":
        staged = _data_unit(root, unit, features, images, on_nonfinite)
    else:
        staged = _video_unit(root, unit, fps, features[unit.key or ""], on_frame)
    # Staging is scratch data (discarded if the run dies): renamed into place but not fsynced, which
    # on a busy disk costs seconds per file.
    final = Path(staging) / unit.staging_name()
    tmp = tmp_path_for(final)
    try:
        pq.write_table(_stats_table(staged, features), tmp, compression="none")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    if staged.total is not None:
        return staged.total
    return merge_all(
        s if isinstance(s, DatasetStats) else DatasetStats.from_bytes(s) for s in staged.sketches
    )


def read_staged(staging: Path, units: Sequence[Unit], first: int, last: int) -> list[pa.Table]:
    """Staged tables (rows of episodes ``first..last``) of every unit overlapping that range."""
    out = []
    for unit in units:
        if unit.last_episode < first or unit.first_episode > last:
            continue
        path = Path(staging) / unit.staging_name()
        out.append(
            pq.read_table(path, filters=[("episode_index", ">=", first), ("episode_index", "<=", last)])
        )
    return out
