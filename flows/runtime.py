"""Where flows run: the Dask cluster behind the task runner and the Prefect API (embedded by default).

* :class:`~robopipe.execution.Execution` (the core's one model of "where to run") is the part of a pipeline
  request that picks the task runner: a ``LocalCluster`` of ``workers`` processes (one thread each, no
  dashboard), the ``address`` of an existing scheduler (dask-jobqueue, Kubernetes operator, ``dask
  scheduler``/``dask worker`` by hand), or threads of the flow process. Dask workers must see the dataset
  roots at the same paths and reach the Prefect API.
* :func:`prefect_api` starts an embedded Prefect server (SQLite under ``$PREFECT_HOME``) when
  ``PREFECT_API_URL`` is not set, and exports its URL so Dask worker processes report to the same API.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from robopipe.errors import ConfigError
from robopipe.execution import Execution
from tasks.dask_cluster import dask_client, local_cluster_kwargs

log = logging.getLogger(__name__)


def default_task_runner() -> Any:
    """The stage flows' default runner: a temporary 2-worker ``LocalCluster`` per flow run."""
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(cluster_kwargs=local_cluster_kwargs(2))


def task_runner(address: str | None, workers: int = 1) -> Any:
    """A ``DaskTaskRunner`` on an already running scheduler, or threads when ``address`` is None."""
    if address is None:
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=address)


@contextmanager
def dask_cluster(execution: Execution) -> Iterator[str | None]:
    """The scheduler address to use: ``execution.address``, a ``LocalCluster`` for this block, or None
    (kinds serial/threads/prefect: the stages run in threads of the flow process)."""
    if execution.kind == "dask-address":
        yield execution.address
        return
    if execution.kind != "dask-local":
        yield None
        return
    with dask_client(None, execution.workers) as client:
        address = client.scheduler.address
        log.info("local Dask cluster: %d workers at %s", execution.workers, address)
        yield address


@contextmanager
def prefect_api(wait_s: float | None = None) -> Iterator[str]:
    """Yield the Prefect API URL; start an embedded server for this process when none is configured.

    Prefect's own ephemeral mode starts a server lazily *per process*, so Dask workers would each start
    one; exporting one URL keeps every task run in one place (the dashboard of the embedded server).
    """
    from prefect.settings import PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if url:
        wait_for_api(url, wait_s)
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


API_WAIT_ENV = "ROBOPIPE_API_WAIT_S"


def wait_for_api(
    url: str,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait until the Prefect API at ``url`` answers ``/health`` (bounded; a server may still be starting).

    Polls with a growing delay (0.25 s up to 2 s) for ``timeout_s`` (default ``$ROBOPIPE_API_WAIT_S`` or
    60 s), then raises :class:`ConfigError` naming the URL and what to do.
    """
    if timeout_s is None:
        timeout_s = float(os.environ.get(API_WAIT_ENV) or 60)
    health = url.rstrip("/") + "/health"
    deadline = clock() + timeout_s
    delay, last = 0.25, "no answer"
    while True:
        try:
            with urllib.request.urlopen(health, timeout=5) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        if clock() >= deadline:
            raise ConfigError(
                f"the Prefect API at {url} does not answer ({last}; waited {timeout_s:g} s): start it "
                "(`prefect server start`), fix PREFECT_API_URL, or unset it to use an embedded server"
            )
        log.info("waiting for the Prefect API at %s (%s)", url, last)
        sleep(delay)
        delay = min(delay * 2, 2.0)


def _flush_to_api() -> None:
    """Send queued run logs and events before the embedded server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogHandler

    try:
        APILogHandler().flush()
        EventsWorker.drain_all(timeout=5)
    except RuntimeError as exc:  # called from an event loop: nothing queued we could wait for here
        log.debug("could not flush Prefect logs: %s", exc)
