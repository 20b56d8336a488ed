"""``robopipe stats`` end to end through the CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from robopipe.stats import load_stats_json
from tests.fixtures.datasets import make_dataset


def test_cli_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=3, cameras={})
    (root / "meta/stats.json").unlink()
    assert main(["stats", str(root), "--workers", "0"]) == 0
    assert "stats of 2 episodes / 6 frames" in capsys.readouterr().out
    stats = load_stats_json(root)
    assert stats is not None and stats["frame_index"]["count"].tolist() == [6]


def test_cli_not_a_dataset(tmp_path: Path) -> None:
    assert main(["stats", str(tmp_path), "--workers", "0"]) == 2


@pytest.mark.integration
def test_cli_local_cluster(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=3, cameras={"front": (24, 32)}, codec="h264")
    assert main(["stats", str(root), "--workers", "2", "--skip-nonfinite"]) == 0
    assert load_stats_json(root) is not None
