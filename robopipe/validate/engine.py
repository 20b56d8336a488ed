"""``validate_dataset``: run every rule and collect one report (core layer).

The one validate recipe (the CLI and the flows call it). Order: load metadata -> build the GX suite and
map the per-file GX jobs on the executor (a parallel executor starts them at once) -> hand-written rules
(metadata, data, videos, stats) in this process meanwhile -> read the GX results back in file order ->
Data Docs. The dataset is only read, never written.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from robopipe.execution import Done, Executor, SerialExecutor, Stream, ThreadExecutor
from robopipe.format.atomic import atomic_write_text
from robopipe.validate import rules_meta, rules_v3
from robopipe.validate.bounds import FeatureBounds, load_bounds
from robopipe.validate.context import DatasetContext, load_context
from robopipe.validate.findings import (
    DatasetSummary,
    FindingCollector,
    GxSummary,
    ValidateRequest,
    ValidationReport,
)
from robopipe.validate.rules_data import check_data
from robopipe.validate.rules_stats import check_stats
from robopipe.validate.rules_video import check_videos, video_files_on_disk
from robopipe.validate.rules_writer import check_writer_state

log = logging.getLogger(__name__)

# (path or URL of the data file, its path relative to the dataset root, features_json, suites)
GxJob = tuple[str, str, dict[str, Any], list[dict[str, Any]]]


def gx_unit(step: Callable[[int], None] | None, job: GxJob) -> dict[str, Any]:
    """Unit of work: one data file through every GX suite (a process keeps one ephemeral GX context).

    A job naming a URL is read by the process that runs it (a worker on another machine has none of the
    client's paths): the file is fetched into that process's scratch folder first; a failed download is a
    TransientError (retried), never a finding. ``step(n)`` (in-process executors only) is called as
    expectations finish.
    """
    from robopipe.storage import fetch_file, is_url
    from robopipe.validate.gx_suite import run_gx_file

    path, rel, features, suites = job
    if is_url(path):
        path = str(fetch_file(path))
    return run_gx_file(path, rel, features, suites, progress=step)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def validate_dataset(
    root: str | Path,
    *,
    full_decode: bool = False,
    gx: bool = True,
    suites: Sequence[str | Path] = (),
    bounds: str | Path | Mapping[str, FeatureBounds] | None = None,
    report_dir: str | Path | None = None,
    executor: Executor | None = None,
    request: ValidateRequest | None = None,
    progress: Callable[[int, int], None] | None = None,
    data_url: str | None = None,
) -> ValidationReport:
    """Check a LeRobot v3.0 dataset against every rule and return all findings (never first-fail).

    Args:
        root: dataset folder.
        full_decode: decode every video frame (also finds corrupt packets and frozen cameras).
        gx: run Great Expectations suites (generated + ``suites``) on every data file.
        suites: GX ExpectationSuite JSON files with project-specific expectations.
        bounds: value limits (a bounds YAML path or parsed :class:`FeatureBounds`).
        report_dir: where to write the GX Data Docs site and ``report.json``.
        executor: where the per-file GX jobs run (default: serially in this process).
        request: the originating request (stored in the report; its tuning fields are used).
        progress: ``progress(done, total)`` GX expectations, called as each data file's results arrive.
        data_url: the URL ``root`` is a local copy of: the GX units then name their data file by URL and
            the process running each unit reads it itself (remote workers share no path with this one).

    Raises:
        DatasetNotFoundError: ``root`` has no ``meta/info.json``.
        CorruptFileError: ``meta/info.json`` is not readable JSON.
        ConfigError: the bounds file or a suite file is invalid.
    """
    t_start = time.perf_counter()
    req = request or ValidateRequest(
        root=str(root),
        full_decode=full_decode,
        gx=gx,
        suites=[str(s) for s in suites],
        bounds=str(bounds) if isinstance(bounds, str | Path) else None,
        report_dir=None if report_dir is None else str(report_dir),
    )
    root = Path(root)
    parsed_bounds = load_bounds(bounds) if isinstance(bounds, str | Path) else dict(bounds or {})
    user_suites: list[dict[str, Any]] = []
    if gx and suites:
        from robopipe.validate.gx_suite import load_user_suite

        user_suites = [load_user_suite(s) for s in suites]
    out = FindingCollector(req.max_findings_per_code)
    ctx = load_context(root, out)
    rules_run = ["info", "episodes", "tasks", "writer"]

    gx_stream: Stream[dict[str, Any]] | None = None
    executor = executor or SerialExecutor()
    suite_names: list[str] = []
    jobs: list[GxJob] = []
    if gx and ctx.info is not None and ctx.data_files:
        jobs, suite_names = _gx_jobs(ctx, parsed_bounds, user_suites, data_url)
        step, on_file = _gx_progress(jobs, progress, executor)
        gx_stream = executor.map(
            gx_unit, step, jobs, weights=[_file_size(p) for p in ctx.data_files], label="gx-file"
        )

    check_writer_state(root, out)
    rules_meta.check_path_templates(ctx, out)
    rules_meta.check_episodes(ctx, out)
    rules_meta.check_episode_tasks(ctx, out)
    data_rows, frames_checked = check_data(ctx, out, parsed_bounds, req.tolerance_s)
    rules_v3.check_v3_info(ctx, out)
    rules_v3.check_language(ctx, out)
    rules_meta.check_totals(ctx, out, data_rows)
    rules_run += ["data"]
    video_frames = check_videos(
        ctx,
        out,
        full_decode=req.full_decode,
        tolerance_s=req.tolerance_s,
        frozen_frames=req.frozen_frames,
        frozen_max_diff=req.frozen_max_diff,
    )
    rules_run += ["videos-decode" if req.full_decode else "videos-metadata", "stats"]
    check_stats(ctx, out)

    gx_summary = None
    if gx_stream is not None:
        from robopipe.validate.gx_suite import gx_findings, write_data_docs

        results = gx_stream.results(on_file)  # file order, whatever order they finished in
        unreadable = {f.file for f in out.findings if f.code == "RP301" and f.file}
        evaluated, failed = gx_findings(results, out, unreadable)
        docs = write_data_docs(results, Path(report_dir)) if report_dir else None
        gx_summary = GxSummary(
            suites=suite_names,
            files=len(results),
            evaluated=evaluated,
            failed=failed,
            data_docs=None if docs is None else str(docs),
            runner=executor.name,
        )
        rules_run.append("great-expectations")

    report = ValidationReport(
        root=str(root),
        dataset=_summary(ctx),
        findings=out.findings,
        suppressed=dict(out.suppressed),
        rules_run=rules_run,
        frames_checked=frames_checked,
        video_frames_checked=video_frames,
        gx=gx_summary,
        duration_s=round(time.perf_counter() - t_start, 3),
        request=req,
    )
    if report_dir:
        atomic_write_text(Path(report_dir) / "report.json", report.model_dump_json(indent=2))
    log.info("validated %s: %s in %.1fs", root, report.counts, report.duration_s)
    return report


def _gx_progress(
    jobs: Sequence[GxJob], progress: Callable[[int, int], None] | None, executor: Executor
) -> tuple[Callable[[int], None] | None, Callable[[Done[dict[str, Any]]], None] | None]:
    """``progress(done, total)`` over every expectation: per expectation when the units run in this process
    (serial, threads), else per finished file (workers cannot call back into this process)."""
    if progress is None:
        return None, None
    from robopipe.validate.gx_suite import count_expectations

    total = sum(count_expectations(j[3]) for j in jobs)
    done = [0]
    lock = threading.Lock()

    def step(n: int) -> None:
        with lock:
            done[0] += n
            progress(done[0], total)

    if isinstance(executor, SerialExecutor | ThreadExecutor):
        return step, None
    return None, lambda d: step(count_expectations(jobs[d.index][3]))


def validate(
    request: ValidateRequest,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ValidationReport:
    """:func:`validate_dataset` driven by a :class:`ValidateRequest` (what the CLI and the flows call).

    ``request.root`` may be a URL (``s3://…``): the rules run on a local copy; the GX units of an executor
    that runs them in other processes (Dask, possibly other machines) carry the URL of their data file and
    each worker reads it itself, while serial and thread executors read this process's copy.
    """
    from robopipe.storage import dataset_at, is_url

    in_process = executor is None or isinstance(executor, SerialExecutor | ThreadExecutor)
    data_url = None if in_process or not is_url(request.root) else request.root
    with dataset_at(request.root) as root:
        return _validate(request, root, executor, progress, data_url)


def _validate(
    request: ValidateRequest,
    root: Path,
    executor: Executor | None,
    progress: Callable[[int, int], None] | None,
    data_url: str | None = None,
) -> ValidationReport:
    return validate_dataset(
        root,
        full_decode=request.full_decode,
        gx=request.gx,
        suites=request.suites,
        bounds=request.bounds,
        report_dir=request.report_dir,
        executor=executor,
        request=request,
        progress=progress,
        data_url=data_url,
    )


def _gx_jobs(
    ctx: DatasetContext,
    bounds: Mapping[str, FeatureBounds],
    user_suites: list[dict[str, Any]],
    data_url: str | None = None,
) -> tuple[list[GxJob], list[str]]:
    from robopipe.validate.gx_suite import build_feature_suite

    if ctx.info is None:
        return [], []
    generated = build_feature_suite(
        ctx.features,
        total_tasks=len(ctx.tasks) if ctx.tasks is not None else None,
        total_episodes=ctx.episodes.num_rows if ctx.episodes is not None else ctx.info.total_episodes,
        stats=ctx.stats,
        bounds=bounds,
    )
    suites = [generated, *user_suites]
    features_json = {k: json.loads(v.model_dump_json()) for k, v in ctx.features.items()}
    base = None if data_url is None else data_url.rstrip("/")
    jobs: list[GxJob] = [
        (str(p) if base is None else f"{base}/{ctx.rel(p)}", ctx.rel(p), features_json, suites)
        for p in ctx.data_files
    ]
    return jobs, [s["name"] for s in suites]


def _summary(ctx: DatasetContext) -> DatasetSummary:
    info = ctx.info
    raw = ctx.raw_info
    return DatasetSummary(
        codebase_version=str(raw.get("codebase_version")) if raw.get("codebase_version") else None,
        robot_type=info.robot_type if info else None,
        fps=info.fps if info else None,
        total_episodes=info.total_episodes if info else None,
        total_frames=info.total_frames if info else None,
        total_tasks=info.total_tasks if info else None,
        features={k: {"dtype": f.dtype, "shape": list(f.shape)} for k, f in ctx.features.items()},
        video_keys=[k for k, f in ctx.features.items() if f.is_video],
        data_files=len(ctx.data_files),
        video_files=video_files_on_disk(ctx),
    )
