"""Crash safety: a writer killed with SIGKILL mid-episode loses nothing that was saved."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from robopipe.format.reader import DatasetReader
from robopipe.format.writer import DatasetWriter
from tests.fixtures.lerobot_ref import run_reference

CHILD = """
import sys, time, numpy as np
sys.path.insert(0, {repo!r})
from robopipe.format.writer import DatasetWriter
from tests.fixtures.datasets import default_features, episode_columns
feats = default_features({{"front": (48, 64)}})
w = DatasetWriter.create({root!r}, fps=10, features=feats)
for e in range(100):
    cols = episode_columns(feats, 12, e)
    for i in range(12):
        w.add_frame({{k: v[i] for k, v in cols.items()}}, task="t")
        if i == 6 and e >= 3:
            print("MID", e, flush=True)
            time.sleep(0.2)
    w.save_episode()
    print("SAVED", e, flush=True)
"""


def _kill_mid_episode(tmp_path: Path) -> tuple[Path, int]:
    root = tmp_path / "ds"
    repo = str(Path(__file__).resolve().parents[3])
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(repo=repo, root=str(root))], stdout=subprocess.PIPE, text=True
    )
    saved = -1
    assert proc.stdout is not None
    deadline = time.time() + 120
    for line in proc.stdout:
        if line.startswith("SAVED"):
            saved = int(line.split()[1])
        if line.startswith("MID") and saved >= 3:
            os.kill(proc.pid, signal.SIGKILL)
            break
        assert time.time() < deadline
    proc.wait()
    return root, saved + 1


def test_sigkill_mid_episode_keeps_every_saved_episode(tmp_path: Path) -> None:
    root, saved = _kill_mid_episode(tmp_path)
    assert saved >= 4
    # Reopening recovers the episodes that were saved but not yet flushed.
    w = DatasetWriter.open(root)
    w.finalize()
    r = DatasetReader(root)
    assert r.num_episodes == saved and r.num_frames == 12 * saved
    for e in range(saved):
        assert len(r.read_episode(e)) == 12
        assert len(list(r.iter_video_frames("observation.images.front", e))) == 12
    assert not (root / ".staging").exists()
    assert not list(root.rglob(".*.tmp-*"))


@pytest.mark.lerobot
@pytest.mark.slow
def test_sigkilled_dataset_loads_in_lerobot_after_repair(tmp_path: Path, lerobot_python: str) -> None:
    root, saved = _kill_mid_episode(tmp_path)
    from flows.cli import main

    assert main(["repair", str(root)]) == 0
    out = run_reference(
        f"""
import json
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/killed", root={str(root)!r})
n = sum(1 for i in range(len(ds)) if ds[i]["observation.images.front"].shape[0] == 3)
print(json.dumps([ds.num_episodes, len(ds), n]))
""",
        tmp_path / "ref",
        python=lerobot_python,
    )
    assert out == [saved, 12 * saved, 12 * saved]
