"""Run merges and edits on Dask distributed (plain functions; the flow wraps them in ``@task``).

The core plans once (``robopipe.edit.plan_edit``), then every output file is one Dask task
(``robopipe.edit.run_job``): data parquet files and each video key's mp4 files are written in
parallel, the largest (video) first. The plan is scattered once to every worker; tasks return only
small results (per-episode index stats, span counts). Inputs' metadata is loaded in parallel too, so
a merge of thousands of shards (DROID's 2,048) is bounded by the slowest worker, not by a serial
reduce: the plan is O(total episodes) and each output file is written exactly once, so no
intermediate merge level (tree of rewrites) is needed; statistics are combined with a pairwise tree.

Default: a ``LocalCluster`` of worker processes (one thread each, no dashboard); or an existing
scheduler via ``address`` (workers must see the dataset roots at the same paths).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from robopipe.edit import (
    EditPlan,
    EditReport,
    EditRequest,
    MergeRequest,
    edit,
    load_source,
    merge,
    output_jobs,
    run_job,
)
from robopipe.edit.execute import DataFileResult, VideoFileResult
from robopipe.edit.ops import Runner, RunResult
from tasks.dask_cluster import dask_client

log = logging.getLogger(__name__)


def _job_weight(plan: EditPlan, job: tuple[str, Any, int]) -> int:
    kind, key, i = job
    f = plan.data.files[i] if kind == "data" else plan.videos[key].files[i]
    frames = int(plan.length[f.start : f.stop].sum())
    return frames * (4 if kind == "video" else 1)


def dask_runner(client: Any) -> Runner:
    """A runner writing each output file as one Dask task on ``client``."""

    def run(plan: EditPlan) -> RunResult:
        jobs = sorted(output_jobs(plan), key=lambda j: -_job_weight(plan, j))
        [plan_f] = client.scatter([plan], broadcast=True, hash=False)
        futures = [client.submit(run_job, plan_f, job, pure=False) for job in jobs]
        data: list[DataFileResult] = []
        videos: list[VideoFileResult] = []
        for r in client.gather(futures):
            if isinstance(r, VideoFileResult):
                videos.append(r)
            else:
                data.append(r)
        return data, videos

    return run


def dask_map(client: Any) -> Any:
    """A ``map``-like function running calls on the cluster (used to load many inputs' metadata)."""

    def mapper(fn: Any, items: Iterable[Any]) -> list[Any]:
        return list(client.gather(client.map(fn, list(items), pure=False)))

    return mapper


def merge_dask(request: MergeRequest, *, address: str | None = None) -> EditReport:
    """:func:`robopipe.edit.merge` with metadata loading and file writing on Dask."""
    with dask_client(address, request.workers) as client:
        return merge(request, runner=dask_runner(client), map_fn=dask_map(client))


def edit_dask(request: EditRequest, *, address: str | None = None) -> EditReport:
    """:func:`robopipe.edit.edit` with file writing on Dask."""
    with dask_client(address, request.workers) as client:
        return edit(request, runner=dask_runner(client))


def load_sources_dask(client: Any, roots: list[Path]) -> list[Any]:
    """Load many inputs' metadata in parallel (a thin helper for flows)."""
    return dask_map(client)(load_source, roots)
