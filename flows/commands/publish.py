"""``robopipe publish``, ``robopipe history``, ``robopipe download``: versioned datasets on the Hub or offline.

Targets: ``hub`` (huggingface.co or any Hub-compatible ``--endpoint``; token from ``HF_TOKEN`` or
``hf auth login``) and ``local`` (a registry of git repositories under ``--registry``, default
``$ROBOPIPE_REGISTRY`` or ``~/.local/share/robopipe/registry``; serve it to standard HF clients with olah, see
``robopipe.publish.local.olah_config``). Without ``--target`` the Hub is used when a token is configured, else the
local registry. A server that speaks Git LFS but not Xet needs ``HF_HUB_DISABLE_XET=1`` in the environment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from cyclopts import App, Parameter

TargetOpt = Annotated[Literal["hub", "local"] | None, Parameter(name="--target")]


def _build(model: type[Any], **kwargs: Any) -> Any:
    """Build a request model; turn pydantic errors into a ConfigError (exit code 2, no traceback)."""
    from pydantic import ValidationError

    from robopipe.errors import ConfigError
    from robopipe.publish.models import default_registry

    if kwargs.get("registry") is None and kwargs.get("target") != "hub":
        kwargs["registry"] = default_registry()
    try:
        return model(**{k: v for k, v in kwargs.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"invalid arguments: {problems}") from exc


def publish(
    root: Path,
    /,
    *,
    repo_id: str,
    tag: str | None = None,
    tag_message: str | None = None,
    force_tag: bool = False,
    private: bool = False,
    branch: str = "main",
    target: TargetOpt = None,
    registry: Path | None = None,
    endpoint: str | None = None,
    dry_run: bool = False,
    license: str = "apache-2.0",
    as_json: Annotated[bool, Parameter(name="--json")] = False,
    follow_symlinks: bool = False,
    allow_invalid: bool = False,
) -> int:
    """Publish a finished dataset as a versioned snapshot (resumable; only missing files are sent).

    The upload may take several commits; the final commit is then tagged ``v3.0`` (the LeRobot codebase version)
    and, with ``--tag``, your version name. A failed run can simply be re-run.

    Parameters
    ----------
    root
        Dataset folder (holds ``meta/info.json``), or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``. ``images/`` and
        hidden folders are never sent.
    repo_id
        ``ORG/NAME`` of the dataset repository.
    tag
        Version name for this snapshot, e.g. ``v1.0`` or ``v1.2.0`` (any tag name the Hub accepts, except
        ``v3.0``). An existing tag is never moved silently.
    tag_message
        Message of the version tag.
    force_tag
        Move ``--tag`` if it already names another commit.
    private
        Create the Hub repository as private (an existing repo keeps its visibility).
    branch
        Branch to commit to; created from ``main`` when missing.
    target
        ``hub`` or ``local``; default: ``hub`` when a Hub token is configured, else ``local``.
    registry
        Local registry folder (default ``$ROBOPIPE_REGISTRY``, else the user data directory).
    endpoint
        Hub endpoint URL (default ``$HF_ENDPOINT`` or https://huggingface.co).
    dry_run
        Only show what would be sent; change nothing.
    license
        License written into the dataset card.
    as_json
        Print the result as JSON.
    follow_symlinks
        Upload the targets of symlinks that lead outside the dataset (refused otherwise).
    allow_invalid
        Publish even if validation finds errors; the dataset card then says so. Without it a dataset with
        errors is refused (exit 1), as is one whose writer was interrupted (run ``robopipe repair ROOT``).
    """
    from robopipe.format.home import resolve_dataset_root
    from robopipe.publish import PublishRequest
    from robopipe.publish import publish as run

    root = resolve_dataset_root(root)

    request = _build(
        PublishRequest,
        root=root,
        repo_id=repo_id,
        tag=tag,
        tag_message=tag_message,
        force_tag=force_tag,
        private=private,
        branch=branch,
        target=target,
        registry=registry,
        endpoint=endpoint,
        dry_run=dry_run,
        license=license,
        follow_symlinks=follow_symlinks,
        allow_invalid=allow_invalid,
    )
    result = run(request)
    if as_json:
        print(result.model_dump_json(indent=2))
        return 0
    verb = "would send" if result.dry_run else "sent"
    print(f"{result.repo_id} -> {result.target}: {result.location} (branch {result.branch})")
    print(
        f"  {verb} {len(result.uploaded)} file(s), {result.uploaded_bytes / 1e6:.2f} MB; "
        f"{result.unchanged} unchanged; {len(result.deleted)} deleted"
    )
    for path in result.uploaded[:20]:
        print(f"    + {path}")
    if len(result.uploaded) > 20:
        print(f"    ... {len(result.uploaded) - 20} more")
    for path in result.deleted:
        print(f"    - {path}")
    if not result.dry_run:
        print(
            f"  commit {result.commit} ({len(result.commits)} new commit(s)); tags: {', '.join(result.tags)}"
        )
    return 0


def history(
    repo_id: str,
    /,
    *,
    branch: str = "main",
    target: TargetOpt = None,
    registry: Path | None = None,
    endpoint: str | None = None,
    as_json: Annotated[bool, Parameter(name="--json")] = False,
) -> int:
    """List the commits of a published dataset (newest first) with their tags.

    Parameters
    ----------
    repo_id
        ``ORG/NAME`` of the dataset repository.
    branch
        Branch whose commits are listed.
    target
        ``hub`` or ``local`` (default as for ``publish``).
    registry
        Local registry folder.
    endpoint
        Hub endpoint URL.
    as_json
        Print the history as JSON.
    """
    from robopipe.publish import HistoryRequest
    from robopipe.publish import history as run

    request = _build(
        HistoryRequest, repo_id=repo_id, branch=branch, target=target, registry=registry, endpoint=endpoint
    )
    result = run(request)
    if as_json:
        print(result.model_dump_json(indent=2))
        return 0
    print(f"{result.repo_id} ({result.target}), branch {result.branch}: {len(result.commits)} commit(s)")
    for c in result.commits:
        tags = f"  [{', '.join(c.tags)}]" if c.tags else ""
        print(f"  {c.commit[:12]}  {c.date[:19]}  {c.title}{tags}")
    other = {b: c for b, c in result.branches.items() if b != result.branch}
    if other:
        print("  other branches: " + ", ".join(f"{b} ({c[:12]})" for b, c in sorted(other.items())))
    return 0


def download(
    repo_id: str,
    /,
    *,
    out: Path,
    revision: str = "main",
    target: TargetOpt = None,
    registry: Path | None = None,
    endpoint: str | None = None,
    as_json: Annotated[bool, Parameter(name="--json")] = False,
) -> int:
    """Download one exact version (tag, branch or commit) of a published dataset into a new folder.

    Parameters
    ----------
    repo_id
        ``ORG/NAME`` of the dataset repository.
    out
        Destination folder; must not exist or be empty. Created atomically.
    revision
        Tag (e.g. ``v1.0.0``), branch or commit id.
    target
        ``hub`` or ``local`` (default as for ``publish``).
    registry
        Local registry folder.
    endpoint
        Hub endpoint URL.
    as_json
        Print the result as JSON.
    """
    from robopipe.publish import DownloadRequest
    from robopipe.publish import download as run

    request = _build(
        DownloadRequest,
        repo_id=repo_id,
        out=out,
        revision=revision,
        target=target,
        registry=registry,
        endpoint=endpoint,
    )
    result = run(request)
    if as_json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
        return 0
    print(
        f"{result.repo_id}@{result.revision} = commit {result.commit}: {result.files} file(s) -> {result.out}"
    )
    return 0


def register(app: App) -> None:
    app.command(publish)
    app.command(history)
    app.command(download)
