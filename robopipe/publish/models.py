"""Request and result models of publishing (core layer).

The CLI and the Prefect flows build the same :class:`PublishRequest` / :class:`DownloadRequest`, so a dashboard run
and a terminal run validate identically. The Hub token is deliberately *not* a field: flow parameters are stored
by Prefect, so the token travels as a separate argument (from ``HF_TOKEN``, the login cache or a Secret block).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from robopipe.publish.retry import RetryPolicy
from robopipe.publish.versioning import check_branch_name, check_version_tag

Target = Literal["hub", "local"]
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")


def check_repo_id(repo_id: str) -> str:
    """``org/name`` with the Hub's allowed characters."""
    if not _REPO_ID_RE.fullmatch(repo_id) or ".." in repo_id or repo_id.endswith((".git", ".")):
        raise ValueError(
            f"repo id {repo_id!r} is not of the form ORG/NAME (letters, digits, '.', '_', '-'; "
            "e.g. my-lab/so101-pick-cube)"
        )
    return repo_id


def default_registry() -> Path:
    """``$ROBOPIPE_REGISTRY``, else ``$XDG_DATA_HOME/robopipe/registry`` (``~/.local/share/...``).

    Read at the edge (CLI start, flow start) and passed down, never at import.
    """
    env = os.environ.get("ROBOPIPE_REGISTRY")
    if env:
        return Path(env).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "robopipe" / "registry"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TargetOptions(_Model):
    """Where a dataset lives: the Hub (or a Hub-compatible endpoint) or a local registry directory."""

    target: Target | None = Field(
        default=None,
        description="'hub' or 'local'; default: 'hub' when a Hub token is configured, else 'local'",
    )
    registry: Path | None = Field(
        default=None, description="local registry directory (default $ROBOPIPE_REGISTRY or the user data dir)"
    )
    endpoint: str | None = Field(
        default=None, description="Hub endpoint URL (default $HF_ENDPOINT or https://huggingface.co)"
    )
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="backoff for 429/5xx/timeouts")


class PublishRequest(TargetOptions):
    """Publish one finished dataset root as a versioned snapshot."""

    root: Path = Field(description="dataset root (contains meta/info.json)")
    repo_id: str = Field(description="ORG/NAME of the dataset repository")
    tag: str | None = Field(default=None, description="version tag for this snapshot, e.g. v1.0 or v1.2.0")
    tag_message: str | None = Field(default=None, max_length=4096, description="message of the version tag")
    force_tag: bool = Field(default=False, description="move --tag if it already names another commit")
    private: bool = Field(default=False, description="create the Hub repository as private")
    branch: str = Field(default="main", description="branch to commit to (created from main if missing)")
    dry_run: bool = Field(default=False, description="plan only: list what would be sent, change nothing")
    follow_symlinks: bool = Field(
        default=False,
        description="upload the targets of symlinks that lead outside the dataset (else refused)",
    )
    allow_invalid: bool = Field(
        default=False,
        description="publish even if validation finds errors (the dataset card then says so)",
    )
    check: bool = Field(
        default=True,
        description="validate before publishing (robopipe rules, no GX); off only for recording checkpoints",
    )
    license: str = Field(default="apache-2.0", description="license in the dataset card")
    card_tags: tuple[str, ...] = Field(default=(), description="extra card tags (LeRobot is always added)")
    commit_message: str | None = Field(default=None, description="commit title (default: generated)")
    max_files_per_commit: int = Field(
        default=500, ge=1, description="files per commit of a multi-commit upload"
    )
    max_bytes_per_commit: int = Field(
        default=2 * 1024**3, ge=1, description="bytes per commit of a multi-commit upload"
    )

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str) -> str:
        return check_repo_id(v)

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str | None) -> str | None:
        return None if v is None else check_version_tag(v)

    @field_validator("branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        return check_branch_name(v)


class DownloadRequest(TargetOptions):
    """Fetch one exact version (branch, tag or commit) of a published dataset into a new folder."""

    repo_id: str = Field(description="ORG/NAME of the dataset repository")
    revision: str = Field(default="main", description="branch, tag (e.g. v1.0.0) or commit id")
    out: Path = Field(description="destination folder (must not exist or be empty)")

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str) -> str:
        return check_repo_id(v)


class HistoryRequest(TargetOptions):
    """List the commits of a branch and the tags of a published dataset."""

    repo_id: str = Field(description="ORG/NAME of the dataset repository")
    branch: str = Field(default="main", description="branch whose commits are listed")

    @field_validator("repo_id")
    @classmethod
    def _repo_id(cls, v: str) -> str:
        return check_repo_id(v)


class PublishResult(_Model):
    """What a publish did (or, with dry_run, would do). Safe to store as an artifact: holds no secret."""

    repo_id: str
    target: Target
    location: str = Field(description="repo URL (hub) or git directory (local)")
    branch: str
    commit: str | None = Field(description="final commit id (the one the tags point at); None on dry runs")
    commits: tuple[str, ...] = Field(default=(), description="commits created by this run, oldest first")
    uploaded: tuple[str, ...] = Field(default=(), description="files sent (or to send, on dry runs)")
    deleted: tuple[str, ...] = Field(default=(), description="remote files removed (gone from the dataset)")
    unchanged: int = Field(default=0, description="files already present with the same content")
    uploaded_bytes: int = 0
    tags: tuple[str, ...] = Field(default=(), description="tags pointing at `commit` after the run")
    dry_run: bool = False


class CommitEntry(_Model):
    """One commit of the history, newest first, with the tags that point at it."""

    commit: str
    title: str
    date: str
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


class History(_Model):
    repo_id: str
    target: Target
    branch: str
    commits: tuple[CommitEntry, ...]
    branches: dict[str, str] = Field(default_factory=dict, description="branch -> head commit")
    tags: dict[str, str] = Field(default_factory=dict, description="tag -> commit")


class DownloadResult(_Model):
    repo_id: str
    target: Target
    revision: str
    commit: str = Field(description="the exact commit that was downloaded")
    out: Path
    files: int
