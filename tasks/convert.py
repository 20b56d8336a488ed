"""Tasks: plan a conversion, convert one shard, merge the finished shards.

Shards are idempotent in the core (a completion marker per shard), so a re-run of an interrupted port
skips the finished shards without any Prefect result storage.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.convert.engine import ConvertRequest
from tasks._policies import CPU_HEAVY, TRANSIENT_RETRIES


@task(name="plan-conversion", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def plan_conversion_task(request: ConvertRequest) -> tuple[str, list[int]]:
    """Resolve mapping and shards, prepare the work dir; returns (plan JSON, shard indices still to do)."""
    from robopipe.convert.engine import plan_conversion, prepare_work_dir

    plan = plan_conversion(request)
    return plan.model_dump_json(), prepare_work_dir(plan)


@task(
    name="convert-shard",
    cache_policy=NO_CACHE,
    tags=[CPU_HEAVY],
    task_run_name="convert-shard-{index}",
    **TRANSIENT_RETRIES,
)
def convert_shard_task(plan_json: str, index: int) -> dict[str, Any]:
    """Convert one shard (or read its completion marker); returns the small ShardResult as a dict."""
    from robopipe.convert.engine import ConversionPlan, convert_shard

    return convert_shard(ConversionPlan.model_validate_json(plan_json), index).model_dump(mode="json")


@task(name="merge-shards", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def finish_conversion_task(plan_json: str, results: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """Merge the shards that wrote episodes into the output (stream copy); returns the ConversionReport."""
    from robopipe.convert.engine import ConversionPlan, ShardResult, finish

    plan = ConversionPlan.model_validate_json(plan_json)
    shard_results = [ShardResult.model_validate(r) for r in results]
    return finish(plan, shard_results, seconds).model_dump(mode="json")
