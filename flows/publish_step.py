"""The publish step shared by the pipelines: pick the next version tag, publish, link artifact."""

from __future__ import annotations

from pathlib import Path

from flows import artifacts
from flows.models import PublishStep
from robopipe.publish import PublishRequest, PublishResult, default_registry
from tasks.publish import next_version_task, publish_task


def publish_step(root: Path, step: PublishStep) -> PublishResult:
    """Inside a flow: publish ``root`` as ``step.repo_id`` with ``step.tag`` or the next patch version."""
    fields = step.model_dump(exclude={"secret_block", "tag"}, exclude_none=True)
    if step.target != "hub" and step.registry is None:
        fields["registry"] = default_registry()  # read at run time, on the machine that publishes
    request = PublishRequest(root=root, **fields)
    tag = step.tag or next_version_task(request, step.secret_block)
    result = publish_task(request.model_copy(update={"tag": tag}), step.secret_block)
    artifacts.publish_link(result, artifacts.artifact_key("published", step.repo_id))
    return result
