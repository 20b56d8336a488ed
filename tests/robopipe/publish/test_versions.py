"""``robopipe tag`` (name an existing revision, no upload; local registry and Hub test double) and
``robopipe card`` (the card written locally: LeRobot 0.6.1 usage snippet, a citation that parses as BibTeX)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from pybtex.database import parse_string

from flows.cli import main
from robopipe.errors import TagConflictError
from robopipe.publish import PublishRequest, publish
from robopipe.publish.card import citation_bibtex, render_card
from robopipe.publish.local import LocalRegistry
from robopipe.publish.tagging import TagRequest, tag
from tests.fixtures.hub_server import HubTestServer
from tests.robopipe.publish.conftest import FAST_RETRY, TOKEN


def _local(args: list[str], reg: Path) -> list[str]:
    return [*args, "--target", "local", "--registry", str(reg)]


def _history(reg: Path, repo: str, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert main(_local(["history", repo, "--json"], reg)) == 0
    return json.loads(capsys.readouterr().out)


def test_tag_an_existing_revision_in_the_local_registry(
    dataset_factory: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reg, repo = tmp_path / "registry", "lab/tagged"
    a, b = dataset_factory(seed=0), dataset_factory(seed=1, lengths=(2, 3))
    assert main(_local(["publish", str(a), "--repo-id", repo], reg)) == 0
    first = _history(reg, repo, capsys)["commits"][0]["commit"]
    assert main(_local(["tag", repo, "v1.0", "--message", "first take\nwith notes"], reg)) == 0
    assert f"tagged {first[:12]} (main) as v1.0" in capsys.readouterr().out
    h = _history(reg, repo, capsys)
    assert len(h["commits"]) == 1 and h["tags"]["v1.0"] == first  # a tag, no new commit
    git = ["git", "--git-dir", str(LocalRegistry(reg).repo_path(repo))]
    contents = subprocess.run(
        [*git, "tag", "-l", "--format=%(contents)", "v1.0"], capture_output=True, text=True
    )
    assert contents.stdout.strip() == "first take\nwith notes"  # annotated, message kept
    assert main(_local(["tag", repo, "v1.0"], reg)) == 0  # already there: a no-op
    assert "already names" in capsys.readouterr().out

    assert (
        main(_local(["publish", str(b), "--repo-id", repo, "--tag", "v2", "--tag-message", "bigger"], reg))
        == 0
    )
    second = _history(reg, repo, capsys)["commits"][0]["commit"]
    assert main(_local(["tag", repo, "v1.0"], reg)) == 2  # main moved on: never moved silently
    assert "--force" in capsys.readouterr().err
    assert main(_local(["tag", repo, "older", "--revision", first[:10]], reg)) == 0
    assert main(_local(["tag", repo, "latest-good", "--revision", "v2"], reg)) == 0
    capsys.readouterr()
    assert main(_local(["tag", repo, "v1.0", "--force", "--json"], reg)) == 0
    moved = json.loads(capsys.readouterr().out)
    assert moved["previous"] == first and moved["commit"] == second and moved["changed"]
    tags = _history(reg, repo, capsys)["tags"]
    assert tags == {"v1.0": second, "v2": second, "v3.0": second, "older": first, "latest-good": second}
    assert main(_local(["download", repo, "--revision", "older", "--out", str(tmp_path / "dl")], reg)) == 0
    assert (tmp_path / "dl" / "data").is_dir()
    for bad in ("v3.0", "bad tag", "a..b", "x.lock", "-x"):
        assert main(_local(["tag", repo, bad], reg)) == 2, bad
    assert main(_local(["tag", repo, "v9", "--revision", "nope"], reg)) == 2
    assert main(_local(["tag", "lab/missing", "v9"], reg)) == 2


@pytest.mark.integration
def test_tag_on_the_hub_without_uploading(
    hub_server: HubTestServer, dataset_factory: Callable[..., Path]
) -> None:
    repo = "lab/hub-tag"
    a, b = dataset_factory(seed=0), dataset_factory(seed=1)

    def req(**kw: object) -> TagRequest:
        return TagRequest(repo_id=repo, target="hub", endpoint=hub_server.url, retry=FAST_RETRY, **kw)  # type: ignore[arg-type]

    pub = {"repo_id": repo, "target": "hub", "endpoint": hub_server.url, "retry": FAST_RETRY}
    v1 = publish(PublishRequest(root=a, tag="v1", tag_message="one", **pub), TOKEN)  # type: ignore[arg-type]
    assert hub_server.repos[repo].tag_messages["v1"] == "one"
    v2 = publish(PublishRequest(root=b, **pub), TOKEN)  # type: ignore[arg-type]
    hub_server.reset_logs()
    done = tag(req(tag="v1.0", revision="v1", message="the first one"), TOKEN)
    assert done.changed and done.commit == v1.commit and hub_server.commit_log == []  # nothing uploaded
    r = hub_server.repos[repo]
    assert r.tags["v1.0"] == v1.commit and r.tag_messages["v1.0"] == "the first one"
    assert not tag(req(tag="v1.0", revision=v1.commit), TOKEN).changed
    with pytest.raises(TagConflictError, match="--force"):
        tag(req(tag="v1.0"), TOKEN)
    moved = tag(req(tag="v1.0", force=True), TOKEN)
    assert moved.previous == v1.commit and r.tags["v1.0"] == v2.commit == moved.commit
    assert hub_server.commit_log == []


BIB_FIELDS = {"author", "title", "howpublished", "url", "note"}


def _bibtex(card: str) -> str:
    m = re.search(r"```bibtex\n(.*?)\n```", card, re.S)
    assert m is not None
    return m.group(1)


def _check_bibtex(text: str, key: str) -> dict[str, str]:
    """Parses as one @misc entry with every field we wrote (a stray brace would drop the fields after it)."""
    depth = 0
    for ch in text:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0, text
    assert depth == 0, text
    entries = parse_string(text, "bibtex").entries
    assert list(entries) == [key] and entries[key].type == "misc"
    fields = dict(entries[key].fields)
    persons = entries[key].persons  # pybtex keeps author apart from the other fields
    fields |= {role: " and ".join(str(p) for p in people) for role, people in persons.items()}
    assert set(fields) == BIB_FIELDS, fields
    return fields


def test_card_command_writes_a_card_with_usage_and_valid_citation(
    dataset_factory: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = dataset_factory()
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    assert (
        main(["card", str(root), "--repo-id", "lab/so101-pick", "--version", "v1.0", "--tags", "tabletop"])
        == 0
    )
    card = (root / "README.md").read_text()
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == sorted([*before, Path("README.md")])
    assert card == render_card(
        root, "lab/so101-pick", tags=("tabletop",), version="v1.0"
    )  # what publish sends
    fields = _check_bibtex(_bibtex(card), "lab_so101_pick")
    assert fields["author"] == "{lab}" and fields["note"] == "LeRobot v3.0 dataset, version v1.0"
    assert fields["url"] == "https://huggingface.co/datasets/lab/so101-pick"
    snippet = re.search(r"```python\n(.*?)\n```", card, re.S)
    assert snippet is not None
    tree = ast.parse(snippet.group(1))  # valid Python
    call = next(
        n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "LeRobotDataset"
    )
    assert ast.literal_eval(call.args[0]) == "lab/so101-pick"
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == {"revision": "v1.0"}
    assert "from lerobot.datasets import LeRobotDataset" in snippet.group(1)
    assert "robopipe download lab/so101-pick --revision v1.0" in card

    # ORG/NAME under $HF_LEROBOT_HOME names itself; --out elsewhere leaves the dataset alone
    monkeypatch.setenv("HF_LEROBOT_HOME", str(root.parent.parent))
    rel = f"{root.parent.name}/{root.name}"
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*", rel):
        monkeypatch.chdir(tmp_path)
        assert main(["card", rel, "--out", str(tmp_path / "card.md")]) == 0
        assert f"# {rel}" in (tmp_path / "card.md").read_text()
    assert main(["card", str(root)]) == 2  # a folder needs --repo-id
    assert main(["card", str(root), "--repo-id", "../x"]) == 2
    assert main(["card", str(root), "--repo-id", "lab/x", "--version", "bad tag"]) == 2


@pytest.mark.parametrize(
    "version", [None, "v1.0", "v1}0{", "release/2024_06", "v%1#&$^~", "a\\b}", "{{{", "}}}"]
)
def test_citation_is_valid_bibtex_for_any_tag(version: str | None) -> None:
    text = "\n".join(citation_bibtex("my-lab/so_101.pick", "v3.0", version))
    fields = _check_bibtex(text, "my_lab_so_101_pick")
    assert fields["note"].startswith("LeRobot v3.0 dataset") and fields["title"] == r"my-lab/so\_101.pick"
    assert ("version" in fields["note"]) == (version is not None)
