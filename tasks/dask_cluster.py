"""The one place robopipe starts or joins a Dask cluster (tasks layer).

``dask_client(address, workers)``: a client of an existing scheduler (``tcp://host:8786``, e.g. one run by
dask-jobqueue or the Dask Kubernetes operator) or of a new ``LocalCluster``: worker processes with one
thread each (the work is numpy/pyarrow/PyAV, which hold the GIL in places), no dashboard, no memory cap.
Stats, validation, editing and conversion all use it, so they behave the same on a laptop and a cluster.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

log = logging.getLogger(__name__)

R = TypeVar("R")

# distributed's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in workers, which makes glibc return memory after
# every large numpy temporary; the stats kernels allocate many and ran ~2x slower. Keep glibc's default.
WORKER_ENV = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def run_portable(fn: Callable[[Any, Any], R], context: Any, item: Any) -> R:
    """Run one unit on a Dask worker so that its error reaches the client with its own type (this module
    imports no Prefect: workers unpickle the function by importing it).

    Distributed pickles a failed unit's exception with its whole cause chain (tblib); a cause that cannot be
    unpickled (PyAV's ``FileNotFoundError``: a read-only ``filename``) turns the error into a bare
    ``Exception(repr)``, which the CLI can only call an internal error. Such a chain is dropped; robopipe's
    errors already say the cause in their message.
    """
    try:
        return fn(context, item)
    except Exception as exc:
        if not _crosses_processes(exc):
            exc.__cause__ = exc.__context__ = None
            exc.__suppress_context__ = True
        raise


def _crosses_processes(exc: BaseException) -> bool:
    import pickle

    import tblib.pickling_support

    chain: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    tblib.pickling_support.install(*chain)
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return False
    return True


def local_cluster_kwargs(workers: int) -> dict[str, Any]:
    """``LocalCluster`` settings shared by every robopipe cluster (also Prefect's DaskTaskRunner)."""
    return {
        "n_workers": max(1, workers),
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": None,
        "memory_limit": 0,
        "silence_logs": logging.WARNING,
    }


def cluster_label(address: str | None, workers: int) -> str:
    return address if address else f"LocalCluster({max(1, workers)})"


@contextmanager
def dask_client(address: str | None = None, workers: int = 2) -> Iterator[Any]:
    """A connected ``distributed.Client``: to ``address``, or to a new ``LocalCluster`` of ``workers``."""
    import dask
    from dask.distributed import Client, LocalCluster

    if address:
        with Client(address) as client:
            yield client
        return
    dlog = logging.getLogger("distributed")
    level = dlog.level
    dlog.setLevel(max(level, logging.WARNING))  # the CLI logs at INFO; keep cluster chatter out
    cluster = client = None
    try:
        with warnings.catch_warnings(), dask.config.set(WORKER_ENV):
            # without a dashboard the scheduler still serves /health; another cluster may hold 8787
            warnings.filterwarnings("ignore", message="Port 8787 is already in use")
            cluster = LocalCluster(**local_cluster_kwargs(workers))
        client = Client(cluster)
        yield client
    finally:
        _shutdown(client, cluster)
        dlog.setLevel(level)


def _shutdown(client: Any, cluster: Any) -> None:
    """Close client and cluster; a slow teardown on a busy machine must not fail finished work."""
    try:
        if client is not None:
            client.close(timeout=30)
        if cluster is not None:
            cluster.close(timeout=60)
    except (TimeoutError, OSError) as exc:
        log.warning("Dask cluster shutdown was slow or failed (%s); results were already collected", exc)
