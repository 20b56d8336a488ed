"""Task: publish a dataset root as a versioned snapshot (Hub or local registry).

The Hub token never travels as a parameter: it is read here, at run time, from a Prefect Secret block (by
name) or ``HF_TOKEN``/the login cache, and the core scrubs it from every log record.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from robopipe.publish import PublishRequest, PublishResult
from tasks._policies import HUB_UPLOAD, TRANSIENT_RETRIES


def load_token(secret_block: str | None) -> str | None:
    """The token of the Prefect Secret block ``secret_block`` (None when no block is named)."""
    if not secret_block:
        return None
    from prefect.blocks.system import Secret

    block: Any = Secret.load(secret_block)  # sync in a sync context
    value = block.get()
    return str(value) if value else None


@task(name="publish-dataset", tags=[HUB_UPLOAD], cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def publish_task(request: PublishRequest, secret_block: str | None = None) -> PublishResult:
    """Upload what is missing, commit, tag; returns the PublishResult (holds no secret)."""
    from robopipe.publish import publish

    return publish(request, load_token(secret_block))


@task(name="next-version", cache_policy=NO_CACHE, **TRANSIENT_RETRIES)
def next_version_task(request: PublishRequest, secret_block: str | None = None) -> str:
    """The next free ``vMAJOR.MINOR.PATCH`` tag: the highest existing one with PATCH + 1 (v0.1.0 when none)."""
    from robopipe.errors import HubNotFoundError
    from robopipe.publish import HistoryRequest, history

    opts = request.model_dump(include={"target", "registry", "endpoint", "retry", "repo_id"})
    try:
        tags = history(HistoryRequest(**opts), load_token(secret_block)).tags
    except HubNotFoundError:
        return "v0.1.0"
    best = max((_semver(t) for t in tags), default=None)
    return "v0.1.0" if best is None else f"v{best[0]}.{best[1]}.{best[2] + 1}"


def _semver(tag: str) -> tuple[int, int, int]:
    import re

    m = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", tag)
    return (int(m[1]), int(m[2]), int(m[3])) if m else (-1, -1, -1)
