"""CLI of the pipelines: help texts and bad arguments rejected before anything runs (exit code 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main


@pytest.mark.parametrize("command", ["ingest", "port", "serve", "demo"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    assert "Usage: robopipe " + command in capsys.readouterr().out


def test_bad_arguments_exit_2_before_running(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["port", str(tmp_path), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2
    assert "workers" in capsys.readouterr().err
    assert main(["ingest", "--master", str(tmp_path / "m"), "--publish-repo", "not a repo"]) == 2
    assert "repo" in capsys.readouterr().err
