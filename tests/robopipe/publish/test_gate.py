"""``publish`` validates first: invalid datasets are refused (or published with --allow-invalid, said in the
card), and an interrupted or running writer's dataset is refused with "run robopipe repair ROOT"."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flows.cli import main
from robopipe.publish.local import LocalRegistry
from tests.fixtures.datasets import make_dataset

REPO = str(Path(__file__).resolve().parents[3])

WRITER = """
import sys
sys.path.insert(0, {repo!r})
from robopipe.format.writer import DatasetWriter
from tests.fixtures.datasets import default_features, episode_columns
feats = default_features()
w = DatasetWriter.create({root!r}, fps=10, features=feats)
for e in range({episodes}):
    w.add_episode(episode_columns(feats, 8, e), task="t")  # saved and staged, not flushed
print("HOLDING", flush=True)
sys.stdin.readline()
"""


def _writer(root: Path, episodes: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER.format(repo=REPO, root=str(root), episodes=episodes)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "HOLDING"
    return proc


def _killed_writer(root: Path, episodes: int) -> None:
    proc = _writer(root, episodes)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def _publish(root: Path, reg: Path, *extra: str) -> int:
    return main(
        ["publish", str(root), "--repo-id", "lab/gate", "--target", "local", "--registry", str(reg), *extra]
    )


def _err(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_invalid_dataset_is_refused_unless_allowed_and_the_card_says_so(
    dataset_factory: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = dataset_factory(cameras=True)  # its mp4 is a placeholder and its episodes lack video columns
    reg = tmp_path / "reg"
    assert _publish(root, reg) == 1
    err = _err(capsys)
    assert "validation found" in err and "RP202" in err and "--allow-invalid" in err
    assert not LocalRegistry(reg).exists("lab/gate")
    assert _publish(root, reg, "--allow-invalid") == 0
    card = LocalRegistry(reg)._out("lab/gate", "show", "main:README.md")
    assert "Published with `--allow-invalid`" in card and "RP202" in card


def test_valid_dataset_card_has_no_invalid_note(tmp_path: Path) -> None:
    root = make_dataset(tmp_path / "ds", episodes=2, frames=5, codec="h264")
    assert _publish(root, tmp_path / "reg") == 0
    card = LocalRegistry(tmp_path / "reg")._out("lab/gate", "show", "main:README.md")
    assert "allow-invalid" not in card


def test_interrupted_writer_is_refused_until_repaired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    _killed_writer(root, episodes=2)
    assert main(["validate", str(root), "--no-gx"]) == 1  # not VALID: two episodes wait in the staging
    assert "RP211" in capsys.readouterr().out
    assert _publish(root, tmp_path / "reg") == 1
    assert f"run robopipe repair {root}" in _err(capsys)
    assert _publish(root, tmp_path / "reg", "--allow-invalid") == 1  # not a validation finding: no override
    capsys.readouterr()
    assert main(["repair", str(root)]) == 0
    assert main(["validate", str(root), "--no-gx"]) == 0
    assert _publish(root, tmp_path / "reg") == 0


def test_zero_episode_snapshot_of_an_interrupted_writer_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "ds"
    _killed_writer(root, episodes=0)
    assert _publish(root, tmp_path / "reg") == 1
    err = _err(capsys)
    assert "no episodes" in err and f"run robopipe repair {root}" in err


def test_running_writer_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ds"
    proc = _writer(root, episodes=1)
    try:
        assert _publish(root, tmp_path / "reg") == 1
        assert f"a writer is still using this dataset (PID {proc.pid}" in _err(capsys)
    finally:
        proc.kill()
        proc.wait()
