"""The local registry target (git repositories) and reading it with standard HF clients through olah."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from robopipe.errors import DatasetExistsError, HubNotFoundError, TagConflictError
from robopipe.publish import (
    DownloadRequest,
    HistoryRequest,
    LocalRegistry,
    PublishRequest,
    download,
    history,
    publish,
)
from tests.fixtures.olah_server import OlahServer

_ids = itertools.count()


def _req(registry: Path, root: Path, repo: str, **kw: object) -> PublishRequest:
    return PublishRequest(root=root, repo_id=repo, target="local", registry=registry, **kw)


def test_publish_versions_history_download(dataset_factory: Callable[..., Path], tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    a = dataset_factory(seed=0, lengths=(4, 6, 5))
    b = dataset_factory(seed=1, lengths=(3, 3, 3, 3))
    v1 = publish(_req(reg, a, "lab/pick", tag="v1.0.0"))
    v2 = publish(_req(reg, b, "lab/pick", tag="v1.1.0"))
    assert v1.target == "local" and Path(v1.location) == reg / "datasets/lab/pick"
    assert v1.tags == ("v1.0.0", "v3.0") and v2.tags == ("v1.1.0", "v3.0")
    assert v2.unchanged == 1  # tasks.parquet is identical

    registry = LocalRegistry(reg)
    branches, tags = registry.refs("lab/pick")
    assert branches == {"main": v2.commit} and tags == {
        "v1.0.0": v1.commit,
        "v1.1.0": v2.commit,
        "v3.0": v2.commit,
    }
    files = registry.tree_files("lab/pick", "v1.0.0")
    assert "README.md" in files and not [p for p in files if p.startswith(("images/", ".")) or "/." in p]
    fsck = subprocess.run(
        ["git", "--git-dir", str(reg / "datasets/lab/pick"), "fsck", "--strict"],
        capture_output=True,
        text=True,
    )
    assert fsck.returncode == 0, fsck.stderr

    h = history(HistoryRequest(repo_id="lab/pick", target="local", registry=reg))
    assert [c.commit for c in h.commits] == [v2.commit, v1.commit]
    assert h.commits[0].tags == ("v1.1.0", "v3.0") and h.commits[1].tags == ("v1.0.0",)

    old = download(
        DownloadRequest(
            repo_id="lab/pick", revision="v1.0.0", out=tmp_path / "old", target="local", registry=reg
        )
    )
    assert old.commit == v1.commit and old.files == 6
    assert json.loads((old.out / "meta/info.json").read_text())["total_episodes"] == 3
    assert (old.out / "data/chunk-000/file-000.parquet").read_bytes() == (
        a / "data/chunk-000/file-000.parquet"
    ).read_bytes()
    with pytest.raises(DatasetExistsError):
        download(DownloadRequest(repo_id="lab/pick", out=tmp_path / "old", target="local", registry=reg))
    with pytest.raises(HubNotFoundError, match="no such revision"):
        download(
            DownloadRequest(
                repo_id="lab/pick", revision="v9.9.9", out=tmp_path / "x", target="local", registry=reg
            )
        )
    assert not (tmp_path / "x").exists()


def test_idempotent_rerun_and_tag_conflicts(dataset_factory: Callable[..., Path], tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    a, b = dataset_factory(seed=0), dataset_factory(seed=1)
    v1 = publish(_req(reg, a, "lab/t", tag="v1.0.0"))
    again = publish(_req(reg, a, "lab/t", tag="v1.0.0"))
    assert again.commit == v1.commit and again.commits == () and again.uploaded == ()
    with pytest.raises(TagConflictError, match="--force-tag"):
        publish(_req(reg, b, "lab/t", tag="v1.0.0"))
    assert LocalRegistry(reg).refs("lab/t")[0]["main"] == v1.commit  # nothing committed
    moved = publish(_req(reg, b, "lab/t", tag="v1.0.0", force_tag=True))
    assert LocalRegistry(reg).refs("lab/t")[1]["v1.0.0"] == moved.commit != v1.commit


def test_branch_and_dry_run(dataset_factory: Callable[..., Path], tmp_path: Path) -> None:
    reg = tmp_path / "registry"
    main = publish(_req(reg, dataset_factory(seed=0), "lab/b"))
    plan = publish(_req(reg, dataset_factory(seed=1), "lab/b", branch="dev", dry_run=True))
    assert plan.dry_run and plan.commit is None and "data/chunk-000/file-000.parquet" in plan.uploaded
    dev = publish(_req(reg, dataset_factory(seed=1), "lab/b", branch="dev"))
    branches, _ = LocalRegistry(reg).refs("lab/b")
    assert branches == {"main": main.commit, "dev": dev.commit}
    log = LocalRegistry(reg).log("lab/b", "dev")
    assert [c.commit for c in log] == [dev.commit, main.commit]


def test_default_target_is_local_without_token(
    tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    result = publish(PublishRequest(root=tiny_dataset, repo_id="lab/auto", registry=tmp_path / "reg"))
    assert result.target == "local" and (tmp_path / "reg/datasets/lab/auto/HEAD").is_file()


@pytest.mark.integration
def test_olah_serves_tagged_versions_to_hf_clients(
    olah_server: OlahServer, dataset_factory: Callable[..., Path], tmp_path: Path
) -> None:
    from huggingface_hub import HfApi

    repo = f"lab/olah-{next(_ids)}"
    a = dataset_factory(seed=0, lengths=(4, 6, 5))
    b = dataset_factory(seed=1, lengths=(3, 3, 3, 3))
    v1 = publish(_req(olah_server.registry, a, repo, tag="v1.0.0"))
    v2 = publish(_req(olah_server.registry, b, repo, tag="v1.1.0"))

    api = HfApi(endpoint=olah_server.url, token=False)
    refs = api.list_repo_refs(repo, repo_type="dataset")
    assert {t.name: t.target_commit for t in refs.tags} == {
        "v1.0.0": v1.commit,
        "v1.1.0": v2.commit,
        "v3.0": v2.commit,
    }
    old = Path(
        api.snapshot_download(repo, repo_type="dataset", revision="v1.0.0", local_dir=tmp_path / "old")
    )
    assert json.loads((old / "meta/info.json").read_text())["total_episodes"] == 3
    assert (old / "data/chunk-000/file-000.parquet").read_bytes() == (
        a / "data/chunk-000/file-000.parquet"
    ).read_bytes()
    assert "LeRobot" in (old / "README.md").read_text()

    # A plain client configured only through HF_ENDPOINT (read at import time: fresh interpreter).
    code = (
        "import json, sys\n"
        "from huggingface_hub import snapshot_download\n"
        "p = snapshot_download(sys.argv[1], repo_type='dataset', revision=sys.argv[2])\n"
        "print(json.load(open(p + '/meta/info.json'))['total_episodes'])\n"
    )
    env = {
        **os.environ,
        "HF_ENDPOINT": olah_server.url,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "0",
    }
    env.pop("HF_TOKEN", None)
    out = {
        rev: subprocess.run(
            [sys.executable, "-c", code, repo, rev], env=env, capture_output=True, text=True, timeout=120
        )
        for rev in ("v1.0.0", "main")
    }
    assert out["v1.0.0"].stdout.strip() == "3", out["v1.0.0"].stderr[-2000:]
    assert out["main"].stdout.strip() == "4", out["main"].stderr[-2000:]
