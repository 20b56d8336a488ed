"""Tasks: per-file statistics (one task per data parquet / mp4 file) and the per-metadata-file rewrite."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.stats.recompute import Plan, StatsReport, StatsRequest
from robopipe.stats.units import Unit
from robopipe.stats.values import DatasetStats
from tasks._policies import TRANSIENT_RETRIES


@task(name="plan-stats", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def plan_stats_task(root: Path, images: bool) -> Plan:
    """Read the metadata and list the work units (files); creates the staging folder."""
    from robopipe.stats.recompute import plan_recompute

    plan = plan_recompute(root, images=images)
    plan.staging.mkdir(parents=True, exist_ok=True)
    return plan


@task(name="stats-file", cache_policy=NO_CACHE, task_run_name="stats-{unit.path}", **TRANSIENT_RETRIES)
def stats_file_task(
    plan: Plan, unit: Unit, images: bool, on_nonfinite: Literal["raise", "skip"]
) -> DatasetStats:
    """Stats of one file: per-episode rows are staged on disk; only the file's merged stats come back."""
    from robopipe.stats.units import run_unit

    return run_unit(
        plan.root, unit, plan.features, plan.fps, plan.staging, images=images, on_nonfinite=on_nonfinite
    )


@task(name="stats-finalize-file", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def finalize_stats_file_task(plan: Plan, index: int) -> int:
    """Rewrite the ``stats/*`` columns of one ``meta/episodes`` file from the staged rows."""
    from robopipe.stats.recompute import finalize_episodes_file

    return finalize_episodes_file(plan, plan.episodes_files[index])


@task(name="stats-write-global", cache_policy=NO_CACHE)
def write_global_stats_task(
    plan: Plan, totals: list[DatasetStats], seconds: float, executor: str
) -> dict[str, Any]:
    """Merge the per-file stats (a monoid: order-free), write ``meta/stats.json``, drop the staging folder."""
    from robopipe.stats.recompute import cleanup, kept_sketches, make_report, write_global
    from robopipe.stats.values import merge_all

    try:
        write_global(plan, merge_all([*totals, kept_sketches(plan)]))
    finally:
        cleanup(plan)
    report: StatsReport = make_report(plan, seconds, executor)
    return report.model_dump(mode="json")


__all__ = [
    "StatsRequest",
    "finalize_stats_file_task",
    "plan_stats_task",
    "stats_file_task",
    "write_global_stats_task",
]
