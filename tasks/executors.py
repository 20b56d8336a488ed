"""The Dask and Prefect executors, and :func:`open_executor` (an ``Execution`` -> an ``Executor``).

* :class:`DaskExecutor`: one Dask task per unit on a ``LocalCluster`` or an existing scheduler; the
  context (a plan) is scattered to every worker once; units are submitted largest first with matching
  priorities; a unit whose worker dies is rescheduled by the scheduler on another worker (up to
  ``distributed.scheduler.allowed-failures`` times, default 3) before it fails with ``KilledWorker``.
* :class:`PrefectExecutor`: each unit is a visible task run (``<label>-<i>``) on the current flow's task
  runner, with the transient-only retry policy: the dashboard shows every unit, retries and failures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import uuid4

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.execution import Execution, Executor, FutureStream, SerialExecutor, Stream, ThreadExecutor
from robopipe.execution.base import largest_first
from tasks._policies import TRANSIENT_RETRIES
from tasks.dask_cluster import dask_client, run_portable

log = logging.getLogger(__name__)

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")


class DaskExecutor:
    """Units as Dask tasks on ``client`` (which the caller owns)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def name(self) -> str:
        return f"dask:{self.client.scheduler.address}"

    @property
    def workers(self) -> int:
        return max(1, len(self.client.scheduler_info(n_workers=-1).get("workers", {})))

    def map(
        self,
        fn: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        *,
        weights: Sequence[float] | None = None,
        label: str = "unit",
    ) -> Stream[R]:
        from dask.distributed import as_completed

        token = uuid4().hex[:8]
        ctx = self.client.scatter(context, broadcast=True, hash=False) if context is not None else None
        order = largest_first(len(items), weights)
        futures = {
            self.client.submit(
                run_portable,
                fn,
                ctx,
                items[i],
                key=f"{label}-{token}-{i}",
                pure=False,
                priority=len(order) - rank,  # higher runs first
            ): i
            for rank, i in enumerate(order)
        }
        return FutureStream(futures, as_completed, _result, _cancel)


def _result(fut: Any) -> Any:
    return fut.result()


def _cancel(fut: Any) -> Any:
    return fut.cancel()


@task(name="unit", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def unit_task(fn: Callable[[Any, Any], Any], context: Any, item: Any) -> Any:
    """One unit of work of a stage recipe (the recipe's unit function, not domain logic)."""
    return fn(context, item)


class PrefectExecutor:
    """Units as Prefect task runs on the current flow's task runner (Dask, threads)."""

    name = "prefect"

    def __init__(self, workers: int = 2, tags: tuple[str, ...] = ()) -> None:
        self._workers = workers
        self._tags = tags  # e.g. CPU_HEAVY: concurrency limits by tag apply to the units

    @property
    def workers(self) -> int:
        return self._workers

    def map(
        self,
        fn: Callable[[C, T], R],
        context: C,
        items: Sequence[T],
        *,
        weights: Sequence[float] | None = None,
        label: str = "unit",
    ) -> Stream[R]:
        from prefect.futures import as_completed

        futures = {
            unit_task.with_options(name=label, task_run_name=f"{label}-{i}", tags=set(self._tags)).submit(
                fn, context, items[i]
            ): i
            for i in largest_first(len(items), weights)
        }
        return FutureStream(futures, as_completed, _result, _cancel_prefect)


def _cancel_prefect(fut: Any) -> None:
    wrapped = getattr(fut, "wrapped_future", None)  # concurrent / Dask future under the Prefect one
    if wrapped is not None and hasattr(wrapped, "cancel"):
        wrapped.cancel()


@contextmanager
def open_executor(execution: Execution) -> Iterator[Executor]:
    """The executor an :class:`Execution` names, open for the duration of the block."""
    if execution.kind == "serial":
        yield SerialExecutor()
    elif execution.kind == "threads":
        with ThreadExecutor(execution.workers) as threads:
            yield threads
    elif execution.kind == "prefect":
        yield PrefectExecutor(execution.workers)
    else:
        with dask_client(execution.address, execution.workers) as client:
            yield DaskExecutor(client)
