"""The merge/edit commands end to end through the CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import make_dataset
from tests.robopipe.edit.helpers import check_against_sources


def test_cli_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_dataset(tmp_path / "a", frames=[3, 4, 5], cameras={"front": (24, 32)}, codec="h264")
    b = make_dataset(tmp_path / "b", frames=[2, 3], cameras={"top": (24, 32)}, codec="h264", seed=1)
    assert (
        main(
            [
                "merge",
                str(tmp_path / "m"),
                str(a),
                str(b),
                "--rename",
                "observation.images.top=observation.images.front",
            ]
        )
        == 0
    )
    assert "7 episodes" not in capsys.readouterr().out  # 5 episodes
    check_against_sources(
        tmp_path / "m",
        [(a, 0), (a, 1), (a, 2), (b, 0), (b, 1)],
        rename={"observation.images.top": "observation.images.front"},
    )
    assert main(["delete-episodes", str(a), "--episodes", "0", "2", "--out", str(tmp_path / "d")]) == 0
    check_against_sources(tmp_path / "d", [(a, 1)])
    assert main(["split", str(a), "--splits", "train=0,2,val=1", "--out-dir", str(tmp_path / "s")]) == 0
    check_against_sources(tmp_path / "s/train", [(a, 0), (a, 2)])
    assert main(["remove-feature", str(a), "--feature", "action", "--out", str(tmp_path / "r")]) == 0
    assert "action" not in DatasetReader(tmp_path / "r").features
    assert main(["rename-feature", str(a), "--rename", "action=act", "--out", str(tmp_path / "n")]) == 0
    assert "act" in DatasetReader(tmp_path / "n").features
    assert main(["set-task", str(a), "--task", "t", "--out", str(tmp_path / "t")]) == 0
    assert DatasetReader(tmp_path / "t").tasks == ["t"]


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_dataset(tmp_path / "a", episodes=2, frames=3, cameras={})
    assert main(["delete-episodes", str(a), "--out", str(tmp_path / "x")]) == 2
    assert main(["delete-episodes", str(a), "--episodes", "5", "--out", str(tmp_path / "x")]) == 2
    assert main(["merge", str(tmp_path / "m"), str(a), str(tmp_path / "nope")]) == 2
    assert "needs --episodes" in capsys.readouterr().err
    assert not (tmp_path / "x").exists() and not (tmp_path / "m").exists()
