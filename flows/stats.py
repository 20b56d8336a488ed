"""Stage flow ``stats``: the stats recipe with every data/video file a task run on the flow's task runner."""

from __future__ import annotations

from prefect import flow, get_run_logger

from flows import artifacts
from flows.runtime import default_task_runner
from robopipe.stats.recompute import StatsReport, StatsRequest, recompute_stats
from tasks.executors import PrefectExecutor


@flow(name="stats", task_runner=default_task_runner())
def stats_flow(request: StatsRequest) -> StatsReport:
    """Recompute every statistic of ``request.root`` (same recipe and bytes as ``robopipe stats``)."""
    from robopipe.format.info import load_info

    info = load_info(request.root)
    progress = artifacts.Progress(
        artifacts.artifact_key("stats-progress", request.root.name),
        info.total_frames,
        f"stats of {request.root}",
    )
    report = recompute_stats(request, PrefectExecutor(), progress=lambda n: progress.advance(n))
    artifacts.stats_summary(report, artifacts.artifact_key("stats", request.root.name))
    get_run_logger().info("stats of %s: %d episodes, %d frames", request.root, report.episodes, report.frames)
    return report
