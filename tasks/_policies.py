"""Shared task policies: retry only :class:`~robopipe.errors.TransientError`, tags, cache keys.

Every ``@task`` in this package takes its retry settings from :data:`TRANSIENT_RETRIES`, so a timeout or an
HTTP 429/5xx is retried with exponential backoff and jitter, while a permanent error (a corrupt file, a bad
mapping, a 401) fails at once with its message.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from prefect.tasks import exponential_backoff

from robopipe.errors import TransientError

log = logging.getLogger(__name__)

HUB_UPLOAD = "hub-upload"  # tag: `prefect concurrency-limit create hub-upload 1` throttles uploads
ROBOT = "robot"  # tag: one recording session per robot at a time
CPU_HEAVY = "cpu-heavy"  # tag: conversion/encoding shards


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn``: retry only when the task raised a :class:`TransientError`."""
    try:
        state.result()
    except TransientError:
        return True
    except BaseException:
        return False
    return False


TRANSIENT_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=2),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_transient,
}


def dataset_fingerprint(root: str | Path) -> str:
    """A cheap content fingerprint of a dataset root: relative path, size and mtime of every file."""
    root = Path(root)
    h = hashlib.sha256(str(root.resolve()).encode())
    if root.is_dir():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                p = Path(dirpath) / name
                st = p.stat()
                h.update(f"{p.relative_to(root)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:24]


def request_dataset_key(context: Any, parameters: dict[str, Any]) -> str:
    """``cache_key_fn`` for tasks taking ``request`` (a model with ``root``): request + dataset content.

    Re-validating an unchanged dataset with the same options is wasteful; any change to a file changes the key.
    """
    request = parameters["request"]
    digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:16]
    # "typed": results are stored as models since the flows stopped passing dicts; an older cached dict
    # result (same request, same files) must not be returned to code that reads attributes.
    return f"{context.task.name}-typed-{digest}-{dataset_fingerprint(request.root)}"
