"""Pipeline ``port``: convert shards in parallel → validate each shard → merge → stats → publish.

One Dask cluster (``request.execution``) serves every stage. A shard that fails is reported and the
others finish; nothing is merged until every shard is good, and a re-run converts only what is missing.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows import artifacts
from flows.convert import convert_and_check
from flows.models import PortRequest, PublishStep
from flows.publish_step import publish_step
from flows.runtime import dask_cluster, task_runner
from flows.stats import stats_flow
from flows.validate import validate_flow
from robopipe.stats.recompute import StatsRequest
from robopipe.validate import ValidateRequest


@flow(name="port-shards")
def port_shards_flow(request: PortRequest) -> dict[str, Any]:
    """The shard stage of ``port``: convert + validate every shard, then merge them (on the Dask runner)."""
    report = convert_and_check(request.convert, gx=request.gx, workers=request.execution.workers)
    return report.model_dump(mode="json")


@flow(name="port")
def port_flow(request: PortRequest) -> dict[str, Any]:
    """Port a dataset into LeRobot v3.0 and (optionally) publish it; returns a summary dict."""
    log = get_run_logger()
    out = request.convert.out
    summary: dict[str, Any] = {"out": str(out)}
    with dask_cluster(request.execution) as address:
        runner = task_runner(address, request.execution.workers)
        conversion = port_shards_flow.with_options(task_runner=runner)(request)
        summary["conversion"] = conversion
        stats = stats_flow.with_options(task_runner=runner)(StatsRequest(root=out, images=request.images))
        summary["stats"] = {k: stats[k] for k in ("episodes", "frames", "features")}
    if request.report_dir:  # a final look at the merged output (fast: GX already ran on every shard)
        report = validate_flow(ValidateRequest(root=str(out), gx=False, report_dir=str(request.report_dir)))
        summary["valid"] = report["valid"]
    if request.publish is not None:
        summary["published"] = publish_step(out, request.publish)
    artifacts.run_table(
        artifacts.artifact_key("port", out.name),
        [
            {
                "stage": "convert",
                "episodes": conversion["episodes"],
                "frames": conversion["frames"],
                "failures": len(conversion["failures"]),
                "note": f"{conversion['shards_done']} shards converted, {conversion['shards_skipped']} reused",
            },
            {
                "stage": "stats",
                "episodes": stats["episodes"],
                "frames": stats["frames"],
                "failures": 0,
                "note": stats["executor"],
            },
            *(
                [
                    {
                        "stage": "publish",
                        "episodes": None,
                        "frames": None,
                        "failures": 0,
                        "note": f"{request.publish.repo_id} {', '.join(summary['published']['tags'])}",
                    }
                ]
                if request.publish
                else []
            ),
        ],
        f"port into {out}",
    )
    log.info("port finished: %s", out)
    return summary


__all__ = ["PortRequest", "PublishStep", "port_flow", "port_shards_flow"]
