"""Assemble a LeRobotDataset v3.0 from already-encoded episodes, by stream copy (core layer).

Used to port LeRobot v2.1 datasets (shards are merged by ``robopipe.edit``'s merge): data rows are
re-indexed and appended to size-limited parquet files, video spans are stream-copied with
:class:`~robopipe.format.video.VideoFileAppender` (no decode, no re-encode), per-episode stats are carried
over and aggregated into ``stats.json`` with LeRobot 0.4.4's rules. Rollover: an episode that would
push a file over its size limit starts the *next* file (it never goes into the old one).
``info.json`` is written last, so an interrupted assembly never looks like a finished dataset.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import MergeError
from robopipe.format import layout
from robopipe.format.episodes import (
    flatten_stats,
    video_columns,
    write_episodes_file,
)
from robopipe.format.features import DEFAULT_FEATURES, FeatureSpec, arrow_type, with_default_features
from robopipe.format.frames import hf_schema_metadata
from robopipe.format.info import DatasetInfo, write_info
from robopipe.format.rolling import RollingFiles
from robopipe.format.tasks import write_tasks
from robopipe.format.video import VideoFileAppender, probe_video
from robopipe.stats import compute_episode_stats, write_stats_json
from robopipe.stats.lerobot_aggregate import aggregate_episode_stats

log = logging.getLogger(__name__)

MB = 1024 * 1024
ASSEMBLING_MARKER = "meta/robopipe/assembling"
_DEFAULT_KEYS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


@dataclass(frozen=True)
class VideoSpan:
    """Frames ``[start_frame, start_frame + num_frames)`` of an mp4, all keyframe-aligned at the start."""

    path: Path
    start_frame: int
    num_frames: int
    size_bytes: float  # estimated on-disk size of the span (for rollover)


class DatasetAssembler:
    """Append encoded episodes to a new dataset at ``out``; call :meth:`finalize` to commit it."""

    def __init__(
        self,
        out: Path,
        *,
        fps: int,
        features: Mapping[str, FeatureSpec],
        robot_type: str | None,
        data_files_size_in_mb: float = layout.DEFAULT_DATA_FILE_SIZE_IN_MB,
        video_files_size_in_mb: float = layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB,
        chunks_size: int = layout.DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.out = Path(out)
        if (self.out / layout.INFO_PATH).exists():
            raise MergeError(f"{self.out}: a dataset already exists here; choose another output")
        if self.out.exists() and any(self.out.iterdir()):
            if not (self.out / ASSEMBLING_MARKER).exists():
                raise MergeError(
                    f"{self.out}: directory is not empty and is not an interrupted robopipe output"
                )
            shutil.rmtree(self.out)  # leftovers of an interrupted assembly: start again
        (self.out / ASSEMBLING_MARKER).parent.mkdir(parents=True, exist_ok=True)
        (self.out / ASSEMBLING_MARKER).write_text("1")
        self.fps = fps
        self.features = with_default_features(dict(features))
        self.robot_type = robot_type
        self.data_limit = data_files_size_in_mb
        self.video_limit = video_files_size_in_mb
        self.chunks_size = chunks_size
        self.video_keys = [k for k, f in self.features.items() if f.is_video]
        self.columns = [k for k, f in self.features.items() if not f.is_video]
        self.schema = pa.schema(
            [pa.field(k, arrow_type(self.features[k], k)) for k in self.columns],
            metadata=hf_schema_metadata(self.features),
        )
        self.tasks: list[str] = []
        self._task_index: dict[str, int] = {}
        self.rows: list[dict[str, Any]] = []
        self.total_frames = 0
        # data rolls over by uncompressed size (as LeRobot's converter measures it), videos by bytes written
        self._data = RollingFiles(
            lambda c, f: self.out / layout.data_path(c, f), chunks_size, data_files_size_in_mb * MB
        )
        self._videos = {
            key: RollingFiles(
                lambda c, f, key=key: self.out / layout.video_path(key, c, f),  # type: ignore[misc]
                chunks_size,
                video_files_size_in_mb * MB,
                measure=lambda f: f.writer.size_bytes,
            )
            for key in self.video_keys
        }
        self._video_info: dict[str, dict[str, Any]] = {}

    def task_index(self, task: str) -> int:
        if task not in self._task_index:
            self._task_index[task] = len(self.tasks)
            self.tasks.append(task)
        return self._task_index[task]

    def add_episode(
        self,
        table: pa.Table,
        row_tasks: Sequence[str],
        videos: Mapping[str, VideoSpan],
        stats: Mapping[str, Mapping[str, np.ndarray]] | None,
        metadata: Mapping[str, Any] | None = None,
    ) -> int:
        """Append one episode: its data rows (any index columns are rewritten), per-row tasks, video spans."""
        ep = len(self.rows)
        n = table.num_rows
        missing = [k for k in self.video_keys if k not in videos]
        if missing or n == 0:
            raise MergeError(f"episode {ep}: {'no rows' if n == 0 else f'missing video spans {missing}'}")
        task_idx = np.asarray([self.task_index(t) for t in row_tasks], dtype=np.int64)
        first = self.total_frames
        cols = {
            "timestamp": pa.array((np.arange(n) / self.fps).astype(np.float32)),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "episode_index": pa.array(np.full(n, ep, dtype=np.int64)),
            "index": pa.array(np.arange(first, first + n, dtype=np.int64)),
            "task_index": pa.array(task_idx),
        }
        arrays = []
        for field in self.schema:
            if field.name in cols:
                arrays.append(cols[field.name])
            elif field.name in table.column_names:
                arrays.append(table[field.name].combine_chunks().cast(field.type))
            else:
                raise MergeError(f"episode {ep}: source rows lack column {field.name!r}")
        out_table = pa.Table.from_arrays(arrays, schema=self.schema)
        row: dict[str, Any] = {"episode_index": ep, "tasks": list(dict.fromkeys(row_tasks)), "length": n}
        row.update(self._write_data(out_table))
        row["dataset_from_index"], row["dataset_to_index"] = first, first + n
        for key in self.video_keys:
            row.update(self._write_video(key, videos[key], n))
        row.update(dict(metadata or {}))
        full_stats = {k: dict(v) for k, v in (stats or {}).items()}
        full_stats.update(_default_stats(out_table))
        row["_stats"] = full_stats
        self.rows.append(row)
        self.total_frames += n
        return ep

    def _write_data(self, table: pa.Table) -> dict[str, int]:
        d = self._data.file_for(
            table.nbytes, lambda tmp: pq.ParquetWriter(tmp, self.schema, compression="snappy")
        )
        d.writer.write_table(table, row_group_size=max(table.num_rows, 1))
        d.episodes += 1
        d.size += table.nbytes
        return {"data/chunk_index": d.chunk, "data/file_index": d.file}

    def _write_video(self, key: str, span: VideoSpan, n: int) -> dict[str, Any]:
        if span.num_frames != n:
            raise MergeError(
                f"{span.path}: video span has {span.num_frames} frames, data has {n} rows ({key})"
            )
        v = self._videos[key].file_for(span.size_bytes, lambda tmp: VideoFileAppender(tmp, self.fps))
        start, count = v.writer.append(span.path, span.start_frame, span.num_frames)
        v.episodes += 1
        if key not in self._video_info:
            self._video_info[key] = probe_video(span.path).lerobot_info()
        c, f, a, b = video_columns(key)
        return {c: v.chunk, f: v.file, a: start / self.fps, b: (start + count) / self.fps}

    def finalize(self) -> DatasetInfo:
        """Close files, write episodes metadata, tasks, stats and finally ``info.json``."""
        if not self.rows:
            raise MergeError(f"{self.out}: no episodes to write")
        self._data.close()
        for files in self._videos.values():
            files.close()
        rows = []
        all_stats = []
        for r in self.rows:
            st = r.pop("_stats")
            all_stats.append(st)
            rows.append({**r, **flatten_stats(st)})
        episodes_file = write_episodes_file(self.out, 0, 0, rows)
        write_tasks(self.out, self.tasks)
        # Carried-over v2.1 stats have no sketches: aggregate them with LeRobot's rule (exact
        # mean/std/min/max, count-weighted quantiles).
        write_stats_json(self.out, aggregate_episode_stats(pq.read_table(episodes_file)))
        feats = dict(self.features)
        for key, vinfo in self._video_info.items():
            feats[key] = feats[key].model_copy(update={"info": vinfo})
        info = DatasetInfo(
            fps=self.fps,
            robot_type=self.robot_type,
            total_episodes=len(rows),
            total_frames=self.total_frames,
            total_tasks=len(self.tasks),
            chunks_size=self.chunks_size,
            data_files_size_in_mb=self.data_limit,
            video_files_size_in_mb=self.video_limit,
            splits={"train": f"0:{len(rows)}"},
            video_path=layout.DEFAULT_VIDEO_PATH if self.video_keys else None,
            features=feats,
        )
        write_info(self.out, info)
        (self.out / ASSEMBLING_MARKER).unlink(missing_ok=True)
        return info


def _default_stats(table: pa.Table) -> dict[str, dict[str, np.ndarray]]:
    """Stats of the five index columns after re-indexing (the carried-over ones would be stale)."""
    cols = {k: table[k].to_numpy() for k in _DEFAULT_KEYS}
    return compute_episode_stats(cols, {k: DEFAULT_FEATURES[k] for k in _DEFAULT_KEYS})


def _jsonable(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, Any]:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}


_FRAMES_CACHE: dict[tuple[Path, float], int] = {}


def probe_frames(path: Path) -> int:
    key = (path, path.stat().st_mtime)
    if key not in _FRAMES_CACHE:
        _FRAMES_CACHE[key] = probe_video(path).num_frames
    return _FRAMES_CACHE[key]
