"""``robopipe publish | history | download`` end to end on the local registry (the default without a token)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import main


@pytest.fixture
def no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    monkeypatch.setenv("ROBOPIPE_REGISTRY", str(tmp_path / "registry"))
    return tmp_path / "registry"


def test_cli_publish_history_download(
    no_token: Path, dataset_factory: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = dataset_factory(seed=0), dataset_factory(seed=1, lengths=(2, 2, 2, 2))
    assert main(["publish", str(a), "--repo-id", "lab/cli", "--tag", "v1.0.0"]) == 0
    assert "tags: v1.0.0, v3.0" in capsys.readouterr().out
    assert main(["publish", str(b), "--repo-id", "lab/cli", "--tag", "v1.0.0"]) == 2
    assert "--force-tag" in capsys.readouterr().err
    assert main(["publish", str(b), "--repo-id", "lab/cli", "--tag", "v1 1", "--dry-run"]) == 2
    assert "not a valid tag name" in capsys.readouterr().err
    assert main(["publish", str(b), "--repo-id", "lab/cli", "--tag", "v1.1.0", "--dry-run", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["dry_run"] is True and plan["commit"] is None and plan["target"] == "local"
    assert main(["publish", str(b), "--repo-id", "lab/cli", "--tag", "v1.1.0"]) == 0
    capsys.readouterr()

    assert main(["history", "lab/cli", "--json"]) == 0
    h = json.loads(capsys.readouterr().out)
    assert [c["tags"] for c in h["commits"]] == [["v1.1.0", "v3.0"], ["v1.0.0"]]
    assert main(["history", "lab/cli"]) == 0
    assert "[v1.0.0]" in capsys.readouterr().out

    out = tmp_path / "v1"
    assert main(["download", "lab/cli", "--revision", "v1.0.0", "--out", str(out)]) == 0
    assert json.loads((out / "meta/info.json").read_text())["total_episodes"] == 3
    assert (no_token / "datasets/lab/cli/HEAD").is_file()
    assert main(["download", "lab/nope", "--out", str(tmp_path / "x")]) == 2
    assert "no such dataset" in capsys.readouterr().err


def test_cli_help(capsys: pytest.CaptureFixture[str]) -> None:
    main(["publish", "--help"])
    text = capsys.readouterr().out
    assert "--force-tag" in text and "--registry" in text and "--dry-run" in text
