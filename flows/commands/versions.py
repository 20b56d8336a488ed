"""``robopipe tag`` and ``robopipe card``: name a published revision, write the dataset card locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter

from flows.commands.publish import TargetOpt, _build


def tag(
    repo_id: str,
    tag: str,
    /,
    *,
    revision: str = "main",
    message: str | None = None,
    force: bool = False,
    target: TargetOpt = None,
    registry: Path | None = None,
    endpoint: str | None = None,
    as_json: Annotated[bool, Parameter(name="--json")] = False,
) -> int:
    """Tag an existing revision of a published dataset (nothing is uploaded), e.g. ``robopipe tag lab/arm v1.0``.

    Parameters
    ----------
    repo_id
        ``ORG/NAME`` of the dataset repository.
    tag
        Tag name: any name the Hub accepts (``v1.0``, ``v1.2.0``, ``2024-06-pick``), except ``v3.0``.
    revision
        Branch, tag or commit id to tag (resolved to its commit first).
    message
        Tag message.
    force
        Move the tag if it already names another commit (it is never moved silently).
    target
        ``hub`` or ``local`` (default as for ``publish``).
    registry
        Local registry folder.
    endpoint
        Hub endpoint URL.
    as_json
        Print the result as JSON.
    """
    from robopipe.publish.tagging import TagRequest
    from robopipe.publish.tagging import tag as run

    request = _build(
        TagRequest,
        repo_id=repo_id,
        tag=tag,
        revision=revision,
        message=message,
        force=force,
        target=target,
        registry=registry,
        endpoint=endpoint,
    )
    result = run(request)
    if as_json:
        print(result.model_dump_json(indent=2))
        return 0
    if not result.changed:
        print(f"{result.repo_id} ({result.target}): {result.tag} already names {result.commit[:12]}")
    elif result.previous:
        print(
            f"{result.repo_id} ({result.target}): moved {result.tag} {result.previous[:12]} -> {result.commit[:12]}"
        )
    else:
        print(f"{result.repo_id} ({result.target}): tagged {result.commit[:12]} ({revision}) as {result.tag}")
    return 0


def card(
    root: Path,
    /,
    *,
    repo_id: str | None = None,
    version: str | None = None,
    license: str = "apache-2.0",
    tags: Annotated[list[str] | None, Parameter(consume_multiple=True)] = None,
    out: Path | None = None,
) -> int:
    """Write the dataset card (``README.md``: summary, usage with LeRobot 0.6.1, citation) without publishing.

    The same card ``publish`` sends, so you can read or edit-check it first.

    Parameters
    ----------
    root
        Dataset folder, or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``.
    repo_id
        ``ORG/NAME`` the card names (default: ROOT when it is a repo id).
    version
        Version the card names (e.g. ``v1.0``).
    license
        License in the card header.
    tags
        Extra card tags (``LeRobot`` is always there).
    out
        Where to write (default ``ROOT/README.md``; written atomically).
    """
    from robopipe.errors import ConfigError
    from robopipe.format.atomic import atomic_write_text
    from robopipe.format.home import resolve_dataset_root
    from robopipe.publish.card import render_card
    from robopipe.publish.models import check_repo_id
    from robopipe.publish.versioning import check_version_tag

    resolved = resolve_dataset_root(root)
    name = repo_id or (str(root) if resolved != Path(root) else None)
    if name is None:
        raise ConfigError(f"{root}: pass --repo-id ORG/NAME (the name the card gives the dataset)")
    try:
        check_repo_id(name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if version is not None:
        check_version_tag(version)
    text = render_card(resolved, name, license=license, tags=tuple(tags or ()), version=version)
    dest = out or resolved / "README.md"
    atomic_write_text(dest, text)
    print(f"{dest}: dataset card of {name}" + (f" {version}" if version else ""))
    return 0


def register(app: App) -> None:
    app.command(tag)
    app.command(card)
