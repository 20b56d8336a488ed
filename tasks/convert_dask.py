"""Run a conversion's shards as Dask tasks (plain functions; the flow wraps them, no ``@task`` here).

One Dask task per shard calls :func:`robopipe.convert.engine.convert_shard` with the plan (small, picklable)
and returns a small :class:`ShardResult`. Workers are processes with one thread each, so TensorFlow and
the encoders of one shard never compete with another shard inside a process, and memory per worker stays
flat (one episode at a time). Finished shards are skipped on a re-run (completion markers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from robopipe.convert.engine import (
    ConversionPlan,
    ConversionReport,
    ConvertRequest,
    ShardResult,
    convert_shard,
    finish,
    plan_conversion,
    prepare_work_dir,
    read_marker,
)
from tasks.dask_cluster import dask_client

log = logging.getLogger(__name__)


def _worker_convert(plan_json: str, index: int) -> dict[str, Any]:
    """Dask task body: convert one shard (re-validates the plan in the worker)."""
    logging.basicConfig(level=logging.WARNING)
    plan = ConversionPlan.model_validate_json(plan_json)
    return convert_shard(plan, index).model_dump(mode="json")


def run_shards(
    plan: ConversionPlan,
    todo: list[int],
    *,
    workers: int = 2,
    dask_address: str | None = None,
    on_shard: Callable[[ShardResult], None] | None = None,
) -> list[ShardResult]:
    """Convert shards ``todo`` on a Dask cluster (LocalCluster unless ``dask_address``)."""
    from dask.distributed import as_completed

    results = [r for r in (read_marker(plan, s.index) for s in plan.shards if s.index not in todo) if r]
    for r in results:
        if on_shard is not None:
            on_shard(r)
    if not todo:
        return results
    plan_json = plan.model_dump_json()
    with dask_client(dask_address, min(workers, len(todo))) as client:
        futures = [
            client.submit(
                _worker_convert, plan_json, i, key=f"convert-shard-{plan.fingerprint()}-{i}", pure=False
            )
            for i in todo
        ]
        for fut in as_completed(futures):
            r = ShardResult.model_validate(fut.result())
            results.append(r)
            if on_shard is not None:
                on_shard(r)
    return results


def run_conversion(
    request: ConvertRequest,
    on_shard: Callable[[ShardResult], None] | None = None,
    plan: ConversionPlan | None = None,
) -> ConversionReport:
    """Plan, convert every unfinished shard on Dask, merge, report."""
    t0 = time.perf_counter()
    plan = plan or plan_conversion(request)
    todo = prepare_work_dir(plan)
    log.info("%d shards, %d to do, %d workers", len(plan.shards), len(todo), request.workers)
    results = run_shards(
        plan, todo, workers=request.workers, dask_address=request.dask_address, on_shard=on_shard
    )
    return finish(plan, results, time.perf_counter() - t0)
