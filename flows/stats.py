"""Stage flow ``stats``: recompute every statistic, one task per data/video file on the Dask cluster."""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger

from flows import artifacts
from flows.runtime import default_task_runner
from robopipe.format.lock import writer_lock
from robopipe.stats.recompute import StatsRequest
from tasks.stats import finalize_stats_file_task, plan_stats_task, stats_file_task, write_global_stats_task


@flow(name="stats", task_runner=default_task_runner())
def stats_flow(request: StatsRequest) -> dict[str, Any]:
    """Per-file stats in parallel, merged as a monoid, written to ``meta/``; returns the StatsReport dict.

    ``request.workers``/``dask_address`` are not used here: the flow's task runner is the cluster.
    The root's writer lock is held for the whole run.
    """
    with writer_lock(request.root):
        return _stats(request)


def _stats(request: StatsRequest) -> dict[str, Any]:
    t0 = time.perf_counter()
    plan = plan_stats_task(request.root, request.images)
    units = sorted(plan.units, key=lambda u: -u.frames)  # largest first: shorter tail
    key = artifacts.artifact_key("stats-progress", request.root.name)
    progress = artifacts.Progress(key, len(units), f"stats of {request.root}")
    futures = [stats_file_task.submit(plan, u, request.images, request.on_nonfinite) for u in units]
    totals = []
    for f in futures:
        totals.append(f.result())
        progress.advance()
    done = [finalize_stats_file_task.submit(plan, i) for i in range(len(plan.episodes_files))]
    for f in done:
        f.result()
    report = write_global_stats_task(plan, totals, round(time.perf_counter() - t0, 3), "prefect-dask")
    artifacts.stats_summary(report, artifacts.artifact_key("stats", request.root.name))
    get_run_logger().info(
        "stats of %s: %d episodes, %d frames", request.root, report["episodes"], report["frames"]
    )
    return report
