"""``robopipe tag``: name an existing revision of a published dataset, without uploading anything (core layer).

The revision (branch, tag or commit id; default ``main``) is resolved to its commit first, so the tag names a
fixed snapshot even if the branch moves on. An existing tag is left alone when it already names that commit,
refused when it names another (``force`` moves it). On the Hub the tag carries its message (``tag_message``);
in the local registry it is an annotated git tag.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pydantic import Field, field_validator

from robopipe.errors import HubNotFoundError, TagConflictError
from robopipe.publish.hub import HubClient
from robopipe.publish.local import LocalRegistry
from robopipe.publish.models import Target, TargetOptions, _Model, check_repo_id, default_registry
from robopipe.publish.secrets import resolve_token, secret_scope
from robopipe.publish.versioning import check_version_tag

MAX_MESSAGE = 4096


class TagRequest(TargetOptions):
    """Tag one existing revision of a published dataset."""

    repo_id: str = Field(description="ORG/NAME of the dataset repository")
    tag: str = Field(description="tag name, e.g. v1.0 or v1.2.0 (any name the Hub accepts, except v3.0)")
    revision: str = Field(default="main", description="branch, tag or commit id to tag")
    message: str | None = Field(default=None, max_length=MAX_MESSAGE, description="tag message")
    force: bool = Field(default=False, description="move the tag if it already names another commit")

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str) -> str:
        return check_repo_id(v)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str) -> str:
        return check_version_tag(v)


class TagResult(_Model):
    repo_id: str
    target: Target
    tag: str
    commit: str = Field(description="the commit the tag names")
    previous: str | None = Field(default=None, description="the commit the tag named before (moved or kept)")
    changed: bool = Field(description="False when the tag already named this commit")


def _decide(request: TagRequest, commit: str, existing: str | None) -> bool:
    """True when the tag must be (re)written; raises when it names another commit without ``force``."""
    if existing == commit:
        return False
    if existing is not None and not request.force:
        raise TagConflictError(
            f"{request.repo_id}: tag {request.tag} already names commit {existing[:12]}, not {commit[:12]}. "
            "Tags are never moved silently: pick another name or pass --force to move it."
        )
    return True


def tag(
    request: TagRequest,
    token: str | None = None,
    *,
    hub: HubClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> TagResult:
    """Point ``request.tag`` at the commit ``request.revision`` names; nothing is uploaded."""
    from robopipe.publish.api import resolve_target

    token = resolve_token(token) if request.target != "local" else None
    target = resolve_target(request, token)
    repo = request.repo_id
    with secret_scope(token):
        if target == "local":
            reg = LocalRegistry(request.registry or default_registry())
            with reg.lock(repo):
                commit = reg.resolve(repo, request.revision)
                if commit is None:
                    what = "dataset" if not reg.exists(repo) else f"revision {request.revision!r}"
                    raise HubNotFoundError(f"local registry {reg.root}: {repo}: no such {what}")
                existing = reg.refs(repo)[1].get(request.tag)
                changed = _decide(request, commit, existing)
                if changed:
                    reg.create_tag(repo, request.tag, commit, request.message, force=existing is not None)
        else:
            client = hub or HubClient(
                token=token, endpoint=request.endpoint, retry=request.retry, sleep=sleep
            )
            commit = client.resolve(repo, request.revision)
            existing = client.refs(repo).tags.get(request.tag)
            changed = _decide(request, commit, existing)
            if changed:
                if existing is not None:
                    client.delete_tag(repo, request.tag)
                client.create_tag(repo, request.tag, commit, message=request.message)
    return TagResult(
        repo_id=repo, target=target, tag=request.tag, commit=commit, previous=existing, changed=changed
    )
