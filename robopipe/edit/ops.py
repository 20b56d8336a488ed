"""The merge and edit operations: load inputs, plan, write every output file once, commit (core layer).

The one merge/edit recipe: inputs' metadata is loaded and every output file is written as a unit of work
on an :class:`~robopipe.execution.Executor` (serial, threads, Dask, Prefect task runs), largest first;
planning, metadata and the commit happen here, so every executor writes the same bytes.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np

from robopipe.edit.execute import (
    DataFileResult,
    VideoFileResult,
    execute_data_file,
    execute_video_file,
    output_jobs,
)
from robopipe.edit.finish import commit_output, write_metadata
from robopipe.edit.leftovers import split_stage_for, stage_dir_for, sweep, sweep_split, write_split_journal
from robopipe.edit.models import EditReport, EditRequest, MergeRequest, OutputSummary
from robopipe.edit.plan import EditPlan, Selection, plan_edit
from robopipe.edit.sources import Source, load_source
from robopipe.errors import ConfigError, DatasetExistsError, MergeError, SchemaMismatchError
from robopipe.execution import Executor, SerialExecutor
from robopipe.format import layout
from robopipe.format.atomic import fsync_dir
from robopipe.format.lock import writer_lock

log = logging.getLogger(__name__)

RunResult = tuple[list[DataFileResult], list[VideoFileResult]]
Job = tuple[str, Any, int]


def run_job(plan: EditPlan, job: Job) -> DataFileResult | VideoFileResult:
    """Unit of work: write one output file (``job`` from :func:`robopipe.edit.execute.output_jobs`)."""
    kind, key, i = job
    return execute_data_file(plan, i) if kind == "data" else execute_video_file(plan, key, i)


def load_source_unit(_: None, root: Path) -> Source:
    """Unit of work: one input's metadata."""
    return load_source(root)


def job_weight(plan: EditPlan, job: Job) -> int:
    """Frames an output file holds (video weighs 4x: decoding/copying packets costs more than parquet)."""
    kind, key, i = job
    f = plan.data.files[i] if kind == "data" else plan.videos[key].files[i]
    frames = int(plan.length[f.start : f.stop].sum())
    return frames * (4 if kind == "video" else 1)


def write_files(plan: EditPlan, executor: Executor) -> RunResult:
    """Write every output file of ``plan`` on ``executor``; results in job order."""
    jobs = output_jobs(plan)
    results = executor.map(
        run_job, plan, jobs, weights=[job_weight(plan, j) for j in jobs], label="write-file"
    ).results()
    data: list[DataFileResult] = []
    videos: list[VideoFileResult] = []
    for r in results:
        if isinstance(r, VideoFileResult):
            videos.append(r)
        else:
            data.append(r)
    return data, videos


def load_sources(roots: Sequence[Path], executor: Executor | None = None) -> list[Source]:
    """Every input's metadata, in input order (loaded in parallel on a parallel executor)."""
    return (
        (executor or SerialExecutor()).map(load_source_unit, None, list(roots), label="load-input").results()
    )


def summarize_output(root: Path, stats_source: str) -> OutputSummary:
    from robopipe.format.info import load_info

    info = load_info(root)
    files = [p for p in root.rglob("*") if p.is_file()]
    return OutputSummary(
        root=root,
        episodes=info.total_episodes,
        frames=info.total_frames,
        tasks=info.total_tasks,
        data_files=len(layout.sorted_files(root, layout.DATA_DIR, ".parquet")),
        video_files=sum(1 for p in files if p.suffix == ".mp4"),
        bytes=sum(p.stat().st_size for p in files),
        stats_source=stats_source,  # type: ignore[arg-type]
    )


def claim_output(out: Path, stack: ExitStack, *, in_place: bool = False) -> None:
    """Take ``out``'s writer lock for the rest of ``stack``, clean up after interrupted edits of it, and
    refuse an existing output (unless editing in place)."""
    stack.enter_context(writer_lock(out))
    sweep(out)
    if out.exists() and not in_place:
        raise DatasetExistsError(f"{out}: already exists; choose a new output root or remove it")


def build_output(
    sources: Sequence[Source],
    selections: Sequence[Selection],
    out: Path,
    *,
    executor: Executor,
    in_place: bool = False,
    claimed: bool = False,
    **plan_kwargs: Any,
) -> tuple[OutputSummary, int]:
    """Plan, write and commit one output dataset; returns its summary and the re-encoded span count.

    The output root's writer lock is held throughout (``claimed``: the caller already holds it).
    """
    out = Path(out)
    with ExitStack() as stack:
        if not claimed:
            claim_output(out, stack, in_place=in_place)
        return _build_output(sources, selections, out, executor, in_place, plan_kwargs)


def _build_output(
    sources: Sequence[Source],
    selections: Sequence[Selection],
    out: Path,
    executor: Executor,
    in_place: bool,
    plan_kwargs: dict[str, Any],
) -> tuple[OutputSummary, int]:
    stage = stage_dir_for(out)
    if stage.exists():
        shutil.rmtree(stage)  # leftover of an interrupted run of this process id
    stage.mkdir(parents=True)
    try:
        t0 = time.perf_counter()
        plan = plan_edit(sources, selections, stage, **plan_kwargs)
        log.info(
            "%s: planned %d episodes, %d data files, %d video files in %.2fs",
            out,
            plan.num_episodes,
            len(plan.data.files),
            sum(len(v.files) for v in plan.videos.values()),
            time.perf_counter() - t0,
        )
        data_results, videos = write_files(plan, executor)
        stats_source = write_metadata(plan, sources, data_results, label=out)
        commit_output(stage, out, in_place=in_place)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    reencoded = sum(v.reencoded for v in videos)
    return summarize_output(out, stats_source), reencoded


def merge(request: MergeRequest, executor: Executor | None = None) -> EditReport:
    """The merge recipe: ``request.roots`` into ``request.out`` on ``executor`` (default: serial)."""
    t0 = time.perf_counter()
    executor = executor or SerialExecutor()
    sources = load_sources(request.roots, executor)
    unknown = [k for k in request.rename if not any(k in s.info.features for s in sources)]
    if unknown:
        raise ConfigError(
            f"--rename: no input has feature(s) {unknown}; check the names with `robopipe info ROOT`"
        )
    summary, reenc = build_output(
        sources,
        [Selection(i) for i in range(len(sources))],
        request.out,
        executor=executor,
        rename=request.rename,
        **request.limits.model_dump(),
    )
    log.info("merged %d datasets into %s (%s)", len(sources), request.out, request.repo_id or "no repo id")
    return EditReport(
        operation="merge",
        inputs=list(request.roots),
        outputs=[summary],
        seconds=time.perf_counter() - t0,
        reencoded_spans=reenc,
    )


def split_episodes(total: int, splits: dict[str, float | list[int]]) -> dict[str, list[int]]:
    """Episodes of each split. Fractions follow LeRobot: ``int(total*f)`` in order, the last split takes the rest."""
    values = list(splits.values())
    if all(isinstance(v, float) for v in values):
        fracs = [float(v) for v in values]  # type: ignore[arg-type]
        if any(f <= 0 for f in fracs) or sum(fracs) > 1 + 1e-9:
            raise ConfigError(f"split fractions must be > 0 and sum to <= 1, got {splits}")
        out: dict[str, list[int]] = {}
        start = 0
        for j, (name, f) in enumerate(zip(splits, fracs)):
            n = total - start if j == len(fracs) - 1 else int(total * f)
            out[name] = list(range(start, start + n))
            start += n
        return out
    if any(not isinstance(v, list) for v in values):
        raise ConfigError(f"splits must be all fractions or all episode lists, got {splits}")
    lists = {k: [int(e) for e in v] for k, v in splits.items()}  # type: ignore[union-attr]
    seen: dict[int, str] = {}
    for name, eps in lists.items():
        for e in eps:
            if not 0 <= e < total:
                raise ConfigError(f"split {name!r}: episode {e} does not exist (0..{total - 1})")
            if e in seen:
                raise ConfigError(f"episode {e} is in both split {seen[e]!r} and {name!r}")
            seen[e] = name
    return lists


def _check_features(src: Source, names: Iterable[str], what: str) -> None:
    missing = [k for k in names if k not in src.info.features]
    if missing:
        raise SchemaMismatchError(
            f"{src.root}: cannot {what} {missing}: no such feature (features: {list(src.info.features)})"
        )


def _split(
    src: Source, parts: dict[str, list[int]], out_dir: Path, common: dict[str, Any]
) -> tuple[list[OutputSummary], int]:
    """Write every split or none: all are staged first, then moved into place together.

    Into a new ``out_dir`` the whole folder is staged and renamed at once; into an existing one the
    outputs are renamed one by one under a journal, so a run killed half-way is undone by the next.
    """
    written = {name: eps for name, eps in parts.items() if eps}
    for name in parts.keys() - written.keys():
        log.warning("split %r is empty; not written", name)
    with ExitStack() as stack:
        stack.enter_context(writer_lock(out_dir))  # one split into a folder at a time
        sweep_split(out_dir)
        for name in parts:  # outputs are claimed through out_dir's lock (their own would live inside it)
            sweep(out_dir / name)
        clash = [str(out_dir / name) for name in parts if (out_dir / name).exists()]
        if clash:
            raise DatasetExistsError(f"split outputs already exist: {clash}; choose another --out-dir")
        fresh = not out_dir.exists()
        stage = split_stage_for(out_dir)
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        try:
            staged = []
            for name, eps in written.items():
                sel = [Selection(0, np.asarray(eps, dtype=np.int64))]
                staged.append(build_output([src], sel, stage / name, claimed=True, **common))
            if fresh:
                os.replace(stage, out_dir)
            else:
                _move_split_outputs(stage, out_dir, list(written))
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        fsync_dir(out_dir.parent)
    outputs = [s.model_copy(update={"root": out_dir / s.root.name}) for s, _ in staged]
    return outputs, sum(r for _, r in staged)


def _move_split_outputs(stage: Path, out_dir: Path, names: list[str]) -> None:
    journal = write_split_journal(out_dir, [out_dir / n for n in names])
    moved: list[str] = []
    try:
        for name in names:
            os.replace(stage / name, out_dir / name)
            moved.append(name)
    except BaseException:
        for name in moved:  # undo: a partial set must not look like a finished split
            shutil.rmtree(out_dir / name, ignore_errors=True)
        raise
    finally:
        fsync_dir(out_dir)
    journal.unlink()


def edit(request: EditRequest, executor: Executor | None = None) -> EditReport:
    """The edit recipe: one single-dataset edit (see :class:`EditRequest`) on ``executor`` (default: serial)."""
    t0 = time.perf_counter()
    src = load_source(request.root)
    n = src.num_episodes
    limits = request.limits.model_dump()
    out = request.root if request.in_place else Path(request.out or "")
    common: dict[str, Any] = {
        "executor": executor or SerialExecutor(),
        "in_place": request.in_place,
        **limits,
    }
    outputs: list[OutputSummary] = []
    reenc = 0
    op = request.operation
    if op == "delete-episodes":
        gone = sorted(set(request.episodes or []))
        bad = [e for e in gone if e >= n]
        if bad:
            raise MergeError(f"{request.root}: episodes {bad} do not exist (it has 0..{n - 1})")
        keep = np.setdiff1d(np.arange(n), np.asarray(gone, dtype=np.int64))
        if len(keep) == 0:
            raise MergeError(
                f"{request.root}: deleting {len(gone)} episodes would leave none; nothing to write"
            )
        s, r = build_output([src], [Selection(0, keep)], out, **common)
        outputs.append(s)
        reenc += r
    elif op == "split":
        parts = split_episodes(n, dict(request.splits or {}))
        outputs, reenc = _split(src, parts, Path(request.out or ""), common)
    elif op == "remove-feature":
        _check_features(src, request.features, "remove")
        s, r = build_output([src], [Selection(0)], out, drop=list(request.features), **common)
        outputs.append(s)
        reenc += r
    elif op == "rename-feature":
        _check_features(src, request.rename, "rename")
        s, r = build_output([src], [Selection(0)], out, rename=dict(request.rename), **common)
        outputs.append(s)
        reenc += r
    elif op == "set-task":
        eps = list(range(n)) if request.episodes is None else sorted(set(request.episodes))
        bad = [e for e in eps if e >= n]
        if bad:
            raise MergeError(f"{request.root}: episodes {bad} do not exist (it has 0..{n - 1})")
        overrides = {(0, e): str(request.task) for e in eps}
        s, r = build_output([src], [Selection(0)], out, task_overrides=overrides, **common)
        outputs.append(s)
        reenc += r
    else:  # pragma: no cover - guarded by the Literal type
        raise ConfigError(f"unknown operation {op!r}")
    return EditReport(
        operation=op,
        inputs=[request.root],
        outputs=outputs,
        seconds=time.perf_counter() - t0,
        reencoded_spans=reenc,
    )
