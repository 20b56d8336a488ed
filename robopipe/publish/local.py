"""The local registry: an offline, embedded publish target for demos and air-gapped labs (core layer).

Layout: ``<registry>/datasets/<org>/<name>`` is a *bare git repository* with branch ``main``, one commit per
publish and lightweight tags (``v3.0`` and the user's version tags). Commits are content-addressed and never
rewritten, so every tag names an immutable snapshot. Commits are built with the ``git`` binary straight from the
dataset files (a temporary index, ``hash-object``/``write-tree``/``commit-tree``, then ``update-ref`` with the
expected old value), so nothing is copied into a work tree and a concurrent writer is detected, not overwritten.

Standard Hugging Face clients read it through ``olah`` in offline mode (``mirrors-path = <registry>``,
``HF_ENDPOINT`` pointed at it): ``snapshot_download(repo_id, repo_type="dataset", revision="v1.0.0")`` works. See
:func:`olah_config`. robopipe's own ``download`` reads the git repository directly (``git archive``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from robopipe.errors import HubError, HubNotFoundError
from robopipe.publish.files import LocalFile

ZERO_OID = "0" * 40
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "robopipe",
    "GIT_AUTHOR_EMAIL": "robopipe@localhost",
    "GIT_COMMITTER_NAME": "robopipe",
    "GIT_COMMITTER_EMAIL": "robopipe@localhost",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


class RefUpdateError(HubError):
    """A branch or tag changed under us (another publish ran at the same time)."""


@dataclass(frozen=True)
class GitCommit:
    commit: str
    title: str
    date: str
    author: str


class LocalRegistry:
    """A directory of bare git repositories, one per dataset, laid out like olah's ``mirrors-path``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def repo_path(self, repo_id: str) -> Path:
        org, name = repo_id.split("/", 1)
        return self.root / "datasets" / org / name

    def exists(self, repo_id: str) -> bool:
        return (self.repo_path(repo_id) / "HEAD").is_file()

    # --- git plumbing ----------------------------------------------------------------------------------------
    def _git(
        self,
        repo_id: str,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**os.environ, **_GIT_ENV, **(env or {})}
        proc = subprocess.run(
            ["git", "--git-dir", str(self.repo_path(repo_id)), *args],
            input=input,
            capture_output=True,
            env=full_env,
            check=False,
        )
        if check and proc.returncode != 0:
            raise HubError(
                f"local registry {self.repo_path(repo_id)}: `git {' '.join(args[:3])}` failed "
                f"(exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
            )
        return proc

    def _out(
        self, repo_id: str, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
    ) -> str:
        return self._git(repo_id, *args, input=input, env=env).stdout.decode().strip()

    @contextlib.contextmanager
    def lock(self, repo_id: str) -> Iterator[None]:
        """Serialize publishes to one dataset (advisory lock next to the repo)."""
        path = self.repo_path(repo_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / f".{path.name}.lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def ensure_repo(self, repo_id: str) -> Path:
        path = self.repo_path(repo_id)
        if not self.exists(repo_id):
            path.mkdir(parents=True, exist_ok=True)
            proc = subprocess.run(
                ["git", "init", "--bare", "--quiet", "--initial-branch=main", str(path)],
                capture_output=True,
                env={**os.environ, **_GIT_ENV},
                check=False,
            )
            if proc.returncode != 0:
                raise HubError(f"cannot create local registry repo {path}: {proc.stderr.decode().strip()}")
        return path

    # --- refs ------------------------------------------------------------------------------------------------
    def resolve(self, repo_id: str, revision: str) -> str | None:
        """Commit id of a branch, tag or (abbreviated) commit id; None if unknown."""
        if not self.exists(repo_id):
            return None
        proc = self._git(repo_id, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", check=False)
        return proc.stdout.decode().strip() or None

    def refs(self, repo_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """(branches, tags), each name -> commit id."""
        if not self.exists(repo_id):
            raise HubNotFoundError(f"local registry {self.root}: no dataset {repo_id!r} (publish it first)")
        out = self._out(repo_id, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)")
        branches: dict[str, str] = {}
        tags: dict[str, str] = {}
        for line in out.splitlines():
            parts = line.split()
            ref, oid = parts[0], parts[-1]
            if ref.startswith("refs/heads/"):
                branches[ref[len("refs/heads/") :]] = oid
            elif ref.startswith("refs/tags/"):
                tags[ref[len("refs/tags/") :]] = oid
        return branches, tags

    def update_ref(self, repo_id: str, ref: str, new: str, old: str | None) -> None:
        """Point ``ref`` at ``new`` only if it still points at ``old`` (None: must not exist)."""
        proc = self._git(repo_id, "update-ref", ref, new, old or ZERO_OID, check=False)
        if proc.returncode != 0:
            raise RefUpdateError(
                f"local registry {self.repo_path(repo_id)}: {ref} moved while publishing "
                f"(expected {old or 'absent'}); re-run the publish. git: {proc.stderr.decode().strip()}"
            )

    def delete_ref(self, repo_id: str, ref: str, old: str) -> None:
        self._git(repo_id, "update-ref", "-d", ref, old)

    def create_tag(
        self, repo_id: str, tag: str, commit: str, message: str | None, force: bool = False
    ) -> None:
        """Annotated tag ``tag`` on ``commit`` (lightweight without a message); ``force`` replaces one."""
        msg = ["-a", "-m", message] if message else []
        self._git(repo_id, "tag", *msg, *(["-f"] if force else []), "--", tag, commit)

    # --- content ---------------------------------------------------------------------------------------------
    def tree_files(self, repo_id: str, revision: str) -> dict[str, str]:
        """path -> git blob id at ``revision``."""
        out = self._git(repo_id, "ls-tree", "-r", "-z", "--full-tree", revision).stdout.decode()
        files: dict[str, str] = {}
        for entry in filter(None, out.split("\0")):
            meta, path = entry.split("\t", 1)
            _mode, kind, oid = meta.split()
            if kind == "blob":
                files[path] = oid
        return files

    def commit_snapshot(
        self,
        repo_id: str,
        files: Sequence[LocalFile],
        extra: dict[str, bytes],
        parent: str | None,
        message: str,
    ) -> str:
        """Write a commit whose tree is exactly ``files`` + ``extra``; return it (or ``parent`` if identical)."""
        with tempfile.TemporaryDirectory(prefix="robopipe-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            entries: list[str] = []
            if files:
                paths = "\n".join(str(f.abspath) for f in files).encode() + b"\n"
                oids = self._out(
                    repo_id, "hash-object", "-w", "--no-filters", "--stdin-paths", input=paths
                ).split()
                for f, oid in zip(files, oids, strict=True):
                    if oid != f.git_sha1:
                        raise HubError(
                            f"{f.abspath}: changed while publishing (hash mismatch); re-run the publish"
                        )
                    entries.append(f"100644 {oid}\t{f.path_in_repo}")
            for path, data in extra.items():
                oid = self._out(repo_id, "hash-object", "-w", "--no-filters", "--stdin", input=data)
                entries.append(f"100644 {oid}\t{path}")
            self._git(
                repo_id,
                "update-index",
                "--add",
                "--index-info",
                input=("\n".join(entries) + "\n").encode(),
                env=env,
            )
            tree = self._out(repo_id, "write-tree", env=env)
        if parent is not None and self._out(repo_id, "rev-parse", f"{parent}^{{tree}}") == tree:
            return parent
        args = ["commit-tree", tree, "-m", message]
        if parent is not None:
            args += ["-p", parent]
        return self._out(repo_id, *args)

    def log(self, repo_id: str, branch: str, limit: int = 1000) -> list[GitCommit]:
        if self.resolve(repo_id, branch) is None:
            raise HubNotFoundError(f"local registry {self.root}: {repo_id!r} has no branch {branch!r}")
        out = self._out(
            repo_id,
            "log",
            f"--max-count={limit}",
            "--format=%H%x1f%s%x1f%aI%x1f%an%x1e",
            f"refs/heads/{branch}",
        )
        commits = []
        for rec in filter(None, (r.strip() for r in out.split("\x1e"))):
            oid, title, date, author = rec.split("\x1f")
            commits.append(GitCommit(oid, title, date, author))
        return commits

    def export(self, repo_id: str, commit: str, out: Path) -> int:
        """Extract the tree of ``commit`` into ``out`` (created atomically); return the number of files."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        try:
            tar_path = staging / ".snapshot.tar"
            with open(tar_path, "wb") as fh:
                proc = subprocess.run(
                    ["git", "--git-dir", str(self.repo_path(repo_id)), "archive", "--format=tar", commit],
                    stdout=fh,
                    stderr=subprocess.PIPE,
                    env={**os.environ, **_GIT_ENV},
                    check=False,
                )
            if proc.returncode != 0:
                raise HubError(f"git archive {repo_id}@{commit} failed: {proc.stderr.decode().strip()}")
            with tarfile.open(tar_path) as tar:
                members = [m for m in tar.getmembers() if m.isfile() or m.isdir()]
                tar.extractall(staging, members=members, filter="data")
            tar_path.unlink()
            n = sum(1 for m in members if m.isfile())
            if out.exists():
                out.rmdir()  # caller checked it is empty
            os.replace(staging, out)
            return n
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def olah_config(
    registry: Path,
    host: str = "127.0.0.1",
    port: int = 8090,
    repos_path: Path | None = None,
    metadata_cache_ttl: int = 0,
) -> str:
    """An olah TOML config serving ``registry`` offline to standard HF clients (``HF_ENDPOINT=http://host:port``).

    Run it with ``olah-cli -c olah.toml`` (``pip install olah``, in robopipe's ``dev`` extra). The metadata cache
    TTL defaults to 0 because every publish moves ``main`` and ``v3.0``; file content is cached by commit id.
    """
    repos = repos_path or (Path(registry) / ".olah-cache")
    return (
        "[basic]\n"
        f'host = "{host}"\n'
        f"port = {port}\n"
        f'repos-path = "{repos}"\n'
        f'mirrors-path = ["{Path(registry)}"]\n'
        f"metadata-cache-ttl = {metadata_cache_ttl}\n"
        "\n[accessibility]\n"
        "offline = true\n"
    )
