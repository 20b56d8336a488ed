"""``robopipe merge``, ``delete-episodes``, ``split``, ``remove-feature``, ``rename-feature``, ``set-task``.

Every command stream-copies video (no decode, no re-encode), writes each output file once into a
temporary sibling of the output, and renames it into place at the end; inputs are never modified.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from cyclopts import App, Parameter

if TYPE_CHECKING:
    from robopipe.edit import EditReport, EditRequest, MergeRequest
    from robopipe.execution import Execution

_Episodes = Annotated[list[int] | None, Parameter(consume_multiple=True)]
_Strings = Annotated[list[str] | None, Parameter(consume_multiple=True)]


def _print(report: EditReport) -> None:
    for o in report.outputs:
        print(
            f"{o.root}: {o.episodes} episodes, {o.frames} frames, {o.tasks} tasks, {o.data_files} data files, "
            f"{o.video_files} video files, {o.bytes / 1e6:.1f} MB (stats from {o.stats_source})"
        )
    extra = f", {report.reencoded_spans} span(s) re-encoded" if report.reencoded_spans else ""
    print(f"{report.operation} done in {report.seconds:.2f}s{extra}")


def _limits(data_mb: float | None, video_mb: float | None, chunks_size: int | None) -> dict[str, object]:
    from robopipe.edit import SizeLimits

    return {
        "limits": SizeLimits(
            data_files_size_in_mb=data_mb, video_files_size_in_mb=video_mb, chunks_size=chunks_size
        )
    }


def _execution(workers: int, address: str | None) -> Execution:
    """``--workers 1`` (the default) writes in this process; more use a local Dask cluster."""
    from robopipe.execution import Execution

    return Execution.from_options(0 if workers == 1 else workers, address)


def _run_merge(req: MergeRequest, workers: int, address: str | None) -> EditReport:
    from robopipe.edit import merge
    from tasks.executors import open_executor

    with open_executor(_execution(workers, address)) as executor:
        return merge(req, executor)


def _run_edit(req: EditRequest, workers: int, address: str | None) -> EditReport:
    from robopipe.edit import edit
    from tasks.executors import open_executor

    with open_executor(_execution(workers, address)) as executor:
        return edit(req, executor)


def merge(
    out: Path,
    /,
    *roots: str,
    repo_id: str | None = None,
    rename: _Strings = None,
    data_files_size_in_mb: float | None = None,
    video_files_size_in_mb: float | None = None,
    chunks_size: int | None = None,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Merge datasets into a new one: tasks unioned, episodes renumbered, videos stream-copied.

    Inputs must share fps, robot type and features (every difference is listed otherwise). Stats are
    merged from per-episode stats without reading frames.

    Parameters
    ----------
    out
        New dataset root (must not exist).
    roots
        Input dataset roots (folders, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or URLs ``s3://…``, ``hf://…``,
        ``file://…``: ``meta/`` and the files the episodes reference are fetched), in output order.
    repo_id
        Label of the merged dataset (for the log and report).
    rename
        Feature renames OLD=NEW applied to every input that has OLD (e.g. when robots name cameras differently).
    data_files_size_in_mb
        Data parquet rollover size (default: the first input's).
    video_files_size_in_mb
        mp4 rollover size (default: the first input's).
    chunks_size
        Files per chunk directory (default: the first input's).
    workers
        Parallel workers; more than 1 runs on a local Dask cluster.
    dask_address
        Address of an existing Dask scheduler (workers must see the same paths).
    """
    from pydantic import ValidationError

    from robopipe.edit import MergeRequest, parse_renames
    from robopipe.storage.fetch import local_input

    try:
        req = MergeRequest(
            out=out,
            roots=[local_input(r) for r in roots],
            repo_id=repo_id,
            rename=parse_renames(rename),
            **_limits(data_files_size_in_mb, video_files_size_in_mb, chunks_size),  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        print("error: merge: " + "; ".join(str(e["msg"]) for e in exc.errors()), file=sys.stderr)
        return 2
    from robopipe.format.atomic import disk_full_reported

    with disk_full_reported(out, "the inputs, unchanged; no output was committed"):
        _print(_run_merge(req, workers, dask_address))
    return 0


def _edit(
    operation: str,
    root: str,
    out: Path | None,
    in_place: bool,
    workers: int,
    address: str | None,
    **kw: object,
) -> int:
    from pydantic import ValidationError

    from robopipe.edit import EditRequest
    from robopipe.storage.fetch import local_input, refuse_url

    if in_place:
        refuse_url(root, "--in-place")
    path = local_input(root)

    try:
        req = EditRequest(operation=operation, root=path, out=out, in_place=in_place, **kw)  # type: ignore[arg-type]
    except ValidationError as exc:
        print(f"error: {operation}: " + "; ".join(str(e["msg"]) for e in exc.errors()), file=sys.stderr)
        return 2
    from robopipe.format.atomic import disk_full_reported

    target = path if in_place else out
    kept = (
        f"{path} unchanged (an in-place edit is swapped in only when complete)"
        if in_place
        else "the input, unchanged; no output was committed"
    )
    with disk_full_reported(target or path, kept):
        _print(_run_edit(req, workers, address))
    return 0


def delete_episodes(
    root: str,
    /,
    *,
    episodes: _Episodes = None,
    out: Path | None = None,
    in_place: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Delete episodes; the rest are renumbered 0..n-1 and their video packets copied unchanged.

    Parameters
    ----------
    root
        Input dataset root (a folder, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or a URL ``s3://…``,
        ``hf://…``, ``file://…``: ``meta/`` and the files the episodes reference are fetched).
    episodes
        Episode indices to delete, e.g. ``--episodes 3 7``.
    out
        New dataset root.
    in_place
        Replace ROOT instead (a backup is kept until the new dataset is complete).
    workers
        Parallel workers; more than 1 runs on a local Dask cluster.
    dask_address
        Address of an existing Dask scheduler.
    """
    return _edit("delete-episodes", root, out, in_place, workers, dask_address, episodes=episodes)


def split(
    root: str,
    /,
    *,
    splits: str,
    out_dir: Path,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Split a dataset into several (one root per split under OUT_DIR).

    Parameters
    ----------
    root
        Input dataset root (a folder, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or a URL ``s3://…``,
        ``hf://…``, ``file://…``: ``meta/`` and the files the episodes reference are fetched).
    splits
        ``train=0.8,val=0.2`` (fractions: int(total*f) episodes in order, the last split takes the rest)
        or episode lists ``train=0-7,val=8,9``.
    out_dir
        Directory receiving ``<out_dir>/<split>``.
    workers
        Parallel workers; more than 1 runs on a local Dask cluster.
    dask_address
        Address of an existing Dask scheduler.
    """
    from robopipe.edit import parse_splits

    return _edit("split", root, out_dir, False, workers, dask_address, splits=parse_splits(splits))


def remove_feature(
    root: str,
    /,
    *,
    feature: _Strings = None,
    out: Path | None = None,
    in_place: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Remove features (columns or cameras), including their stats and episodes-metadata columns.

    Parameters
    ----------
    root
        Input dataset root (a folder, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or a URL ``s3://…``,
        ``hf://…``, ``file://…``: ``meta/`` and the files the episodes reference are fetched).
    feature
        Feature key(s) to remove, e.g. ``--feature observation.images.wrist``.
    out
        New dataset root.
    in_place
        Replace ROOT instead (a backup is kept until the new dataset is complete).
    workers
        Parallel workers; more than 1 runs on a local Dask cluster.
    dask_address
        Address of an existing Dask scheduler.
    """
    return _edit("remove-feature", root, out, in_place, workers, dask_address, features=list(feature or []))


def rename_feature(
    root: str,
    /,
    *,
    rename: _Strings = None,
    out: Path | None = None,
    in_place: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Rename features (columns, camera folders, stats and metadata columns).

    Parameters
    ----------
    root
        Input dataset root (a folder, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or a URL ``s3://…``,
        ``hf://…``, ``file://…``: ``meta/`` and the files the episodes reference are fetched).
    rename
        OLD=NEW pairs, e.g. ``--rename observation.images.top=observation.images.front``.
    out
        New dataset root.
    in_place
        Replace ROOT instead (a backup is kept until the new dataset is complete).
    workers
        Parallel workers; more than 1 runs on a local Dask cluster.
    dask_address
        Address of an existing Dask scheduler.
    """
    from robopipe.edit import parse_renames

    return _edit("rename-feature", root, out, in_place, workers, dask_address, rename=parse_renames(rename))


def set_task(
    root: str,
    /,
    *,
    task: str,
    episodes: _Episodes = None,
    out: Path | None = None,
    in_place: bool = False,
    workers: int = 1,
    dask_address: str | None = None,
) -> int:
    """Set the task of some episodes (or all): ``tasks.parquet``, ``task_index`` and the ``tasks`` column.

    Parameters
    ----------
    root
        Input dataset root (a folder, ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, or a URL ``s3://…``,
        ``hf://…``, ``file://…``: ``meta/`` and the files the episodes reference are fetched).
    task
        The new task string.
    episodes
        Episodes to retask (default: all).
    out
        New dataset root.
    in_place
        Replace ROOT instead (a backup is kept until the new dataset is complete).
    workers
        Parallel workers; more than 1 runs on a local Dask cluster.
    dask_address
        Address of an existing Dask scheduler.
    """
    return _edit("set-task", root, out, in_place, workers, dask_address, task=task, episodes=episodes)


def register(app: App) -> None:
    app.command(merge)
    app.command(delete_episodes, name="delete-episodes")
    app.command(split)
    app.command(remove_feature, name="remove-feature")
    app.command(rename_feature, name="rename-feature")
    app.command(set_task, name="set-task")
