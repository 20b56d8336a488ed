"""Read LeRobotDataset v3.0 datasets (robopipe's and LeRobot's) without loading them whole (core layer).

Episodes are located through ``meta/episodes`` (data file, global index range, per-camera video file and
offsets); data files are opened lazily and read by row group, so reading one episode of a 100 GB
dataset touches only that episode's bytes. A root given as an fsspec URL (``s3://``, ``hf://``, ``file://``)
is read the same way through :class:`~robopipe.storage.remote.RemoteRoot`: byte ranges of the remote files,
nothing downloaded whole but ``meta/``.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image

from robopipe.errors import ConfigError, CorruptFileError, FormatError
from robopipe.format import depth, layout, safepath
from robopipe.format.episodes import load_episodes, stats_from_row, video_columns
from robopipe.format.features import FeatureSpec
from robopipe.format.info import DatasetInfo, load_info
from robopipe.format.tasks import load_tasks
from robopipe.format.video import decode_frames, iter_frames, rgb24
from robopipe.storage.urls import is_url

if TYPE_CHECKING:
    from robopipe.storage.remote import RemoteRoot

log = logging.getLogger(__name__)


IDLE_VIDEOS = 4  # remote mp4 files a reader keeps open between decodes (each caches up to 32 MB)

REQUIRED_EPISODE_COLUMNS = (
    "episode_index",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
)


class DatasetReader:
    """Random access to a dataset's metadata, frames and video frames (a folder, or a URL read by ranges).

    Open remote files are closed by :meth:`close` (or leaving a ``with`` block)."""

    def __init__(self, root: str | Path) -> None:
        self.remote: RemoteRoot | None = None
        self._root: Path | None = None
        self._files: dict[str, pq.ParquetFile] = {}
        self._handles: list[IO[bytes]] = []
        self._idle_videos: OrderedDict[str, IO[bytes]] = OrderedDict()  # remote mp4s with warm block caches
        if is_url(root):
            from robopipe.storage.remote import RemoteRoot

            self.remote = RemoteRoot(str(root))
            self.where = str(self.remote)
            self.info: DatasetInfo = self.remote.load_info()
            return
        self._root = Path(root)
        self.where = str(self._root)
        self.info = load_info(self._root)
        if (self._root / ".staging").is_dir() and any((self._root / ".staging").glob("episode-*")):
            log.warning(
                "%s: holds saved episodes of an unfinished writer; run `robopipe repair %s` to add them",
                self._root,
                self._root,
            )

    @property
    def root(self) -> Path:
        """The local dataset folder (a reader of a URL has none: it reads through :attr:`remote`)."""
        if self._root is None:
            raise ConfigError(f"{self.where}: this step needs a local dataset folder, not a URL")
        return self._root

    def close(self) -> None:
        """Close the remote file objects this reader opened (local files are closed with the reader)."""
        self._files.clear()
        for f in [*self._handles, *self._idle_videos.values()]:
            f.close()
        self._handles.clear()
        self._idle_videos.clear()

    def __enter__(self) -> DatasetReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ metadata
    @property
    def features(self) -> dict[str, FeatureSpec]:
        return self.info.features

    @property
    def fps(self) -> int:
        return self.info.fps

    @property
    def num_episodes(self) -> int:
        return self.info.total_episodes

    @property
    def num_frames(self) -> int:
        return self.info.total_frames

    @property
    def video_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f.is_video]

    @property
    def image_keys(self) -> list[str]:
        return [k for k, f in self.features.items() if f.is_image]

    @cached_property
    def tasks(self) -> list[str]:
        """Task strings by task index."""
        return self.remote.load_tasks() if self.remote is not None else load_tasks(self.root)

    @cached_property
    def episodes(self) -> pd.DataFrame:
        """Episode rows (without the ``stats/*`` columns); row i is episode i."""
        full = self._load_episodes(stats=False)
        df = full[[c for c in full.columns if not c.startswith("stats/")]].reset_index(drop=True)
        if len(df) != self.num_episodes:
            raise FormatError(
                f"{self.where}: info.json says total_episodes={self.num_episodes}, "
                f"meta/episodes has {len(df)} rows"
            )
        missing = [c for c in REQUIRED_EPISODE_COLUMNS if c not in df.columns]
        if missing:
            raise FormatError(f"{self.where}: meta/episodes lacks the columns {missing}")
        bad = [c for c in REQUIRED_EPISODE_COLUMNS if df[c].dtype.kind not in "iu"]
        if bad:
            raise FormatError(
                f"{self.where}: meta/episodes columns {bad} must hold integers without empty values"
            )
        if not np.array_equal(df["episode_index"].to_numpy(), np.arange(len(df))):
            raise FormatError(f"{self.where}: meta/episodes rows must be episodes 0..{len(df) - 1} in order")
        if (df["length"] < 0).any():
            raise FormatError(f"{self.where}: meta/episodes has negative episode lengths")
        return df

    def episode_stats(self, episode_index: int) -> dict[str, dict[str, np.ndarray]]:
        """Per-episode stats stored in the episodes metadata."""
        full = self._load_episodes()
        return stats_from_row(full.iloc[episode_index].to_dict())

    def _load_episodes(self, stats: bool = True) -> pd.DataFrame:
        if self.remote is not None:
            return self.remote.load_episodes(stats)
        return load_episodes(self.root)

    def episode_lengths(self) -> np.ndarray:
        return self.episodes["length"].to_numpy(dtype=np.int64)

    def _episode(self, episode_index: int) -> pd.Series:
        if not 0 <= episode_index < self.num_episodes:
            raise IndexError(f"{self.where}: episode {episode_index} out of range 0..{self.num_episodes - 1}")
        return self.episodes.iloc[episode_index]

    # ------------------------------------------------------------------ data
    def data_files(self) -> list[Path]:
        return layout.sorted_files(self.root, layout.DATA_DIR, ".parquet")

    def file_count(self, subdir: str, suffix: str) -> int:
        """How many ``<subdir>/chunk-*/file-*<suffix>`` files the dataset holds."""
        if self.remote is not None:
            return len(self.remote.sorted_files(subdir, suffix))
        return len(layout.sorted_files(self.root, subdir, suffix))

    def _parquet(self, rel: str) -> tuple[pq.ParquetFile, str]:
        """The opened data file ``rel`` (checked inside the root) and its name for messages."""
        if self.remote is not None:
            where = self.remote.where(rel)
            pf = self._files.get(rel)
            if pf is None:
                pf, handle = self.remote.parquet(rel, "data file")
                self._handles.append(handle)
                self._files[rel] = pf
            return pf, where
        path = safepath.inside(self.root, rel, "data file")
        pf = self._files.get(rel)
        if pf is None:
            try:
                pf = pq.ParquetFile(path)
            except (OSError, pa.ArrowException) as exc:
                raise CorruptFileError(
                    f"{path}: unreadable parquet ({exc}); the file is truncated or corrupt"
                ) from exc
            self._files[rel] = pf
        return pf, str(path)

    def _data_rel(self, episode_index: int) -> str:
        ep = self._episode(episode_index)
        return layout.data_path(ep["data/chunk_index"], ep["data/file_index"], self.info.data_path)

    def data_file_of(self, episode_index: int) -> Path:
        return safepath.inside(self.root, self._data_rel(episode_index), "data file")

    def read_episode(self, episode_index: int, columns: Sequence[str] | None = None) -> pa.Table:
        """All rows of one episode, reading only the row groups that hold it."""
        pf, path = self._parquet(self._data_rel(episode_index))
        cols = list(columns) if columns is not None else None
        if cols is not None and "episode_index" not in cols:
            cols = [*cols, "episode_index"]
        groups = _row_groups_with(pf, "episode_index", episode_index)
        table = pf.read_row_groups(groups, columns=cols) if groups else pf.read(columns=cols)
        table = table.filter(pc.equal(table["episode_index"], episode_index))
        if columns is not None and "episode_index" not in columns:
            table = table.drop_columns(["episode_index"])
        if table.num_rows != int(self._episode(episode_index)["length"]):
            raise FormatError(
                f"{path}: episode {episode_index} has {table.num_rows} rows, "
                f"meta/episodes says length={int(self._episode(episode_index)['length'])}"
            )
        return table

    def read_frames(self, indices: Sequence[int], columns: Sequence[str] | None = None) -> pa.Table:
        """Rows by global frame ``index`` (any order; returned in the order asked)."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_frames):
            raise IndexError(f"{self.where}: frame index out of range 0..{self.num_frames - 1}")
        starts = self.episodes["dataset_from_index"].to_numpy()
        eps = np.searchsorted(starts, idx, side="right") - 1
        parts = []
        for ep in np.unique(eps):
            t = self.read_episode(int(ep), columns=None if columns is None else [*columns, "index"])
            parts.append(t)
        table = pa.concat_tables(parts) if parts else pa.table({})
        pos = {int(v): i for i, v in enumerate(table["index"].to_numpy())} if parts else {}
        table = table.take(pa.array([pos[int(i)] for i in idx], type=pa.int64())) if parts else table
        if columns is not None and "index" not in columns:
            table = table.drop_columns(["index"])
        return table

    def iter_episodes(self, columns: Sequence[str] | None = None) -> Iterator[tuple[int, pa.Table]]:
        for i in range(self.num_episodes):
            yield i, self.read_episode(i, columns)

    def to_pandas(self, episode: int | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """One episode, or all, as a DataFrame (vector features as numpy arrays per row)."""
        if episode is not None:
            return self.read_episode(episode, columns).to_pandas()
        if self.remote is not None:
            tables = [
                self.remote.read_table(rel, list(columns) if columns else None, "data file")
                for rel in self.remote.sorted_files(layout.DATA_DIR, ".parquet")
            ]
            return pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame()
        tables = [pq.read_table(p, columns=list(columns) if columns else None) for p in self.data_files()]
        return pa.concat_tables(tables).to_pandas() if tables else pd.DataFrame()

    def column(self, key: str, episode: int) -> np.ndarray:
        """A numeric feature of one episode as a ``(T, *shape)`` array."""
        table = self.read_episode(episode, [key])
        return column_to_numpy(table[key], self.features[key], f"{self.where} episode {episode}: {key}")

    def decode_image(self, key: str, episode: int, frame_index: int) -> np.ndarray:
        """An ``image`` feature frame as HxWx3 uint8 (PNG), or HxWx1 in its stored unit for depth maps (TIFF)."""
        cell = self.read_episode(episode, [key])[key][frame_index].as_py()
        data = cell["bytes"] if isinstance(cell, dict) else cell
        if self.features[key].is_depth_map:
            return depth.decode_image(data)
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def _converter(self, key: str) -> Callable[[Any], np.ndarray]:
        """Depth videos: 12-bit codes dequantised to HxWx1 uint16 millimetres (0.6.1's decode); else RGB."""
        spec = self.features[key]
        if not spec.is_depth_map:
            return rgb24
        cfg = depth.DepthEncoderConfig.from_info(spec.info)

        unit: depth.DepthUnit = "m" if (spec.info or {}).get("depth_unit") == "m" else "mm"

        def convert(frame: Any) -> np.ndarray:
            codes = frame.to_ndarray(format=depth.DEPTH_PIX_FMT)
            return depth.dequantize(codes, cfg, unit)[:, :, None]

        return convert

    # ------------------------------------------------------------------ video
    def video_span(self, key: str, episode_index: int) -> tuple[Path, float, float]:
        """(mp4 path, from_timestamp, to_timestamp) of one camera of one episode."""
        rel, from_ts, to_ts = self._video_span(key, episode_index)
        return safepath.inside(self.root, rel, "video file"), from_ts, to_ts

    @contextmanager
    def _video(self, rel: str) -> Iterator[Path | IO[bytes]]:
        """The mp4 ``rel``: a checked local path, or a block-cached remote file object used by one decoder
        at a time; kept open afterwards (the :data:`IDLE_VIDEOS` most recent) so the next span of the same
        file reuses its cached ``moov`` and blocks."""
        if self.remote is None:
            yield safepath.inside(self.root, rel, "video file")
            return
        f = self._idle_videos.pop(rel, None) or self.remote.open(rel, "video file")
        try:
            f.seek(0)
            yield f
        except BaseException:
            f.close()
            raise
        self._idle_videos[rel] = f
        while len(self._idle_videos) > IDLE_VIDEOS:
            self._idle_videos.popitem(last=False)[1].close()

    def _video_span(self, key: str, episode_index: int) -> tuple[str, float, float]:
        if key not in self.video_keys:
            raise KeyError(f"{key!r} is not a video feature; video features: {self.video_keys}")
        ep = self._episode(episode_index)
        c_chunk, c_file, c_from, c_to = video_columns(key)
        template = self.info.video_path or layout.DEFAULT_VIDEO_PATH
        path = layout.video_path(key, ep[c_chunk], ep[c_file], template)
        to_ts = (
            float(ep[c_to])
            if c_to in ep and not pd.isna(ep[c_to])
            else float(ep[c_from]) + ep["length"] / self.fps
        )
        return path, float(ep[c_from]), to_ts

    def decode_frames(self, key: str, episode_index: int, timestamps: Sequence[float]) -> np.ndarray:
        """Frames of one camera at episode-relative ``timestamps`` (seconds) as (N, H, W, 3) uint8."""
        rel, start, _ = self._video_span(key, episode_index)
        with self._video(rel) as src:
            return decode_frames(src, [start + float(t) for t in timestamps], convert=self._converter(key))

    def iter_video_frames(self, key: str, episode_index: int) -> Iterator[np.ndarray]:
        """Every frame of one camera of one episode, in order."""
        rel, start, _ = self._video_span(key, episode_index)
        with self._video(rel) as src:
            yield from iter_frames(
                src, start, int(self._episode(episode_index)["length"]), self._converter(key)
            )


def column_to_numpy(col: pa.ChunkedArray, spec: FeatureSpec, where: str = "column") -> np.ndarray:
    """A numeric column (scalar, fixed/variable list, nested list) as ``(T, *shape)``.

    Raises :class:`FormatError` (naming ``where``, e.g. ``file: feature``) when the stored values do
    not fill the ``info.json`` shape.
    """
    arr = col.combine_chunks()
    n = len(arr)
    while (
        pa.types.is_list(arr.type)
        or pa.types.is_fixed_size_list(arr.type)
        or pa.types.is_large_list(arr.type)
    ):
        arr = arr.flatten()
    values = arr.to_numpy(zero_copy_only=False)
    per_row = int(np.prod(spec.shape, dtype=np.int64))
    if values.size != n * per_row:
        raise FormatError(
            f"{where}: {values.size} values in {n} rows do not match shape {list(spec.shape)} of "
            f"meta/info.json (expected {per_row} per row); fix the feature's shape or the data"
        )
    return values.reshape((n, *spec.shape))


def _row_groups_with(pf: pq.ParquetFile, column: str, value: int) -> list[int]:
    """Row groups whose min/max statistics of ``column`` include ``value``."""
    md = pf.metadata
    # row-group statistics are indexed by parquet *leaf* column (a struct/list column has several leaves)
    leaves = [md.schema.column(i).path for i in range(md.num_columns)]
    if column not in leaves:
        return []
    ci = leaves.index(column)
    out: list[int] = []
    for g in range(md.num_row_groups):
        st = md.row_group(g).column(ci).statistics
        if st is None or not st.has_min_max:
            return []
        if st.min <= value <= st.max:
            out.append(g)
    return out
