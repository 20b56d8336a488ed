"""Run the per-file Great Expectations jobs of a validation on Dask (plain functions; no ``@task`` here).

:class:`DaskGxRunner` satisfies :class:`robopipe.validate.GxRunner`: it submits one Dask task per data
file (largest first, so the tail is short) as soon as the suite is known, and the core keeps running the
hand-written rules in the client process while the workers run GX. Workers are processes with one
thread each (GX contexts are not shared between threads); each keeps one ephemeral GX context.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Any

from robopipe.validate import ValidateRequest, ValidationReport, validate
from robopipe.validate.engine import GxJob
from robopipe.validate.gx_suite import run_gx_file
from tasks.dask_cluster import dask_client

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 2


def _gx_job(job: GxJob) -> dict[str, Any]:
    """Dask task body: one data file through every suite."""
    return run_gx_file(*job)


class DaskGxRunner:
    """GX runner on a Dask ``LocalCluster`` (default), an existing scheduler (``address``) or ``client``.

    A given ``client`` (e.g. from ``prefect_dask.get_dask_client()``) is used as is and not closed.
    """

    def __init__(
        self,
        address: str | None = None,
        workers: int | None = None,
        client: Any = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.progress = progress
        self.address = address
        self.workers = workers or DEFAULT_WORKERS
        self._stack = ExitStack()
        self._given = client
        self._client: Any = None

    @property
    def name(self) -> str:
        if self._given is not None:
            return f"dask:{getattr(self._given.scheduler, 'address', 'client')}"
        return f"dask:{self.address}" if self.address else f"dask:local({self.workers} workers)"

    def __enter__(self) -> DaskGxRunner:
        if self._given is not None:
            self._client = self._given
        else:
            self._client = self._stack.enter_context(dask_client(self.address, self.workers))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stack.close()
        self._client = None

    def __call__(self, jobs: Sequence[GxJob]) -> Callable[[], list[dict[str, Any]]]:
        if self._client is None:
            raise RuntimeError(
                "DaskGxRunner must be used as a context manager (with DaskGxRunner(...) as r:)"
            )
        order = sorted(range(len(jobs)), key=lambda i: -_size(jobs[i][0]))
        futures = {
            i: self._client.submit(_gx_job, jobs[i], pure=False, key=f"gx-{jobs[i][1]}-{os.getpid()}-{i}")
            for i in order
        }
        client = self._client

        def gather() -> list[dict[str, Any]]:
            if self.progress is not None:  # per finished file (workers cannot call back into this process)
                from distributed import as_completed

                from robopipe.validate.gx_suite import count_expectations

                total = sum(count_expectations(job[3]) for job in jobs)
                counts = {futures[i].key: count_expectations(jobs[i][3]) for i in futures}
                done = 0
                for fut in as_completed(list(futures.values())):
                    done += counts[fut.key]
                    self.progress(done, total)
            results = client.gather([futures[i] for i in range(len(jobs))])
            return list(results)

        return gather


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def validate_on_dask(
    request: ValidateRequest, progress: Callable[[int, int], None] | None = None
) -> ValidationReport:
    """Validate with GX on Dask (``request.dask_address`` or a LocalCluster of ``request.workers``)."""
    if not request.gx:
        return validate(request)
    with DaskGxRunner(request.dask_address, request.workers, progress=progress) as runner:
        return validate(request, gx_runner=runner)
