"""Metadata of an edited dataset: episodes parquet, tasks, stats, info, then the atomic commit (core layer).

Per-episode rows are carried over from the inputs as Arrow columns (``take`` + rename, vectorised),
with the location/offset columns replaced by the plan's and the stats of the renumbered columns
(``episode_index``, ``index``, ``task_index``) replaced by the recomputed ones. Columns of removed
features (``videos/<k>/*``, ``stats/<k>/*``) are dropped, unlike LeRobot's tools.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe import stats as rstats
from robopipe.edit.execute import DataFileResult
from robopipe.edit.leftovers import backup_dir_for
from robopipe.edit.plan import EditPlan
from robopipe.edit.sources import Source
from robopipe.edit.stats_merge import merge_many
from robopipe.errors import DatasetExistsError, FormatError
from robopipe.format import layout
from robopipe.format.atomic import atomic_path, fsync_dir
from robopipe.format.episodes import episodes_table, flatten_stats, video_columns
from robopipe.format.info import write_info
from robopipe.format.tasks import write_tasks
from robopipe.stats.lerobot_aggregate import aggregate_episode_stats

log = logging.getLogger(__name__)

StatsSource = Literal["sketches", "episode-stats", "none"]


def _rename_column(name: str, rename: dict[str, str], drop: set[str]) -> str | None:
    parts = name.split("/")
    if len(parts) >= 3 and parts[0] in ("stats", "videos"):
        feature = "/".join(parts[1:-1])
        if feature in drop:
            return None
        return "/".join([parts[0], rename.get(feature, feature), parts[-1]])
    return name


def _carried_rows(plan: EditPlan, sources: Sequence[Source]) -> pa.Table:
    """Source episode rows of every output episode, in output order, renamed and filtered."""
    drop = set(plan.drop)
    parts = []
    bounds: list[int] = np.flatnonzero(np.r_[True, plan.src_id[1:] != plan.src_id[:-1]]).tolist()
    ends = [*bounds[1:], plan.num_episodes]
    for a, b in zip(bounds, ends):
        src = sources[int(plan.src_id[a])]
        t = src.episodes.take(pa.array(plan.src_ep[a:b]))
        keep, names = [], []
        for c in t.column_names:
            new = _rename_column(c, plan.rename, drop)
            if new is not None:
                keep.append(c)
                names.append(new)
        parts.append(t.select(keep).rename_columns(names))
    if not parts:
        raise FormatError("the edit keeps no episode; an empty dataset cannot be written")
    try:
        return pa.concat_tables(parts, promote_options="permissive")
    except pa.ArrowInvalid as exc:
        raise FormatError(f"inputs' meta/episodes columns have incompatible types: {exc}") from exc


def _set(table: pa.Table, name: str, values: pa.Array | np.ndarray) -> pa.Table:
    arr = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
    i = table.schema.get_field_index(name)
    return table.set_column(i, name, arr) if i >= 0 else table.append_column(name, arr)


def build_episodes(
    plan: EditPlan, sources: Sequence[Source], data_results: Sequence[DataFileResult]
) -> pa.Table:
    """The output ``meta/episodes`` rows (without the ``meta/episodes/*`` location columns)."""
    t = _carried_rows(plan, sources)
    n = plan.num_episodes
    t = _set(t, "episode_index", np.arange(n, dtype=np.int64))
    t = _set(t, "tasks", plan.episode_tasks)
    t = _set(t, "length", plan.length)
    chunk = np.zeros(n, np.int64)
    file = np.zeros(n, np.int64)
    for f in plan.data.files:
        chunk[f.start : f.stop], file[f.start : f.stop] = f.chunk, f.file
    t = _set(t, "data/chunk_index", chunk)
    t = _set(t, "data/file_index", file)
    t = _set(t, "dataset_from_index", plan.index_from)
    t = _set(t, "dataset_to_index", plan.index_from + plan.length)
    for key, sp in plan.videos.items():
        chunk = np.zeros(n, np.int64)
        file = np.zeros(n, np.int64)
        for f in sp.files:
            chunk[f.start : f.stop], file[f.start : f.stop] = f.chunk, f.file
        c_chunk, c_file, c_from, c_to = video_columns(key)
        t = _set(t, c_chunk, chunk)
        t = _set(t, c_file, file)
        t = _set(t, c_from, sp.out_offset / plan.info.fps)
        t = _set(t, c_to, (sp.out_offset + plan.length) / plan.info.fps)
    by_ep = sorted((r for d in data_results for r in d.index_stats), key=lambda r: r.episode)
    if [r.episode for r in by_ep] != list(range(n)):
        raise FormatError(f"internal: index stats cover {len(by_ep)} of {n} episodes")
    stats_tab = episodes_table([flatten_stats(r.lerobot) for r in by_ep])
    for name in stats_tab.column_names:
        t = _set(t, name, stats_tab[name])
    return t


def _episodes_file_rows(table: pa.Table, limit_mb: float) -> int:
    per_row = max(table.nbytes / max(table.num_rows, 1), 1.0)
    return max(1, int(limit_mb * 1024 * 1024 / per_row))


def write_metadata(
    plan: EditPlan, sources: Sequence[Source], data_results: Sequence[DataFileResult], label: str | Path = ""
) -> StatsSource:
    """Write episodes metadata, tasks, stats.json and finally info.json into the stage root.

    The per-episode sketch side files were written next to each data file by the data jobs; their
    merged partials (one per data file) are combined here in one k-way merge.
    """
    root = plan.stage_root
    table = build_episodes(plan, sources, data_results)
    # like LeRobot's aggregate: episodes metadata rolls over at the default data size, not the user's limit
    rows_per_file = _episodes_file_rows(table, layout.DEFAULT_DATA_FILE_SIZE_IN_MB)
    chunk = file = 0
    for start in range(0, table.num_rows, rows_per_file):
        part = table.slice(start, rows_per_file)
        part = part.append_column("meta/episodes/chunk_index", pa.array(np.full(len(part), chunk, np.int64)))
        part = part.append_column("meta/episodes/file_index", pa.array(np.full(len(part), file, np.int64)))
        with atomic_path(root / layout.episodes_path(chunk, file)) as tmp:
            pq.write_table(part, tmp, row_group_size=100, compression="snappy")
        chunk, file = layout.next_chunk_file(chunk, file, plan.info.chunks_size)
    write_tasks(root, plan.tasks)
    source: StatsSource
    partials = [d.stats for d in sorted(data_results, key=lambda d: d.file)]
    if partials and all(p is not None for p in partials):
        rstats.write_stats_json(root, merge_many(p for p in partials if p is not None))
        source = "sketches"
    else:
        log.warning(
            "%s: some inputs have no robopipe stats sketches (written by LeRobot); stats.json is LeRobot's "
            "count-weighted aggregation of the per-episode stats: mean/std/min/max exact, quantiles approximate",
            label or root,
        )
        rstats.write_stats_json(root, aggregate_episode_stats(table))
        source = "episode-stats"
    write_info(root, plan.info)  # last: the dataset is complete once info.json exists
    return source


def commit_output(stage: Path, out: Path, *, in_place: bool = False) -> None:
    """Move the finished stage root to ``out``; with ``in_place`` the old root is kept aside until then."""
    if not in_place:
        if out.exists():
            raise DatasetExistsError(f"{out}: already exists; choose a new --out or remove it")
        os.replace(stage, out)
        fsync_dir(out.parent)
        return
    backup = backup_dir_for(out)
    os.replace(out, backup)
    try:
        os.replace(stage, out)
    except BaseException:
        os.replace(backup, out)
        raise
    fsync_dir(out.parent)
    shutil.rmtree(backup)
    log.info("%s: replaced in place (backup removed after success)", out)
