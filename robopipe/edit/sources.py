"""Metadata of one input dataset, loaded once and vectorised for planning (core layer).

Everything the planner needs about an input is read here without touching frames: ``info.json``,
tasks, the episodes table (Arrow, all columns, so per-episode stats and extra metadata carry over),
per-file sizes and frame counts, and the robopipe stats sketches when present.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from robopipe import stats as rstats
from robopipe.errors import CorruptFileError, FormatError
from robopipe.format import layout, safepath
from robopipe.format.columns import check_data_file, check_location_types
from robopipe.format.episodes import video_columns
from robopipe.format.info import DatasetInfo, load_info
from robopipe.format.tasks import load_tasks

log = logging.getLogger(__name__)


@dataclass
class FileIndex:
    """Per-episode location of one stream (data, or one video key) inside its source files."""

    paths: list[str]  # distinct source files (absolute)
    file_of: np.ndarray  # episode -> index into paths
    offset: np.ndarray  # episode -> first row/frame inside its file
    file_frames: np.ndarray  # per file: rows/frames of all its episodes
    file_bytes: np.ndarray  # per file: on-disk size


@dataclass
class Source:
    """One input dataset's metadata."""

    root: Path
    info: DatasetInfo
    tasks: list[str]
    episodes: pa.Table  # full meta/episodes rows, row i = episode i (meta/episodes/* columns dropped)
    lengths: np.ndarray
    data: FileIndex
    videos: dict[str, FileIndex] = field(default_factory=dict)
    # robopipe stats sketches: file paths and, per episode, the index of the file holding its sketch
    # (None when any episode lacks one). Only episode indices are read here; workers read the sketches.
    sketch_files: list[str] | None = None
    sketch_file_of: np.ndarray | None = None

    @property
    def num_episodes(self) -> int:
        return len(self.lengths)


LOCATION_COLUMNS = ("episode_index", "length", "data/chunk_index", "data/file_index")


def _read_episodes(root: Path) -> pa.Table:
    files = layout.sorted_files(root, layout.EPISODES_DIR, ".parquet")
    if not files:
        raise FormatError(f"{root}: no episodes metadata ({layout.EPISODES_DIR}/chunk-*/file-*.parquet)")
    tables = []
    for f in files:
        try:
            tables.append(pq.ParquetFile(f).read())
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(
                f"{f}: unreadable parquet ({exc}); restore the file or re-run `robopipe repair`"
            ) from exc
    table = pa.concat_tables(tables, promote_options="permissive")
    drop = [c for c in ("meta/episodes/chunk_index", "meta/episodes/file_index") if c in table.column_names]
    return table.drop_columns(drop)


def _indices(root: Path, table: pa.Table, name: str) -> np.ndarray:
    """An index column as int64, refusing nulls and values outside ``0..MAX_INDEX``."""
    col = table[name]
    if col.null_count or not (pa.types.is_integer(col.type)):
        raise FormatError(
            f"{root}: meta/episodes column {name!r} must hold integers without nulls ({col.type})"
        )
    arr = col.to_numpy().astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() > safepath.MAX_INDEX):
        raise FormatError(f"{root}: meta/episodes column {name!r} has values outside 0..{safepath.MAX_INDEX}")
    return arr


def _index_stream(
    root: Path,
    table: pa.Table,
    chunk_col: str,
    file_col: str,
    template: str,
    lengths: np.ndarray,
    start: np.ndarray | None,
    fmt: dict[str, str],
) -> FileIndex:
    """Vectorised: group episodes by (chunk, file), row offsets by cumulative lengths (or video start frames)."""
    chunk = _indices(root, table, chunk_col)
    file = _indices(root, table, file_col)
    key = chunk * 1_000_000 + file
    uniq, inv = np.unique(key, return_inverse=True)
    frames = np.bincount(inv, weights=lengths, minlength=len(uniq)).astype(np.int64)
    if start is None:
        # rows of a data file are its episodes in episode order: offset = lengths of earlier episodes there
        order = np.argsort(inv, kind="stable")
        cum = np.cumsum(lengths[order]) - lengths[order]
        first_cum = np.zeros(len(uniq), dtype=np.int64)
        sorted_inv = inv[order]
        is_first = np.r_[True, sorted_inv[1:] != sorted_inv[:-1]]
        first_cum[sorted_inv[is_first]] = cum[is_first]
        offset = np.empty_like(lengths)
        offset[order] = cum - first_cum[sorted_inv]
    else:
        # a video file's frame count is where its last episode ends (LeRobot files hold nothing else)
        offset = start
        ends = np.zeros(len(uniq), dtype=np.int64)
        np.maximum.at(ends, inv, start + lengths)
        frames = ends
    paths = [
        str(safepath.inside(root, _rel(template, int(k // 1_000_000), int(k % 1_000_000), fmt))) for k in uniq
    ]
    sizes = np.zeros(len(paths), dtype=np.int64)
    for i, p in enumerate(paths):
        try:
            sizes[i] = Path(p).stat().st_size
        except OSError as exc:
            raise FormatError(f"{root}: {p} is referenced by meta/episodes but missing ({exc})") from exc
    return FileIndex(paths, inv.astype(np.int64), offset.astype(np.int64), frames, sizes)


def _rel(template: str, chunk: int, file: int, fmt: dict[str, str]) -> str:
    if "video_key" in fmt:
        return layout.video_path(fmt["video_key"], chunk, file, template)
    return layout.data_path(chunk, file, template)


def load_source(root: str | Path) -> Source:
    """Read everything the planner needs from one dataset (no frame data)."""
    root = Path(root)
    info = load_info(root)
    tasks = load_tasks(root)
    table = _read_episodes(root)
    n = table.num_rows
    if n != info.total_episodes:
        raise FormatError(
            f"{root}: info.json total_episodes={info.total_episodes}, meta/episodes has {n} rows"
        )
    missing = [c for c in LOCATION_COLUMNS if c not in table.column_names]
    if missing:
        raise FormatError(f"{root}: meta/episodes lacks the columns {missing}")
    nulls = [c for c in LOCATION_COLUMNS if table[c].null_count]
    if nulls:
        raise FormatError(f"{root}: meta/episodes has empty (null) values in {nulls}")
    check_location_types(root, table)
    ep = table["episode_index"].to_numpy()
    if not np.array_equal(ep, np.arange(n)):
        raise FormatError(f"{root}: meta/episodes rows must be episodes 0..{n - 1} in order")
    lengths = table["length"].to_numpy().astype(np.int64)
    if lengths.size and (lengths.min() < 0 or int(lengths.sum()) != info.total_frames):
        raise FormatError(
            f"{root}: meta/episodes lengths sum to {int(lengths.sum())} frames, info.json total_frames="
            f"{info.total_frames}"
        )
    data = _index_stream(
        root, table, "data/chunk_index", "data/file_index", info.data_path, lengths, None, {}
    )
    for path in data.paths:  # footers only: types and per-frame sizes against info.json
        check_data_file(path, info.features)
    videos = {}
    for key, spec in info.features.items():
        if not spec.is_video:
            continue
        c_chunk, c_file, c_from, _ = video_columns(key)
        missing = [c for c in (c_chunk, c_file, c_from) if c not in table.column_names]
        if missing:
            raise FormatError(f"{root}: meta/episodes lacks {missing} for video feature {key!r}")
        start = np.rint(pc.fill_null(table[c_from], 0.0).to_numpy() * info.fps).astype(np.int64)
        videos[key] = _index_stream(
            root,
            table,
            c_chunk,
            c_file,
            info.video_path or layout.DEFAULT_VIDEO_PATH,
            lengths,
            start,
            {"video_key": key},
        )
    files, file_of = _sketch_index(root, n)
    return Source(root, info, tasks, table, lengths, data, videos, files, file_of)


def _sketch_index(root: Path, n: int) -> tuple[list[str] | None, np.ndarray | None]:
    """Which sketch file holds each episode's sketch (reads only the ``episode_index`` columns)."""
    paths = rstats.sketch_files(root)
    if not paths or n == 0:
        return None, None
    file_of = np.full(n, -1, dtype=np.int64)
    for i, p in enumerate(paths):
        try:
            eps = pq.ParquetFile(p).read(columns=["episode_index"])["episode_index"].to_numpy()
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(
                f"{p}: unreadable sketch file ({exc}); recompute with `robopipe stats {root}`"
            ) from exc
        eps = eps[(eps >= 0) & (eps < n)]
        file_of[eps] = i
    missing = int((file_of < 0).sum())
    if missing:
        log.warning(
            "%s: stats sketches missing for %d of %d episodes; using per-episode stats columns",
            root,
            missing,
            n,
        )
        return None, None
    return [str(p) for p in paths], file_of
