"""Rules on metadata: info totals and path templates, episodes rows, episode tasks (core layer)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from robopipe.format import layout
from robopipe.format.features import video_keys
from robopipe.validate.context import DatasetContext
from robopipe.validate.findings import FindingCollector, Severity

INFO = layout.INFO_PATH


def check_path_templates(ctx: DatasetContext, out: FindingCollector) -> None:
    """data_path / video_path must format with the placeholders LeRobot passes (and only those)."""
    if ctx.info is None:
        return
    data_t = ctx.info.data_path
    _check_template(
        out, "data_path", data_t, {"chunk_index": 0, "file_index": 0}, ("{chunk_index", "{file_index")
    )
    vkeys = video_keys(ctx.info.features)
    video_t = ctx.info.video_path
    if vkeys and not video_t:
        out.add(
            "RP106",
            "video features are declared but video_path is null",
            file=INFO,
            feature="video_path",
            expected=layout.DEFAULT_VIDEO_PATH,
            actual="null",
        )
    elif video_t:
        _check_template(
            out,
            "video_path",
            video_t,
            {"chunk_index": 0, "file_index": 0, "video_key": "k"},
            ("{video_key", "{chunk_index", "{file_index"),
        )


def _check_template(
    out: FindingCollector, name: str, template: str, kwargs: dict[str, object], required: tuple[str, ...]
) -> None:
    try:
        template.format(**kwargs)
    except (KeyError, IndexError, ValueError) as exc:
        out.add(
            "RP106",
            f"{name} does not format: {exc!r}",
            file=INFO,
            feature=name,
            expected=f"placeholders {sorted(kwargs)}",
            actual=template,
        )
        return
    missing = [r.strip("{") for r in required if r not in template]
    if missing:
        out.add(
            "RP106",
            f"{name} lacks {missing}: different chunks/files would map to one path",
            file=INFO,
            feature=name,
            expected=f"placeholders {sorted(kwargs)}",
            actual=template,
        )


def check_totals(ctx: DatasetContext, out: FindingCollector, data_rows: int | None) -> None:
    """total_episodes / total_frames / total_tasks against the files (data_rows None: data unreadable)."""
    if ctx.info is None:
        return
    if ctx.episodes is not None and ctx.info.total_episodes != ctx.episodes.num_rows:
        out.add(
            "RP103",
            "total_episodes differs from the number of episodes rows",
            file=INFO,
            expected=str(ctx.episodes.num_rows),
            actual=str(ctx.info.total_episodes),
        )
    if data_rows is not None and ctx.info.total_frames != data_rows:
        out.add(
            "RP104",
            "total_frames differs from the number of data rows",
            file=INFO,
            expected=str(data_rows),
            actual=str(ctx.info.total_frames),
        )
    lengths = ctx.episode_column("length")
    if (
        lengths is not None
        and ctx.info.total_frames != int(lengths.sum())
        and data_rows != int(lengths.sum())
    ):
        out.add(
            "RP104",
            "total_frames differs from the sum of episode lengths",
            file=INFO,
            expected=str(int(lengths.sum())),
            actual=str(ctx.info.total_frames),
        )
    if ctx.tasks is not None and ctx.info.total_tasks != len(ctx.tasks):
        out.add(
            "RP105",
            "total_tasks differs from the rows of meta/tasks.parquet",
            file=INFO,
            expected=str(len(ctx.tasks)),
            actual=str(ctx.info.total_tasks),
        )


def required_episode_columns(ctx: DatasetContext) -> list[str]:
    cols = [
        "episode_index",
        "length",
        "data/chunk_index",
        "data/file_index",
        "dataset_from_index",
        "dataset_to_index",
    ]
    for k in video_keys(ctx.features):
        cols += [
            f"videos/{k}/chunk_index",
            f"videos/{k}/file_index",
            f"videos/{k}/from_timestamp",
            f"videos/{k}/to_timestamp",
        ]
    return cols


def check_episodes(ctx: DatasetContext, out: FindingCollector) -> None:
    """Columns present, row i is episode i, contiguous global index ranges, lengths > 0."""
    ep = ctx.episodes
    if ep is None:
        return
    where = layout.EPISODES_DIR
    missing = [c for c in required_episode_columns(ctx) if c not in ep.column_names]
    for c in missing:
        out.add(
            "RP202",
            f"episodes metadata has no column {c!r}",
            file=where,
            feature=c,
            expected=c,
            actual="missing",
        )
    if "tasks" not in ep.column_names:
        out.add(
            "RP202",
            "episodes metadata has no 'tasks' column (tools need it)",
            file=where,
            feature="tasks",
            severity=Severity.WARNING,
            expected="tasks",
            actual="missing",
        )
    idx = ctx.episode_column("episode_index")
    files = _row_files(ctx)
    if idx is not None:
        pos = np.arange(len(idx))
        bad = np.flatnonzero(idx != pos)
        if bad.size:
            i = int(bad[0])
            out.add(
                "RP203",
                f"episodes row {i} holds episode {int(idx[i])}: rows are not in episode order",
                file=files[i] if files else where,
                episode=int(idx[i]),
                expected=f"episode_index {i}",
                actual=str(int(idx[i])),
                count=int(bad.size),
            )
    lengths = ctx.episode_column("length")
    start = ctx.episode_column("dataset_from_index")
    stop = ctx.episode_column("dataset_to_index")
    eps = idx if idx is not None else np.arange(ep.num_rows)
    if lengths is not None:
        for i in np.flatnonzero(lengths <= 0)[:20]:
            out.add(
                "RP204",
                "episode has no frames",
                file=files[i] if files else where,
                episode=int(eps[i]),
                expected="length > 0",
                actual=str(int(lengths[i])),
            )
    if start is not None and stop is not None:
        order = np.argsort(eps, kind="stable")  # check contiguity in episode order even if rows are shuffled
        s, t = start[order], stop[order]
        expected_start = np.concatenate([[0], t[:-1]])
        for j in np.flatnonzero(s != expected_start)[:20]:
            i = int(order[j])
            out.add(
                "RP204",
                "dataset_from_index does not continue where the previous episode ended",
                file=files[i] if files else where,
                episode=int(eps[i]),
                expected=str(int(expected_start[j])),
                actual=str(int(s[j])),
            )
        if lengths is not None:
            for i in np.flatnonzero(stop - start != lengths)[:20]:
                out.add(
                    "RP204",
                    "dataset_to_index - dataset_from_index differs from length",
                    file=files[i] if files else where,
                    episode=int(eps[i]),
                    expected=str(int(lengths[i])),
                    actual=str(int(stop[i] - start[i])),
                )


def _row_files(ctx: DatasetContext) -> list[str]:
    """For each episodes row, the episodes file it lives in."""
    out: list[str] = []
    for f in ctx.episodes_files:
        try:
            n = pq.ParquetFile(f).metadata.num_rows
        except (OSError, pa.ArrowException):
            return []
        out += [ctx.rel(f)] * n
    return out


def check_episode_tasks(ctx: DatasetContext, out: FindingCollector) -> None:
    """Every task string of an episodes row is a row of tasks.parquet."""
    if ctx.episodes is None or ctx.tasks is None or "tasks" not in ctx.episodes.column_names:
        return
    known = set(ctx.tasks)
    eps = ctx.episode_column("episode_index")
    col = ctx.episodes.column("tasks").to_pylist()
    for i, tasks in enumerate(col):
        unknown = [t for t in (tasks or []) if t not in known]
        if unknown:
            out.add(
                "RP207",
                f"episode names tasks not in meta/tasks.parquet: {unknown}",
                file=layout.EPISODES_DIR,
                episode=int(eps[i]) if eps is not None else i,
                expected=f"one of {sorted(known)[:5]}",
                actual=repr(unknown),
            )
