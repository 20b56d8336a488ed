"""``meta/episodes/chunk-XXX/file-YYY.parquet``: one row per episode (core layer).

Column names and Arrow types follow LeRobot 0.4.4 (reference §4): location columns, per-video-key
offsets, ``stats/<feature>/<stat>`` and finally ``meta/episodes/chunk_index|file_index``. Extra
per-episode metadata (``success``, ``timing/...``) are plain scalar columns, as LeRobot allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import CorruptFileError, FormatError
from robopipe.format import layout
from robopipe.format.atomic import atomic_path

BASE_COLUMNS = (
    "episode_index",
    "tasks",
    "length",
    "data/chunk_index",
    "data/file_index",
    "dataset_from_index",
    "dataset_to_index",
)


def video_columns(key: str) -> tuple[str, str, str, str]:
    return (
        f"videos/{key}/chunk_index",
        f"videos/{key}/file_index",
        f"videos/{key}/from_timestamp",
        f"videos/{key}/to_timestamp",
    )


def _stat_array_type(value: np.ndarray, stat: str) -> pa.DataType:
    leaf: pa.DataType = pa.int64() if stat == "count" or value.dtype.kind in "iub" else pa.float64()
    t = leaf
    for _ in range(max(value.ndim, 1)):
        t = pa.list_(t)
    return t


def _column_type(name: str, values: list[Any]) -> pa.DataType | None:
    if name == "tasks":
        return pa.list_(pa.string())
    if name in BASE_COLUMNS or name.endswith(("/chunk_index", "/file_index")):
        return pa.int64()
    if name.endswith(("/from_timestamp", "/to_timestamp")):
        return pa.float64()
    if name.startswith("stats/"):
        first = next((v for v in values if v is not None), None)
        if first is not None:
            return _stat_array_type(np.asarray(first), name.rsplit("/", 1)[1])
    return None


def episodes_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Arrow table of episode rows with LeRobot's column types (stats arrays become nested lists)."""
    if not rows:
        raise FormatError("no episode rows to write")
    names: list[str] = []
    for row in rows:
        for k in row:
            if k not in names:
                names.append(k)
    tail = ["meta/episodes/chunk_index", "meta/episodes/file_index"]
    names = [n for n in names if n not in tail] + [n for n in tail if n in names]
    arrays = []
    for n in names:
        values = [row.get(n) for row in rows]
        typ = _column_type(n, values)
        if n.startswith("stats/"):
            # bool features (is_first, ...) have bool min/max: store them as ints like the column type says
            values = [
                None
                if v is None
                else np.asarray(v, dtype=np.int64 if np.asarray(v).dtype == bool else None).tolist()
                for v in values
            ]
        arrays.append(pa.array(values, type=typ))
    return pa.Table.from_arrays(arrays, names=names)


def write_episodes_file(
    root: Path, chunk_index: int, file_index: int, rows: Sequence[Mapping[str, Any]]
) -> Path:
    """Atomically write one episodes parquet (row groups of 10 episodes, as LeRobot buffers them)."""
    rows = [
        {**r, "meta/episodes/chunk_index": chunk_index, "meta/episodes/file_index": file_index} for r in rows
    ]
    path = Path(root) / layout.episodes_path(chunk_index, file_index)
    with atomic_path(path) as tmp:
        pq.write_table(episodes_table(rows), tmp, row_group_size=10, compression="snappy")
    return path


def load_episodes(root: Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """All episode rows in file order (row i must be episode i), as a DataFrame."""
    files = layout.sorted_files(Path(root), layout.EPISODES_DIR, ".parquet")
    if not files:
        raise FormatError(f"{root}: no episodes metadata ({layout.EPISODES_DIR}/chunk-*/file-*.parquet)")
    tables = []
    for f in files:
        try:
            t = pq.read_table(f, columns=list(columns) if columns else None)
        except (OSError, pa.ArrowException) as exc:
            raise CorruptFileError(
                f"{f}: unreadable parquet ({exc}); re-run the writer's repair or restore it"
            ) from exc
        tables.append(t)
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.to_pandas(types_mapper=None)


def stats_from_row(row: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """Per-episode stats ``{feature: {stat: array}}`` from an episodes row's ``stats/*`` columns."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, value in row.items():
        if not isinstance(name, str) or not name.startswith("stats/") or value is None:
            continue
        feature, stat = name[len("stats/") :].rsplit("/", 1)
        out.setdefault(feature, {})[stat] = _to_array(value)
    return out


def _to_array(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype == object:
        return np.asarray([_to_array(v) for v in value])
    return np.asarray(value)


def flatten_stats(stats: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``{"stats/<feature>/<stat>": array}`` in LeRobot's stat order."""
    out: dict[str, np.ndarray] = {}
    for feature, fs in stats.items():
        for stat in layout.STAT_NAMES:
            if stat in fs:
                out[f"stats/{feature}/{stat}"] = np.asarray(fs[stat])
        for stat, v in fs.items():
            if stat not in layout.STAT_NAMES:
                out[f"stats/{feature}/{stat}"] = np.asarray(v)
    return out
