"""publish / history / download: the entry points the CLI, the Prefect flows and the record loop call (core layer).

A publish is resumable and versioned:

1. list the dataset's publishable files and hash them; render the card;
2. compare with what the target holds at the branch head; plan only the missing/changed files (+ deletions);
3. refuse early if the version tag already names another commit (unless ``force_tag``);
4. send the plan in one or more commits (``max_files_per_commit``/``max_bytes_per_commit``); meta files and the
   card go last, so a partial upload never looks complete;
5. only then tag the *final commit id* (never "main") with ``v3.0`` and the user's version tag.

If step 4 fails, re-running the same publish sends only what is still missing. Targets: the Hub (``HubClient``)
or a local registry of git repositories (``LocalRegistry``); the default is the Hub when a token is configured.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from robopipe.errors import (
    DatasetExistsError,
    FormatError,
    HubNotFoundError,
    TagConflictError,
    ValidationFailedError,
)
from robopipe.format import layout
from robopipe.format.info import load_info
from robopipe.format.lock import is_locked
from robopipe.publish.card import render_card
from robopipe.publish.files import (
    CARD_PATH,
    LocalFile,
    git_blob_sha1,
    hash_file,
    is_published_path,
    list_dataset_files,
)
from robopipe.publish.hub import HubClient
from robopipe.publish.local import LocalRegistry
from robopipe.publish.models import (
    CommitEntry,
    DownloadRequest,
    DownloadResult,
    History,
    HistoryRequest,
    PublishRequest,
    PublishResult,
    Target,
    TargetOptions,
    default_registry,
)
from robopipe.publish.secrets import resolve_token, secret_scope
from robopipe.publish.versioning import CODEBASE_TAG
from robopipe.validate.findings import ValidationReport
from robopipe.validate.rules_writer import pending_episodes, writer_holder

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """What a publish must send, given what the target already holds."""

    upload: list[LocalFile] = field(default_factory=list)
    card: bytes | None = None  # None: the remote card is identical
    delete: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        return not self.upload and self.card is None and not self.delete

    def batches(self, max_files: int, max_bytes: int) -> list[list[LocalFile]]:
        """Upload order: data/videos first, meta/ last; cut by file count and bytes."""
        ordered = sorted(self.upload, key=lambda f: (f.path_in_repo.startswith("meta/"), f.path_in_repo))
        out: list[list[LocalFile]] = []
        cur: list[LocalFile] = []
        size = 0
        for f in ordered:
            if cur and (len(cur) >= max_files or size + f.size > max_bytes):
                out.append(cur)
                cur, size = [], 0
            cur.append(f)
            size += f.size
        if cur or not out:
            out.append(cur)
        return out


def resolve_target(opts: TargetOptions, token: str | None) -> Target:
    """The explicit target, else 'hub' when a token is configured, else 'local'."""
    if opts.target is not None:
        return opts.target
    return "hub" if token else "local"


def _registry(opts: TargetOptions) -> LocalRegistry:
    return LocalRegistry(opts.registry or default_registry())


def _make_plan(
    files: Sequence[LocalFile],
    card: bytes,
    remote_match: Callable[[LocalFile], bool],
    remote_paths: set[str],
    remote_card_blob: str | None,
) -> Plan:
    plan = Plan()
    for f in files:
        if f.path_in_repo in remote_paths and remote_match(f):
            plan.unchanged += 1
        else:
            plan.upload.append(f)
    if remote_card_blob != git_blob_sha1(card):
        plan.card = card
    local_paths = {f.path_in_repo for f in files}
    plan.delete = sorted(p for p in remote_paths if is_published_path(p) and p not in local_paths)
    return plan


def _check_tag(request: PublishRequest, tags: dict[str, str], head: str | None, plan: Plan) -> None:
    if request.tag is None or request.force_tag:
        return
    existing = tags.get(request.tag)
    if existing is None or (plan.empty and existing == head):
        return
    raise TagConflictError(
        f"{request.repo_id}: tag {request.tag} already names commit {existing[:12]}, and this publish "
        f"{'would create a new commit' if not plan.empty else f'is at {str(head)[:12]}'}. Tags are never moved "
        f"silently: pick a new version (e.g. bump the patch number) or pass --force-tag to move it."
    )


def _message(request: PublishRequest, part: int, parts: int) -> str:
    base = request.commit_message or (
        f"Publish {request.tag}" if request.tag else "Upload dataset with robopipe"
    )
    return f"{base} (part {part}/{parts})" if parts > 1 else base


def _load_files(root: Path, follow_symlinks: bool = False) -> list[LocalFile]:
    load_info(root)  # fail early with a clear message on a non-dataset
    return [hash_file(root, rel) for rel in list_dataset_files(root, follow_symlinks=follow_symlinks)]


def check_publishable(request: PublishRequest) -> ValidationReport | None:
    """Refuse an interrupted writer's dataset, then validate; returns the report (``None``: not checked).

    Raises:
        FormatError: saved episodes wait in the writer's staging folder, another writer is running, or
            the dataset has no episodes; the message says to run ``robopipe repair ROOT``.
        ValidationFailedError: validation found errors and ``allow_invalid`` is not set.
    """
    root = Path(request.root)
    holder = is_locked(root)
    if holder is not None and holder.get("pid") != os.getpid():  # the record loop's own checkpoints pass
        raise FormatError(
            f"{root}: a writer is still using this dataset ({writer_holder(root) or 'unknown process'}); "
            f"wait for it to finish (if it was interrupted: run robopipe repair {root}), then publish"
        )
    pending = pending_episodes(root)
    if pending:
        raise FormatError(
            f"{root}: {len(pending)} saved episode(s) of an interrupted writer are still in its staging "
            f"folder and would be missing from the snapshot; run robopipe repair {root}, then publish"
        )
    if load_info(root).total_episodes == 0:
        raise FormatError(
            f"{root}: the dataset has no episodes (an interrupted writer's first snapshot?); "
            f"run robopipe repair {root}, then publish"
        )
    if not request.check:
        return None
    from robopipe.validate.engine import validate_dataset

    report = validate_dataset(root, gx=False)
    errors = report.errors()
    if not report.valid and not request.allow_invalid:
        first = errors[0]
        raise ValidationFailedError(
            f"{root}: validation found {report.counts['error']} error(s), first {first.code} {first.message}"
            f"{f' ({first.file})' if first.file else ''}; not published. See all with robopipe validate "
            f"{root}; fix them, or pass --allow-invalid to publish anyway (the dataset card will say so)",
            report,
        )
    return report


def invalid_note(report: ValidationReport | None) -> str:
    """The dataset card section of a snapshot published with validation errors (``--allow-invalid``)."""
    if report is None or report.valid:
        return ""
    codes = sorted({f.code for f in report.errors()})
    return (
        "\n## Validation\n\n"
        f"Published with `--allow-invalid`: `robopipe validate` found {report.counts['error']} error(s) "
        f"({', '.join(codes)}). Expect problems loading or training on this snapshot.\n"
    )


def publish(
    request: PublishRequest,
    token: str | None = None,
    *,
    hub: HubClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishResult:
    """Publish ``request.root`` as a versioned snapshot; see the module docstring for the steps.

    Args:
        request: what to publish and where.
        token: Hub token from the caller (e.g. a Prefect Secret block); default ``HF_TOKEN`` or the login cache.
        hub: a ready client (tests, custom endpoints); built from ``request`` when omitted.
        sleep: the backoff sleep (tests pass a no-op).
    """
    token = resolve_token(token) if (request.target != "local") else None
    target = resolve_target(request, token)
    with secret_scope(token):
        root = Path(request.root)
        files = _load_files(root, request.follow_symlinks)
        report = check_publishable(request)
        card_text = render_card(
            root, request.repo_id, license=request.license, tags=request.card_tags, version=request.tag
        )
        card = (card_text + invalid_note(report)).encode()
        if target == "local":
            return _publish_local(request, files, card)
        client = hub or HubClient(token=token, endpoint=request.endpoint, retry=request.retry, sleep=sleep)
        return _publish_hub(request, client, files, card)


def _publish_hub(
    request: PublishRequest, hub: HubClient, files: list[LocalFile], card: bytes
) -> PublishResult:
    repo, branch = request.repo_id, request.branch
    if request.dry_run and not hub.repo_exists(repo):
        refs_branches: dict[str, str] = {}
        refs_tags: dict[str, str] = {}
        location = hub.repo_url(repo)
    else:
        location = hub.repo_url(repo) if request.dry_run else hub.ensure_repo(repo, request.private)
        refs = hub.refs(repo)
        refs_branches, refs_tags = refs.branches, refs.tags
    head = refs_branches.get(branch)
    if head is None and not request.dry_run and refs_branches:
        hub.ensure_branch(repo, branch, refs_branches.get("main"))
        head = hub.refs(repo).branches.get(branch)
    remote = hub.remote_files(repo, head) if head else {}
    card_remote = remote.get(CARD_PATH)
    plan = _make_plan(
        files,
        card,
        lambda f: remote[f.path_in_repo].matches(f),
        set(remote),
        card_remote.blob_id if card_remote else None,
    )
    _check_tag(request, refs_tags, head, plan)
    if request.dry_run:
        return _result(request, "hub", location, None, [], plan, ())

    commits: list[str] = []
    if not plan.empty:
        batches = plan.batches(request.max_files_per_commit, request.max_bytes_per_commit)
        for i, batch in enumerate(batches, start=1):
            last = i == len(batches)
            oid = hub.commit(
                repo,
                branch,
                batch,
                extra={CARD_PATH: plan.card} if (last and plan.card is not None) else {},
                deletes=plan.delete if last else [],
                message=_message(request, i, len(batches)),
            )
            commits.append(oid)
            logger.info("%s: committed %d file(s) as %s (%d/%d)", repo, len(batch), oid[:12], i, len(batches))
    final = commits[-1] if commits else head
    if final is None:  # nothing to publish into an empty repo: impossible with a valid dataset
        raise HubNotFoundError(f"{repo}: branch {branch} has no commit after the upload")

    tags = hub.refs(repo).tags
    for tag, is_user in ((CODEBASE_TAG, False), (request.tag, True)):
        if tag is None or tags.get(tag) == final:
            continue
        if tag in tags:
            if is_user and not request.force_tag:  # someone tagged it meanwhile
                raise TagConflictError(f"{repo}: tag {tag} appeared on {tags[tag][:12]} during the publish")
            hub.delete_tag(repo, tag)
        message = (request.tag_message if is_user else None) or f"robopipe publish of {repo}"
        hub.create_tag(repo, tag, final, message=message)
        tags[tag] = final
    return _result(
        request, "hub", location, final, commits, plan, tuple(t for t, c in tags.items() if c == final)
    )


def _publish_local(request: PublishRequest, files: list[LocalFile], card: bytes) -> PublishResult:
    reg = _registry(request)
    repo, branch = request.repo_id, request.branch
    location = str(reg.repo_path(repo))
    with reg.lock(repo):
        if not request.dry_run:
            reg.ensure_repo(repo)
        exists = reg.exists(repo)
        branches, tags = reg.refs(repo) if exists else ({}, {})
        head = branches.get(branch)
        start = head if head is not None else branches.get("main")
        remote = reg.tree_files(repo, start) if start else {}
        plan = _make_plan(
            files, card, lambda f: remote[f.path_in_repo] == f.git_sha1, set(remote), remote.get(CARD_PATH)
        )
        _check_tag(request, tags, start, plan)
        if request.dry_run:
            return _result(request, "local", location, None, [], plan, ())
        new = reg.commit_snapshot(repo, files, {CARD_PATH: card}, start, _message(request, 1, 1))
        commits = [new] if new != head else []
        if new != head:
            reg.update_ref(repo, f"refs/heads/{branch}", new, head)
        for tag, is_user in ((CODEBASE_TAG, False), (request.tag, True)):
            if tag is None or tags.get(tag) == new:
                continue
            if tag in tags and is_user and not request.force_tag:
                raise TagConflictError(f"{repo}: tag {tag} already names {tags[tag][:12]} (use --force-tag)")
            message = request.tag_message if is_user else None
            reg.create_tag(repo, tag, new, message, force=tag in tags)
            tags[tag] = new
    return _result(
        request, "local", location, new, commits, plan, tuple(t for t, c in tags.items() if c == new)
    )


def _result(
    request: PublishRequest,
    target: Target,
    location: str,
    commit: str | None,
    commits: list[str],
    plan: Plan,
    tags: tuple[str, ...],
) -> PublishResult:
    uploaded = [f.path_in_repo for f in plan.upload] + ([CARD_PATH] if plan.card is not None else [])
    return PublishResult(
        repo_id=request.repo_id,
        target=target,
        location=location,
        branch=request.branch,
        commit=commit,
        commits=tuple(commits),
        uploaded=tuple(sorted(uploaded)),
        deleted=tuple(plan.delete),
        unchanged=plan.unchanged,
        uploaded_bytes=sum(f.size for f in plan.upload) + len(plan.card or b""),
        tags=tuple(sorted(tags)),
        dry_run=request.dry_run,
    )


def history(
    request: HistoryRequest,
    token: str | None = None,
    *,
    hub: HubClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> History:
    """Commits of ``request.branch`` (newest first) with the tags pointing at each, plus all branches and tags."""
    token = resolve_token(token) if request.target != "local" else None
    target = resolve_target(request, token)
    with secret_scope(token):
        if target == "local":
            reg = _registry(request)
            branches, tags = reg.refs(request.repo_id)
            raw = [(c.commit, c.title, c.date, (c.author,)) for c in reg.log(request.repo_id, request.branch)]
        else:
            client = hub or HubClient(
                token=token, endpoint=request.endpoint, retry=request.retry, sleep=sleep
            )
            refs = client.refs(request.repo_id)
            branches, tags = refs.branches, refs.tags
            raw = [
                (c.commit_id, c.title, c.created_at.isoformat(), tuple(c.authors))
                for c in client.commits(request.repo_id, request.branch)
            ]
    by_commit: dict[str, list[str]] = {}
    for t, c in sorted(tags.items()):
        by_commit.setdefault(c, []).append(t)
    entries = tuple(
        CommitEntry(commit=c, title=title, date=date, authors=authors, tags=tuple(by_commit.get(c, [])))
        for c, title, date, authors in raw
    )
    return History(
        repo_id=request.repo_id,
        target=target,
        branch=request.branch,
        commits=entries,
        branches=branches,
        tags=tags,
    )


def download(
    request: DownloadRequest,
    token: str | None = None,
    *,
    hub: HubClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DownloadResult:
    """Fetch the exact commit ``request.revision`` names into ``request.out`` (created atomically)."""
    out = Path(request.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetExistsError(f"{out}: download destination exists and is not empty; choose a new --out")
    token = resolve_token(token) if request.target != "local" else None
    target = resolve_target(request, token)
    with secret_scope(token):
        if target == "local":
            reg = _registry(request)
            commit = reg.resolve(request.repo_id, request.revision)
            if commit is None:
                what = "dataset" if not reg.exists(request.repo_id) else f"revision {request.revision!r}"
                raise HubNotFoundError(f"local registry {reg.root}: {request.repo_id}: no such {what}")
            n = reg.export(request.repo_id, commit, out)
        else:
            client = hub or HubClient(
                token=token, endpoint=request.endpoint, retry=request.retry, sleep=sleep
            )
            commit = client.resolve(request.repo_id, request.revision)
            out.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
            try:
                client.snapshot(request.repo_id, commit, staging)
                shutil.rmtree(staging / ".cache", ignore_errors=True)
                n = sum(1 for p in staging.rglob("*") if p.is_file())
                if out.exists():
                    out.rmdir()
                os.replace(staging, out)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
    if not (out / layout.INFO_PATH).is_file():
        logger.warning(
            "%s@%s has no %s: not a LeRobot dataset?", request.repo_id, request.revision, layout.INFO_PATH
        )
    return DownloadResult(
        repo_id=request.repo_id, target=target, revision=request.revision, commit=commit, out=out, files=n
    )
