"""``HubClient``: the few Hub operations a publish needs, over ``huggingface_hub.HfApi`` (core layer).

Every call goes through :func:`~robopipe.publish.retry.call_with_retry`: 429/5xx/timeouts are retried with
backoff and jitter, 401/403/404 fail at once with a clear message, and no message carries the token.

Transport note: with ``hf_xet`` installed, huggingface_hub 2.x sends large files only through Xet. A server that
speaks plain Git LFS (a self-hosted Hub, the test double in ``tests/fixtures/hub_server.py``) needs
``HF_HUB_DISABLE_XET=1`` in the environment before ``huggingface_hub`` is imported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from robopipe.publish.files import LocalFile
from robopipe.publish.retry import RetryPolicy, call_with_retry

logger = logging.getLogger(__name__)
T = TypeVar("T")
REPO_TYPE = "dataset"


@dataclass(frozen=True)
class RemoteFile:
    """A file at a revision: git blob id, and the sha256 when stored in LFS/Xet."""

    path: str
    blob_id: str
    size: int
    sha256: str | None

    def matches(self, local: LocalFile) -> bool:
        if self.sha256 is not None:
            return self.sha256 == local.sha256
        return self.blob_id == local.git_sha1


@dataclass(frozen=True)
class Refs:
    branches: dict[str, str]
    tags: dict[str, str]


class HubClient:
    """Thin, retrying wrapper over ``HfApi`` for dataset repositories."""

    def __init__(
        self,
        token: str | None = None,
        endpoint: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from huggingface_hub import HfApi

        self._token = token
        self.api = HfApi(endpoint=endpoint, token=token, library_name="robopipe")
        self.endpoint = self.api.endpoint
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._warn_on_xet_with_custom_endpoint()

    def _warn_on_xet_with_custom_endpoint(self) -> None:
        from huggingface_hub.utils._runtime import is_xet_available

        if is_xet_available() and "huggingface.co" not in self.endpoint:
            logger.warning(
                "Hub endpoint %s is not huggingface.co and hf_xet is installed: large files will be sent through "
                "Xet only. If this server speaks plain Git LFS, set HF_HUB_DISABLE_XET=1 before starting.",
                self.endpoint,
            )

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return call_with_retry(fn, what, self.retry, self._sleep)

    def repo_url(self, repo_id: str) -> str:
        return f"{self.endpoint}/datasets/{repo_id}"

    # --- repo, refs ------------------------------------------------------------------------------------------
    def ensure_repo(self, repo_id: str, private: bool) -> str:
        """Create the dataset repo if missing (existing repos keep their visibility); return its URL."""
        url = self._call(
            f"create repo {repo_id}",
            lambda: self.api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True),
        )
        return str(url)

    def repo_exists(self, repo_id: str) -> bool:
        return self._call(
            f"look up repo {repo_id}", lambda: self.api.repo_exists(repo_id, repo_type=REPO_TYPE)
        )

    def refs(self, repo_id: str) -> Refs:
        r = self._call(
            f"list refs of {repo_id}", lambda: self.api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
        )
        return Refs(
            branches={b.name: b.target_commit for b in r.branches},
            tags={t.name: t.target_commit for t in r.tags},
        )

    def ensure_branch(self, repo_id: str, branch: str, start: str | None) -> None:
        self._call(
            f"create branch {branch} of {repo_id}",
            lambda: self.api.create_branch(
                repo_id, branch=branch, revision=start, repo_type=REPO_TYPE, exist_ok=True
            ),
        )

    def create_tag(self, repo_id: str, tag: str, commit: str, message: str | None = None) -> None:
        self._call(
            f"create tag {tag} on {repo_id}@{commit[:12]}",
            lambda: self.api.create_tag(
                repo_id, tag=tag, revision=commit, tag_message=message, repo_type=REPO_TYPE
            ),
        )

    def delete_tag(self, repo_id: str, tag: str) -> None:
        self._call(
            f"delete tag {tag} of {repo_id}",
            lambda: self.api.delete_tag(repo_id, tag=tag, repo_type=REPO_TYPE),
        )

    # --- content ---------------------------------------------------------------------------------------------
    def remote_files(self, repo_id: str, revision: str) -> dict[str, RemoteFile]:
        """Every file at ``revision`` with its hashes (one recursive tree listing)."""
        from huggingface_hub.hf_api import RepoFile

        def listing() -> dict[str, RemoteFile]:
            out: dict[str, RemoteFile] = {}
            for entry in self.api.list_repo_tree(
                repo_id, revision=revision, recursive=True, repo_type=REPO_TYPE
            ):
                if isinstance(entry, RepoFile):
                    lfs = entry.lfs
                    sha = lfs.sha256 if lfs is not None else None
                    out[entry.path] = RemoteFile(entry.path, entry.blob_id, entry.size, sha)
            return out

        return self._call(f"list files of {repo_id}@{revision}", listing)

    def commit(
        self,
        repo_id: str,
        branch: str,
        files: Sequence[LocalFile],
        extra: dict[str, bytes],
        deletes: Sequence[str],
        message: str,
    ) -> str:
        """One commit adding ``files`` (+ in-memory ``extra``) and deleting ``deletes``; returns its id.

        Operations are rebuilt on every attempt (huggingface_hub refuses to reuse committed ones); LFS objects that
        reached the server before a failure are not sent again (the LFS batch answer has no upload action).
        """
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        def attempt() -> str:
            ops: list[Any] = [CommitOperationAdd(f.path_in_repo, str(f.abspath)) for f in files]
            ops += [CommitOperationAdd(p, data) for p, data in extra.items()]
            ops += [CommitOperationDelete(p) for p in deletes]
            info = self.api.create_commit(
                repo_id, operations=ops, commit_message=message, revision=branch, repo_type=REPO_TYPE
            )
            return str(info.oid)

        return self._call(f"commit {len(files) + len(extra)} file(s) to {repo_id}@{branch}", attempt)

    def commits(self, repo_id: str, branch: str) -> list[Any]:
        return self._call(
            f"list commits of {repo_id}@{branch}",
            lambda: self.api.list_repo_commits(repo_id, revision=branch, repo_type=REPO_TYPE),
        )

    def resolve(self, repo_id: str, revision: str) -> str:
        """The commit id a branch/tag/commit names."""
        info = self._call(
            f"resolve {repo_id}@{revision}",
            lambda: self.api.dataset_info(repo_id, revision=revision),
        )
        return str(info.sha)

    def snapshot(self, repo_id: str, revision: str, local_dir: Path) -> Path:
        """Download every file of an exact commit into ``local_dir``."""
        return Path(
            self._call(
                f"download {repo_id}@{revision}",
                lambda: self.api.snapshot_download(
                    repo_id, repo_type=REPO_TYPE, revision=revision, local_dir=local_dir
                ),
            )
        )
