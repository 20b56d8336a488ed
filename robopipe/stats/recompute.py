"""Recompute every statistic of an existing v3.0 dataset: the one stats recipe, on any executor (core).

:func:`recompute_stats` is what the CLI and the stats flow call; the executor (serial, threads, Dask,
Prefect task runs) only decides where the units run. Steps:

1. :func:`plan_recompute` lists the work units (one per data file and per video file).
2. :func:`~robopipe.stats.units.run_unit` per unit: per-episode stats staged under
   ``meta/robopipe/.stats-staging-<id>/``; returns the unit's merged :class:`DatasetStats`.
3. :func:`finalize_episodes_file` per ``meta/episodes`` file: rewrite its ``stats/*`` columns
   (all other columns and LeRobot's list types kept) and its sketch side file, atomically.
4. the unit results are merged in unit order (whatever order they finished in, so every executor gives
   the same bytes) and :func:`write_global` writes ``meta/stats.json``.

Every file is replaced atomically; an interrupted run leaves a loadable dataset (re-run to finish).
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from robopipe.errors import CorruptFileError, FormatError
from robopipe.execution import Done, Executor, SerialExecutor
from robopipe.format import layout, safepath
from robopipe.format.atomic import atomic_path
from robopipe.format.columns import check_location_types
from robopipe.format.episodes import video_columns
from robopipe.format.features import FeatureSpec
from robopipe.format.info import load_info
from robopipe.format.lock import writer_lock
from robopipe.stats.episode import OnNonFinite
from robopipe.stats.io import (
    load_stats_json,
    read_sketch_file,
    sketch_files,
    sketch_path,
    write_sketch_blobs,
    write_stats_json,
)
from robopipe.stats.lerobot_math import QUANTILE_KEYS
from robopipe.stats.units import EpisodeSpan, FrameHook, Unit, UnitObserver, read_staged, run_unit
from robopipe.stats.values import DatasetStats, merge_all

log = logging.getLogger(__name__)
STAT_ORDER = ("min", "max", "mean", "std", "count", *QUANTILE_KEYS)


class StatsRequest(BaseModel):
    """Parameters of ``robopipe stats`` and of the stats flow."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path = Field(description="dataset root (the folder holding meta/info.json)")
    images: bool = Field(default=True, description="recompute image/video stats (decodes sampled frames)")
    skip_nonfinite: bool = Field(default=False, description="ignore NaN/Inf values instead of failing")

    @property
    def on_nonfinite(self) -> OnNonFinite:
        return "skip" if self.skip_nonfinite else "raise"


class StatsReport(BaseModel):
    """What a recompute did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    root: Path
    episodes: int
    frames: int
    data_files: int
    video_files: int
    features: list[str] = Field(description="features whose stats were recomputed")
    kept_features: list[str] = Field(description="image/video features whose old stats were kept")
    seconds: float
    executor: str = Field(description="the executor's name: serial, threads(n), dask:ADDRESS, prefect")


@dataclass(frozen=True)
class EpisodesFile:
    """One ``meta/episodes`` parquet and the episodes it holds."""

    chunk: int
    file: int
    first: int
    last: int


@dataclass(frozen=True)
class Plan:
    """Everything workers need (small and picklable)."""

    root: Path
    fps: int
    features: dict[str, FeatureSpec]
    units: tuple[Unit, ...]
    episodes_files: tuple[EpisodesFile, ...]
    recomputed: tuple[str, ...]
    kept: tuple[str, ...]
    num_episodes: int
    num_frames: int
    staging: Path = field(default=Path())
    images: bool = True
    on_nonfinite: OnNonFinite = "raise"
    observer: UnitObserver | None = None


def plan_recompute(root: Path, *, images: bool = True, on_nonfinite: OnNonFinite = "raise") -> Plan:
    """Work units of a dataset: one per data file, one per (video key, mp4 file)."""
    root = Path(root)
    info = load_info(root)
    safepath.check_tree(root)  # stats are written in place: never through a symlink out of the root
    features = dict(info.features)
    files = layout.sorted_files(root, layout.EPISODES_DIR, ".parquet")
    if not files:
        raise FormatError(f"{root}: no episodes metadata ({layout.EPISODES_DIR}/chunk-*/file-*.parquet)")
    vkeys = [k for k, f in features.items() if f.is_video] if images else []
    needed = ["episode_index", "length", "data/chunk_index", "data/file_index"]
    for k in vkeys:
        needed += list(video_columns(k))
    data_eps: dict[tuple[int, int], list[EpisodeSpan]] = {}
    video_eps: dict[tuple[str, int, int], list[EpisodeSpan]] = {}
    ep_files = []
    n_eps = n_frames = 0
    for f in files:
        try:
            names = pq.read_schema(f).names
            table = pq.read_table(f, columns=[c for c in needed if c in names])
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(f"{f}: unreadable episodes metadata ({exc})") from exc
        required = [c for c in needed if not c.endswith("/to_timestamp")]
        missing = [c for c in required if c not in names]
        if missing:
            raise FormatError(f"{f}: episodes metadata lacks the columns {missing}")
        nulls = [c for c in required if table[c].null_count]
        if nulls:
            raise FormatError(f"{f}: episodes metadata has empty (null) values in {nulls}")
        check_location_types(f, table)
        t = table.to_pydict()
        chunk, file = layout.parse_chunk_file(f)
        idx = t["episode_index"]
        if not idx:
            continue
        ep_files.append(EpisodesFile(chunk, file, min(idx), max(idx)))
        for i, ep in enumerate(idx):
            length = int(t["length"][i])
            n_eps += 1
            n_frames += length
            data_eps.setdefault((t["data/chunk_index"][i], t["data/file_index"][i]), []).append(
                EpisodeSpan(ep, length)
            )
            for k in vkeys:
                c_chunk, c_file, c_from, c_to = video_columns(k)
                if c_from not in t:
                    raise FormatError(f"{f}: column {c_from!r} missing for video feature {k!r}")
                start = float(t[c_from][i])
                end = float(t[c_to][i]) if c_to in t and t[c_to][i] is not None else start + length / info.fps
                video_eps.setdefault((k, t[c_chunk][i], t[c_file][i]), []).append(
                    EpisodeSpan(ep, length, start, end)
                )
    order = [e.index for spans in data_eps.values() for e in spans]
    if sorted(order) != list(range(n_eps)) or (n_eps, n_frames) != (info.total_episodes, info.total_frames):
        raise FormatError(
            f"{root}: meta/episodes holds {n_eps} episode(s) / {n_frames} frame(s) (episodes "
            f"{'0..n-1' if sorted(order) == list(range(n_eps)) else 'not numbered 0..n-1'}), info.json says "
            f"total_episodes={info.total_episodes}, total_frames={info.total_frames}; run `robopipe validate {root}`"
        )
    units: list[Unit] = []
    for (c, fi), eps in sorted(data_eps.items()):
        units.append(Unit(len(units), "data", layout.data_path(c, fi, info.data_path), tuple(eps)))
    vtemplate = info.video_path or layout.DEFAULT_VIDEO_PATH
    for (k, c, fi), eps in sorted(video_eps.items()):
        units.append(Unit(len(units), "video", layout.video_path(k, c, fi, vtemplate), tuple(eps), key=k))
    visual = [k for k, f in features.items() if f.is_visual]
    recomputed = [k for k, f in features.items() if not f.is_text and (images or not f.is_visual)]
    kept = [] if images else visual
    meta = root / layout.ROBOPIPE_META_DIR
    stale = sorted(meta.glob(".stats-staging-*")) if meta.is_dir() else []
    if stale:
        log.warning(
            "%s: leftover staging folders of an interrupted stats run (safe to delete): %s",
            root,
            ", ".join(p.name for p in stale),
        )
    staging = meta / f".stats-staging-{uuid.uuid4().hex[:12]}"
    return Plan(
        root,
        info.fps,
        features,
        tuple(units),
        tuple(ep_files),
        tuple(recomputed),
        tuple(kept),
        n_eps,
        n_frames,
        staging,
        images,
        on_nonfinite,
    )


class _Aligner:
    """Puts staged columns in the episodes file's row order (one permutation per set of tables)."""

    def __init__(self, tables: list[pa.Table], order: np.ndarray, where: Path) -> None:
        self.tables = tables
        self.order = order
        self.where = where
        self.eps = [t["episode_index"].to_numpy() for t in tables]
        self._perm: dict[tuple[int, ...], np.ndarray | None] = {}

    def column(self, name: str) -> pa.ChunkedArray | None:
        """``name`` for every episode of ``order`` (None when no staged table has it)."""
        ids = tuple(i for i, t in enumerate(self.tables) if name in t.column_names)
        if not ids:
            return None
        typ = self.tables[ids[0]][name].type
        chunks = [c for i in ids for c in self.tables[i][name].chunks]
        values = pa.chunked_array([c if c.type == typ else c.cast(typ) for c in chunks], type=typ)
        if ids not in self._perm:
            eps = np.concatenate([self.eps[i] for i in ids])
            if np.array_equal(eps, self.order):
                self._perm[ids] = None
            else:
                srt = np.argsort(eps, kind="stable")
                pos = np.minimum(np.searchsorted(eps[srt], self.order), len(eps) - 1)
                if not np.array_equal(eps[srt][pos], self.order):
                    missing = self.order[eps[srt][pos] != self.order][:10].tolist()
                    raise FormatError(
                        f"{self.where}: no recomputed {name!r} for episodes {missing} (data/video file missing?)"
                    )
                self._perm[ids] = srt[pos]
        perm = self._perm[ids]
        return values if perm is None else values.take(pa.array(perm))


def finalize_episodes_file(plan: Plan, ep_file: EpisodesFile) -> int:
    """Rewrite one episodes file's ``stats/*`` columns and its sketch side file; returns #episodes."""
    path = plan.root / layout.episodes_path(ep_file.chunk, ep_file.file)
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(f"{path}: unreadable episodes metadata ({exc})") from exc
    staged = read_staged(plan.staging, plan.units, ep_file.first, ep_file.last)
    order = table["episode_index"].to_numpy()
    new_cols: dict[str, pa.ChunkedArray] = {}
    aligner = _Aligner(staged, order, path)
    for feat in plan.recomputed:
        for stat in STAT_ORDER:
            name = f"stats/{feat}/{stat}"
            col = aligner.column(name)
            if col is not None:
                new_cols[name] = col
    names = list(table.column_names)
    arrays = [new_cols.pop(n) if n in new_cols else table[n] for n in names]
    tail = [i for i, n in enumerate(names) if n.startswith("meta/episodes/")]
    at = tail[0] if tail else len(names)
    for n, a in new_cols.items():  # stats columns the file did not have yet
        names.insert(at, n)
        arrays.insert(at, a)
        at += 1
    out = pa.Table.from_arrays(arrays, names=names)
    if table.schema.metadata:
        same = out.schema.equals(table.schema.remove_metadata())
        meta = (
            table.schema.metadata
            if same
            else {k: v for k, v in table.schema.metadata.items() if k != b"huggingface"}
        )
        out = out.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        # LeRobot flushes 10 rows per row group while recording; readers do not depend on it, and
        # large row groups make rewriting a 100k-episode file fast.
        pq.write_table(out, tmp, row_group_size=1000, compression="snappy")
    _write_sketches(plan, ep_file, staged, order)
    return len(order)


def _write_sketches(plan: Plan, ep_file: EpisodesFile, staged: list[pa.Table], order: np.ndarray) -> None:
    blobs: dict[int, list[bytes]] = {}
    for t in staged:
        for i, b in zip(t["episode_index"].to_pylist(), t["sketch"].to_pylist()):
            blobs.setdefault(i, []).append(b)
    old: dict[int, DatasetStats] = {}
    if plan.kept:  # keep old image/video sketches when images are not recomputed
        old_path = sketch_path(plan.root, ep_file.chunk, ep_file.file)
        old = read_sketch_file(old_path) if old_path.is_file() else {}
    rows = []
    for i in order.tolist():
        parts = blobs.get(i, [])
        keep = {k: old[i][k] for k in plan.kept if i in old and k in old[i]}
        if len(parts) == 1 and not keep:
            rows.append((i, parts[0]))
            continue
        merged = merge_all([DatasetStats.from_bytes(p) for p in parts] + [DatasetStats(keep)])
        rows.append((i, merged.to_bytes()))
    write_sketch_blobs(plan.root, ep_file.chunk, ep_file.file, rows)


def write_global(plan: Plan, total: DatasetStats) -> None:
    """Write ``meta/stats.json`` (kept features copied from the old file) and drop stale sketch files."""
    out: dict[str, Mapping[str, Any]] = dict(total.to_lerobot())
    if plan.kept:
        old = load_stats_json(plan.root) or {}
        out.update({k: old[k] for k in plan.kept if k in old})  # else: rebuilt from the kept sketches
    ordered = {k: out[k] for k in plan.features if k in out}
    write_stats_json(plan.root, ordered)
    live = {sketch_path(plan.root, e.chunk, e.file) for e in plan.episodes_files}
    for p in sketch_files(plan.root):
        if p not in live:
            p.unlink(missing_ok=True)


def kept_sketches(plan: Plan) -> DatasetStats:
    """Merged old sketches of the kept (not recomputed) features, when the dataset has them."""
    if not plan.kept:
        return DatasetStats.empty()
    parts = []
    for p in sketch_files(plan.root):
        for s in read_sketch_file(p).values():
            parts.append(DatasetStats({k: s[k] for k in plan.kept if k in s}))
    return merge_all(parts)


def cleanup(plan: Plan) -> None:
    shutil.rmtree(plan.staging, ignore_errors=True)


def stats_unit(plan: Plan, unit: Unit) -> DatasetStats:
    """Unit of work: one data/video file -> staged per-episode results + the file's merged stats.

    ``plan.observer`` (e.g. the quality signals) sees the unit too, in the same decode.
    """

    def run(hook: FrameHook | None) -> DatasetStats:
        return run_unit(
            plan.root,
            unit,
            plan.features,
            plan.fps,
            plan.staging,
            images=plan.images,
            on_nonfinite=plan.on_nonfinite,
            on_frame=hook,
        )

    return run(None) if plan.observer is None else plan.observer.run(unit, run)


def finalize_unit(plan: Plan, ep_file: EpisodesFile) -> int:
    """Unit of work: rewrite one ``meta/episodes`` file from the staged rows."""
    return finalize_episodes_file(plan, ep_file)


def recompute_stats(
    request: StatsRequest,
    executor: Executor | None = None,
    progress: Callable[[int], None] | None = None,
    observer: UnitObserver | None = None,
) -> StatsReport:
    """The stats recipe: every file's stats on ``executor`` (default: serial), merged, written atomically.

    ``progress(n)`` is called with the frames of every finished file, in completion order. Holds the
    root's writer lock. ``observer`` sees every unit in the same pass (the quality signals use it).
    """
    with writer_lock(request.root):
        return _recompute_stats(request, executor or SerialExecutor(), progress, observer)


def _recompute_stats(
    request: StatsRequest,
    executor: Executor,
    progress: Callable[[int], None] | None,
    observer: UnitObserver | None = None,
) -> StatsReport:
    t0 = time.perf_counter()
    plan = plan_recompute(request.root, images=request.images, on_nonfinite=request.on_nonfinite)
    if observer is not None:
        plan = dataclasses.replace(plan, observer=observer)
    plan.staging.mkdir(parents=True, exist_ok=True)

    def done(d: Done[DatasetStats]) -> None:
        if progress is not None:
            progress(plan.units[d.index].frames)

    try:
        units = executor.map(
            stats_unit, plan, plan.units, weights=[u.frames for u in plan.units], label="stats-file"
        )
        results = units.results(done)  # unit order: the merge does not depend on completion order
        total = merge_all([*results, kept_sketches(plan)])
        executor.map(finalize_unit, plan, plan.episodes_files, label="stats-finalize-file").results()
        write_global(plan, total)
    finally:
        cleanup(plan)
    return make_report(plan, time.perf_counter() - t0, executor.name)


def make_report(plan: Plan, seconds: float, executor: str) -> StatsReport:
    return StatsReport(
        root=plan.root,
        episodes=plan.num_episodes,
        frames=plan.num_frames,
        data_files=sum(u.kind == "data" for u in plan.units),
        video_files=sum(u.kind == "video" for u in plan.units),
        features=list(plan.recomputed),
        kept_features=list(plan.kept),
        seconds=round(seconds, 3),
        executor=executor,
    )
