"""Write one output file of an :class:`~robopipe.edit.plan.EditPlan` (core layer).

Each function writes exactly one output file in one pass and touches nothing else, so any number of
them can run in parallel (threads, processes or Dask workers). Inputs are only read.

* data parquet: rows sliced from the source files, ``episode_index``/``index``/``task_index``
  rewritten, one row group per episode; returns the new per-episode stats of those three columns.
* video mp4: packets stream-copied (no decode, no re-encode) from keyframe-aligned episode spans,
  consecutive spans of one source file copied in one go; a file that is exactly one whole source
  file is copied byte for byte. A span that does not start on a keyframe has its head re-encoded
  (see :mod:`robopipe.edit.reencode`).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe import stats as rstats
from robopipe.edit.mp4 import Mp4Source, Unsupported, concat_spans, parse_mp4
from robopipe.edit.packets import PacketCopier
from robopipe.edit.plan import EditPlan
from robopipe.edit.reencode import copy_spans
from robopipe.edit.stats_merge import merge_many
from robopipe.errors import CorruptFileError, FormatError
from robopipe.format import language, layout
from robopipe.format.atomic import atomic_path
from robopipe.format.features import DEFAULT_FEATURES
from robopipe.format.frames import hf_schema_metadata

log = logging.getLogger(__name__)

_INDEX_COLUMNS = ("episode_index", "index", "task_index")
_INDEX_FEATURES = {k: DEFAULT_FEATURES[k] for k in _INDEX_COLUMNS}


@dataclass(frozen=True)
class EpisodeIndexStats:
    """Recomputed per-episode stats (LeRobot's form) of the renumbered columns of one output episode."""

    episode: int
    lerobot: dict[str, dict[str, np.ndarray]]


@dataclass(frozen=True)
class DataFileResult:
    """Small result of one data file: per-episode index stats and the merged sketch of its episodes."""

    file: int
    index_stats: list[EpisodeIndexStats]
    stats: rstats.DatasetStats | None  # None when some input has no sketches


@dataclass(frozen=True)
class VideoFileResult:
    key: str
    file: int
    spans: int
    reencoded: int
    copied_whole: bool


def _target_schema(plan: EditPlan) -> pa.Schema:
    """Output data schema: the first source file's schema, renamed/filtered, with fresh HF metadata."""
    src = pq.read_schema(plan.paths[int(plan.data.src_path[0])])
    fields = []
    for f in src:
        if f.name in plan.drop:
            continue
        fields.append(f.with_name(plan.rename.get(f.name, f.name)))
    names = [f.name for f in fields]
    wanted = [k for k, spec in plan.info.features.items() if not spec.is_video]
    missing = set(wanted) - set(names)
    if missing:
        raise FormatError(
            f"{plan.paths[int(plan.data.src_path[0])]}: data columns {sorted(missing)} are missing"
        )
    by_name = {f.name: f for f in fields}
    for k in wanted:  # language columns: one canonical type, whatever each source inferred
        if plan.info.features[k].is_language:
            by_name[k] = pa.field(k, language.arrow_type(k))
    return pa.schema([by_name[k] for k in wanted], metadata=hf_schema_metadata(plan.info.features))


def _read_source(path: str, drop: list[str]) -> pa.Table:
    try:
        cols = [n for n in pq.read_schema(path).names if n not in drop]
        table = pq.ParquetFile(path).read(columns=cols)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(
            f"{path}: unreadable parquet ({exc}); the input is truncated or corrupt"
        ) from exc
    for key in language.LANGUAGE_COLUMNS:
        if key in table.column_names:
            try:
                col = language.canonical_column(key, table[key])
            except (ValueError, pa.ArrowException) as exc:
                raise FormatError(f"{path}: column {key!r} is not a language column: {exc}") from exc
            table = table.set_column(table.schema.get_field_index(key), key, col)
    return table


def _read_sketches(path: str, wanted: set[int]) -> dict[int, rstats.DatasetStats]:
    """Only the wanted episodes' sketches of one sketch file (the others are not deserialised)."""
    try:
        t = pq.ParquetFile(path).read(columns=["episode_index", "sketch"])
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(
            f"{path}: unreadable sketch file ({exc}); recompute with `robopipe stats`"
        ) from exc
    eps = t["episode_index"].to_numpy()
    rows = np.flatnonzero(np.isin(eps, list(wanted)))
    blobs = t["sketch"].take(pa.array(rows)).to_pylist()
    return {int(eps[r]): rstats.DatasetStats.from_bytes(b) for r, b in zip(rows, blobs)}


def _output_sketches(
    plan: EditPlan, f_start: int, f_stop: int, index: dict[int, rstats.DatasetStats]
) -> list[tuple[int, rstats.DatasetStats]]:
    """Per-episode sketches of output episodes ``[f_start, f_stop)``: source sketch renamed, index columns recomputed."""
    assert plan.sketch_src is not None  # callers check; for mypy
    wanted: dict[int, set[int]] = {}
    for e in range(f_start, f_stop):
        wanted.setdefault(int(plan.sketch_src[e]), set()).add(int(plan.src_ep[e]))
    loaded = {p: _read_sketches(plan.sketch_paths[p], eps) for p, eps in wanted.items()}
    drop = set(plan.drop)
    out = []
    for e in range(f_start, f_stop):
        old = loaded[int(plan.sketch_src[e])][int(plan.src_ep[e])]
        items = {plan.rename.get(k, k): v for k, v in old.items() if k not in drop}
        items.update(index[e].items())
        out.append((e, rstats.DatasetStats(items)))
    return out


def execute_data_file(plan: EditPlan, i: int) -> DataFileResult:
    """Write output data file ``i`` (and its stats sketch side file); return small per-episode results."""
    f = plan.data.files[i]
    schema = _target_schema(plan)
    out = plan.stage_root / layout.data_path(f.chunk, f.file, plan.info.data_path)
    results: list[EpisodeIndexStats] = []
    index_sketches: dict[int, rstats.DatasetStats] = {}
    cache: tuple[int, pa.Table] | None = None
    with atomic_path(out) as tmp:
        # dictionary pages only where they pay off (LeRobot's use_dictionary=True is slower and larger on floats)
        dict_cols = [c for c in ("episode_index", "task_index") if c in schema.names]
        writer = pq.ParquetWriter(tmp, schema, compression="snappy", use_dictionary=dict_cols)
        try:
            for e in range(f.start, f.stop):
                p = int(plan.data.src_path[e])
                if cache is None or cache[0] != p:
                    cache = (p, _read_source(plan.paths[p], plan.drop))
                src_table = cache[1]
                n = int(plan.length[e])
                t = src_table.slice(int(plan.data.src_offset[e]), n)
                src_ep = int(plan.src_ep[e])
                got = t["episode_index"].to_numpy()
                if len(t) != n or (n and (got.min() != src_ep or got.max() != src_ep)):
                    raise FormatError(
                        f"{plan.paths[p]}: rows {int(plan.data.src_offset[e])}..+{n} should be episode {src_ep} "
                        f"(meta/episodes says so) but hold episodes {sorted(set(got.tolist()))[:5]}; "
                        "the input's metadata and data disagree — validate it first"
                    )
                t = t.rename_columns([plan.rename.get(c, c) for c in t.column_names])
                cols = _index_values(plan, e, t["task_index"].to_numpy())
                for k, v in cols.items():
                    t = t.set_column(t.schema.get_field_index(k), k, pa.array(v))
                t = t.select(schema.names).cast(schema)
                writer.write_table(t, row_group_size=max(n, 1))
                summary = rstats.summarize_episode(cols, _INDEX_FEATURES)
                results.append(EpisodeIndexStats(e, summary.lerobot))
                index_sketches[e] = summary.sketch
        finally:
            writer.close()
    if plan.sketch_src is None:
        return DataFileResult(i, results, None)
    sketches = _output_sketches(plan, f.start, f.stop, index_sketches)
    # side files may be laid out freely (read_sketches indexes by episode): one per data file
    rstats.write_sketch_file(plan.stage_root, f.chunk, f.file, sketches)
    return DataFileResult(i, results, merge_many(s for _, s in sketches))


def _index_values(plan: EditPlan, e: int, old_task: np.ndarray) -> dict[str, np.ndarray]:
    n = int(plan.length[e])
    start = int(plan.index_from[e])
    override = int(plan.task_override[e])
    if override >= 0:
        task = np.full(n, override, dtype=np.int64)
    else:
        tmap = plan.task_maps[int(plan.src_id[e])]
        if n and (old_task.min() < 0 or old_task.max() >= len(tmap)):
            raise FormatError(
                f"source episode {int(plan.src_ep[e])}: task_index out of range of its tasks.parquet"
            )
        task = tmap[old_task]
        if n and task.min() < 0:
            raise FormatError(
                f"source episode {int(plan.src_ep[e])}: its frames use a task not listed in its meta/episodes "
                "'tasks' column; validate the input"
            )
    return {
        "episode_index": np.full(n, e, dtype=np.int64),
        "index": np.arange(start, start + n, dtype=np.int64),
        "task_index": task.astype(np.int64),
    }


def video_spans(plan: EditPlan, key: str, i: int) -> list[tuple[int, int, int]]:
    """``(source path index, first frame, frames)`` runs of output video file ``i`` (consecutive episodes merged)."""
    sp = plan.videos[key]
    f = sp.files[i]
    spans: list[list[int]] = []
    for e in range(f.start, f.stop):
        p, off, n = int(sp.src_path[e]), int(sp.src_offset[e]), int(plan.length[e])
        if spans and spans[-1][0] == p and spans[-1][1] + spans[-1][2] == off:
            spans[-1][2] += n
        else:
            spans.append([p, off, n])
    return [(a, b, c) for a, b, c in spans]


def execute_video_file(plan: EditPlan, key: str, i: int) -> VideoFileResult:
    """Write output video file ``i`` of ``key`` by stream copy."""
    sp = plan.videos[key]
    f = sp.files[i]
    out = plan.stage_root / layout.video_path(
        key, f.chunk, f.file, plan.info.video_path or layout.DEFAULT_VIDEO_PATH
    )
    spans = video_spans(plan, key, i)
    if len(spans) == 1 and spans[0][1] == 0 and spans[0][2] == int(plan.path_frames[spans[0][0]]):
        with atomic_path(out) as tmp:
            shutil.copyfile(plan.paths[spans[0][0]], tmp)
        return VideoFileResult(key, i, 1, 0, True)
    with atomic_path(out) as tmp:
        try:
            parsed: dict[int, Mp4Source] = {}
            for p, _, _ in spans:
                if p not in parsed:
                    parsed[p] = parse_mp4(Path(plan.paths[p]))
            concat_spans(tmp, [(parsed[p], start, n) for p, start, n in spans], plan.info.fps)
            return VideoFileResult(key, i, len(spans), 0, False)
        except Unsupported as exc:
            log.debug("%s: byte-level copy not possible (%s); copying packet by packet", out, exc)
        reencoded = 0
        copier = PacketCopier(tmp, plan.info.fps)
        try:
            j = 0
            while j < len(spans):  # runs of spans from the same source file: one open, seeks between spans
                p = spans[j][0]
                run = []
                while j < len(spans) and spans[j][0] == p:
                    run.append((spans[j][1], spans[j][2]))
                    j += 1
                reencoded += copy_spans(copier, Path(plan.paths[p]), run, plan.info.features[key].info)
        finally:
            copier.close()
    return VideoFileResult(key, i, len(spans), reencoded, False)


def output_jobs(plan: EditPlan) -> list[tuple[str, Any, int]]:
    """Every output file as ``("data", None, i)`` or ``("video", key, i)``: the unit of parallel work."""
    jobs: list[tuple[str, Any, int]] = [("data", None, i) for i in range(len(plan.data.files))]
    for key, sp in plan.videos.items():
        jobs.extend(("video", key, i) for i in range(len(sp.files)))
    return jobs
