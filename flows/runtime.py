"""Where flows run: the Dask cluster behind the task runner and the Prefect API (embedded by default).

* :class:`Execution` is the part of a pipeline request that picks the cluster: a ``LocalCluster`` of
  ``workers`` processes (one thread each, no dashboard) or ``dask_address`` of an existing scheduler
  (dask-jobqueue, Kubernetes operator, ``dask scheduler``/``dask worker`` by hand). Workers must see the
  dataset roots at the same paths and reach the Prefect API.
* :func:`prefect_api` starts an embedded Prefect server (SQLite under ``$PREFECT_HOME``) when
  ``PREFECT_API_URL`` is not set, and exports its URL so Dask worker processes report to the same API.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tasks.dask_cluster import dask_client, local_cluster_kwargs

log = logging.getLogger(__name__)


class Execution(BaseModel):
    """Which Dask cluster runs the per-file / per-shard tasks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: int = Field(default=2, ge=1, le=256, description="worker processes of the local Dask cluster")
    dask_address: str | None = Field(
        default=None,
        description="address of an existing Dask scheduler (tcp://host:8786) instead of a local cluster",
    )


def default_task_runner() -> Any:
    """The stage flows' default runner: a temporary 2-worker ``LocalCluster`` per flow run."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(2))


def task_runner(address: str) -> Any:
    """A ``DaskTaskRunner`` on an already running scheduler (shared by the stages of a pipeline)."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address)


@contextmanager
def dask_cluster(execution: Execution) -> Iterator[str]:
    """The scheduler address to use: ``execution.dask_address``, or a ``LocalCluster`` for this block."""
    if execution.dask_address:
        yield execution.dask_address
        return
    with dask_client(None, execution.workers) as client:
        address = client.scheduler.address
        log.info("local Dask cluster: %d workers at %s", execution.workers, address)
        yield address


@contextmanager
def prefect_api() -> Iterator[str]:
    """Yield the Prefect API URL; start an embedded server for this process when none is configured.

    Prefect's own ephemeral mode starts a server lazily *per process*, so Dask workers would each start
    one; exporting one URL keeps every task run in one place (the dashboard of the embedded server).
    """
    from prefect.settings import PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if url:
        yield url
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start(timeout=90)
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        yield server.api_url
    finally:
        _flush_to_api()
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def _flush_to_api() -> None:
    """Send queued run logs and events before the embedded server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    try:
        APILogHandler().flush()
        EventsWorker.drain_all(timeout=5)
    except RuntimeError as exc:  # called from an event loop: nothing queued we could wait for here
        log.debug("could not flush Prefect logs: %s", exc)
