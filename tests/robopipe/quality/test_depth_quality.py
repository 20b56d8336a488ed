"""Quality signals on depth cameras: distance is not exposure (no black/overexposed on near/far scenes), a
stuck depth stream is still found, and small distance changes are not rounded away into "duplicates"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robopipe.format.writer import DatasetWriter
from robopipe.quality import compute_quality
from tests.fixtures.datasets import depth_features

H, W, FPS = 24, 32, 10


def _scene(mm: int, i: int, rng: np.random.Generator, noise: int) -> np.ndarray:
    return (np.full((H, W, 1), mm + 5 * i, np.uint16) + rng.integers(0, noise, (H, W, 1))).astype(np.uint16)


def test_depth_scenes_are_not_exposure_faults_and_a_stuck_stream_is_found(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(0)
    feats = depth_features(H, W)
    episodes = [
        [_scene(200, i, rng, 30) for i in range(30)],  # near: dark codes
        [_scene(9900, 0, rng, 60) for _ in range(30)],  # far, only sensor noise of a few cm
        [_scene(1500, 0, rng, 1)] * 30,  # the same picture every frame while the arm moves
    ]
    root = tmp_path / "ds"
    with DatasetWriter.create(root, fps=FPS, features=feats) as w:
        for frames in episodes:
            for i, d in enumerate(frames):
                w.add_frame(
                    {"observation.state": np.array([i * 0.1], np.float32), "observation.images.depth": d},
                    task="t",
                )
            w.save_episode()
    assert "x265 [info]" not in capfd.readouterr().err  # libx265's console log is kept quiet
    report = compute_quality(root, None)
    kinds = {e.episode_index: sorted({f.kind for f in e.findings}) for e in report.suspects}
    assert 0 not in kinds and 1 not in kinds, kinds  # near and far scenes are clean
    assert kinds[2] == ["frozen_camera"]
