"""Write LeRobotDataset v3.0 datasets: create, add frames or whole episodes, resume, finalize (core layer).

Design (why it is crash-safe and fast):

* Camera frames go straight into one streaming encoder per camera (:class:`SegmentEncoder`), which
  writes a per-episode mp4 segment in the staging folder ``<root>/.staging/``; no PNG round trip.
* ``save_episode`` stages the episode (data parquet + segments + a ``row.json`` commit marker, then an
  atomic directory rename), then appends it to the dataset's *open* files: the data parquet (one row
  group per episode) and one mp4 per camera (stream copy). Open files live under temporary names.
* ``flush``/``finalize`` close the open files (renamed to their final names), write the episodes
  metadata, tasks, stats and finally ``info.json`` (the commit point), then drop the staged copies.
* After a crash (exception, Ctrl-C, ``kill -9``) every saved episode is still in the staging folder:
  :meth:`DatasetWriter.open` (or ``robopipe repair``) replays them and the dataset loads again.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import uuid
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe import stats as rstats
from robopipe.errors import DatasetExistsError, FormatError, FrameError, SchemaMismatchError
from robopipe.format import layout, safepath
from robopipe.format.atomic import atomic_write_text, remove_stale_tmp_files
from robopipe.format.depth import DepthEncoderConfig
from robopipe.format.episodes import (
    flatten_stats,
    load_episodes,
    stats_from_row,
    video_columns,
    write_episodes_file,
)
from robopipe.format.features import FeatureSpec, parse_features, validate_feature_key, with_default_features
from robopipe.format.frames import EpisodeBuffer, check_value
from robopipe.format.info import DatasetInfo, load_info, write_info
from robopipe.format.lock import WriterLock, acquire
from robopipe.format.rolling import RollingFiles
from robopipe.format.tasks import load_tasks, write_tasks
from robopipe.format.video import (
    EncodedVideo,
    PacketSegmentWriter,
    SegmentEncoder,
    VideoEncoderConfig,
    VideoFileAppender,
    probe_video,
)
from robopipe.stats.depth import DepthStatsAccumulator

log = logging.getLogger(__name__)

STAGING_DIR = ".staging"
# staged episodes whose index another writer took: kept here, not part of the dataset
CONFLICT_DIR = ".staging-conflicts"
MAX_PENDING_COMMITS = 1
MB = 1024 * 1024


@dataclass
class _Staged:
    """A saved episode waiting in the staging folder until the next flush."""

    index: int
    dir: Path
    row: dict[str, Any]
    sketch: Any
    placed: dict[str, Any] = field(default_factory=dict)


class DatasetWriter:
    """Create or resume a LeRobotDataset v3.0 and append episodes to it. Not thread-safe."""

    def __init__(
        self,
        root: Path,
        info: DatasetInfo,
        tasks: list[str],
        encoder: VideoEncoderConfig,
        on_nonfinite: Literal["raise", "skip"] = "raise",
    ) -> None:
        self.root = Path(root)
        self.info = info
        self.encoder = encoder
        self.on_nonfinite = on_nonfinite
        self.features = info.features
        self.user_features = {k: f for k, f in self.features.items() if k not in layout_defaults()}
        self._tasks = list(tasks)
        self._task_index = {t: i for i, t in enumerate(self._tasks)}
        self._staging = self.root / STAGING_DIR
        self._next_episode = info.total_episodes
        self._next_index = info.total_frames
        self._pending: list[_Staged] = []
        next_data, next_videos, self._next_meta = self._next_file_indices()
        self._data = RollingFiles(
            lambda c, f: safepath.inside(self.root, layout.data_path(c, f, self.info.data_path)),
            info.chunks_size,
            info.data_files_size_in_mb * MB,
            next_data,
            measure=lambda f: f.tmp.stat().st_size,  # on-disk size, as LeRobot's recorder measures it
        )
        video_template = info.video_path or layout.DEFAULT_VIDEO_PATH
        self._videos = {
            key: RollingFiles(
                lambda c, f, key=key: safepath.inside(
                    self.root, layout.video_path(key, c, f, video_template)
                ),  # type: ignore[misc]
                info.chunks_size,
                info.video_files_size_in_mb * MB,
                nxt,
                measure=lambda f: f.writer.size_bytes,
            )
            for key, nxt in next_videos.items()
        }
        self._total_stats: Any = None
        self._encoded_keys: set[str] = set()  # cameras this writer encoded (not stream-copied)
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="episode-commit")
        self._commit_futures: list[Future[None]] = []
        self._lock = threading.Lock()
        self._writer_lock: WriterLock | None = None
        self._closed = False
        self._new_episode()

    # ------------------------------------------------------------------ construction
    @classmethod
    def create(
        cls,
        root: str | Path,
        *,
        fps: int,
        features: Mapping[str, FeatureSpec | Mapping[str, Any]],
        robot_type: str | None = None,
        use_videos: bool = True,
        encoder: VideoEncoderConfig | None = None,
        data_files_size_in_mb: float = layout.DEFAULT_DATA_FILE_SIZE_IN_MB,
        video_files_size_in_mb: float = layout.DEFAULT_VIDEO_FILE_SIZE_IN_MB,
        chunks_size: int = layout.DEFAULT_CHUNK_SIZE,
        on_nonfinite: Literal["raise", "skip"] = "raise",
        exist_ok: bool = False,
    ) -> DatasetWriter:
        """Start a new dataset at ``root``. Camera features (``image``/``video``) must be (H, W, C) uint8.

        ``use_videos=False`` stores every camera as PNG bytes in parquet (LeRobot's ``--video=false``).
        """
        root = Path(root)
        lock = acquire(root)  # before the existence check: two creators of one root cannot both pass it
        try:
            if (root / layout.INFO_PATH).exists() and not exist_ok:
                raise DatasetExistsError(
                    f"{root}: a dataset already exists here; use DatasetWriter.open() to append"
                )
            for key in features:
                validate_feature_key(key)
            feats = parse_features(features)
            if not use_videos:
                feats = {
                    k: f.model_copy(update={"dtype": "image"}) if f.is_video else f for k, f in feats.items()
                }
            for k, f in feats.items():
                if f.is_visual:
                    if len(f.shape) != 3 or f.shape[2] not in (1, 3):
                        raise FormatError(
                            f"camera feature {k!r}: shape must be (height, width, 3), got {f.shape}"
                        )
                    if f.is_depth_map:
                        if f.shape[2] != 1:
                            raise FormatError(
                                f"depth feature {k!r}: shape must be (height, width, 1), got {f.shape}"
                            )
                        # 0.6.1's layout: marker and unit in info; quantiser checked now, recorded on encode
                        depth_info = {"is_depth_map": True, "depth_unit": "mm", **(f.info or {})}
                        depth_info.pop("video.is_depth_map", None)
                        if depth_info["depth_unit"] not in ("mm", "m"):
                            raise FormatError(
                                f"depth feature {k!r}: depth_unit must be 'mm' (uint16 frames) or 'm' "
                                f"(float32 frames), got {depth_info['depth_unit']!r}"
                            )
                        DepthEncoderConfig.from_info(depth_info)
                        feats[k] = f = f.model_copy(update={"info": depth_info})
                    elif f.is_video and (f.shape[0] % 2 or f.shape[1] % 2):
                        raise FormatError(
                            f"camera feature {k!r}: yuv420p needs even height and width, got {f.shape}"
                        )
                    if f.names is None:
                        feats[k] = f.model_copy(update={"names": ["height", "width", "channels"]})
            info = DatasetInfo(
                fps=int(fps),
                robot_type=robot_type,
                features=with_default_features(feats),
                data_files_size_in_mb=data_files_size_in_mb,
                video_files_size_in_mb=video_files_size_in_mb,
                chunks_size=chunks_size,
                video_path=layout.DEFAULT_VIDEO_PATH if any(f.is_video for f in feats.values()) else None,
            )
            root.mkdir(parents=True, exist_ok=True)
            write_info(root, info)
            log.info("created dataset %s (fps=%d, %d features)", root, fps, len(feats))
            writer = cls(root, info, [], encoder or VideoEncoderConfig(), on_nonfinite)
        except BaseException:
            lock.release()
            raise
        writer._writer_lock = lock
        return writer

    @classmethod
    def open(
        cls,
        root: str | Path,
        *,
        fps: int | None = None,
        features: Mapping[str, FeatureSpec | Mapping[str, Any]] | None = None,
        encoder: VideoEncoderConfig | None = None,
        on_nonfinite: Literal["raise", "skip"] = "raise",
    ) -> DatasetWriter:
        """Reopen a dataset to append episodes (new files start after the last ones, as LeRobot does).

        Episodes saved by an interrupted writer are recovered first. ``fps``/``features``, when given,
        must match the dataset's, else :class:`SchemaMismatchError` lists the differences.
        Another live writer of ``root`` makes it raise :class:`DatasetInUseError` (nothing is touched).
        """
        root = Path(root)
        load_info(root)  # not a dataset: say so before creating a lock file next to it
        safepath.check_tree(root)  # appending writes into its folders: none may lead out of the root
        lock = acquire(root)
        try:
            writer = cls._open(root, fps, features, encoder, on_nonfinite)
            writer._writer_lock = lock
            writer._recover()
        except BaseException:
            lock.release()
            raise
        return writer

    @classmethod
    def _open(
        cls,
        root: Path,
        fps: int | None,
        features: Mapping[str, FeatureSpec | Mapping[str, Any]] | None,
        encoder: VideoEncoderConfig | None,
        on_nonfinite: Literal["raise", "skip"],
    ) -> DatasetWriter:
        info = load_info(root)  # again under the lock: the last writer may have committed since
        problems = []
        if fps is not None and int(fps) != info.fps:
            problems.append(f"fps: dataset has {info.fps}, got {fps}")
        if features is not None:
            want = with_default_features(parse_features(features))
            for k in sorted(set(want) | set(info.features)):
                a, b = info.features.get(k), want.get(k)
                if a is None or b is None:
                    problems.append(f"feature {k!r}: {'missing in dataset' if a is None else 'not given'}")
                elif (a.dtype, a.shape) != (b.dtype, b.shape):
                    problems.append(
                        f"feature {k!r}: dataset has {a.dtype}{list(a.shape)}, got {b.dtype}{list(b.shape)}"
                    )
        if problems:
            raise SchemaMismatchError(
                f"{root}: cannot append, the dataset differs:\n  " + "\n  ".join(problems)
            )
        tasks = load_tasks(root) if (root / layout.TASKS_PATH).exists() else []
        return cls(root, info, tasks, encoder or VideoEncoderConfig(), on_nonfinite)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finalize()
        else:  # keep everything saved so far; drop the unsaved episode
            self.clear_episode()
            self.finalize()

    # ------------------------------------------------------------------ recording API
    @property
    def num_episodes(self) -> int:
        """Episodes saved so far (flushed or pending)."""
        return self._next_episode

    @property
    def episode_buffer_size(self) -> int:
        return len(self._buffer)

    def add_frame(self, frame: Mapping[str, Any], task: str) -> None:
        """Append one frame of the current episode. Every user feature must be present."""
        self._check_open()
        missing = set(self.user_features) - set(frame)
        extra = set(frame) - set(self.user_features) - {"task"}
        if missing or extra:
            raise FrameError(
                f"frame {len(self._buffer)} of episode {self._next_episode}: "
                f"missing features {sorted(missing)}, unexpected {sorted(extra)}"
            )
        checked = {k: check_value(k, spec, frame[k]) for k, spec in self.user_features.items()}
        for k, v in checked.items():
            spec = self.user_features[k]
            if spec.is_video:
                self._encoder_for(k, spec).put(np.asarray(v))
            else:
                if spec.is_image:
                    self._image_stats[k].add(np.asarray(v))
                self._buffer.append(k, v)
        self._buffer.tasks.append(str(task))

    def add_episode(
        self,
        columns: Mapping[str, Any],
        task: str | list[str],
        metadata: Mapping[str, Any] | None = None,
        wait: bool = True,
        encoded: Mapping[str, EncodedVideo] | None = None,
    ) -> int:
        """Add a whole episode from ``(T, ...)`` arrays (camera arrays ``(T, H, W, C)`` uint8).

        ``encoded`` offers a camera's source packets: when their codec is the dataset's, they are
        stream-copied (the frames then only feed the statistics) instead of re-encoded.
        """
        self._copy: dict[str, EncodedVideo] = {
            k: v for k, v in (encoded or {}).items() if v.codec == self.encoder.codec_name
        }
        lengths = {k: len(v) for k, v in columns.items()}
        if len(set(lengths.values())) != 1:
            raise FrameError(f"episode {self._next_episode}: columns have different lengths {lengths}")
        n = next(iter(lengths.values()))
        tasks = [task] * n if isinstance(task, str) else list(task)
        if len(tasks) != n:
            raise FrameError(f"episode {self._next_episode}: {len(tasks)} task strings for {n} frames")
        for i in range(n):
            self.add_frame({k: v[i] for k, v in columns.items()}, tasks[i])
        return self.save_episode(metadata, wait=wait)

    def clear_episode(self) -> None:
        """Discard the frames of the current episode (re-record); nothing of it reaches the dataset."""
        for enc in self._encoders.values():
            enc.abort()
        if self._episode_dir.exists():
            shutil.rmtree(self._episode_dir, ignore_errors=True)
        self._new_episode()

    def save_episode(self, metadata: Mapping[str, Any] | None = None, wait: bool = True) -> int:
        """Save the current episode; returns its index. ``wait=False`` returns while encoding finishes."""
        self._check_open()
        n = len(self._buffer)
        if n == 0:
            raise FrameError(f"episode {self._next_episode} has no frames; add frames before save_episode()")
        index, first = self._next_episode, self._next_index
        for t in dict.fromkeys(self._buffer.tasks):
            if t not in self._task_index:
                self._task_index[t] = len(self._tasks)
                self._tasks.append(t)
        job = (
            index,
            first,
            self._buffer,
            self._encoders,
            self._image_stats,
            self._episode_dir,
            dict(metadata or {}),
        )
        self._next_episode += 1
        self._next_index += n
        self._new_episode()
        fut = self._committer.submit(self._commit_episode, *job)
        self._commit_futures.append(fut)
        if wait:
            self._wait_commits()
        else:
            # Bound the backlog: at most MAX_PENDING_COMMITS episodes finish encoding behind the one being
            # recorded, so memory (encoder instances, queued frames) stays flat however many episodes come.
            while len(self._commit_futures) > MAX_PENDING_COMMITS:
                self._commit_futures.pop(0).result()
        return index

    def wait(self) -> None:
        """Block until every saved episode has finished encoding and is staged durably."""
        self._wait_commits()

    def flush(self) -> None:
        """Make every saved episode loadable now (closes the open files; later episodes start new ones)."""
        self._wait_commits()
        with self._lock:
            self._flush_locked()

    def finalize(self) -> None:
        """Flush and close. Idempotent; an unsaved partial episode is discarded."""
        if self._closed:
            return
        try:
            if len(self._buffer):
                log.warning(
                    "finalize: discarding %d unsaved frames of episode %d",
                    len(self._buffer),
                    self._next_episode,
                )
                self.clear_episode()
            self.flush()
        finally:
            self._closed = True
            self._committer.shutdown(wait=True)
            for files in (self._data, *self._videos.values()):
                files.abort()  # no-op after a good flush; after a failed one no temporary file stays
            if self._episode_dir.exists():
                shutil.rmtree(self._episode_dir, ignore_errors=True)
            if self._staging.exists() and not any(self._staging.iterdir()):
                self._staging.rmdir()
            if self._writer_lock is not None:
                self._writer_lock.release()

    # ------------------------------------------------------------------ internals: current episode
    def _new_episode(self) -> None:
        self._buffer = EpisodeBuffer(self.features)
        self._encoders: dict[str, SegmentEncoder | PacketSegmentWriter] = {}
        self._copy = {}
        self._image_stats: dict[str, rstats.ImageStatsAccumulator | DepthStatsAccumulator] = {
            k: DepthStatsAccumulator() if f.is_depth_map else rstats.ImageStatsAccumulator(f.shape[2])
            for k, f in self.user_features.items()
            if f.is_visual
        }
        self._episode_dir = self._staging / f"episode-{self._next_episode:06d}.partial"

    def _encoder_for(self, key: str, spec: FeatureSpec) -> SegmentEncoder | PacketSegmentWriter:
        enc = self._encoders.get(key)
        if enc is None and key in self._copy:
            self._episode_dir.mkdir(parents=True, exist_ok=True)
            enc = PacketSegmentWriter(
                self._episode_dir / f"{key}.mp4", self.info.fps, self._copy[key], self._image_stats[key].add
            )
            self._encoders[key] = enc
        if enc is None:
            self._episode_dir.mkdir(parents=True, exist_ok=True)
            enc = SegmentEncoder(
                self._episode_dir / f"{key}.mp4",
                self.info.fps,
                spec.shape[1],
                spec.shape[0],
                DepthEncoderConfig.from_info(spec.info) if spec.is_depth_map else self.encoder,
                on_frame=self._image_stats[key].add,
            )
            self._encoders[key] = enc
            self._encoded_keys.add(key)
        return enc

    def _check_open(self) -> None:
        if self._closed:
            raise FormatError(f"{self.root}: writer is finalized; reopen with DatasetWriter.open() to append")

    def _wait_commits(self) -> None:
        futures, self._commit_futures = self._commit_futures, []
        for fut in futures:
            fut.result()

    def _commit_episode(
        self,
        index: int,
        first: int,
        buffer: EpisodeBuffer,
        encoders: dict[str, SegmentEncoder | PacketSegmentWriter],
        image_stats: dict[str, Any],
        ep_dir: Path,
        metadata: dict[str, Any],
    ) -> None:
        """Stage the episode durably, then append it to the open files (runs in the committer thread)."""
        n = len(buffer)
        ep_dir.mkdir(parents=True, exist_ok=True)
        for key, enc in encoders.items():
            frames = enc.close()
            if frames != n:
                raise FormatError(f"episode {index}, camera {key!r}: encoded {frames} frames, expected {n}")
        table = buffer.to_table(index, first, self.info.fps, self._task_index)
        summary = rstats.summarize_episode(
            buffer.columns() | _default_columns(table),
            self.features,
            image_stats,
            on_nonfinite=self.on_nonfinite,
        )
        pq.write_table(table, ep_dir / "data.parquet", compression="snappy")
        (ep_dir / "sketch.bin").write_bytes(summary.sketch.to_bytes())
        row: dict[str, Any] = {
            "episode_index": index,
            "tasks": list(dict.fromkeys(buffer.tasks)),
            "length": n,
        }
        row.update({k: _jsonable(v) for k, v in metadata.items()})
        row["stats"] = {
            f: {s: np.asarray(v).tolist() for s, v in st.items()} for f, st in summary.lerobot.items()
        }
        atomic_write_text(ep_dir / "row.json", json.dumps(row))
        final_dir = self._staging / f"episode-{index:06d}"
        ep_dir.rename(final_dir)  # commit point of the episode
        staged = _Staged(index, final_dir, row, summary.sketch)
        with self._lock:
            self._place(staged)

    # ------------------------------------------------------------------ internals: open files
    def _place(self, staged: _Staged) -> None:
        """Append a staged episode to the open data/video files (rolling over by size)."""
        data_src = staged.dir / "data.parquet"
        table = pq.read_table(data_src)
        d = self._data.file_for(
            data_src.stat().st_size,
            lambda tmp: pq.ParquetWriter(tmp, table.schema, compression="snappy", use_dictionary=True),
        )
        d.writer.write_table(table, row_group_size=max(len(table), 1))
        d.episodes += 1
        placed: dict[str, Any] = {
            "data/chunk_index": d.chunk,
            "data/file_index": d.file,
            "dataset_from_index": int(table["index"][0].as_py()),
            "dataset_to_index": int(table["index"][-1].as_py()) + 1,
        }
        for key in (k for k, f in self.user_features.items() if f.is_video):
            seg = staged.dir / f"{key}.mp4"
            v = self._videos[key].file_for(
                seg.stat().st_size, lambda tmp: VideoFileAppender(tmp, self.info.fps)
            )
            start, count = v.writer.append(seg)
            v.episodes += 1
            c_chunk, c_file, c_from, c_to = video_columns(key)
            placed.update(
                {
                    c_chunk: v.chunk,
                    c_file: v.file,
                    c_from: start / self.info.fps,
                    c_to: (start + count) / self.info.fps,
                }
            )
            if "video.codec" not in (self.features[key].info or {}):
                self._set_video_info(key, seg)
        staged.placed = placed
        self._pending.append(staged)

    def _set_video_info(self, key: str, seg: Path) -> None:
        """Stream facts, encoder settings and (depth) quantiser settings, as LeRobot 0.6.1 records them."""
        spec = self.features[key]
        existing = dict(spec.info or {})
        info = probe_video(seg).lerobot_info()
        if spec.is_depth_map:
            info.update(DepthEncoderConfig.from_info(existing).info_keys(), is_depth_map=True)
        elif key in self._encoded_keys:  # stream-copied video keeps only what the stream says
            info.update(self.encoder.info_keys())
        self.features[key] = spec.model_copy(update={"info": {**existing, **info}})

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        self._data.close()
        for files in self._videos.values():
            files.close()
        rows = []
        for st in self._pending:
            row = {k: v for k, v in st.row.items() if k != "stats"}
            row.update(st.placed)
            row.update(
                flatten_stats(
                    {f: {s: np.asarray(v) for s, v in d.items()} for f, d in st.row["stats"].items()}
                )
            )
            rows.append(row)
        total = self._running_stats()  # before the new sketch file exists: it must not be counted twice
        chunk, file = self._next_meta
        rstats.write_sketch_file(self.root, chunk, file, [(st.index, st.sketch) for st in self._pending])
        write_episodes_file(self.root, chunk, file, rows)
        self._next_meta = layout.next_chunk_file(chunk, file, self.info.chunks_size)
        write_tasks(self.root, self._tasks)
        for st in self._pending:
            total = st.sketch if total is None else rstats.merge(total, st.sketch)
        self._total_stats = total
        rstats.write_stats_json(self.root, total)
        last = self._pending[-1]
        self.info.total_episodes = last.index + 1
        self.info.total_frames = int(last.placed["dataset_to_index"])
        self.info.total_tasks = len(self._tasks)
        self.info.splits = {"train": f"0:{self.info.total_episodes}"}
        self.info.features = self.features
        write_info(self.root, self.info)  # commit point of the flush
        for st in self._pending:
            shutil.rmtree(st.dir, ignore_errors=True)
        log.info(
            "flushed %d episodes to %s (total %d)", len(self._pending), self.root, self.info.total_episodes
        )
        self._pending = []

    def _running_stats(self) -> Any:
        """Global stats of the episodes flushed before this writer session (from the sketch side files)."""
        if self._total_stats is not None or self.info.total_episodes == 0:
            return self._total_stats
        sketches = rstats.read_sketches(self.root)
        missing = [i for i in range(self.info.total_episodes) if i not in sketches]
        if missing:
            log.warning(
                "%s: %d earlier episodes have no stats sketch (dataset not written by robopipe); "
                "stats.json covers the new episodes merged with a recompute: run `robopipe stats %s`",
                self.root,
                len(missing),
                self.root,
            )
        total = None
        for i in sorted(i for i in sketches if i < self.info.total_episodes):  # flushed episodes only
            total = sketches[i] if total is None else rstats.merge(total, sketches[i])
        return total

    def _next_file_indices(self) -> tuple[tuple[int, int], dict[str, tuple[int, int]], tuple[int, int]]:
        """Where new files start: after the last ones referenced by the episodes metadata."""
        vkeys = [k for k, f in self.features.items() if f.is_video]
        if self.info.total_episodes == 0:
            return (0, 0), {k: (0, 0) for k in vkeys}, (0, 0)
        cols = [
            "data/chunk_index",
            "data/file_index",
            "meta/episodes/chunk_index",
            "meta/episodes/file_index",
        ]
        cols += [c for k in vkeys for c in video_columns(k)[:2]]
        last = load_episodes(self.root, columns=cols).iloc[-1]
        nxt = lambda c, f: layout.next_chunk_file(int(last[c]), int(last[f]), self.info.chunks_size)  # noqa: E731
        return (
            nxt("data/chunk_index", "data/file_index"),
            {k: nxt(*video_columns(k)[:2]) for k in vkeys},
            nxt("meta/episodes/chunk_index", "meta/episodes/file_index"),
        )

    def _recover(self) -> None:
        """Replay episodes an interrupted writer had saved but not flushed, and clean up its leftovers."""
        removed = remove_stale_tmp_files(self.root)
        if not self._staging.exists():
            return
        for partial in self._staging.glob("*.partial"):
            shutil.rmtree(partial, ignore_errors=True)
        staged = sorted(p for p in self._staging.glob("episode-*") if (p / "row.json").exists())
        done = [p for p in staged if int(p.name.split("-")[1]) < self.info.total_episodes]
        flushed = self._flushed_copies(done)
        for p in done:
            if p in flushed:  # flushed, only the cleanup was interrupted
                shutil.rmtree(p, ignore_errors=True)
            else:  # the index was taken by another writer's episode: never discard a saved episode
                kept = self.root / CONFLICT_DIR / f"{p.name}-{uuid.uuid4().hex[:8]}"
                kept.parent.mkdir(parents=True, exist_ok=True)
                p.rename(kept)
                log.warning(
                    "%s: staged episode %s is not the flushed episode of that index (another writer took it); "
                    "kept it in %s, it is NOT part of the dataset",
                    self.root,
                    p.name,
                    kept,
                )
        todo = [p for p in staged if p not in done]
        if removed or todo:
            log.warning(
                "%s: recovering %d saved episodes of an interrupted writer (%d temporary files removed)",
                self.root,
                len(todo),
                len(removed),
            )
        self._remove_unreferenced_files()
        for p in todo:
            index = int(p.name.split("-")[1])
            if index != self._next_episode:
                raise FormatError(
                    f"{p}: staged episode {index} does not follow episode {self._next_episode - 1}"
                )
            row = json.loads((p / "row.json").read_text())
            for t in row["tasks"]:
                if t not in self._task_index:
                    self._task_index[t] = len(self._tasks)
                    self._tasks.append(t)
            sketch = rstats.DatasetStats.from_bytes((p / "sketch.bin").read_bytes())
            with self._lock:
                self._place(_Staged(index, p, row, sketch))
            self._next_episode = index + 1
            self._next_index += int(row["length"])
        self.flush()

    def _flushed_copies(self, staged: list[Path]) -> set[Path]:
        """Those of ``staged`` whose episode is in the dataset as staged (length and stats agree)."""
        if not staged:
            return set()
        try:
            episodes = load_episodes(self.root)
        except FormatError:
            return set()
        same = set()
        for p in staged:
            index = int(p.name.split("-")[1])
            try:
                row = json.loads((p / "row.json").read_text())
                flushed = episodes.iloc[index]
                ok = int(flushed["episode_index"]) == index and int(flushed["length"]) == int(row["length"])
                have = stats_from_row(flushed.to_dict())
                for feature, stats in row["stats"].items():
                    for name, value in stats.items():
                        ok = ok and np.allclose(
                            np.asarray(value, dtype=np.float64),
                            np.asarray(have[feature][name], dtype=np.float64),
                            equal_nan=True,
                        )
            except (OSError, ValueError, KeyError, IndexError, TypeError):
                ok = False
            if ok:
                same.add(p)
        return same

    def _remove_unreferenced_files(self) -> None:
        """Delete data/video/episodes files an interrupted flush renamed but never referenced."""

        def stale(paths: list[Path], nxt: tuple[int, int]) -> list[Path]:
            return [p for p in paths if layout.parse_chunk_file(p) >= nxt]

        victims = stale(layout.sorted_files(self.root, layout.DATA_DIR, ".parquet"), self._data.next_index)
        victims += stale(layout.sorted_files(self.root, layout.EPISODES_DIR, ".parquet"), self._next_meta)
        for key, files in self._videos.items():
            victims += stale(
                layout.sorted_files(self.root, f"{layout.VIDEO_DIR}/{key}", ".mp4"), files.next_index
            )
        for p in victims:
            log.warning("removing %s: written by an interrupted flush, not referenced by the dataset", p)
            p.unlink()


def layout_defaults() -> set[str]:
    return {"timestamp", "frame_index", "episode_index", "index", "task_index"}


def _default_columns(table: pa.Table) -> dict[str, np.ndarray]:
    return {k: table[k].to_numpy() for k in layout_defaults()}


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v
