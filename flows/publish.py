"""Stage flow ``publish``: a versioned snapshot on the Hub or in a local registry."""

from __future__ import annotations

import os

from prefect import flow

from flows import artifacts
from robopipe.publish import PublishRequest, PublishResult
from tasks.publish import publish_task

TOKEN_BLOCK_ENV = "ROBOPIPE_HF_TOKEN_BLOCK"  # name of a Prefect Secret block holding the Hub token


@flow(name="publish")
def publish_flow(request: PublishRequest) -> PublishResult:
    """Publish ``request.root``; the token comes from the Secret block named by ``$ROBOPIPE_HF_TOKEN_BLOCK``
    or from ``HF_TOKEN``/the login cache, never from the parameters."""
    result = publish_task(request, os.environ.get(TOKEN_BLOCK_ENV) or None)
    artifacts.publish_link(result, artifacts.artifact_key("published", request.repo_id))
    return result
