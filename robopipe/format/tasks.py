"""``meta/tasks.parquet``: task strings and their indices (core layer).

Written the pandas way LeRobot reads it: the index holds the task strings (named ``task``, as LeRobot
0.5+ writes and 0.4.4 reads), one int64 column ``task_index`` equal to the row position.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.errors import CorruptFileError, FormatError
from robopipe.format import layout, safepath
from robopipe.format.atomic import atomic_path


def tasks_frame(tasks: list[str]) -> pd.DataFrame:
    """The tasks table for ``tasks`` in task-index order."""
    # an array, not a Series: a Series would be aligned on the string index (all NaN)
    return pd.DataFrame(
        {"task_index": np.arange(len(tasks), dtype=np.int64)}, index=pd.Index(tasks, name="task")
    )


def write_tasks(root: Path, tasks: list[str]) -> None:
    """Atomically write ``meta/tasks.parquet``."""
    if len(set(tasks)) != len(tasks):
        raise FormatError(f"{root}: duplicate task strings in {tasks!r}")
    with atomic_path(Path(root) / layout.TASKS_PATH) as tmp:
        tasks_frame(tasks).to_parquet(tmp)


def load_tasks(root: Path) -> list[str]:
    """Task strings by task index, from either index form (named ``task`` or LeRobot 0.4.4's unnamed)."""
    path = safepath.inside(Path(root), layout.TASKS_PATH, "tasks file")
    if not path.is_file():
        raise FormatError(f"{root}: missing {layout.TASKS_PATH}")
    try:
        df = pd.read_parquet(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptFileError(f"{path}: unreadable parquet: {exc}") from exc
    return tasks_from_frame(df, path)


def tasks_from_frame(df: pd.DataFrame, path: Path | str) -> list[str]:
    """Task strings by task index from the tasks table read at ``path`` (named in errors)."""
    if "task_index" not in df.columns:
        raise FormatError(f"{path}: expected a 'task_index' column, found {list(df.columns)}")
    if "task" in df.columns:  # written without pandas index metadata
        df = df.set_index("task")
    df = df.sort_values("task_index")
    expected = list(range(len(df)))
    if df["task_index"].tolist() != expected:
        raise FormatError(
            f"{path}: task_index must be 0..{len(df) - 1} in order, got {df['task_index'].tolist()}"
        )
    return [str(t) for t in df.index]


def tasks_schema_ok(path: Path) -> bool:
    """True if the file carries pandas index metadata (else LeRobot would read integer tasks)."""
    return b"pandas" in (pq.read_schema(path).metadata or {})
