"""Persistence of statistics: sketch side files and ``meta/stats.json`` (core layer).

Per-episode sketches live in ``meta/robopipe/sketches/chunk-XXX/file-YYY.parquet`` (one row per
episode: ``episode_index`` int64 + ``sketch`` binary, zstd-compressed). LeRobot ignores unknown
files under ``meta/``; keeping the sketches lets a later merge of datasets compute exact global
stats without re-reading a single frame. All writes are atomic.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import CorruptFileError, StatsError
from robopipe.format import layout, safepath
from robopipe.format.atomic import atomic_path, atomic_write_text
from robopipe.format.info import read_json_file
from robopipe.stats.values import DatasetStats

SKETCHES_DIR = layout.ROBOPIPE_META_DIR + "/sketches"
_SCHEMA = pa.schema([("episode_index", pa.int64()), ("sketch", pa.binary())])


def sketch_path(root: Path, chunk: int, file: int) -> Path:
    """``<root>/meta/robopipe/sketches/chunk-XXX/file-YYY.parquet``."""
    rel = layout.CHUNK_FILE_PATTERN.format(chunk_index=chunk, file_index=file) + ".parquet"
    return Path(root) / SKETCHES_DIR / rel


def write_sketch_file(root: Path, chunk: int, file: int, rows: Sequence[tuple[int, DatasetStats]]) -> Path:
    """Atomically write (or replace) one sketch file with ``(episode_index, stats)`` rows."""
    return write_sketch_blobs(root, chunk, file, [(i, s.to_bytes()) for i, s in rows])


def write_sketch_blobs(root: Path, chunk: int, file: int, rows: Sequence[tuple[int, bytes]]) -> Path:
    """Like :func:`write_sketch_file` with already serialised :meth:`DatasetStats.to_bytes` blobs."""
    table = pa.table(
        {
            "episode_index": pa.array([int(i) for i, _ in rows], pa.int64()),
            "sketch": pa.array([b for _, b in rows], pa.binary()),
        },
        schema=_SCHEMA,
    )
    path = sketch_path(root, chunk, file)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")
    return path


def sketch_files(root: Path) -> list[Path]:
    """Existing sketch files in sorted order."""
    return layout.sorted_files(Path(root), SKETCHES_DIR, ".parquet")


def read_sketch_file(path: Path) -> dict[int, DatasetStats]:
    """Rows of one sketch file."""
    try:
        table = pq.read_table(path, columns=["episode_index", "sketch"])
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(
            f"{path}: unreadable sketch file ({exc}); recompute with `robopipe stats ROOT`"
        ) from exc
    out: dict[int, DatasetStats] = {}
    for idx, blob in zip(table.column("episode_index").to_pylist(), table.column("sketch").to_pylist()):
        try:
            out[int(idx)] = DatasetStats.from_bytes(blob)
        except StatsError as exc:
            raise CorruptFileError(
                f"{path}: episode {idx}: {exc}; recompute with `robopipe stats ROOT`"
            ) from exc
    return out


def read_sketches(root: Path) -> dict[int, DatasetStats]:
    """All per-episode sketches of a dataset (empty when it has none, e.g. written by LeRobot)."""
    out: dict[int, DatasetStats] = {}
    for path in sketch_files(root):
        out.update(read_sketch_file(path))
    return out


def _jsonable(stats: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f: {k: np.asarray(v).tolist() for k, v in st.items()} for f, st in stats.items()}


def write_stats_json(root: Path, stats: DatasetStats | Mapping[str, Mapping[str, Any]]) -> Path:
    """Atomically write ``meta/stats.json`` in LeRobot's layout (nested lists, indent 4)."""
    lerobot = stats.to_lerobot() if isinstance(stats, DatasetStats) else stats
    path = Path(root) / layout.STATS_PATH
    atomic_write_text(path, json.dumps(_jsonable(lerobot), indent=4, allow_nan=True))
    return path


def load_stats_json(root: Path) -> dict[str, dict[str, np.ndarray]] | None:
    """``meta/stats.json`` as arrays, or ``None`` when the file is absent (it is optional)."""
    path = safepath.inside(Path(root), layout.STATS_PATH, "stats file")
    if not path.is_file():
        return None
    fix = f"recompute with `robopipe stats {root}`"
    raw = read_json_file(path, fix)
    try:
        return {str(f): {str(k): np.asarray(v) for k, v in st.items()} for f, st in raw.items()}
    except (AttributeError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{path}: not a mapping of feature -> stat -> numbers ({exc}); {fix}") from exc
