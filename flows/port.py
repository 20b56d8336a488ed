"""Pipeline ``port``: convert shards in parallel → validate each shard → merge → stats → publish.

One Dask cluster (``request.execution``) serves every stage. A shard that fails is reported and the
others finish; nothing is merged until every shard is good, and a re-run converts only what is missing.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows import artifacts
from flows.convert import convert_and_check
from flows.models import PortRequest, PortSummary, PublishStep, StatsTotals
from flows.publish_step import publish_step
from flows.runtime import dask_cluster, task_runner
from flows.stats import stats_flow
from flows.validate import validate_flow
from robopipe.convert.engine import ConversionReport
from robopipe.stats.recompute import StatsReport, StatsRequest
from robopipe.validate import ValidateRequest


@flow(name="port-shards")
def port_shards_flow(request: PortRequest) -> ConversionReport:
    """The shard stage of ``port``: convert + validate every shard, then merge them (on the Dask runner)."""
    return convert_and_check(request.convert, gx=request.gx, workers=request.execution.workers)


@flow(name="port")
def port_flow(request: PortRequest) -> PortSummary:
    """Port a dataset into LeRobot v3.0 and (optionally) publish it; returns what every stage did."""
    log = get_run_logger()
    out = request.convert.out
    with dask_cluster(request.execution) as address:
        runner = task_runner(address, request.execution.workers)
        conversion = port_shards_flow.with_options(task_runner=runner)(request)
        stats = stats_flow.with_options(task_runner=runner)(StatsRequest(root=out, images=request.images))
    valid = None
    if request.report_dir:  # a final look at the merged output (fast: GX already ran on every shard)
        valid = validate_flow(
            ValidateRequest(root=str(out), gx=False, report_dir=str(request.report_dir))
        ).valid
    published = publish_step(out, request.publish) if request.publish is not None else None
    summary = PortSummary(
        out=out, conversion=conversion, stats=StatsTotals.of(stats), valid=valid, published=published
    )
    artifacts.run_table(
        artifacts.artifact_key("port", out.name), _stage_rows(summary, stats), f"port into {out}"
    )
    log.info("port finished: %s", out)
    return summary


def _stage_rows(summary: PortSummary, stats: StatsReport) -> list[dict[str, Any]]:
    """The port table: one row per stage."""
    c = summary.conversion
    rows: list[dict[str, Any]] = [
        {
            "stage": "convert",
            "episodes": c.episodes,
            "frames": c.frames,
            "failures": len(c.failures),
            "note": f"{c.shards_done} shards converted, {c.shards_skipped} reused",
        },
        {
            "stage": "stats",
            "episodes": stats.episodes,
            "frames": stats.frames,
            "failures": 0,
            "note": stats.executor,
        },
    ]
    if summary.published is not None:
        p = summary.published
        rows.append(
            {
                "stage": "publish",
                "episodes": None,
                "frames": None,
                "failures": 0,
                "note": f"{p.repo_id} {', '.join(p.tags)}",
            }
        )
    return rows


__all__ = ["PortRequest", "PublishStep", "port_flow", "port_shards_flow"]
