"""Recompute a dataset's statistics on Dask distributed (plain functions; the flow wraps them in @task).

Work is coarse: one Dask task per data file and per video file (never per episode), submitted largest
first. Each task stages its per-episode results on the dataset's storage and returns only the merged
:class:`~robopipe.stats.DatasetStats` of its file. Those are reduced with a **fixed pairwise tree** in
unit order (``merge`` tasks on the workers), so the result does not depend on completion order or on
the number of workers. Then one task per ``meta/episodes`` file rewrites its ``stats/*`` columns and
sketch side file, and the client writes ``meta/stats.json``.

Default: a ``LocalCluster`` (worker processes, one thread each, no dashboard); or an existing
scheduler via ``dask_address`` (workers must see the dataset root at the same path).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from robopipe.format.lock import writer_lock
from robopipe.stats.recompute import (
    Plan,
    StatsReport,
    StatsRequest,
    cleanup,
    finalize_episodes_file,
    kept_sketches,
    make_report,
    plan_recompute,
    write_global,
)
from robopipe.stats.units import Unit, run_unit
from robopipe.stats.values import DatasetStats, merge
from tasks.dask_cluster import cluster_label
from tasks.dask_cluster import dask_client as shared_dask_client

log = logging.getLogger(__name__)


@contextmanager
def dask_client(address: str | None, workers: int) -> Iterator[tuple[Any, str]]:
    """A connected ``Client`` and a label: to ``address``, or to a new ``LocalCluster`` of ``workers``."""
    with shared_dask_client(address, workers) as client:
        yield client, cluster_label(address, workers)


def stats_unit(plan: Plan, unit: Unit, images: bool, on_nonfinite: str) -> DatasetStats:
    """Task body: one data/video file -> staged per-episode results + the file's merged stats."""
    return run_unit(
        plan.root,
        unit,
        plan.features,
        plan.fps,
        plan.staging,
        images=images,
        on_nonfinite=on_nonfinite,  # type: ignore[arg-type]
    )


def merge_stats(a: DatasetStats, b: DatasetStats) -> DatasetStats:
    """Task body of one tree-reduction node."""
    return merge(a, b)


def finalize_file(plan: Plan, index: int) -> int:
    """Task body: rewrite one episodes file (by position in ``plan.episodes_files``)."""
    return finalize_episodes_file(plan, plan.episodes_files[index])


def tree_reduce(client: Any, futures: list[Any], token: str) -> Any:
    """Pairwise tree of ``merge_stats`` tasks over ``futures`` in the given order (a future)."""
    level, depth = list(futures), 0
    while len(level) > 1:
        nxt = [
            client.submit(merge_stats, level[i], level[i + 1], key=f"stats-merge-{token}-{depth}-{i}")
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            nxt.append(level[-1])
        level, depth = nxt, depth + 1
    return level[0] if level else None


def recompute_stats_dask(
    request: StatsRequest,
    progress: Callable[[int], None] | None = None,
    client: Any = None,
) -> StatsReport:
    """Recompute all stats of ``request.root`` on Dask; ``progress(n)`` is called as files finish.

    Args:
        request: the stats request (root, workers, dask_address, images, skip_nonfinite).
        progress: called with the number of frames of every finished file.
        client: an already connected ``dask.distributed.Client`` to use instead of making one.
    """
    with writer_lock(request.root):
        return _recompute_stats_dask(request, progress, client)


def _recompute_stats_dask(
    request: StatsRequest, progress: Callable[[int], None] | None, client: Any
) -> StatsReport:
    from dask.distributed import as_completed

    t0 = time.perf_counter()
    plan = plan_recompute(request.root, images=request.images)
    plan.staging.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    try:
        with _client(client, request) as (c, name):
            plan_f = c.scatter(plan, broadcast=True, hash=False)
            by_size = sorted(plan.units, key=lambda u: -u.frames)
            futs = {
                u.uid: c.submit(
                    stats_unit,
                    plan_f,
                    u,
                    request.images,
                    request.on_nonfinite,
                    key=f"stats-unit-{token}-{u.uid}",
                    pure=False,
                )
                for u in by_size
            }
            total_f = tree_reduce(c, [futs[u.uid] for u in plan.units], token)
            frames = {f.key: u.frames for u in plan.units for f in (futs[u.uid],)}
            for fut in as_completed(list(futs.values())):
                fut.result()  # re-raise a worker's error here
                if progress:
                    progress(frames[fut.key])
            total = total_f.result() if total_f is not None else DatasetStats.empty()
            total = total.merge(kept_sketches(plan))
            done = c.map(
                finalize_file,
                [plan_f] * len(plan.episodes_files),
                range(len(plan.episodes_files)),
                key=[f"stats-final-{token}-{i}" for i in range(len(plan.episodes_files))],
            )
            c.gather(done)
            write_global(plan, total)
    finally:
        cleanup(plan)
    return make_report(plan, time.perf_counter() - t0, name)


@contextmanager
def _client(client: Any, request: StatsRequest) -> Iterator[tuple[Any, str]]:
    if client is not None:
        yield client, str(getattr(client.scheduler, "address", "client"))
        return
    with dask_client(request.dask_address, request.workers) as pair:
        yield pair
