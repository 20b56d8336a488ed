"""Planning of a merge/edit: every output episode placed in an output (chunk, file) per stream (core layer).

The plan is computed once from metadata only, with numpy over whole episode columns (no per-row
pandas access), so it is O(total episodes) even for thousands of inputs. Each output file is then
written exactly once by :mod:`robopipe.edit.execute`, independently of the others (parallel-safe).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from robopipe.edit.sources import FileIndex, Source
from robopipe.edit.v3meta import depth_mismatch, merge_encoder_info, merge_tools
from robopipe.errors import MergeError, SchemaMismatchError
from robopipe.format import layout
from robopipe.format.features import FeatureSpec
from robopipe.format.info import DatasetInfo

log = logging.getLogger(__name__)

MB = 1024 * 1024
# fields of a video feature's ``info`` that must agree for packets to be stream-copied into one file
_STREAM_INFO_KEYS = ("video.codec", "video.height", "video.width", "video.pix_fmt")


@dataclass(frozen=True)
class Selection:
    """Episodes taken from one source, in output order (``None`` = all)."""

    source: int
    episodes: np.ndarray | None = None


@dataclass(frozen=True)
class OutFile:
    """One output file: its (chunk, file) and the output episodes ``[start, stop)`` it holds."""

    chunk: int
    file: int
    start: int
    stop: int


@dataclass
class StreamPlan:
    """Per output episode: which source file (index into ``EditPlan.paths``) and where in it."""

    src_path: np.ndarray
    src_offset: np.ndarray
    out_offset: np.ndarray  # first row/frame inside the output file
    files: list[OutFile]


@dataclass
class EditPlan:
    """Everything a worker needs to write any single output file (small and picklable)."""

    stage_root: Path
    info: DatasetInfo  # output info.json with totals
    tasks: list[str]
    paths: list[str]  # source files referenced by the streams
    path_frames: np.ndarray  # frames/rows of each source file
    src_id: np.ndarray  # per output episode
    src_ep: np.ndarray
    length: np.ndarray
    index_from: np.ndarray
    task_override: np.ndarray  # output task index, or -1 = remap the source's task_index column
    task_maps: list[np.ndarray]  # per source: source task_index -> output task_index (-1 unused)
    rename: dict[str, str]
    drop: list[str]  # source feature names not carried over
    data: StreamPlan
    episode_tasks: pa.ChunkedArray  # list<string> per output episode (the ``tasks`` column)
    sketch_paths: list[str] = field(default_factory=list)  # source sketch files
    sketch_src: np.ndarray | None = None  # per output episode: index into sketch_paths (None: no sketches)
    videos: dict[str, StreamPlan] = field(default_factory=dict)  # by output key

    @property
    def num_episodes(self) -> int:
        return len(self.length)


def rename_features(
    features: Mapping[str, FeatureSpec], rename: Mapping[str, str], drop: Sequence[str]
) -> dict[str, FeatureSpec]:
    """Features after dropping ``drop`` (source names) and applying ``rename`` (old -> new)."""
    return {rename.get(k, k): v for k, v in features.items() if k not in drop}


def _describe(spec: FeatureSpec) -> str:
    return f"{spec.dtype}{list(spec.shape)}"


def check_compatible(sources: Sequence[Source], rename: Mapping[str, str], drop: Sequence[str]) -> None:
    """Raise :class:`SchemaMismatchError` listing every difference between inputs (after renames)."""
    first = sources[0]
    ref = rename_features(first.info.features, rename, drop)
    problems: list[str] = []
    for src in sources[1:]:
        where = str(src.root)
        if src.info.fps != first.info.fps:
            problems.append(f"{where}: fps {src.info.fps}, expected {first.info.fps} (as {first.root})")
        if src.info.robot_type != first.info.robot_type:
            problems.append(
                f"{where}: robot_type {src.info.robot_type!r}, expected {first.info.robot_type!r}"
            )
        feats = rename_features(src.info.features, rename, drop)
        for k in ref.keys() - feats.keys():
            problems.append(
                f"{where}: missing feature {k!r} ({_describe(ref[k])}); rename it with --rename SRC={k}"
            )
        for k in feats.keys() - ref.keys():
            problems.append(f"{where}: extra feature {k!r} ({_describe(feats[k])}) not in {first.root}")
        for k in ref.keys() & feats.keys():
            a, b = ref[k], feats[k]
            if (a.dtype, a.shape) != (b.dtype, b.shape):
                problems.append(f"{where}: feature {k!r} is {_describe(b)}, expected {_describe(a)}")
            elif a.names != b.names:
                problems.append(f"{where}: feature {k!r} names {b.names}, expected {a.names}")
            if a.is_video and b.is_video and a.info and b.info:
                for ik in _STREAM_INFO_KEYS:
                    if ik in a.info and ik in b.info and a.info[ik] != b.info[ik]:
                        problems.append(
                            f"{where}: video {k!r} {ik}={b.info[ik]!r}, expected {a.info[ik]!r} "
                            "(stream copy needs identical codec, size and pixel format)"
                        )
            problems += [f"{where}: {p}" for p in depth_mismatch(k, a, b)]
    if problems:
        raise SchemaMismatchError(
            f"cannot merge {len(sources)} datasets, {len(problems)} difference(s) from {first.root}:\n  "
            + "\n  ".join(problems)
        )


def _assign_files(
    est_bytes: np.ndarray, lengths: np.ndarray, limit_bytes: float, chunks_size: int
) -> tuple[list[OutFile], np.ndarray]:
    """Greedy rollover in episode order: a new file starts when the current one would reach the limit."""
    files: list[OutFile] = []
    out_offset = np.zeros(len(lengths), dtype=np.int64)
    chunk = file = 0
    start = 0
    size = 0.0
    frames = 0
    sizes = est_bytes.tolist()
    lens = lengths.tolist()
    for i in range(len(lens)):  # plain floats: ~50 ns per episode
        if i > start and size + sizes[i] >= limit_bytes:
            files.append(OutFile(chunk, file, start, i))
            chunk, file = layout.next_chunk_file(chunk, file, chunks_size)
            start, size, frames = i, 0.0, 0
        out_offset[i] = frames
        size += sizes[i]
        frames += lens[i]
    if lens:
        files.append(OutFile(chunk, file, start, len(lens)))
    return files, out_offset


def plan_edit(
    sources: Sequence[Source],
    selections: Sequence[Selection],
    stage_root: Path,
    *,
    rename: Mapping[str, str] | None = None,
    drop: Sequence[str] = (),
    task_overrides: Mapping[tuple[int, int], str] | None = None,
    data_files_size_in_mb: float | None = None,
    video_files_size_in_mb: float | None = None,
    chunks_size: int | None = None,
) -> EditPlan:
    """Plan one output dataset from ``selections`` of ``sources``.

    Args:
        sources: loaded inputs (:func:`robopipe.edit.sources.load_source`).
        selections: which episodes of which source, in output order.
        stage_root: where the output files are written (renamed to the final root by the caller).
        rename: feature renames old -> new (applied to every source that has ``old``).
        drop: source feature names left out.
        task_overrides: ``(source, source_episode) -> task`` replacing that episode's task(s).
        data_files_size_in_mb, video_files_size_in_mb, chunks_size: output limits (default: first input's).
    """
    rename = dict(rename or {})
    drop = list(drop)
    overrides = dict(task_overrides or {})
    check_compatible([sources[s.source] for s in selections] or [sources[0]], rename, drop)
    first = sources[selections[0].source if selections else 0]
    features = rename_features(first.info.features, rename, drop)
    for k in drop:
        if k in layout_default_keys():
            raise SchemaMismatchError(f"cannot remove {k!r}: it is one of LeRobot's default features")
    kept = [k for k in first.info.features if k not in drop]
    if len(features) != len(kept):
        raise SchemaMismatchError(f"renames {rename} make two features share a name in {first.root}")

    sel_eps = []
    for s in selections:
        n = sources[s.source].num_episodes
        eps = np.arange(n, dtype=np.int64) if s.episodes is None else np.asarray(s.episodes, dtype=np.int64)
        bad = eps[(eps < 0) | (eps >= n)]
        if len(bad):
            raise MergeError(
                f"{sources[s.source].root}: episodes {bad.tolist()} do not exist (it has 0..{n - 1})"
            )
        sel_eps.append(eps)
    src_id = (
        np.concatenate([np.full(len(e), s.source, dtype=np.int64) for s, e in zip(selections, sel_eps)])
        if selections
        else np.zeros(0, np.int64)
    )
    src_ep = np.concatenate(sel_eps) if sel_eps else np.zeros(0, np.int64)
    length = (
        np.concatenate([sources[s.source].lengths[e] for s, e in zip(selections, sel_eps)])
        if sel_eps
        else np.zeros(0, np.int64)
    )
    index_from = np.cumsum(length) - length

    # tasks: first appearance over kept episodes (after overrides), as LeRobot's aggregate orders them
    task_lists: list[pa.Array] = []
    for s, e in zip(selections, sel_eps):
        col = sources[s.source].episodes["tasks"].take(pa.array(e)).combine_chunks()
        mine = {ep: t for (si, ep), t in overrides.items() if si == s.source}
        if mine:
            vals = col.to_pylist()
            for j, ep in enumerate(e.tolist()):
                if ep in mine:
                    vals[j] = [mine[ep]]
            col = pa.array(vals, type=pa.list_(pa.string()))
        task_lists.append(col)
    flat = (
        pa.chunked_array([c.flatten() for c in task_lists], type=pa.string())
        if task_lists
        else pa.chunked_array([], pa.string())
    )
    tasks = [str(t) for t in pc.unique(flat).to_pylist()]
    tindex = {t: i for i, t in enumerate(tasks)}
    task_maps = [np.array([tindex.get(t, -1) for t in src.tasks], dtype=np.int64) for src in sources]
    task_override = np.full(len(src_ep), -1, dtype=np.int64)
    if overrides:
        pos = 0
        for s, e in zip(selections, sel_eps):
            for j, ep in enumerate(e.tolist()):
                t = overrides.get((s.source, ep))
                if t is not None:
                    task_override[pos + j] = tindex[t]
            pos += len(e)

    limits = first.info
    data_mb = data_files_size_in_mb or limits.data_files_size_in_mb
    video_mb = video_files_size_in_mb or limits.video_files_size_in_mb
    csize = chunks_size or limits.chunks_size

    paths: list[str] = []
    path_frames: list[int] = []

    def stream(indexes: Sequence[FileIndex]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Global path index, offset in it and estimated bytes of every output episode."""
        pidx, offs, est = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0)]
        for s, e, fi in zip(selections, sel_eps, indexes):
            base = len(paths)
            paths.extend(fi.paths)
            path_frames.extend(fi.file_frames.tolist())
            f = fi.file_of[e]
            pidx.append(base + f)
            offs.append(fi.offset[e])
            # on-disk bytes per frame of the source file: exact for whole files, proportional otherwise
            est.append((fi.file_bytes / np.maximum(fi.file_frames, 1))[f] * sources[s.source].lengths[e])
        return np.concatenate(pidx), np.concatenate(offs), np.concatenate(est)

    p, o, est = stream([sources[s.source].data for s in selections])
    files, out_off = _assign_files(est, length, data_mb * MB, csize)
    data = StreamPlan(p, o, out_off, files)
    inverse = {v: k for k, v in rename.items()}
    videos = {}
    for key, spec in features.items():
        if not spec.is_video:
            continue
        # each source may carry the old or already the new name
        keys = [inverse[key] if inverse.get(key) in sources[s.source].videos else key for s in selections]
        p, o, est = stream([sources[s.source].videos[k] for s, k in zip(selections, keys)])
        vfiles, vout = _assign_files(est, length, video_mb * MB, csize)
        videos[key] = StreamPlan(p, o, vout, vfiles)

    sketch_paths: list[str] = []
    sketch_src: np.ndarray | None = None
    if selections and all(sources[s.source].sketch_files is not None for s in selections):
        parts = []
        for s, e in zip(selections, sel_eps):
            src = sources[s.source]
            assert src.sketch_files is not None and src.sketch_file_of is not None  # checked above
            parts.append(len(sketch_paths) + src.sketch_file_of[e])
            sketch_paths.extend(src.sketch_files)
        sketch_src = np.concatenate(parts)

    inputs = [sources[i] for i in dict.fromkeys(s.source for s in selections)] or [first]
    features = merge_encoder_info(
        features, [rename_features(src.info.features, rename, drop) for src in inputs]
    )
    info = first.info.model_copy(deep=True)
    info.features = features
    info.tools = merge_tools([src.info.tools for src in inputs])
    info.total_episodes = len(length)
    info.total_frames = int(length.sum())
    info.total_tasks = len(tasks)
    info.splits = {"train": f"0:{info.total_episodes}"}
    info.data_files_size_in_mb = data_mb
    info.video_files_size_in_mb = video_mb
    info.chunks_size = csize
    if not videos:
        info.video_path = None
    elif info.video_path is None:
        info.video_path = layout.DEFAULT_VIDEO_PATH
    return EditPlan(
        stage_root=Path(stage_root),
        info=info,
        tasks=tasks,
        paths=paths,
        path_frames=np.asarray(path_frames, dtype=np.int64),
        src_id=src_id,
        src_ep=src_ep,
        length=length,
        index_from=index_from,
        task_override=task_override,
        task_maps=task_maps,
        rename=rename,
        drop=drop,
        data=data,
        episode_tasks=pa.chunked_array(task_lists, type=pa.list_(pa.string())),
        sketch_paths=sketch_paths,
        sketch_src=sketch_src,
        videos=videos,
    )


def layout_default_keys() -> frozenset[str]:
    return frozenset({"timestamp", "frame_index", "episode_index", "index", "task_index"})
